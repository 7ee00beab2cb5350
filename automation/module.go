package automation

import (
	"context"
	"embed"
	"encoding/json"

	"github.com/crmkit/crmkit/internal/module"
	"github.com/crmkit/crmkit/internal/store"
)

// migrations are the module's schema migrations (module.Module.Migrations).
//
//go:embed migrations/*.sql
var migrations embed.FS

// Module declares the automation module to package crm, which wires it
// (see internal/module); hosts use the service crm binds (c.Automation)
// and crm's Start, Stop and RegisterAction. The Engine crm creates turns
// events into jobs.
var Module declaration

type declaration struct{}

// Declare returns the module's contract.
func (declaration) Declare() module.Module {
	return module.Module{
		Name:        "automation",
		Permissions: []string{"automation"},
		Migrations:  module.Files(migrations),
		Tables: []string{"crm_rules", "crm_rule_versions", "crm_rule_runs", "crm_rule_steps", "crm_assignment_counters",
			"crm_automation_sweeps", "crm_webhooks", "crm_webhook_deliveries", "crm_webhook_attempts"},
		Events:         EventTypes(),
		PersonalData:   personalData(),
		OnContactMerge: followMerge,
	}
}

// followMerge points the run log of merged contacts at the winner.
func followMerge(ctx context.Context, tx *store.Tx, tenant string, m module.ContactMerge) error {
	for _, loser := range m.LoserIDs {
		if _, err := tx.Q().Exec(ctx, `UPDATE crm_rule_runs SET contact_id = ? WHERE tenant_id = ? AND contact_id = ?`,
			m.WinnerID, tenant, loser); err != nil {
			return err
		}
	}
	return nil
}

// Engine returns the engine that turns rt's events into River jobs and
// runs them (crm makes one per CRM), with the rule actions and the kinds
// of durable job the modules declare; it becomes rt's job queue
// (store.Tx.Enqueue).
func (declaration) Engine(rt *store.Runtime, opts Options, actions []module.Action, jobs []module.Job) (*Engine, error) {
	e, err := newEngine(rt, opts)
	if err != nil {
		return nil, err
	}
	if err := e.declareActions(actions); err != nil {
		return nil, err
	}
	if err := e.declareJobs(jobs); err != nil {
		return nil, err
	}
	rt.Jobs = jobQueue{e}
	return e, nil
}

// Service returns the rules, runs and webhooks of sc's tenant.
func (declaration) Service(sc store.Scope, e *Engine) *Service { return newService(sc, e) }

// RegisterAction adds a rule action under name to e (crm.CRM.RegisterAction
// binds the host's function to a CRM): run does it in the step's
// transaction, validate (optional) checks a rule's params at save time.
func (declaration) RegisterAction(e *Engine, name string, run func(ctx context.Context, sc store.Scope, call Call) (any, error),
	validate func(params json.RawMessage) error) error {
	fn := actionFunc{Run: run}
	if validate != nil {
		fn.Validate = func(_ context.Context, _ store.Scope, params json.RawMessage) error { return validate(params) }
	}
	return e.registerAction(name, fn)
}
