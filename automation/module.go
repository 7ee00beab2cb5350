package automation

import (
	"context"

	"github.com/crmkit/crmkit/internal/module"
	"github.com/crmkit/crmkit/internal/store"
)

// Module declares the automation module to package crm, which wires it
// (see internal/module); hosts use the service crm binds (c.Automation)
// and crm's Start, Stop and RegisterAction. The Engine crm creates turns
// events into jobs.
var Module declaration

type declaration struct{}

// Declare returns the module's contract.
func (declaration) Declare() module.Module {
	return module.Module{
		Name: "automation",
		Tables: []string{"crm_rules", "crm_rule_versions", "crm_rule_runs", "crm_rule_steps", "crm_assignment_counters",
			"crm_automation_sweeps", "crm_webhooks", "crm_webhook_deliveries", "crm_webhook_attempts"},
		Events: EventTypes(),
		Hooks: func(rt *store.Runtime) func() {
			registerPersonalData(rt)
			return func() {}
		},
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
