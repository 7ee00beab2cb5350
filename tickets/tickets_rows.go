package tickets

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
)

// The rows of crm_tickets: their columns, read into a Ticket, inserted
// and updated, and the tenant's ticket numbers.

// ticketColumnList are the columns of a ticket row, in ticketRow's order;
// "@" marks a time.
var ticketColumnList = []string{"t.id", "t.number", "t.subject", "t.contact_id", "t.company_id", "t.channel", "t.status",
	"@t.pending_until", "t.priority", "t.category", "t.tags", "t.assignee_id", "t.team", "t.language", "t.product_line",
	"@t.queued_at", "t.csat", "t.nps", "t.attributes", "t.merged_into_id", "t.sla_policy_id", "t.paused_seconds",
	"@t.paused_since", "@t.first_response_at", "@t.first_response_due", "@t.next_response_from", "t.next_response_paused",
	"@t.next_response_due", "@t.resolution_due", "@t.solved_at", "@t.sla_due", "t.sla_alerts", "t.suggestion",
	"@t.created_at", "@t.updated_at", "t.version"}

// ticketColumnsOf holds ticketColumns' answer by dialect kind.
var ticketColumnsOf sync.Map

// ticketColumns returns the select list of a ticket row of crm_tickets t
// for d: its times as stored (dialect.StoredTime), which ticketRow
// parses faster than the SQLite driver would.
func ticketColumns(d *dialect.Dialect) string {
	if s, ok := ticketColumnsOf.Load(d.Kind); ok {
		return s.(string)
	}
	cols := make([]string, len(ticketColumnList))
	for i, c := range ticketColumnList {
		if t, ok := strings.CutPrefix(c, "@"); ok {
			c = d.StoredTime(t)
		}
		cols[i] = c
	}
	s := strings.Join(cols, ", ")
	ticketColumnsOf.Store(d.Kind, s)
	return s
}

// ticketRow is a row of ticketColumns as scanned. A list scans every row
// into one ticketRow, with its JSON columns as sql.RawBytes (decoded before
// the next row is read), so that a row costs no allocations beyond its
// Ticket and what it holds.
type ticketRow struct {
	id                                              core.ID
	number, version                                 int64
	subject, channel, status, priority              string
	category, assignee, team, language, productLine string
	contact, company, merged, policy                uuid.NullUUID
	pending, queued, pausedSince, frAt, frDue       dialect.NullTime
	nrFrom, nrDue, resDue, solved, slaDue           dialect.NullTime
	csat, nps                                       sql.NullInt64
	pausedSeconds, nextResponsePaused               int64
	tags, attrs, alerts, suggestion                 []byte
	created, updated                                dialect.NullTime

	dest []any
}

// newTicketRow returns a ticketRow to scan into; raw scans the JSON
// columns as sql.RawBytes (only for *sql.Rows, never a single *sql.Row).
func newTicketRow(raw bool) *ticketRow {
	r := &ticketRow{}
	js := []any{&r.tags, &r.attrs, &r.alerts, &r.suggestion}
	if raw {
		js = []any{(*sql.RawBytes)(&r.tags), (*sql.RawBytes)(&r.attrs), (*sql.RawBytes)(&r.alerts), (*sql.RawBytes)(&r.suggestion)}
	}
	r.dest = []any{&r.id, &r.number, &r.subject, &r.contact, &r.company, &r.channel, &r.status, &r.pending, &r.priority,
		&r.category, js[0], &r.assignee, &r.team, &r.language, &r.productLine, &r.queued, &r.csat, &r.nps, js[1], &r.merged, &r.policy,
		&r.pausedSeconds, &r.pausedSince, &r.frAt, &r.frDue, &r.nrFrom, &r.nextResponsePaused, &r.nrDue, &r.resDue, &r.solved,
		&r.slaDue, js[2], js[3], &r.created, &r.updated, &r.version}
	return r
}

// scan reads the next row from s into a new Ticket.
func (r *ticketRow) scan(s store.Scanner) (*Ticket, error) {
	if err := s.Scan(r.dest...); err != nil {
		return nil, err
	}
	return r.ticket()
}

// ticketBox is a Ticket with room for the values its pointers point to,
// so that reading a ticket is one allocation instead of one per value.
type ticketBox struct {
	Ticket
	times [10]time.Time
	ids   [4]core.ID
	ints  [2]int
}

func (b *ticketBox) time(i int, n dialect.NullTime) *time.Time {
	if !n.Valid {
		return nil
	}
	b.times[i] = n.Time.UTC()
	return &b.times[i]
}

func (b *ticketBox) id(i int, n uuid.NullUUID) *core.ID {
	if !n.Valid {
		return nil
	}
	b.ids[i] = n.UUID
	return &b.ids[i]
}

func (b *ticketBox) int(i int, n sql.NullInt64) *int {
	if !n.Valid {
		return nil
	}
	b.ints[i] = int(n.Int64)
	return &b.ints[i]
}

// ticket decodes the scanned row.
func (r *ticketRow) ticket() (*Ticket, error) {
	b := &ticketBox{}
	t := &b.Ticket
	t.ID, t.Number, t.Subject, t.Version = r.id, r.number, r.subject, r.version
	t.Channel, t.Status, t.Priority = Channel(r.channel), Status(r.status), Priority(r.priority)
	t.Category, t.AssigneeID, t.Team, t.Language, t.ProductLine = r.category, r.assignee, r.team, r.language, r.productLine
	t.ContactID, t.CompanyID, t.MergedInto = b.id(0, r.contact), b.id(1, r.company), b.id(2, r.merged)
	t.CSAT, t.NPS = b.int(0, r.csat), b.int(1, r.nps)
	t.PendingUntil, t.QueuedAt = b.time(0, r.pending), b.time(1, r.queued)
	t.CreatedAt, t.UpdatedAt = r.created.Time.UTC(), r.updated.Time.UTC()
	c := &t.clock
	c.policyID = b.id(3, r.policy)
	c.pausedSeconds, c.nextResponsePaused = r.pausedSeconds, r.nextResponsePaused
	c.pausedSince, c.firstResponseAt, c.firstResponseDue = b.time(2, r.pausedSince), b.time(3, r.frAt), b.time(4, r.frDue)
	c.nextResponseFrom, c.nextResponseDue, c.resolutionDue = b.time(5, r.nrFrom), b.time(6, r.nrDue), b.time(7, r.resDue)
	c.solvedAt, c.slaDue = b.time(8, r.solved), b.time(9, r.slaDue)
	if c.slaDue != nil && !c.slaDue.Before(noDue) {
		c.slaDue = nil
	}
	if string(r.tags) != "[]" {
		if err := json.Unmarshal(r.tags, &t.Tags); err != nil {
			return nil, fmt.Errorf("decode tags of ticket %s: %w", t.ID, err)
		}
	}
	if string(r.attrs) != "{}" {
		if err := json.Unmarshal(r.attrs, &t.Attributes); err != nil {
			return nil, fmt.Errorf("decode attributes of ticket %s: %w", t.ID, err)
		}
	}
	if string(r.alerts) != "{}" {
		// No alerts (nil) reads as an empty map; timers add to a new one.
		if err := json.Unmarshal(r.alerts, &c.alerts); err != nil {
			return nil, fmt.Errorf("decode SLA alerts of ticket %s: %w", t.ID, err)
		}
	}
	if r.suggestion != nil {
		if err := json.Unmarshal(r.suggestion, &t.Suggestion); err != nil {
			return nil, fmt.Errorf("decode suggestion of ticket %s: %w", t.ID, err)
		}
	}
	if t.Tags == nil {
		t.Tags = []string{}
	}
	if t.Attributes == nil {
		t.Attributes = map[string]any{}
	}
	return t, nil
}

// scanTicket reads one row of ticketColumns.
func scanTicket(s store.Scanner) (*Ticket, error) { return newTicketRow(false).scan(s) }

func slaDueColumn(t *time.Time) time.Time {
	if t == nil {
		return noDue
	}
	return *t
}

func getTicket(ctx context.Context, q store.Q, tenant string, id core.ID, lock bool) (*Ticket, error) {
	return getTicketWhere(ctx, q, tenant, id, lock, "", nil)
}

// getTicketWhere reads the ticket with id where extra (" AND " and a
// condition over t, with args, or "") holds as well.
func getTicketWhere(ctx context.Context, q store.Q, tenant string, id core.ID, lock bool, extra string, args []any) (*Ticket, error) {
	query := `SELECT ` + ticketColumns(q.D) + ` FROM crm_tickets t WHERE t.tenant_id = ? AND t.id = ?` + extra
	if lock {
		query += q.D.LockRows()
	}
	t, err := scanTicket(q.QueryRow(ctx, query, append([]any{tenant, id}, args...)...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.NotFound("ticket", id)
	}
	return t, err
}

// nextNumber takes the tenant's next ticket number: the counter row is
// created once, then bumped with UPDATE … RETURNING, which holds the row
// until the transaction ends, so no two tickets get one number.
func nextNumber(ctx context.Context, q store.Q, tenant string) (int64, error) {
	if _, err := q.Exec(ctx, `INSERT INTO crm_ticket_counters (tenant_id, last) VALUES (?, 0) ON CONFLICT (tenant_id) DO NOTHING`, tenant); err != nil {
		return 0, err
	}
	var n int64
	err := q.QueryRow(ctx, `UPDATE crm_ticket_counters SET last = last + 1 WHERE tenant_id = ? RETURNING last`, tenant).Scan(&n)
	return n, err
}

func insertTicket(ctx context.Context, q store.Q, tenant string, t *Ticket, attrs []byte) error {
	c := &t.clock
	_, err := q.Exec(ctx, `INSERT INTO crm_tickets (tenant_id, id, number, subject, contact_id, company_id, channel, status, pending_until,
		priority, category, tags, assignee_id, team, language, product_line, queued_at, csat, nps, attributes, merged_into_id, sla_policy_id, paused_seconds,
		paused_since, first_response_at, first_response_due, next_response_from, next_response_paused, next_response_due, resolution_due,
		solved_at, sla_due, suggestion, created_at, updated_at, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		tenant, t.ID, t.Number, t.Subject, store.NullID(t.ContactID), store.NullID(t.CompanyID), string(t.Channel), string(t.Status),
		t.PendingUntil, string(t.Priority), t.Category, string(store.JSON(t.Tags)), t.AssigneeID, t.Team, t.Language, t.ProductLine, t.QueuedAt, t.CSAT, t.NPS, string(attrs),
		store.NullID(t.MergedInto), store.NullID(c.policyID), c.pausedSeconds, c.pausedSince, c.firstResponseAt, c.firstResponseDue,
		c.nextResponseFrom, c.nextResponsePaused, c.nextResponseDue, c.resolutionDue, c.solvedAt, slaDueColumn(c.slaDue), suggestionColumn(t.Suggestion),
		t.CreatedAt, t.UpdatedAt, t.Version)
	return err
}

// updateTicket writes t (its version already bumped) over oldVersion.
func updateTicket(ctx context.Context, q store.Q, tenant string, t *Ticket, oldVersion int64) error {
	c := &t.clock
	res, err := q.Exec(ctx, `UPDATE crm_tickets SET subject = ?, contact_id = ?, company_id = ?, channel = ?, status = ?, pending_until = ?,
		priority = ?, category = ?, tags = ?, assignee_id = ?, team = ?, language = ?, product_line = ?, queued_at = ?, csat = ?, nps = ?, attributes = ?, merged_into_id = ?, sla_policy_id = ?,
		paused_seconds = ?, paused_since = ?, first_response_at = ?, first_response_due = ?, next_response_from = ?,
		next_response_paused = ?, next_response_due = ?, resolution_due = ?, solved_at = ?, sla_due = ?, updated_at = ?, version = ?
		WHERE tenant_id = ? AND id = ? AND version = ?`,
		t.Subject, store.NullID(t.ContactID), store.NullID(t.CompanyID), string(t.Channel), string(t.Status), t.PendingUntil,
		string(t.Priority), t.Category, string(store.JSON(t.Tags)), t.AssigneeID, t.Team, t.Language, t.ProductLine, t.QueuedAt, t.CSAT,
		t.NPS, string(store.JSON(t.Attributes)),
		store.NullID(t.MergedInto), store.NullID(c.policyID), c.pausedSeconds, c.pausedSince, c.firstResponseAt, c.firstResponseDue,
		c.nextResponseFrom, c.nextResponsePaused, c.nextResponseDue, c.resolutionDue, c.solvedAt, slaDueColumn(c.slaDue), t.UpdatedAt, t.Version,
		tenant, t.ID, oldVersion)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("%w: ticket %s was changed by someone else; read it again", core.ErrConflict, t.ID)
	}
	return nil
}

func timeOf(n sql.NullTime) *time.Time {
	if !n.Valid {
		return nil
	}
	t := n.Time.UTC()
	return &t
}
