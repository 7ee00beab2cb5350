package contacts

import (
	"context"
	"slices"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// InactiveLeads returns up to limit ids, after the id after (keyset), of
// the subscribers and leads whose latest activity — or, without any, whose
// creation — is before cutoff, leaving restricted contacts out: the
// candidates of a retention policy.
func (s *Service) InactiveLeads(ctx context.Context, cutoff time.Time, after core.ID, limit int) (_ []core.ID, err error) {
	ctx, span := s.sc.Span(ctx, "contacts.InactiveLeads")
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	v := &core.ValidationError{}
	v.CheckTime("cutoff", cutoff)
	if limit < 1 || limit > store.MaxLimit {
		v.Add("limit", "must be between 1 and %d", store.MaxLimit)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	g, err := check(ctx, s.sc, "contact", core.NilID, access.Read)
	if err != nil {
		return nil, err
	}
	cond, cargs := g.contacts("c")
	rows, err := s.sc.Q().PlanPerCall().Query(ctx, `SELECT c.id FROM crm_contacts c WHERE c.tenant_id = ? AND c.id > ?
		AND c.lifecycle_stage IN ('subscriber', 'lead') AND NOT c.restricted
		AND COALESCE(c.last_activity_at, c.created_at) < ? AND `+cond+` ORDER BY c.id LIMIT ?`,
		append(append([]any{tenant, after, cutoff}, cargs...), limit)...)
	if err != nil {
		return nil, store.Wrap(err, "inactive leads")
	}
	out := []core.ID{}
	err = store.EachRow(rows, func(r store.Scanner) error {
		var id core.ID
		err := r.Scan(&id)
		out = append(out, id)
		return err
	})
	return out, store.Wrap(err, "inactive leads")
}

// DeleteActivities deletes the activities of kind that occurred before
// cutoff, in transactions of 5,000, and returns how many (a retention
// policy's work). Contacts keep their facts.
func (s *Service) DeleteActivities(ctx context.Context, kind ActivityKind, cutoff time.Time) (_ int64, err error) {
	ctx, span := s.sc.Span(ctx, "contacts.DeleteActivities")
	defer span.End(&err)

	v := &core.ValidationError{}
	if !slices.Contains(ActivityKinds, kind) {
		v.Add("kind", "%q is not an activity kind", kind)
	}
	v.CheckTime("cutoff", cutoff)
	if err := v.Err(); err != nil {
		return 0, err
	}
	// A purge over the tenant: it takes the delete permission and seeing
	// every contact.
	g, err := check(ctx, s.sc, "activity", core.NilID, access.Delete)
	if err != nil {
		return 0, err
	}
	if !g.all() {
		return 0, g.done(ctx, g.forbid("activity", core.NilID, access.Delete, "purge activities without seeing all contacts"))
	}
	var total int64
	for {
		var n int64
		err := s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
			tenant, _ := s.sc.Tenant()
			res, err := tx.Q().Exec(ctx, `DELETE FROM crm_activities WHERE tenant_id = ? AND id IN
				(SELECT a.id FROM crm_activities a WHERE a.tenant_id = ? AND a.kind = ? AND a.occurred_at < ? LIMIT 5000)`,
				tenant, tenant, string(kind), cutoff)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, store.Wrap(err, "delete activities")
		}
		total += n
		if n < 5000 {
			return total, nil
		}
	}
}
