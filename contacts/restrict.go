package contacts

import (
	"context"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// Restrict restricts the processing of the contact's data (GDPR Art. 18):
// the contact stays, but marketing (consent.Allowed), scoring and lead
// models leave it out until LiftRestriction. reason is a short code kept
// in the event (and so in the audit log). Emits "contact.restricted";
// restricting a restricted contact changes nothing.
func (s *Service) Restrict(ctx context.Context, id core.ID, reason string) (err error) {
	ctx, span := s.sc.SpanID(ctx, "contacts.Restrict", id)
	defer span.End(&err)

	return s.setRestricted(ctx, id, true, reason)
}

// LiftRestriction ends a restriction and emits "contact.restriction_lifted".
func (s *Service) LiftRestriction(ctx context.Context, id core.ID, reason string) (err error) {
	ctx, span := s.sc.SpanID(ctx, "contacts.LiftRestriction", id)
	defer span.End(&err)

	return s.setRestricted(ctx, id, false, reason)
}

func (s *Service) setRestricted(ctx context.Context, id core.ID, on bool, reason string) error {
	if !core.ValidCode(reason) {
		return core.Invalid("reason", "must be a short code of lower-case letters, digits and _")
	}
	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return err
	}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		c, err := s.writableLocked(ctx, g, tx.Q(), tenant, id, access.Update)
		if err != nil {
			return err
		}
		if c.Restricted == on {
			return nil
		}
		if _, err := tx.Q().Exec(ctx, `UPDATE crm_contacts SET restricted = ? WHERE tenant_id = ? AND id = ?`, on, tenant, id); err != nil {
			return err
		}
		typ := EventContactRestricted
		if !on {
			typ = EventContactRestrictionLifted
		}
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: typ, SubjectType: "contact", SubjectID: id,
			Data: store.JSON(RestrictionChanged{Reason: reason})})
	})
	return g.done(ctx, store.Wrap(err, "restrict contact"))
}
