package store

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/crmkit/crmkit/core"
)

// PersonalData is one module's share of what a CRM holds about a person:
// the consent package's subject access export (and, later, erasure) asks
// every registered source. A module registers one source per kind of
// record it keeps about contacts, in one call.
type PersonalData struct {
	// Name is the section of the export ("contact", "activities", "deals").
	Name string
	// Tables are the crm_ tables the source covers; a test checks that
	// every table referencing a contact is covered by some source.
	Tables []string
	// Export returns the section's data about the contact (nil for
	// none), read through sc (bound to the export's transaction and
	// tenant).
	Export func(ctx context.Context, sc Scope, contactID core.ID) (any, error)
	// Erase removes or replaces the personal data of the source's records
	// about the subject, in sc's transaction, keeping what is not personal
	// (amounts, dates, kinds): free text is scrubbed with Subject.Scrub,
	// and the events of the records — those deleted before too, found with
	// RecordsNaming — are emptied. It runs for consent's Erase and for
	// contacts.Service.Delete (before the contact row goes), and must also
	// work when the contact is already gone. Nil when the source keeps
	// nothing to erase beyond what other sources erase.
	Erase func(ctx context.Context, sc Scope, s Subject) error
}

// Subject is the person an erasure is about: the contact, the contacts
// merged into it, and the texts that identify them (email, phone, names —
// the current ones and those they had before, read from the history of
// their events), which free text is scrubbed of.
type Subject struct {
	ContactID core.ID
	// MergedIDs are the contacts merged into ContactID: their records and
	// events are the person's too.
	MergedIDs []core.ID
	// Texts are scrubbed longest first (an email before the name in it).
	Texts []string
}

// IDs returns the contact and the contacts merged into it.
func (s Subject) IDs() []core.ID {
	return append([]core.ID{s.ContactID}, s.MergedIDs...)
}

// Scrub replaces every occurrence of the subject's texts in s, ignoring
// case, with "[erased]".
func (s Subject) Scrub(text string) string {
	for _, t := range s.Texts {
		if t != "" {
			text = regexp.MustCompile("(?i)"+regexp.QuoteMeta(t)).ReplaceAllString(text, "[erased]")
		}
	}
	return text
}

type privacyRegistry struct {
	mu      sync.RWMutex
	sources []PersonalData
}

// RegisterPersonalData adds a source of personal data. Registering a name
// twice replaces the earlier source.
func (rt *Runtime) RegisterPersonalData(src PersonalData) {
	rt.privacy.mu.Lock()
	defer rt.privacy.mu.Unlock()
	rt.privacy.sources = slices.DeleteFunc(rt.privacy.sources, func(s PersonalData) bool { return s.Name == src.Name })
	rt.privacy.sources = append(rt.privacy.sources, src)
}

// PersonalDataSources returns the registered sources, in registration
// order.
func (rt *Runtime) PersonalDataSources() []PersonalData {
	rt.privacy.mu.RLock()
	defer rt.privacy.mu.RUnlock()
	return slices.Clone(rt.privacy.sources)
}

// registerEvents makes the outbox a source: the events about the contact.
func (rt *Runtime) registerEvents() {
	rt.RegisterPersonalData(PersonalData{Name: "events", Tables: []string{"crm_events"},
		Export: func(ctx context.Context, sc Scope, contactID core.ID) (any, error) {
			tenant, _ := sc.Tenant()
			rows, err := sc.Q().Query(ctx, `SELECT `+EventColumns("e")+` FROM crm_events e WHERE e.tenant_id = ? AND e.subject_id = ? ORDER BY e.id`, tenant, contactID)
			if err != nil {
				return nil, err
			}
			out := []core.Event{}
			err = EachRow(rows, func(r Scanner) error {
				ev, err := ScanEvent(r)
				out = append(out, ev)
				return err
			})
			return out, err
		},
		// Events keep their type, subject and time (counts and funnels
		// stay); the data of those about the person is emptied. Each module
		// empties the events about its own records of the person
		// (EmptyEventsOf), so an erasure reads only the person's events.
		Erase: func(ctx context.Context, sc Scope, s Subject) error {
			tenant, _ := sc.Tenant()
			_, err := sc.Q().Exec(ctx, `UPDATE crm_events SET data = '{}' WHERE tenant_id = ? AND subject_id = ?`, tenant, s.ContactID)
			return err
		}})
}

// EmptyEventsOf empties the data of the events about the records that
// records selects (an SQL query of one id column, parameters args): an
// eraser's way to take a person's data out of the outbox.
func EmptyEventsOf(ctx context.Context, sc Scope, records string, args ...any) error {
	tenant, _ := sc.Tenant()
	_, err := sc.Q().Exec(ctx, `UPDATE crm_events SET data = '{}' WHERE tenant_id = ? AND subject_id IN (`+records+`)`,
		append([]any{tenant}, args...)...)
	return err
}

// RecordsNaming returns the ids of the records of subjectType ("note",
// "task", "deal", "activity") whose events name the subject (or a contact
// merged into it) as their contact (core.Event.ContactID) — records
// deleted long ago included, whose ids only their events still know.
func RecordsNaming(ctx context.Context, sc Scope, s Subject, subjectType string) ([]core.ID, error) {
	tenant, _ := sc.Tenant()
	ids := s.IDs()
	args := []any{tenant, subjectType}
	for _, id := range ids {
		args = append(args, id)
	}
	rows, err := sc.Q().Query(ctx, `SELECT DISTINCT e.subject_id FROM crm_events e WHERE e.tenant_id = ? AND e.subject_type = ?
		AND e.contact_id IN (?`+strings.Repeat(", ?", len(ids)-1)+`) ORDER BY e.subject_id`, args...)
	if err != nil {
		return nil, err
	}
	var out []core.ID
	err = EachRow(rows, func(r Scanner) error {
		var id core.ID
		if err := r.Scan(&id); err != nil {
			return err
		}
		out = append(out, id)
		return nil
	})
	return out, err
}

// EmptyEventsNaming empties the data of all the events about every record
// RecordsNaming finds: an eraser's way to reach the events of records
// deleted before the erasure. All the events of such a record are emptied,
// those that no longer name the person too (a title keeps a name after the
// record moves to someone else).
func EmptyEventsNaming(ctx context.Context, sc Scope, s Subject, subjectType string) error {
	ids, err := RecordsNaming(ctx, sc, s, subjectType)
	if err != nil {
		return err
	}
	return EmptyEventsAbout(ctx, sc, ids)
}

// EmptyEventsAbout empties the data of the events about the records ids,
// bound as one list (dialect.InList), however many.
func EmptyEventsAbout(ctx context.Context, sc Scope, ids []core.ID) error {
	if len(ids) == 0 {
		return nil
	}
	tenant, _ := sc.Tenant()
	q := sc.Q()
	_, err := q.Exec(ctx, `UPDATE crm_events SET data = '{}' WHERE tenant_id = ? AND `+q.D.InList("subject_id", "uuid"), tenant, q.D.IDsArg(ids))
	return err
}
