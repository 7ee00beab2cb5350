package consent

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
	// Held are the sections kept under a legal hold until HoldUntil; the
	// contact is restricted meanwhile, and ReleaseHolds erases them after.
	Held      []string   `json:"held,omitempty"`
	HoldUntil *time.Time `json:"hold_until,omitempty"`
}

// LegalHold keeps records the host must keep (invoices: the "activities"
// with purchases, "deals") through an erasure until Until. The person's
// identity ("contact") is kept with them, restricted.
type LegalHold struct {
	Sections []string
	// Until is when the hold ends: in the future and in years 1 to 9999
	// UTC.
	Until time.Time
}

// Erase forgets a person (GDPR Art. 17) in one transaction across every
// registered module: personal fields are removed or replaced, free text is
// scrubbed, events about the person and their records are emptied, the consent
// log is deleted, and what is not personal stays (a deal's amount stays in
// revenue, unlinked; activities keep their kind and time). The email
// address and phone number go on the suppression list, and a receipt
// without personal data is kept (Erasure). The reason is a short code
// ("request", "retention"). Erasing twice is core.ErrConflict; a contact of
// another tenant is core.ErrNotFound.
//
// Not yet: records under a legal hold are erased like the others.
func (s *Service) Erase(ctx context.Context, contactID core.ID, reason string) (*ErasureReceipt, error) {
	return s.EraseWithHold(ctx, contactID, reason, LegalHold{})
}

// EraseWithHold erases like Erase, except the sections of hold, which are
// kept — with the contact, restricted (Art. 18) — until hold.Until, when
// ReleaseHolds (run by ApplyRetention) erases them.
func (s *Service) EraseWithHold(ctx context.Context, contactID core.ID, reason string, hold LegalHold) (*ErasureReceipt, error) {
	v := &core.ValidationError{}
	if !core.ValidCode(reason) {
		v.Add("reason", "must be a short code of lower-case letters, digits and _")
	}
	held := map[string]bool{}
	if len(hold.Sections) > 0 || !hold.Until.IsZero() {
		v.CheckTime("hold.until", hold.Until)
	}
	if len(hold.Sections) > 0 {
		if !v.Has("hold.until") && !hold.Until.After(s.sc.Runtime().Now()) {
			v.Add("hold.until", "must be in the future")
		}
		names := map[string]bool{}
		for _, src := range s.sc.Runtime().PersonalDataSources() {
			names[src.Name] = src.Erase != nil
		}
		for _, sec := range hold.Sections {
			if !names[sec] {
				v.Add("hold.sections", "%q is not a section with personal data to erase", sec)
			}
			held[sec] = true
		}
		held["contact"] = true // the identity stays with what is held
	}
	if err := v.Err(); err != nil {
		return nil, err
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
		subject, email, phone, err := subjectOf(ctx, q, tenant, contactID)
		if err != nil {
			return err
		}
		if err := suppress(ctx, tx, tenant, email, phone, "erasure"); err != nil {
			return err
		}
		r := &ErasureReceipt{ContactID: contactID, ErasedAt: tx.Runtime().Now(), Reason: reason, Sections: []string{}, Held: []string{}}
		if a, ok := core.ActorFrom(ctx); ok {
			r.ActorID = a.ID
		}
		var holdUntil any
		if len(held) > 0 {
			until := core.NormalizeTime(hold.Until)
			r.HoldUntil, holdUntil = &until, until
			// Kept, but no longer processed.
			if _, err := q.Exec(ctx, `UPDATE crm_contacts SET restricted = ? WHERE tenant_id = ? AND id = ?`, true, tenant, contactID); err != nil {
				return err
			}
		}
		for _, src := range sc.Runtime().PersonalDataSources() {
			switch {
			case src.Erase == nil:
			case held[src.Name]:
				r.Held = append(r.Held, src.Name)
			default:
				if err := src.Erase(ctx, sc, subject); err != nil {
					return fmt.Errorf("erase %s: %w", src.Name, err)
				}
				r.Sections = append(r.Sections, src.Name)
			}
		}
		if _, err := q.Exec(ctx, `INSERT INTO crm_erasures (tenant_id, contact_id, erased_at, actor_id, reason, sections, held, hold_until)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, tenant, contactID, r.ErasedAt, r.ActorID, r.Reason, string(store.JSON(r.Sections)),
			string(store.JSON(r.Held)), holdUntil); err != nil {
			return err
		}
		detail := reason
		if len(r.Held) > 0 {
			detail += "; held: " + strings.Join(r.Held, ",")
		}
		if err := audit(ctx, tx, tenant, "erase", "contact", contactID, detail); err != nil {
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

// subjectOf reads the contact's identifying texts.
func subjectOf(ctx context.Context, q store.Q, tenant string, contactID core.ID) (store.Subject, string, string, error) {
	subject := store.Subject{ContactID: contactID}
	var email, phone, first, last string
	err := q.QueryRow(ctx, `SELECT email, phone, first_name, last_name FROM crm_contacts WHERE tenant_id = ? AND id = ?`+q.D.LockRows(),
		tenant, contactID).Scan(&email, &phone, &first, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return subject, "", "", core.NotFound("contact", contactID)
	}
	if err != nil {
		return subject, "", "", err
	}
	for _, t := range []string{email, phone, strings.TrimSpace(first + " " + last), first, last} {
		// Very short texts would scrub unrelated words ("Al").
		if len([]rune(strings.TrimSpace(t))) >= 3 {
			subject.Texts = append(subject.Texts, strings.TrimSpace(t))
		}
	}
	return subject, email, phone, nil
}

// ReleaseHolds erases the sections held by erasures whose legal hold ended
// before now, and returns how many erasures it completed (ApplyRetention
// runs it).
func (s *Service) ReleaseHolds(ctx context.Context, now time.Time) (int64, error) {
	tenant, err := s.sc.Tenant()
	if err != nil {
		return 0, err
	}
	if err := core.CheckTime("now", now); err != nil {
		return 0, err
	}
	rows, err := s.sc.Q().Query(ctx, `SELECT contact_id FROM crm_erasures WHERE tenant_id = ? AND hold_until IS NOT NULL AND hold_until < ?`, tenant, now)
	if err != nil {
		return 0, store.Wrap(err, "release holds")
	}
	var ids []core.ID
	if err := store.EachRow(rows, func(r store.Scanner) error {
		var id core.ID
		err := r.Scan(&id)
		ids = append(ids, id)
		return err
	}); err != nil {
		return 0, store.Wrap(err, "release holds")
	}
	var n int64
	for _, id := range ids {
		err := s.sc.InTx(ctx, func(ctx context.Context, sc store.Scope) error {
			tx := sc.Tx()
			q := tx.Q()
			var heldJSON, doneJSON []byte
			if err := q.QueryRow(ctx, `SELECT held, sections FROM crm_erasures WHERE tenant_id = ? AND contact_id = ?`, tenant, id).Scan(&heldJSON, &doneJSON); err != nil {
				return err
			}
			var held, done []string
			if err := json.Unmarshal(heldJSON, &held); err != nil {
				return err
			}
			if err := json.Unmarshal(doneJSON, &done); err != nil {
				return err
			}
			subject, _, _, err := subjectOf(ctx, q, tenant, id)
			if err != nil {
				return err
			}
			// The identity goes last: the others scrub with it.
			slices.SortStableFunc(held, func(a, b string) int {
				switch {
				case a == "contact":
					return 1
				case b == "contact":
					return -1
				}
				return 0
			})
			sources := map[string]store.PersonalData{}
			for _, src := range sc.Runtime().PersonalDataSources() {
				sources[src.Name] = src
			}
			for _, name := range held {
				if src, ok := sources[name]; ok && src.Erase != nil {
					if err := src.Erase(ctx, sc, subject); err != nil {
						return fmt.Errorf("erase %s: %w", name, err)
					}
				}
			}
			if _, err := q.Exec(ctx, `UPDATE crm_erasures SET sections = ?, held = '[]', hold_until = NULL WHERE tenant_id = ? AND contact_id = ?`,
				string(store.JSON(append(done, held...))), tenant, id); err != nil {
				return err
			}
			return audit(ctx, tx, tenant, "erase", "contact", id, "legal hold ended")
		})
		if err != nil {
			return n, store.Wrap(err, "release holds")
		}
		n++
	}
	return n, nil
}

// Erasure returns the receipt of the contact's erasure, or core.ErrNotFound.
func (s *Service) Erasure(ctx context.Context, contactID core.ID) (*ErasureReceipt, error) {
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	var r ErasureReceipt
	var sections, held []byte
	var until sql.NullTime
	err = s.sc.Q().QueryRow(ctx, `SELECT contact_id, erased_at, actor_id, reason, sections, held, hold_until FROM crm_erasures
		WHERE tenant_id = ? AND contact_id = ?`, tenant, contactID).Scan(&r.ContactID, &r.ErasedAt, &r.ActorID, &r.Reason, &sections, &held, &until)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.NotFound("erasure of contact", contactID)
	}
	if err != nil {
		return nil, store.Wrap(err, "erasure")
	}
	r.ErasedAt = r.ErasedAt.UTC()
	if until.Valid {
		t := until.Time.UTC()
		r.HoldUntil = &t
	}
	if err := json.Unmarshal(sections, &r.Sections); err != nil {
		return nil, store.Wrap(err, "erasure")
	}
	return &r, store.Wrap(json.Unmarshal(held, &r.Held), "erasure")
}
