package consent

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// ErasureReceipt proves an erasure without personal data: which contact id,
// when, by whom, why, and which modules erased.
type ErasureReceipt struct {
	ContactID core.ID   `json:"contact_id"`
	ErasedAt  time.Time `json:"erased_at"`
	ActorID   string    `json:"actor_id,omitempty"`
	Reason    string    `json:"reason"`
	Sections  []string  `json:"sections"`
}

// Erase forgets a person (GDPR Art. 17) in one transaction across every
// registered module: personal fields are removed or replaced, free text is
// scrubbed, events about or mentioning the person are emptied, the consent
// log is deleted, and what is not personal stays (a deal's amount stays in
// revenue, unlinked; activities keep their kind and time). The email
// address and phone number go on the suppression list, and a receipt
// without personal data is kept (Erasure). The reason is a short code
// ("request", "retention"). Erasing twice is core.ErrConflict; a contact of
// another tenant is core.ErrNotFound.
//
// Not yet: records under a legal hold are erased like the others.
func (s *Service) Erase(ctx context.Context, contactID core.ID, reason string) (*ErasureReceipt, error) {
	if !keyPattern.MatchString(reason) {
		return nil, core.Invalid("reason", "must be a short code of lower-case letters, digits and _")
	}
	var out *ErasureReceipt
	err := s.sc.InTx(ctx, func(ctx context.Context, sc store.Scope) error {
		tenant, _ := sc.Tenant()
		tx := sc.Tx()
		q := tx.Q()
		var erased int
		if err := q.QueryRow(ctx, `SELECT count(*) FROM crm_erasures WHERE tenant_id = ? AND contact_id = ?`, tenant, contactID).Scan(&erased); err != nil {
			return err
		}
		if erased > 0 {
			return fmt.Errorf("%w: contact %s was already erased", core.ErrConflict, contactID)
		}
		var email, phone, first, last string
		err := q.QueryRow(ctx, `SELECT email, phone, first_name, last_name FROM crm_contacts WHERE tenant_id = ? AND id = ?`+q.D.LockRows(),
			tenant, contactID).Scan(&email, &phone, &first, &last)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: contact %s", core.ErrNotFound, contactID)
		}
		if err != nil {
			return err
		}
		subject := store.Subject{ContactID: contactID}
		for _, t := range []string{email, phone, strings.TrimSpace(first + " " + last), first, last} {
			// Very short texts would scrub unrelated words ("Al").
			if len([]rune(strings.TrimSpace(t))) >= 3 {
				subject.Texts = append(subject.Texts, strings.TrimSpace(t))
			}
		}
		if err := suppress(ctx, tx, tenant, email, phone, "erasure"); err != nil {
			return err
		}
		r := &ErasureReceipt{ContactID: contactID, ErasedAt: tx.Runtime().Now(), Reason: reason, Sections: []string{}}
		if a, ok := core.ActorFrom(ctx); ok {
			r.ActorID = a.ID
		}
		for _, src := range sc.Runtime().PersonalDataSources() {
			if src.Erase == nil {
				continue
			}
			if err := src.Erase(ctx, sc, subject); err != nil {
				return fmt.Errorf("erase %s: %w", src.Name, err)
			}
			r.Sections = append(r.Sections, src.Name)
		}
		if _, err := q.Exec(ctx, `INSERT INTO crm_erasures (tenant_id, contact_id, erased_at, actor_id, reason, sections) VALUES (?, ?, ?, ?, ?, ?)`,
			tenant, contactID, r.ErasedAt, r.ActorID, r.Reason, string(store.JSON(r.Sections))); err != nil {
			return err
		}
		if err := audit(ctx, tx, tenant, "erase", "contact", contactID, reason); err != nil {
			return err
		}
		out = r
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: "contact.erased", SubjectType: "contact", SubjectID: contactID,
			OccurredAt: r.ErasedAt, Data: store.JSON(r)})
	})
	if err != nil {
		return nil, store.Wrap(err, "erase")
	}
	return out, nil
}

// Erasure returns the receipt of the contact's erasure, or core.ErrNotFound.
func (s *Service) Erasure(ctx context.Context, contactID core.ID) (*ErasureReceipt, error) {
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	var r ErasureReceipt
	var sections []byte
	err = s.sc.Q().QueryRow(ctx, `SELECT contact_id, erased_at, actor_id, reason, sections FROM crm_erasures WHERE tenant_id = ? AND contact_id = ?`,
		tenant, contactID).Scan(&r.ContactID, &r.ErasedAt, &r.ActorID, &r.Reason, &sections)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: no erasure of contact %s", core.ErrNotFound, contactID)
	}
	if err != nil {
		return nil, store.Wrap(err, "erasure")
	}
	r.ErasedAt = r.ErasedAt.UTC()
	return &r, store.Wrap(json.Unmarshal(sections, &r.Sections), "erasure")
}
