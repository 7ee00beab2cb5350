package store

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/google/uuid"

	"github.com/crmkit/crmkit/core"
)

// EventQuery selects events of one tenant from the outbox.
type EventQuery struct {
	// SubjectID selects the events about one record; NilID selects all.
	SubjectID core.ID
	// ContactID selects the events about one contact; NilID selects all.
	ContactID core.ID
	// Types selects these event types; empty selects all.
	Types []string
	// After continues after the event with this id (ids grow with time).
	After core.ID
	// Limit is at most MaxLimit; 0 means DefaultLimit.
	Limit int
}

// Events returns events in the order they were appended (by id).
func (s Scope) Events(ctx context.Context, eq EventQuery) ([]core.Event, error) {
	tenant, err := s.Tenant()
	if err != nil {
		return nil, err
	}
	limit := eq.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	if limit < 0 || limit > MaxLimit {
		return nil, core.Invalid("limit", "must be between 1 and %d", MaxLimit)
	}
	var where strings.Builder
	args := []any{tenant}
	where.WriteString("tenant_id = ?")
	if eq.SubjectID != core.NilID {
		where.WriteString(" AND subject_id = ?")
		args = append(args, eq.SubjectID)
	}
	if eq.ContactID != core.NilID {
		where.WriteString(" AND contact_id = ?")
		args = append(args, eq.ContactID)
	}
	if eq.After != core.NilID {
		where.WriteString(" AND id > ?")
		args = append(args, eq.After)
	}
	if len(eq.Types) > 0 {
		// One list value, however many types (see dialect.InList).
		where.WriteString(" AND " + s.rt.Dialect.InList("type", "text"))
		for _, t := range eq.Types {
			if !core.StorableText(t) {
				return nil, core.Invalid("types", "%q is not valid UTF-8 or contains a NUL byte", t)
			}
		}
		args = append(args, s.rt.Dialect.ListArg(eq.Types))
	}
	args = append(args, limit)
	rows, err := s.Q().Query(ctx, `SELECT `+EventColumns("crm_events")+`
		FROM crm_events WHERE `+where.String()+` ORDER BY id LIMIT ?`, args...)
	if err != nil {
		return nil, Wrap(err, "read events")
	}
	defer rows.Close()
	var out []core.Event
	for rows.Next() {
		ev, err := ScanEvent(rows)
		if err != nil {
			return nil, Wrap(err, "read events")
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}

// EventColumns lists the columns ScanEvent reads, qualified by alias.
func EventColumns(alias string) string {
	cols := []string{"tenant_id", "id", "type", "subject_type", "subject_id", "contact_id", "actor_id", "occurred_at", "data"}
	for i, c := range cols {
		cols[i] = alias + "." + c
	}
	return strings.Join(cols, ", ")
}

// ScanEvent reads one row selected with EventColumns, and into extra the
// columns selected after them.
func ScanEvent(row interface{ Scan(dest ...any) error }, extra ...any) (core.Event, error) {
	var ev core.Event
	var data []byte
	var contact uuid.NullUUID
	dest := append([]any{&ev.TenantID, &ev.ID, &ev.Type, &ev.SubjectType, &ev.SubjectID, &contact, &ev.ActorID, &ev.OccurredAt, &data}, extra...)
	if err := row.Scan(dest...); err != nil {
		return core.Event{}, err
	}
	if contact.Valid {
		ev.ContactID = &contact.UUID
	}
	ev.OccurredAt = ev.OccurredAt.UTC()
	ev.Data = json.RawMessage(data)
	return ev, nil
}
