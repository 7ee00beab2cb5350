package automation

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// Rules manages one tenant's rules (c.Automation.Rules).
type Rules struct {
	sc store.Scope
	e  *Engine
}

// Service is the automation of one tenant: its rules, their run log and
// its webhooks.
type Service struct {
	Rules    *Rules
	Runs     *Runs
	Webhooks *Webhooks
}

// newService returns the service of scope sc on engine e. Hosts use
// crm.CRM.Automation.
func newService(sc store.Scope, e *Engine) *Service {
	return &Service{Rules: &Rules{sc: sc, e: e}, Runs: &Runs{sc: sc}, Webhooks: &Webhooks{sc: sc, e: e}}
}

// definition is what a rule version stores.
type definition struct {
	Name      string    `json:"name"`
	Triggers  []string  `json:"triggers"`
	Condition Condition `json:"condition,omitzero"`
	Actions   []Action  `json:"actions"`
}

func (r *Rule) definition() definition {
	return definition{Name: r.Name, Triggers: r.Triggers, Condition: r.Condition, Actions: r.Actions}
}

const ruleColumns = `r.id, r.name, r.enabled, r.definition, r.created_at, r.updated_at, r.version`

func scanRule(s store.Scanner) (*Rule, error) {
	var r Rule
	var def []byte
	if err := s.Scan(&r.ID, &r.Name, &r.Enabled, &def, &r.CreatedAt, &r.UpdatedAt, &r.Version); err != nil {
		return nil, err
	}
	var d definition
	if err := json.Unmarshal(def, &d); err != nil {
		return nil, fmt.Errorf("rule %s: %w", r.ID, err)
	}
	r.Triggers, r.Condition, r.Actions = d.Triggers, d.Condition, d.Actions
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	return &r, nil
}

// ParseRule reads a rule from its JSON form (the stored and HTTP form).
// Unknown keys are refused; Create and Update then check the rule.
func ParseRule(data []byte) (Rule, error) {
	var r Rule
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Rule{}, core.Invalid("rule", "is not valid rule JSON: %v", err)
	}
	return r, nil
}

// check validates r for the tenant: every problem at once.
func (s *Rules) check(ctx context.Context, q store.Q, r *Rule) error {
	tenant, _ := s.sc.Tenant()
	schema, err := s.sc.Schema(ctx, contacts.EntityContact)
	if err != nil {
		return err
	}
	c := &checker{v: &core.ValidationError{}, contacts: schema, registered: s.e.action, events: s.e.rt.Events, ctx: ctx, sc: s.sc,
		webhookOK: func(id core.ID) (bool, error) {
			var n int
			err := q.QueryRow(ctx, `SELECT count(*) FROM crm_webhooks WHERE tenant_id = ? AND id = ?`, tenant, id).Scan(&n)
			return n == 1, err
		},
		teamOK: func(name string) (bool, error) { return access.Module.TeamExists(ctx, q, tenant, name) }}
	c.rule(r)
	if c.err != nil {
		return c.err
	}
	return c.v.Err()
}

// Create stores a new rule (version 1). Enabled rules act on events from
// the commit on.
func (s *Rules) Create(ctx context.Context, r Rule) (_ *Rule, err error) {
	ctx, span := s.sc.Span(ctx, "automation.Rules.Create")
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	if err := check(ctx, s.sc, "rule", core.NilID, access.Manage); err != nil {
		return nil, err
	}
	if err := s.check(ctx, s.sc.Q(), &r); err != nil {
		return nil, err
	}
	now := s.sc.Runtime().Now()
	r.ID, r.Version, r.CreatedAt, r.UpdatedAt = core.NewID(), 1, now, now
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		def := store.JSON(r.definition())
		if _, err := tx.Q().Exec(ctx, `INSERT INTO crm_rules (tenant_id, id, name, enabled, triggers, definition, created_at, updated_at, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, tenant, r.ID, r.Name, r.Enabled, string(store.JSON(r.Triggers)), string(def), now, now, r.Version); err != nil {
			return err
		}
		if err := insertVersion(ctx, tx.Q(), tenant, &r, def); err != nil {
			return err
		}
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventRuleCreated, SubjectType: "rule", SubjectID: r.ID, Data: store.JSON(r)})
	})
	s.e.invalidate(tenant)
	if err != nil {
		return nil, store.Wrap(err, "create rule")
	}
	return &r, nil
}

func insertVersion(ctx context.Context, q store.Q, tenant string, r *Rule, def json.RawMessage) error {
	_, err := q.Exec(ctx, `INSERT INTO crm_rule_versions (tenant_id, rule_id, version, definition, created_at) VALUES (?, ?, ?, ?, ?)`,
		tenant, r.ID, r.Version, string(def), r.UpdatedAt)
	return err
}

// Get returns a rule.
func (s *Rules) Get(ctx context.Context, id core.ID) (_ *Rule, err error) {
	ctx, span := s.sc.SpanID(ctx, "automation.Rules.Get", id)
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	if err := check(ctx, s.sc, "rule", id, access.Read); err != nil {
		return nil, err
	}
	r, err := getRule(ctx, s.sc.Q(), tenant, id)
	return r, store.Wrap(err, "get rule")
}

func getRule(ctx context.Context, q store.Q, tenant string, id core.ID) (*Rule, error) {
	r, err := scanRule(q.QueryRow(ctx, `SELECT `+ruleColumns+` FROM crm_rules r WHERE r.tenant_id = ? AND r.id = ?`, tenant, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.NotFound("rule", id)
	}
	return r, err
}

// ruleVersion returns the rule as it was at version.
func ruleVersion(ctx context.Context, q store.Q, tenant string, id core.ID, version int64) (*Rule, error) {
	var def []byte
	err := q.QueryRow(ctx, `SELECT definition FROM crm_rule_versions WHERE tenant_id = ? AND rule_id = ? AND version = ?`,
		tenant, id, version).Scan(&def)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.NotFound("rule version", fmt.Sprintf("%s@%d", id, version))
	}
	if err != nil {
		return nil, err
	}
	var d definition
	if err := json.Unmarshal(def, &d); err != nil {
		return nil, fmt.Errorf("%w: rule %s version %d does not parse: %v", core.ErrInvalid, id, version, err)
	}
	return &Rule{ID: id, Name: d.Name, Triggers: d.Triggers, Condition: d.Condition, Actions: d.Actions, Version: version}, nil
}

// List returns the tenant's rules, oldest first.
func (s *Rules) List(ctx context.Context) (_ []*Rule, err error) {
	ctx, span := s.sc.Span(ctx, "automation.Rules.List")
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	if err := check(ctx, s.sc, "rule", core.NilID, access.Read); err != nil {
		return nil, err
	}
	rows, err := s.sc.Q().Query(ctx, `SELECT `+ruleColumns+` FROM crm_rules r WHERE r.tenant_id = ? ORDER BY r.created_at, r.id`, tenant)
	if err != nil {
		return nil, store.Wrap(err, "list rules")
	}
	var out []*Rule
	err = store.EachRow(rows, func(sc store.Scanner) error {
		r, err := scanRule(sc)
		if err == nil {
			out = append(out, r)
		}
		return err
	})
	return out, store.Wrap(err, "list rules")
}

// Update replaces a rule's definition and enabled flag with r's, as a new
// version. r.Version must be the version read (else ErrConflict). Runs
// that wait finish with the version they started with.
func (s *Rules) Update(ctx context.Context, id core.ID, r Rule) (_ *Rule, err error) {
	ctx, span := s.sc.SpanID(ctx, "automation.Rules.Update", id)
	defer span.End(&err)

	if err := core.CheckVersion(r.Version); err != nil {
		return nil, err
	}
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	if err := check(ctx, s.sc, "rule", id, access.Manage); err != nil {
		return nil, err
	}
	if err := s.check(ctx, s.sc.Q(), &r); err != nil {
		return nil, err
	}
	var out *Rule
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		cur, err := getRule(ctx, tx.Q(), tenant, id)
		if err != nil {
			return err
		}
		if cur.Version != r.Version {
			return fmt.Errorf("%w: rule %s is at version %d, not %d", core.ErrConflict, id, cur.Version, r.Version)
		}
		next := r
		next.ID, next.CreatedAt, next.UpdatedAt, next.Version = id, cur.CreatedAt, s.sc.Runtime().Now(), cur.Version+1
		def := store.JSON(next.definition())
		res, err := tx.Q().Exec(ctx, `UPDATE crm_rules SET name = ?, enabled = ?, triggers = ?, definition = ?, updated_at = ?, version = ?
			WHERE tenant_id = ? AND id = ? AND version = ?`, next.Name, next.Enabled, string(store.JSON(next.Triggers)), string(def),
			next.UpdatedAt, next.Version, tenant, id, cur.Version)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return errors.Join(err, fmt.Errorf("%w: rule %s changed meanwhile", core.ErrConflict, id))
		}
		if err := insertVersion(ctx, tx.Q(), tenant, &next, def); err != nil {
			return err
		}
		out = &next
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventRuleUpdated, SubjectType: "rule", SubjectID: id, Data: store.JSON(next)})
	})
	s.e.invalidate(tenant)
	if err != nil {
		return nil, store.Wrap(err, "update rule")
	}
	return out, nil
}

// SetEnabled switches a rule on or off (a new version).
func (s *Rules) SetEnabled(ctx context.Context, id core.ID, version int64, enabled bool) (_ *Rule, err error) {
	ctx, span := s.sc.SpanID(ctx, "automation.Rules.SetEnabled", id)
	defer span.End(&err)

	if err := core.CheckVersion(version); err != nil {
		return nil, err
	}
	if err := check(ctx, s.sc, "rule", id, access.Manage); err != nil {
		return nil, err
	}
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	cur, err := getRule(ctx, s.sc.Q(), tenant, id)
	if err != nil {
		return nil, store.Wrap(err, "get rule")
	}
	cur.Enabled, cur.Version = enabled, version
	return s.Update(ctx, id, *cur)
}

// Delete removes a rule. Its run log and versions stay (runs that wait
// finish with their version).
func (s *Rules) Delete(ctx context.Context, id core.ID) (err error) {
	ctx, span := s.sc.SpanID(ctx, "automation.Rules.Delete", id)
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return err
	}
	if err := check(ctx, s.sc, "rule", id, access.Manage); err != nil {
		return err
	}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		res, err := tx.Q().Exec(ctx, `DELETE FROM crm_rules WHERE tenant_id = ? AND id = ?`, tenant, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return core.NotFound("rule", id)
		}
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventRuleDeleted, SubjectType: "rule", SubjectID: id, Data: store.JSON(Deleted{ID: id})})
	})
	s.e.invalidate(tenant)
	return store.Wrap(err, "delete rule")
}
