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

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/contacts"
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
// scrubbed of every name, email and phone the person (and the contacts
// merged into them) had, the events about the person and about their
// records — those deleted before included — are emptied, the consent log
// is deleted, and what is not personal stays (a deal's amount stays in
// revenue, unlinked; activities keep their kind and time; events their
// type and time). The email address and phone number go on the suppression
// list, and a receipt without personal data is kept (Erasure). The reason
// is a short code ("request", "retention"). Erasing twice is
// core.ErrConflict; a contact of another tenant, or never seen, is
// core.ErrNotFound. A contact removed with contacts.Service.Delete can be
// erased too: whatever is left of it is scrubbed by its id and a receipt
// written, but its address is not known any more to suppress (call
// Suppress with the address the person gives).
func (s *Service) Erase(ctx context.Context, contactID core.ID, reason string) (_ *ErasureReceipt, err error) {
	ctx, span := s.sc.SpanID(ctx, "consent.Erase", contactID)
	defer span.End(&err)

	return s.EraseWithHold(ctx, contactID, reason, LegalHold{})
}

// EraseWithHold erases like Erase, except the sections of hold, which are
// kept — with the contact's identity and its own events ("contact" and
// "events" are held too), restricted (Art. 18) — until hold.Until, when
// ReleaseHolds (run by ApplyRetention) erases them. What is held keeps the
// person's name on purpose (an invoice is made out to someone); the
// receipt lists it under Held. A deleted contact has nothing to hold
// (core.ErrInvalid).
func (s *Service) EraseWithHold(ctx context.Context, contactID core.ID, reason string, hold LegalHold) (_ *ErasureReceipt, err error) {
	ctx, span := s.sc.SpanID(ctx, "consent.EraseWithHold", contactID)
	defer span.End(&err)

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
		// The identity stays with what is held, and its history (the
		// contact's own events) with it: the release scrubs with the names
		// the person had.
		held["contact"], held["events"] = true, true
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	g, err := check(ctx, s.sc, "contact", contactID, access.Erase)
	if err != nil {
		return nil, err
	}
	var out *ErasureReceipt
	err = s.sc.InTx(ctx, func(ctx context.Context, sc store.Scope) error {
		tenant, _ := sc.Tenant()
		tx := sc.Tx()
		q := tx.Q()
		// An actor erases the contacts they see; one who sees them all may
		// erase what is left of a deleted one, as the host may.
		if cond, _ := g.contacts("vc"); cond != "1 = 1" {
			if err := g.contact(ctx, q, tenant, contactID, access.Erase); err != nil {
				return err
			}
		}
		var erased int
		if err := q.QueryRow(ctx, `SELECT count(*) FROM crm_erasures WHERE tenant_id = ? AND contact_id = ?`, tenant, contactID).Scan(&erased); err != nil {
			return err
		}
		if erased > 0 {
			return fmt.Errorf("%w: contact %s was already erased", core.ErrConflict, contactID)
		}
		subject, email, phone, deleted, err := subjectOf(ctx, q, tenant, contactID)
		if err != nil {
			return err
		}
		if deleted && len(held) > 0 {
			return core.Invalid("hold", "contact %s was deleted: nothing of it is kept to hold", contactID)
		}
		if err := suppress(ctx, tx, tenant, email, phone, "erasure"); err != nil {
			return err
		}
		r := &ErasureReceipt{ContactID: contactID, ErasedAt: tx.Runtime().Now(), Reason: reason}
		if a, ok := core.ActorFrom(ctx); ok {
			r.ActorID = a.ID
		}
		var holdUntil any
		if len(held) > 0 {
			until := core.NormalizeTime(hold.Until)
			r.HoldUntil, holdUntil = &until, until
			// Kept, but no longer processed: restricted through the
			// contacts module, so that "contact.restricted" is emitted.
			if err := contacts.Module.Contacts(sc).Restrict(ctx, contactID, "legal_hold"); err != nil {
				return err
			}
		}
		if r.Sections, r.Held, err = forget(ctx, sc, subject, held); err != nil {
			return err
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
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventContactErased, SubjectType: "contact", SubjectID: contactID,
			OccurredAt: r.ErasedAt, Data: store.JSON(r)})
	})
	if err != nil {
		return nil, g.done(ctx, store.Wrap(err, "erase"))
	}
	return out, nil
}

// identity is what identifies a person in a contact row or in the
// payload of a contact.created or contact.updated event.
type identity struct {
	Email     string `json:"email"`
	Phone     string `json:"phone"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
}

// subjectOf reads the contact's identifying texts — the current ones, and
// those the contact and the contacts merged into it had before (their
// contact.created and contact.updated events, the merge snapshots) — and
// the current email and phone. deleted reports a contact that is gone
// (Contacts.Delete) but known from its contact.deleted event; a contact
// neither present nor deleted is core.ErrNotFound, and a contact merged
// into another is core.ErrNotFound naming the one to erase.
func subjectOf(ctx context.Context, q store.Q, tenant string, contactID core.ID) (subject store.Subject, email, phone string, deleted bool, err error) {
	subject = store.Subject{ContactID: contactID}
	var cur identity
	err = q.QueryRow(ctx, `SELECT email, phone, first_name, last_name FROM crm_contacts WHERE tenant_id = ? AND id = ?`+q.D.LockRows(),
		tenant, contactID).Scan(&cur.Email, &cur.Phone, &cur.FirstName, &cur.LastName)
	if errors.Is(err, sql.ErrNoRows) {
		deleted, err = deletedContact(ctx, q, tenant, contactID)
		if err != nil {
			return subject, "", "", false, err
		}
	} else if err != nil {
		return subject, "", "", false, err
	}
	ids := []core.ID{contactID}
	known := []identity{cur}
	rows, err := q.Query(ctx, `SELECT m.loser_id, m.snapshot FROM crm_contact_merges m WHERE m.tenant_id = ? AND m.winner_id = ? ORDER BY m.loser_id`, tenant, contactID)
	if err != nil {
		return subject, "", "", false, err
	}
	if err := store.EachRow(rows, func(r store.Scanner) error {
		var id core.ID
		var snap []byte
		if err := r.Scan(&id, &snap); err != nil {
			return err
		}
		subject.MergedIDs = append(subject.MergedIDs, id)
		ids = append(ids, id)
		var was identity
		if json.Unmarshal(snap, &was) == nil {
			known = append(known, was)
		}
		return nil
	}); err != nil {
		return subject, "", "", false, err
	}
	// The history: what the person was called and reached at before.
	args := []any{tenant, contacts.EventContactCreated, contacts.EventContactUpdated}
	for _, id := range ids {
		args = append(args, id)
	}
	rows, err = q.Query(ctx, `SELECT e.type, e.data FROM crm_events e WHERE e.tenant_id = ? AND e.type IN (?, ?)
		AND e.subject_id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)`, args...)
	if err != nil {
		return subject, "", "", false, err
	}
	if err := store.EachRow(rows, func(r store.Scanner) error {
		var typ string
		var data []byte
		if err := r.Scan(&typ, &data); err != nil {
			return err
		}
		var was identity
		if typ == contacts.EventContactUpdated {
			var d struct {
				Contact identity `json:"contact"`
			}
			if json.Unmarshal(data, &d) == nil {
				was = d.Contact
			}
		} else {
			_ = json.Unmarshal(data, &was) // an emptied payload names nobody
		}
		known = append(known, was)
		return nil
	}); err != nil {
		return subject, "", "", false, err
	}
	seen := map[string]bool{}
	for _, k := range known {
		for _, t := range []string{k.Email, k.Phone, k.FirstName + " " + k.LastName, k.FirstName, k.LastName} {
			t = strings.TrimSpace(t)
			// Very short texts would scrub unrelated words ("Al").
			if len([]rune(t)) >= 3 && !seen[strings.ToLower(t)] {
				seen[strings.ToLower(t)] = true
				subject.Texts = append(subject.Texts, t)
			}
		}
	}
	// Longest first: an email goes whole before the name in it.
	slices.SortStableFunc(subject.Texts, func(a, b string) int { return len(b) - len(a) })
	return subject, cur.Email, cur.Phone, deleted, nil
}

// deletedContact reports whether contactID was deleted (its
// contact.deleted event is kept); a contact never seen, or merged into
// another, is core.ErrNotFound.
func deletedContact(ctx context.Context, q store.Q, tenant string, contactID core.ID) (bool, error) {
	var data []byte
	err := q.QueryRow(ctx, `SELECT e.data FROM crm_events e WHERE e.tenant_id = ? AND e.subject_id = ? AND e.type = ?
		ORDER BY e.id DESC LIMIT 1`, tenant, contactID, contacts.EventContactDeleted).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return false, core.NotFound("contact", contactID)
	}
	if err != nil {
		return false, err
	}
	var d contacts.ContactDeleted
	if json.Unmarshal(data, &d) == nil && d.MergedInto != nil {
		return false, fmt.Errorf("%w: contact %s was merged into contact %s: erase that one", core.ErrNotFound, contactID, *d.MergedInto)
	}
	return true, nil
}

// forget runs every registered source's eraser on the subject in sc's
// transaction, except the sections held, and returns the names of those
// it ran.
func forget(ctx context.Context, sc store.Scope, subject store.Subject, held map[string]bool) (erased, kept []string, err error) {
	erased, kept = []string{}, []string{}
	for _, src := range sc.Runtime().PersonalDataSources() {
		switch {
		case src.Erase == nil:
		case held[src.Name]:
			kept = append(kept, src.Name)
		default:
			if err := src.Erase(ctx, sc, subject); err != nil {
				return nil, nil, fmt.Errorf("erase %s: %w", src.Name, err)
			}
			erased = append(erased, src.Name)
		}
	}
	return erased, kept, nil
}

// ReleaseHolds erases the sections held by erasures whose legal hold ended
// before now, and returns how many erasures it completed (ApplyRetention
// runs it).
func (s *Service) ReleaseHolds(ctx context.Context, now time.Time) (_ int64, err error) {
	ctx, span := s.sc.Span(ctx, "consent.ReleaseHolds")
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return 0, err
	}
	if err := core.CheckTime("now", now); err != nil {
		return 0, err
	}
	if _, err := check(ctx, s.sc, "erasure", core.NilID, access.Manage); err != nil {
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
			subject, _, _, _, err := subjectOf(ctx, q, tenant, id)
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
// An actor reads the receipts of the contacts they see (an erased contact
// stays, anonymous, with its owner); the receipt of a contact that is
// gone (deleted after its erasure) only when they see every contact.
func (s *Service) Erasure(ctx context.Context, contactID core.ID) (_ *ErasureReceipt, err error) {
	ctx, span := s.sc.SpanID(ctx, "consent.Erasure", contactID)
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	g, err := check(ctx, s.sc, "erasure", contactID, access.Read)
	if err != nil {
		return nil, err
	}
	if !g.everyone() {
		if err := g.contact(ctx, s.sc.Q(), tenant, contactID, access.Read); err != nil {
			return nil, g.done(ctx, store.Wrap(err, "erasure"))
		}
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
