package contacts

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// Timeline item types.
const (
	ItemActivity = "activity"
	ItemNote     = "note"
	ItemEvent    = "event"
)

// TimelineItem is one entry of a contact's timeline: an activity, a note,
// or an event about the contact (created, updated, …), about a contact
// merged into it, or about another record of the person's (a deal, a
// ticket, a task, a campaign's mail: every event whose ContactID is the
// contact, but those of activities and notes, which are items themselves).
type TimelineItem struct {
	Type     string      `json:"type"`
	At       time.Time   `json:"at"`
	ID       core.ID     `json:"id"`
	Activity *Activity   `json:"activity,omitempty"`
	Note     *Note       `json:"note,omitempty"`
	Event    *core.Event `json:"event,omitempty"`
}

// TimelineOptions select and page a timeline.
type TimelineOptions struct {
	// Types selects item types (ItemActivity, ItemNote, ItemEvent); empty
	// selects all.
	Types []string
	// Kinds narrows activities to these kinds; empty keeps all.
	Kinds []ActivityKind
	// Limit is the page size: default 50, at most 1000.
	Limit  int
	Cursor string
}

// Timeline returns a contact's activities, notes and events merged, newest
// first (by when they occurred), one page at a time.
func (s *Service) Timeline(ctx context.Context, contactID core.ID, opts TimelineOptions) (_ core.Page[TimelineItem], err error) {
	ctx, span := s.sc.SpanID(ctx, "contacts.Timeline", contactID)
	defer span.End(&err)

	var page core.Page[TimelineItem]
	tenant, err := s.sc.Tenant()
	if err != nil {
		return page, err
	}
	v := &core.ValidationError{}
	want := map[string]bool{}
	for _, t := range opts.Types {
		if t != ItemActivity && t != ItemNote && t != ItemEvent {
			v.Add("types", "%q is not one of activity, note, event", t)
		}
		want[t] = true
	}
	for _, k := range opts.Kinds {
		if !slices.Contains(ActivityKinds, k) {
			v.Add("kinds", "%q is not an activity kind", k)
		}
	}
	limit := opts.Limit
	if limit == 0 {
		limit = store.DefaultLimit
	}
	if limit < 0 || limit > store.MaxLimit {
		v.Add("limit", "must be between 1 and %d", store.MaxLimit)
	}
	if err := v.Err(); err != nil {
		return page, err
	}
	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return page, err
	}
	// The contact must be one the actor sees: its items are then all
	// theirs to see too.
	if !g.trusted() {
		if _, err := s.get(ctx, g, tenant, contactID); err != nil {
			return page, g.done(ctx, store.Wrap(err, "timeline"))
		}
	}
	all := len(want) == 0

	// The cursor is bound to the tenant, the contact and the selection.
	kinds := make([]string, len(opts.Kinds))
	for i, k := range opts.Kinds {
		kinds[i] = string(k)
	}
	types := slices.Sorted(maps.Keys(want))
	slices.Sort(kinds)
	// Each kind once: a list that repeats one is as long as the kinds
	// there are, whatever the caller sent.
	kinds = slices.Compact(kinds)
	scope := fmt.Sprintf("%s\x00timeline\x00%s\x00%s\x00%s", tenant, contactID, strings.Join(types, ","), strings.Join(kinds, ","))
	if key := g.visible("", nil).Key; key != "" {
		sum := sha256.Sum256([]byte(key))
		scope += "\x00" + hex.EncodeToString(sum[:12])
	}
	var after []any
	if opts.Cursor != "" {
		vals, err := s.sc.Runtime().Cursors.Decode(scope, opts.Cursor)
		if err != nil {
			return page, err
		}
		var at time.Time
		var id core.ID
		if len(vals) != 2 || json.Unmarshal(vals[0], &at) != nil || json.Unmarshal(vals[1], &id) != nil {
			return page, core.Invalid("cursor", "is not a cursor of this list")
		}
		after = []any{at, id}
	}

	q := s.sc.Q()
	// Each source is read newest first up to one page past the cursor, then
	// the three are merged.
	keyset := func(atCol, idCol string) (string, []any) {
		if after == nil {
			return "", nil
		}
		return fmt.Sprintf(" AND (%s, %s) < (?, ?)", atCol, idCol), after
	}
	var items []TimelineItem
	if all || want[ItemActivity] {
		where, args := keyset("a.occurred_at", "a.id")
		if len(kinds) > 0 {
			where += " AND a.kind IN (?" + strings.Repeat(", ?", len(kinds)-1) + ")"
			for _, k := range kinds {
				args = append(args, k)
			}
		}
		rows, err := q.Query(ctx, `SELECT `+activityColumns+` FROM crm_activities a WHERE a.tenant_id = ? AND a.contact_id = ?`+where+
			` ORDER BY a.occurred_at DESC, a.id DESC LIMIT ?`, append(append([]any{tenant, contactID}, args...), limit+1)...)
		if err != nil {
			return page, store.Wrap(err, "timeline")
		}
		err = store.EachRow(rows, func(r scanner) error {
			a, err := scanActivity(r)
			if err == nil {
				items = append(items, TimelineItem{Type: ItemActivity, At: a.OccurredAt, ID: a.ID, Activity: a})
			}
			return err
		})
		if err != nil {
			return page, store.Wrap(err, "timeline")
		}
	}
	if all || want[ItemNote] {
		where, args := keyset("n.created_at", "n.id")
		rows, err := q.Query(ctx, `SELECT `+noteColumns+` FROM crm_notes n WHERE n.tenant_id = ? AND n.contact_id = ?`+where+
			` ORDER BY n.created_at DESC, n.id DESC LIMIT ?`, append(append([]any{tenant, contactID}, args...), limit+1)...)
		if err != nil {
			return page, store.Wrap(err, "timeline")
		}
		err = store.EachRow(rows, func(r scanner) error {
			n, err := scanNote(r)
			if err == nil {
				items = append(items, TimelineItem{Type: ItemNote, At: n.CreatedAt, ID: n.ID, Note: n})
			}
			return err
		})
		if err != nil {
			return page, store.Wrap(err, "timeline")
		}
	}
	if all || want[ItemEvent] {
		where, args := keyset("e.occurred_at", "e.id")
		rows, err := q.Query(ctx, `SELECT `+store.EventColumns("e")+`
			FROM crm_events e WHERE e.tenant_id = ?
				AND e.subject_id IN (SELECT ? UNION ALL SELECT m.loser_id FROM crm_contact_merges m WHERE m.tenant_id = ? AND m.winner_id = ?)`+where+
			` ORDER BY e.occurred_at DESC, e.id DESC LIMIT ?`, append(append([]any{tenant, contactID, tenant, contactID}, args...), limit+1)...)
		if err != nil {
			return page, store.Wrap(err, "timeline")
		}
		if err := eachEvent(rows, g.pd(), func(it TimelineItem) { items = append(items, it) }); err != nil {
			return page, store.Wrap(err, "timeline")
		}
		// The events of other records about the person (their deals,
		// tickets, tasks, mails): by the event's contact, for the subjects
		// the actor may see all of. Activities and notes are on the
		// timeline themselves, so their events are not repeated.
		subjects, allSubjects := g.otherSubjects(s.sc.Runtime().SubjectModules)
		if allSubjects || len(subjects) > 0 {
			where, args := keyset("e.occurred_at", "e.id")
			if !allSubjects {
				where += " AND e.subject_type IN (?" + strings.Repeat(", ?", len(subjects)-1) + ")"
				for _, st := range subjects {
					args = append(args, st)
				}
			}
			rows, err := q.Query(ctx, `SELECT `+store.EventColumns("e")+`
				FROM crm_events e WHERE e.tenant_id = ? AND e.contact_id IS NOT NULL
					AND e.contact_id IN (SELECT ? UNION ALL SELECT m.loser_id FROM crm_contact_merges m WHERE m.tenant_id = ? AND m.winner_id = ?)
					AND e.subject_type NOT IN (?, ?, ?)`+where+
				` ORDER BY e.occurred_at DESC, e.id DESC LIMIT ?`, append(append([]any{tenant, contactID, tenant, contactID, "contact", "activity", "note"}, args...), limit+1)...)
			if err != nil {
				return page, store.Wrap(err, "timeline")
			}
			if err := eachEvent(rows, g.pd(), func(it TimelineItem) { items = append(items, it) }); err != nil {
				return page, store.Wrap(err, "timeline")
			}
		}
	}

	// Activities and notes are deleted with their contact, so finding one
	// proves the contact exists; events outlive it, so they do not.
	if !slices.ContainsFunc(items, func(it TimelineItem) bool { return it.Type != ItemEvent }) {
		if _, err := s.repo.getContact(ctx, q, tenant, "c.id = ?", contactID); err != nil {
			return page, store.Wrap(err, "timeline")
		}
	}
	slices.SortFunc(items, func(a, b TimelineItem) int {
		if c := b.At.Compare(a.At); c != 0 {
			return c
		}
		return bytes.Compare(b.ID[:], a.ID[:])
	})
	if len(items) <= limit {
		page.Items = items
		if page.Items == nil {
			page.Items = []TimelineItem{}
		}
		return page, nil
	}
	page.Items = items[:limit]
	last := page.Items[limit-1]
	page.Next, err = s.sc.Runtime().Cursors.Encode(scope, last.At, last.ID)
	return page, err
}

// eachEvent reads the events of rows as timeline items. Event payloads
// hold records as they were (a contact's email and phone): masked as a
// whole for actors who do not see personal data (pd false).
func eachEvent(rows *sql.Rows, pd bool, add func(TimelineItem)) error {
	return store.EachRow(rows, func(r scanner) error {
		ev, err := store.ScanEvent(r)
		if err != nil {
			return err
		}
		if !pd {
			ev.Data = nil
		}
		add(TimelineItem{Type: ItemEvent, At: ev.OccurredAt, ID: ev.ID, Event: &ev})
		return nil
	})
}
