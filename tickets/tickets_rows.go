package tickets

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// The rows of crm_tickets: their columns, read into a Ticket, inserted
// and updated, and the tenant's ticket numbers.

const ticketColumns = `t.id, t.number, t.subject, t.contact_id, t.company_id, t.channel, t.status, t.pending_until, t.priority,
	t.category, t.tags, t.assignee_id, t.team, t.language, t.product_line, t.queued_at, t.csat, t.nps, t.attributes, t.merged_into_id, t.sla_policy_id, t.paused_seconds, t.paused_since,
	t.first_response_at, t.first_response_due, t.next_response_from, t.next_response_paused, t.next_response_due, t.resolution_due,
	t.solved_at, t.sla_due, t.sla_alerts, t.suggestion, t.created_at, t.updated_at, t.version`

func scanTicket(r store.Scanner) (*Ticket, error) {
	var (
		t                                    Ticket
		contact, company, merged, policy     uuid.NullUUID
		channel, status, priority            string
		tags, attrs, alerts, suggestion      []byte
		pending, pausedSince, frAt, frDue    sql.NullTime
		queued                               sql.NullTime
		csat, nps                            sql.NullInt64
		nrFrom, nrDue, resDue, solved, slaDu sql.NullTime
	)
	c := &t.clock
	if err := r.Scan(&t.ID, &t.Number, &t.Subject, &contact, &company, &channel, &status, &pending, &priority,
		&t.Category, &tags, &t.AssigneeID, &t.Team, &t.Language, &t.ProductLine, &queued, &csat, &nps, &attrs, &merged, &policy, &c.pausedSeconds, &pausedSince,
		&frAt, &frDue, &nrFrom, &c.nextResponsePaused, &nrDue, &resDue, &solved, &slaDu, &alerts, &suggestion, &t.CreatedAt, &t.UpdatedAt, &t.Version); err != nil {
		return nil, err
	}
	t.ContactID, t.CompanyID, t.MergedInto, c.policyID = idOf(contact), idOf(company), idOf(merged), idOf(policy)
	t.Channel, t.Status, t.Priority = Channel(channel), Status(status), Priority(priority)
	t.QueuedAt = timeOf(queued)
	t.CSAT, t.NPS = intOf(csat), intOf(nps)
	t.PendingUntil, c.pausedSince, c.firstResponseAt, c.firstResponseDue = timeOf(pending), timeOf(pausedSince), timeOf(frAt), timeOf(frDue)
	c.nextResponseFrom, c.nextResponseDue, c.resolutionDue, c.solvedAt, c.slaDue = timeOf(nrFrom), timeOf(nrDue), timeOf(resDue), timeOf(solved), timeOf(slaDu)
	if c.slaDue != nil && !c.slaDue.Before(noDue) {
		c.slaDue = nil
	}
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	if err := json.Unmarshal(tags, &t.Tags); err != nil {
		return nil, fmt.Errorf("decode tags of ticket %s: %w", t.ID, err)
	}
	if err := json.Unmarshal(attrs, &t.Attributes); err != nil {
		return nil, fmt.Errorf("decode attributes of ticket %s: %w", t.ID, err)
	}
	if err := json.Unmarshal(alerts, &c.alerts); err != nil {
		return nil, fmt.Errorf("decode SLA alerts of ticket %s: %w", t.ID, err)
	}
	if suggestion != nil {
		if err := json.Unmarshal(suggestion, &t.Suggestion); err != nil {
			return nil, fmt.Errorf("decode suggestion of ticket %s: %w", t.ID, err)
		}
	}
	if t.Tags == nil {
		t.Tags = []string{}
	}
	if t.Attributes == nil {
		t.Attributes = map[string]any{}
	}
	return &t, nil
}

func slaDueColumn(t *time.Time) time.Time {
	if t == nil {
		return noDue
	}
	return *t
}

func intOf(n sql.NullInt64) *int {
	if !n.Valid {
		return nil
	}
	i := int(n.Int64)
	return &i
}

func idOf(n uuid.NullUUID) *core.ID {
	if !n.Valid {
		return nil
	}
	id := core.ID(n.UUID)
	return &id
}

func timeOf(n sql.NullTime) *time.Time {
	if !n.Valid {
		return nil
	}
	t := n.Time.UTC()
	return &t
}

func getTicket(ctx context.Context, q store.Q, tenant string, id core.ID, lock bool) (*Ticket, error) {
	return getTicketWhere(ctx, q, tenant, id, lock, "", nil)
}

// getTicketWhere reads the ticket with id where extra (" AND " and a
// condition over t, with args, or "") holds as well.
func getTicketWhere(ctx context.Context, q store.Q, tenant string, id core.ID, lock bool, extra string, args []any) (*Ticket, error) {
	query := `SELECT ` + ticketColumns + ` FROM crm_tickets t WHERE t.tenant_id = ? AND t.id = ?` + extra
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
