package tickets

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
)

// Policies are the tenant's SLA policies (c.SLAPolicies). The first
// policy by position whose condition matches a ticket applies to it, when
// the ticket is created and at each of its changes.
type Policies struct {
	sc store.Scope
}

func newPolicies(sc store.Scope) *Policies { return &Policies{sc: sc} }

// NewPolicy is the input of Policies.Create and Update.
type NewPolicy struct {
	Name                 string
	Position             int64
	Condition            filter.Expr
	CalendarID           core.ID
	FirstResponseMinutes int64
	NextResponseMinutes  int64
	ResolutionMinutes    int64
	// WarningMinutes, when above 0, warns that many minutes before each
	// due time ("ticket.sla_warning").
	WarningMinutes int64
}

const policyColumns = `p.id, p.name, p.position, p.condition, p.calendar_id, p.first_response_minutes, p.next_response_minutes,
	p.resolution_minutes, p.warning_minutes, p.created_at, p.updated_at, p.version`

func scanPolicy(r store.Scanner) (*Policy, error) {
	var p Policy
	var cond []byte
	if err := r.Scan(&p.ID, &p.Name, &p.Position, &cond, &p.CalendarID, &p.FirstResponseMinutes, &p.NextResponseMinutes,
		&p.ResolutionMinutes, &p.WarningMinutes, &p.CreatedAt, &p.UpdatedAt, &p.Version); err != nil {
		return nil, err
	}
	e, err := filter.Parse(cond)
	if err != nil {
		return nil, fmt.Errorf("decode condition of policy %s: %w", p.ID, err)
	}
	p.Condition = e
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return &p, nil
}

func getPolicy(ctx context.Context, q store.Q, tenant string, id core.ID) (*Policy, error) {
	p, err := scanPolicy(q.QueryRow(ctx, `SELECT `+policyColumns+` FROM crm_sla_policies p WHERE p.tenant_id = ? AND p.id = ?`, tenant, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.NotFound("SLA policy", id)
	}
	return p, err
}

func listPolicies(ctx context.Context, sc store.Scope) ([]*Policy, error) {
	tenant, err := sc.Tenant()
	if err != nil {
		return nil, err
	}
	rows, err := sc.Q().Query(ctx, `SELECT `+policyColumns+` FROM crm_sla_policies p WHERE p.tenant_id = ? ORDER BY p.position, p.id`, tenant)
	if err != nil {
		return nil, err
	}
	out := []*Policy{}
	err = store.EachRow(rows, func(r store.Scanner) error {
		p, err := scanPolicy(r)
		out = append(out, p)
		return err
	})
	return out, err
}

// check validates p's fields, every problem listed.
func (s *Policies) check(ctx context.Context, in NewPolicy, p *Policy) error {
	tenant, _ := s.sc.Tenant()
	p.Name, p.Position, p.Condition, p.CalendarID = strings.TrimSpace(in.Name), in.Position, in.Condition, in.CalendarID
	p.FirstResponseMinutes, p.NextResponseMinutes, p.ResolutionMinutes = in.FirstResponseMinutes, in.NextResponseMinutes, in.ResolutionMinutes
	p.WarningMinutes = in.WarningMinutes
	v := &core.ValidationError{}
	if p.Name == "" {
		v.Add("name", "is required")
	}
	v.CheckText("name", p.Name, MaxNameLen)
	schema, err := ticketSchema(ctx, s.sc)
	if err != nil {
		return err
	}
	if err := schema.Check(p.Condition); err != nil {
		var ve *core.ValidationError
		if !errors.As(err, &ve) {
			return err
		}
		for _, f := range ve.Fields {
			v.Add("condition", "%s %s", f.Field, f.Message)
		}
	}
	if _, err := getCalendar(ctx, s.sc.Q(), tenant, p.CalendarID); errors.Is(err, core.ErrNotFound) {
		v.Add("calendar_id", "calendar %s does not exist", p.CalendarID)
	} else if err != nil {
		return err
	}
	const maxMinutes = 10 * 365 * 24 * 60
	for _, t := range []struct {
		field string
		min   int64
	}{{"first_response_minutes", p.FirstResponseMinutes}, {"next_response_minutes", p.NextResponseMinutes}, {"resolution_minutes", p.ResolutionMinutes},
		{"warning_minutes", p.WarningMinutes}} {
		if t.min < 0 || t.min > maxMinutes {
			v.Add(t.field, "must be between 0 (no target) and %d", maxMinutes)
		}
	}
	if p.FirstResponseMinutes == 0 && p.NextResponseMinutes == 0 && p.ResolutionMinutes == 0 {
		v.Add("targets", "at least one of first_response_minutes, next_response_minutes and resolution_minutes is required")
	}
	return v.Err()
}

// Create stores a policy and emits "sla_policy.created". Existing tickets
// take it at their next change.
func (s *Policies) Create(ctx context.Context, in NewPolicy) (_ *Policy, err error) {
	ctx, span := s.sc.Span(ctx, "tickets.Policies.Create")
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "sla_policy", core.NilID, access.Manage); err != nil {
		return nil, err
	}
	p := &Policy{ID: core.NewID(), Version: 1}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		if err := newPolicies(s.sc.WithTx(tx)).check(ctx, in, p); err != nil {
			return err
		}
		now := tx.Runtime().Now()
		p.CreatedAt, p.UpdatedAt = now, now
		if _, err := tx.Q().Exec(ctx, `INSERT INTO crm_sla_policies (tenant_id, id, name, position, condition, calendar_id,
			first_response_minutes, next_response_minutes, resolution_minutes, warning_minutes, created_at, updated_at, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			tenant, p.ID, p.Name, p.Position, p.Condition.String(), p.CalendarID, p.FirstResponseMinutes, p.NextResponseMinutes,
			p.ResolutionMinutes, p.WarningMinutes, now, now, p.Version); err != nil {
			if dialect.IsUniqueViolation(err) {
				return core.Invalid("name", "a policy named %q exists", p.Name)
			}
			return err
		}
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventPolicyCreated, SubjectType: "sla_policy", SubjectID: p.ID,
			OccurredAt: now, Data: store.JSON(p)})
	})
	if err != nil {
		return nil, store.Wrap(err, "create SLA policy")
	}
	return p, nil
}

// Get returns the policy with id.
func (s *Policies) Get(ctx context.Context, id core.ID) (_ *Policy, err error) {
	ctx, span := s.sc.SpanID(ctx, "tickets.Policies.Get", id)
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "sla_policy", id, access.Read); err != nil {
		return nil, err
	}
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	p, err := getPolicy(ctx, s.sc.Q(), tenant, id)
	return p, store.Wrap(err, "get SLA policy")
}

// List returns the tenant's policies in the order they are tried.
func (s *Policies) List(ctx context.Context) (_ []*Policy, err error) {
	ctx, span := s.sc.Span(ctx, "tickets.Policies.List")
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "sla_policy", core.NilID, access.Read); err != nil {
		return nil, err
	}
	out, err := listPolicies(ctx, s.sc)
	return out, store.Wrap(err, "list SLA policies")
}

// Update replaces the policy's settings if version is still its version,
// and emits "sla_policy.updated". Tickets take it at their next change.
func (s *Policies) Update(ctx context.Context, id core.ID, version int64, in NewPolicy) (_ *Policy, err error) {
	ctx, span := s.sc.SpanID(ctx, "tickets.Policies.Update", id)
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "sla_policy", id, access.Manage); err != nil {
		return nil, err
	}
	if err := core.CheckVersion(version); err != nil {
		return nil, err
	}
	var out *Policy
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		cur, err := getPolicy(ctx, tx.Q(), tenant, id)
		if err != nil {
			return err
		}
		next := *cur
		if err := newPolicies(s.sc.WithTx(tx)).check(ctx, in, &next); err != nil {
			return err
		}
		next.UpdatedAt = tx.Runtime().Now()
		next.Version = version + 1
		res, err := tx.Q().Exec(ctx, `UPDATE crm_sla_policies SET name = ?, position = ?, condition = ?, calendar_id = ?,
			first_response_minutes = ?, next_response_minutes = ?, resolution_minutes = ?, warning_minutes = ?, updated_at = ?, version = ?
			WHERE tenant_id = ? AND id = ? AND version = ?`,
			next.Name, next.Position, next.Condition.String(), next.CalendarID, next.FirstResponseMinutes, next.NextResponseMinutes,
			next.ResolutionMinutes, next.WarningMinutes, next.UpdatedAt, next.Version, tenant, id, version)
		if err != nil {
			if dialect.IsUniqueViolation(err) {
				return core.Invalid("name", "a policy named %q exists", next.Name)
			}
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return fmt.Errorf("%w: SLA policy %s is at version %d, not %d; read it again", core.ErrConflict, id, cur.Version, version)
		}
		out = &next
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventPolicyUpdated, SubjectType: "sla_policy", SubjectID: id,
			OccurredAt: next.UpdatedAt, Data: store.JSON(out)})
	})
	if err != nil {
		return nil, store.Wrap(err, "update SLA policy")
	}
	return out, nil
}

// Delete removes the policy if version is still its version, and emits
// "sla_policy.deleted". The tickets it applied to keep no policy until
// their next change chooses one.
func (s *Policies) Delete(ctx context.Context, id core.ID, version int64) (err error) {
	ctx, span := s.sc.SpanID(ctx, "tickets.Policies.Delete", id)
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "sla_policy", id, access.Manage); err != nil {
		return err
	}
	if err := core.CheckVersion(version); err != nil {
		return err
	}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		cur, err := getPolicy(ctx, tx.Q(), tenant, id)
		if err != nil {
			return err
		}
		if cur.Version != version {
			return fmt.Errorf("%w: SLA policy %s is at version %d, not %d; read it again", core.ErrConflict, id, cur.Version, version)
		}
		if _, err := tx.Q().Exec(ctx, `UPDATE crm_tickets SET sla_policy_id = NULL, first_response_due = NULL, next_response_due = NULL,
			resolution_due = NULL, sla_due = ? WHERE tenant_id = ? AND sla_policy_id = ?`, noDue, tenant, id); err != nil {
			return err
		}
		if _, err := tx.Q().Exec(ctx, `DELETE FROM crm_sla_policies WHERE tenant_id = ? AND id = ?`, tenant, id); err != nil {
			return err
		}
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventPolicyDeleted, SubjectType: "sla_policy", SubjectID: id,
			Data: store.JSON(Deleted{ID: id})})
	})
	return store.Wrap(err, "delete SLA policy")
}
