package consent

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// SubjectAccess is everything a tenant holds about one person (GDPR Art. 15
// and 20), as one machine-readable document.
type SubjectAccess struct {
	ContactID   core.ID   `json:"contact_id"`
	Tenant      string    `json:"tenant"`
	GeneratedAt time.Time `json:"generated_at"`
	// Purposes are the tenant's purposes, with their legal bases and
	// current wordings; the consent log says which concern the person.
	Purposes []*Purpose `json:"purposes"`
	// Data holds each registered module's section: "contact",
	// "activities", "notes", "tasks", "deals", "consents", "events", …
	Data map[string]any `json:"data"`
	// Recipients the data was disclosed to (webhook targets, once the
	// integration module exists).
	Recipients []string `json:"recipients"`
}

// Export gathers everything about the contact from every registered
// module, in one transaction, and records the access in the audit log. A
// contact of another tenant, or deleted, is core.ErrNotFound. For an
// erased contact it returns what was kept on purpose: under a legal hold,
// the held sections and the identity (the name and addresses an invoice
// was made out to); afterwards the anonymous contact and its purchases.
func (s *Service) Export(ctx context.Context, contactID core.ID) (_ *SubjectAccess, err error) {
	ctx, span := s.sc.SpanID(ctx, "consent.Export", contactID)
	defer span.End(&err)

	g, err := check(ctx, s.sc, "contact", contactID, access.Export)
	if err != nil {
		return nil, err
	}
	var out *SubjectAccess
	err = s.sc.InTx(ctx, func(ctx context.Context, sc store.Scope) error {
		tenant, _ := sc.Tenant()
		if err := g.contact(ctx, sc.Q(), tenant, contactID, access.Export); err != nil {
			return err
		}
		doc := &SubjectAccess{ContactID: contactID, Tenant: tenant, GeneratedAt: sc.Runtime().Now(), Data: map[string]any{}, Recipients: []string{}}
		for _, src := range sc.Runtime().PersonalDataSources() {
			v, err := src.Export(ctx, sc, contactID)
			if err != nil {
				return fmt.Errorf("export %s: %w", src.Name, err)
			}
			doc.Data[src.Name] = v
		}
		if doc.Data["contact"] == nil {
			return core.NotFound("contact", contactID)
		}
		purposes, err := listPurposes(ctx, sc.Q(), tenant)
		if err != nil {
			return err
		}
		doc.Purposes = purposes
		out = doc
		return audit(ctx, sc.Tx(), tenant, "export", "contact", contactID, "subject access export")
	})
	if err != nil {
		return nil, g.done(ctx, store.Wrap(err, "export personal data"))
	}
	return out, nil
}

// personalData is the consent log and opt-in requests, for the privacy
// registry.
func personalData() []store.PersonalData {
	var out []store.PersonalData
	// crm_erasures is covered too: its receipts hold no personal data and
	// are kept.
	out = append(out, store.PersonalData{Name: "consents", Tables: []string{"crm_consents", "crm_optin_requests", "crm_erasures"},
		// The export is checked by Export (consent export, the contact
		// visible) and holds the whole log, network details included.
		Export: func(ctx context.Context, sc store.Scope, id core.ID) (any, error) {
			tenant, _ := sc.Tenant()
			return history(ctx, sc.Q(), tenant, id)
		},
		// Erasure is the one time the consent log is deleted from.
		Erase: func(ctx context.Context, sc store.Scope, s store.Subject) error {
			tenant, _ := sc.Tenant()
			return deleteLog(ctx, sc.Q(), tenant, s.ContactID)
		}})
	return out
}

// AuditEntry is one access to or change of personal data. It names the
// actor, the action and the subject, never the data.
type AuditEntry struct {
	ID          core.ID   `json:"id"`
	At          time.Time `json:"at"`
	ActorID     string    `json:"actor_id,omitempty"`
	Action      string    `json:"action"`
	SubjectType string    `json:"subject_type"`
	SubjectID   core.ID   `json:"subject_id"`
	Detail      string    `json:"detail,omitempty"`
}

// audit appends an entry in tx.
func audit(ctx context.Context, tx *store.Tx, tenant, action, subjectType string, subject core.ID, detail string) error {
	actor := ""
	if a, ok := core.ActorFrom(ctx); ok {
		actor = a.ID
	}
	_, err := tx.Q().Exec(ctx, `INSERT INTO crm_audit (tenant_id, id, at, actor_id, action, subject_type, subject_id, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, tenant, core.NewID(), tx.Runtime().Now(), actor, action, subjectType, subject, detail)
	return err
}

// auditEntry appends e to the audit log of sc's tenant in its own atomic
// change (or a savepoint of sc's transaction): store.Runtime.Audit, for
// the modules that record what is not an event.
func auditEntry(ctx context.Context, sc store.Scope, e store.AuditEntry) error {
	err := sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := sc.Tenant()
		return audit(ctx, tx, tenant, e.Action, e.SubjectType, e.SubjectID, e.Detail)
	})
	return store.Wrap(err, "write audit entry")
}

// AuditQuery selects audit entries: of one subject (NilID: all), in
// [From, To) (zero times: unbounded), at most Limit (default 50, at most
// 1000), oldest first.
type AuditQuery struct {
	SubjectID core.ID
	From, To  time.Time
	Limit     int
}

// Audit returns audit entries.
func (s *Service) Audit(ctx context.Context, aq AuditQuery) (_ []AuditEntry, err error) {
	ctx, span := s.sc.Span(ctx, "consent.Audit")
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	limit := aq.Limit
	if limit == 0 {
		limit = store.DefaultLimit
	}
	v := &core.ValidationError{}
	if limit < 0 || limit > store.MaxLimit {
		v.Add("limit", "must be between 1 and %d", store.MaxLimit)
	}
	v.CheckTime("from", aq.From)
	v.CheckTime("to", aq.To)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if _, err := check(ctx, s.sc, "audit", core.NilID, access.Manage); err != nil {
		return nil, err
	}
	var where strings.Builder
	args := []any{tenant}
	if aq.SubjectID != core.NilID {
		where.WriteString(" AND subject_id = ?")
		args = append(args, aq.SubjectID)
	}
	if !aq.From.IsZero() {
		where.WriteString(" AND at >= ?")
		args = append(args, aq.From)
	}
	if !aq.To.IsZero() {
		where.WriteString(" AND at < ?")
		args = append(args, aq.To)
	}
	rows, err := s.sc.Q().PlanPerCall().Query(ctx, `SELECT id, at, actor_id, action, subject_type, subject_id, detail FROM crm_audit
		WHERE tenant_id = ?`+where.String()+` ORDER BY at, id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, store.Wrap(err, "audit")
	}
	out := []AuditEntry{}
	err = store.EachRow(rows, func(r store.Scanner) error {
		var e AuditEntry
		if err := r.Scan(&e.ID, &e.At, &e.ActorID, &e.Action, &e.SubjectType, &e.SubjectID, &e.Detail); err != nil {
			return err
		}
		e.At = e.At.UTC()
		out = append(out, e)
		return nil
	})
	return out, store.Wrap(err, "audit")
}

// auditedEvents are the changes of personal data the audit log records,
// by event type; the entry keeps the type and the changed field names.
var auditedEvents = []string{contacts.EventContactCreated, contacts.EventContactUpdated, contacts.EventContactDeleted, contacts.EventContactMerged,
	contacts.EventContactRestricted, contacts.EventContactRestrictionLifted,
	EventConsentGranted, EventConsentWithdrawn, EventConsentObjected, EventConsentPending}

// auditHook records audited events in the transaction that made them.
func auditHook(ctx context.Context, tx *store.Tx, ev core.Event) error {
	detail := ""
	if ev.Type == contacts.EventContactUpdated {
		// The names of the changed fields, not their values.
		var d struct {
			Changed []string `json:"changed"`
		}
		if err := json.Unmarshal(ev.Data, &d); err == nil {
			detail = strings.Join(d.Changed, ",")
		}
	}
	if ev.Type == contacts.EventContactRestricted || ev.Type == contacts.EventContactRestrictionLifted {
		var d struct {
			Reason string `json:"reason"`
		}
		if err := json.Unmarshal(ev.Data, &d); err == nil {
			detail = d.Reason
		}
	}
	actor := ev.ActorID
	_, err := tx.Q().Exec(ctx, `INSERT INTO crm_audit (tenant_id, id, at, actor_id, action, subject_type, subject_id, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, ev.TenantID, core.NewID(), ev.OccurredAt, actor, ev.Type, ev.SubjectType, ev.SubjectID, detail)
	return err
}
