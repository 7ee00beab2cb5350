package tickets

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/store"
)

// Tickets manages the tickets of one tenant and their messages
// (c.Tickets).
type Tickets struct {
	sc store.Scope
}

func newTickets(sc store.Scope) *Tickets { return &Tickets{sc: sc} }

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

// clone copies t deeply enough for a change.
func (t *Ticket) clone() *Ticket {
	n := *t
	n.Tags = slices.Clone(t.Tags)
	n.Attributes = maps.Clone(t.Attributes)
	n.SLA = nil
	return &n
}

// check validates the fields of t and its references in the tenant, every
// problem added to v, and returns its attributes as JSON.
func (s *Tickets) check(ctx context.Context, tx *store.Tx, v *core.ValidationError, t *Ticket, now time.Time) ([]byte, error) {
	sc := s.sc.WithTx(tx)
	tenant, _ := sc.Tenant()
	t.Subject = strings.TrimSpace(t.Subject)
	t.Category = strings.TrimSpace(t.Category)
	t.AssigneeID = strings.TrimSpace(t.AssigneeID)
	t.Team = strings.TrimSpace(t.Team)
	t.Tags = normalizeTags(t.Tags)
	if t.Subject == "" {
		v.Add("subject", "is required")
	}
	v.CheckText("subject", t.Subject, MaxSubjectLen)
	if !slices.Contains(Channels, t.Channel) {
		v.Add("channel", "%q is not one of %s", t.Channel, strings.Join(enumValues(Channels), ", "))
	}
	if !slices.Contains(Priorities, t.Priority) {
		v.Add("priority", "%q is not one of %s", t.Priority, strings.Join(enumValues(Priorities), ", "))
	}
	if t.Category != "" && !core.ValidCode(t.Category) {
		v.Add("category", "%q is not a code (lower-case letters, digits and _)", t.Category)
	}
	checkTags(v, t.Tags)
	v.CheckText("assignee_id", t.AssigneeID, MaxUserIDLen)
	v.CheckText("team", t.Team, MaxNameLen)
	checkSkills(v, t)
	if t.Status == StatusPending {
		switch {
		case t.PendingUntil == nil:
			v.Add("pending_until", "is required for a pending ticket: when to remind")
		case !t.PendingUntil.After(now):
			v.Add("pending_until", "must be in the future")
		default:
			v.CheckTimePtr("pending_until", t.PendingUntil)
		}
	} else {
		t.PendingUntil = nil
	}
	// The references are checked for existence in the tenant, whatever
	// the actor sees of the contacts module: a support agent opens
	// tickets for contacts other people own.
	q := tx.Q()
	if t.ContactID == nil || *t.ContactID == core.NilID {
		v.Add("contact_id", "is required")
	} else if ok, err := exists(ctx, q, "crm_contacts", tenant, *t.ContactID); err != nil {
		return nil, err
	} else if !ok {
		v.Add("contact_id", "contact %s does not exist", *t.ContactID)
	}
	if t.CompanyID != nil {
		if ok, err := exists(ctx, q, "crm_companies", tenant, *t.CompanyID); err != nil {
			return nil, err
		} else if !ok {
			v.Add("company_id", "company %s does not exist", *t.CompanyID)
		}
	}
	if id, err := core.ParseID(t.Team); err == nil && t.Team != "" {
		// A team given by id is kept by its name.
		var name string
		err := q.QueryRow(ctx, `SELECT name FROM crm_teams WHERE tenant_id = ? AND id = ?`, tenant, id).Scan(&name)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			v.Add("team", "team %s does not exist", id)
		case err != nil:
			return nil, err
		default:
			t.Team = name
		}
	}
	if t.Team != "" && !v.Has("team") {
		ok, err := access.Module.TeamExists(ctx, tx.Q(), tenant, t.Team)
		if err != nil {
			return nil, err
		}
		if !ok {
			v.Add("team", "%q is not a team of this tenant", t.Team)
		}
	}
	return fields.Module.Service(sc).CheckAttributes(ctx, v, EntityTicket, t.Attributes)
}

// exists reports whether table (crm_contacts, crm_companies: read only)
// holds id in tenant.
func exists(ctx context.Context, q store.Q, table, tenant string, id core.ID) (bool, error) {
	var n int
	err := q.QueryRow(ctx, `SELECT count(*) FROM `+table+` WHERE tenant_id = ? AND id = ?`, tenant, id).Scan(&n)
	return n > 0, err
}

// normalizeTags trims, drops empties and duplicates, keeps order.
func normalizeTags(tags []string) []string {
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		t = strings.TrimSpace(t)
		if t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

func checkTags(v *core.ValidationError, tags []string) {
	if len(tags) > MaxTags {
		v.Add("tags", "has more than %d tags", MaxTags)
		return
	}
	for _, t := range tags {
		if !utf8.ValidString(t) || utf8.RuneCountInString(t) > MaxTagLen || strings.IndexFunc(t, unicode.IsControl) >= 0 {
			v.Add("tags", "a tag is not printable text of at most %d characters", MaxTagLen)
			return
		}
	}
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

// Create opens a ticket with the tenant's next number, applies the first
// matching SLA policy, stores its first message if given, and emits
// "ticket.created" (and "ticket.message_added"). Invalid input is
// ErrInvalid with every problem listed, and nothing is written.
func (s *Tickets) Create(ctx context.Context, in NewTicket) (_ *Ticket, err error) {
	ctx, span := s.sc.Span(ctx, "tickets.Tickets.Create")
	defer span.End(&err)

	g, err := check(ctx, s.sc, "ticket", core.NilID, access.Create)
	if err != nil {
		return nil, err
	}
	var out *Ticket
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		now := tx.Runtime().Now()
		contact := in.ContactID
		t := &Ticket{ID: core.NewID(), Subject: in.Subject, ContactID: &contact, CompanyID: in.CompanyID, Channel: in.Channel,
			Status: in.Status, PendingUntil: in.PendingUntil, Priority: in.Priority, Category: in.Category, Tags: slices.Clone(in.Tags),
			AssigneeID: in.AssigneeID, Team: in.Team, Language: in.Language, ProductLine: in.ProductLine, Attributes: maps.Clone(in.Attributes),
			CreatedAt: now, UpdatedAt: now, Version: 1}
		if t.Channel == "" {
			t.Channel = ChannelAPI
		}
		if t.Status == "" {
			t.Status = StatusNew
		}
		if t.Priority == "" {
			t.Priority = PriorityNormal
		}
		if t.Attributes == nil {
			t.Attributes = map[string]any{}
		}
		v := &core.ValidationError{}
		if !slices.Contains([]Status{StatusNew, StatusOpen, StatusPending, StatusOnHold}, t.Status) {
			v.Add("status", "a ticket starts new, open, pending or on_hold, not %q", t.Status)
		}
		attrs, err := s.check(ctx, tx, v, t, now)
		if err != nil {
			return err
		}
		var msg *Message
		if in.Message != nil {
			msg = checkMessage(v, "message.", t.ID, *in.Message, now)
		}
		if err := v.Err(); err != nil {
			return err
		}
		if err := g.checkAssignment(core.NilID, access.Create, t.AssigneeID, t.Team); err != nil {
			return err
		}
		// The classifier's suggestion, applied at the tenant's threshold,
		// before the routing rules see the ticket.
		if err := classify(ctx, s.sc.WithTx(tx), tx, tenant, t, in.Message); err != nil {
			return err
		}
		// Routing: the first matching rule gives a ticket without team and
		// assignee its team (and priority, category); a team's mode gives
		// it to a member, or queues it.
		r, err := lockRouter(ctx, s.sc.WithTx(tx), tx, tenant)
		if err != nil {
			return err
		}
		var picked AssignMode
		var queued bool
		if r != nil {
			if t.Team == "" && t.AssigneeID == "" {
				rule, err := r.rule(ctx, t)
				if err != nil {
					return err
				}
				if rule != nil {
					t.Team = rule.Team
					if rule.Priority != "" {
						t.Priority = rule.Priority
					}
					if rule.Category != "" {
						t.Category = rule.Category
					}
				}
			}
			if picked, queued, err = r.route(ctx, t); err != nil {
				return err
			}
			if err := r.save(ctx); err != nil {
				return err
			}
		}
		g.claim(t)
		env, err := loadSLA(ctx, s.sc.WithTx(tx), now)
		if err != nil {
			return err
		}
		if msg != nil {
			applyMessage(t, msg, now)
		}
		if err := env.apply(ctx, t, now); err != nil {
			return err
		}
		if t.Number, err = nextNumber(ctx, tx.Q(), tenant); err != nil {
			return err
		}
		if err := insertTicket(ctx, tx.Q(), tenant, t, attrs); err != nil {
			return err
		}
		if err := schedule(ctx, tx, tenant, t, env.policy(t.clock.policyID)); err != nil {
			return err
		}
		if err := env.fill(ctx, t, now); err != nil {
			return err
		}
		if err := tx.Emit(ctx, ticketEvent(tenant, EventTicketCreated, t, now, t)); err != nil {
			return err
		}
		if picked != "" {
			if err := tx.Emit(ctx, ticketEvent(tenant, EventTicketAssigned, t, now, Assigned{Ticket: t, Mode: picked})); err != nil {
				return err
			}
		}
		if queued {
			if err := tx.Emit(ctx, ticketEvent(tenant, EventTicketQueued, t, now, Queued{Ticket: t})); err != nil {
				return err
			}
		}
		if msg != nil {
			if err := insertMessage(ctx, tx.Q(), tenant, msg); err != nil {
				return err
			}
			if err := tx.Emit(ctx, ticketEvent(tenant, EventTicketMessageAdded, t, now, MessageAdded{TicketID: t.ID, Number: t.Number, Message: msg})); err != nil {
				return err
			}
		}
		out = t
		return nil
	})
	if err != nil {
		return nil, store.Wrap(g.done(ctx, err), "create ticket")
	}
	return out, nil
}

func ticketEvent(tenant, typ string, t *Ticket, now time.Time, data any) core.Event {
	return core.Event{TenantID: tenant, Type: typ, SubjectType: "ticket", SubjectID: t.ID, ContactID: t.ContactID,
		OccurredAt: now, Data: store.JSON(data)}
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

// Get returns the ticket with id, with its SLA as of now.
func (s *Tickets) Get(ctx context.Context, id core.ID) (_ *Ticket, err error) {
	ctx, span := s.sc.SpanID(ctx, "tickets.Tickets.Get", id)
	defer span.End(&err)

	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return nil, err
	}
	return s.get(ctx, g, id)
}

// get reads the ticket with id through g's visibility, with its SLA as of
// now.
func (s *Tickets) get(ctx context.Context, g *guard, id core.ID) (*Ticket, error) {
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	t, err := g.ticket(ctx, s.sc.Q(), tenant, id, access.Read, false)
	if err != nil {
		return nil, store.Wrap(g.done(ctx, err), "get ticket")
	}
	now := s.sc.Runtime().Now()
	env, err := loadSLA(ctx, s.sc, now)
	if err == nil {
		err = env.fill(ctx, t, now)
	}
	return t, store.Wrap(err, "get ticket")
}

// GetByNumber returns the ticket with the tenant's human number n.
// A ticket the actor may not see is ErrNotFound, as a missing one.
func (s *Tickets) GetByNumber(ctx context.Context, n int64) (_ *Ticket, err error) {
	ctx, span := s.sc.Span(ctx, "tickets.Tickets.GetByNumber")
	defer span.End(&err)

	g, err := check(ctx, s.sc, "ticket", core.NilID, access.Read)
	if err != nil {
		return nil, err
	}
	tenant, _ := s.sc.Tenant()
	var id core.ID
	err = s.sc.Q().QueryRow(ctx, `SELECT id FROM crm_tickets WHERE tenant_id = ? AND number = ?`, tenant, n).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.NotFound("ticket", fmt.Sprintf("#%d", n))
	}
	if err != nil {
		return nil, store.Wrap(err, "get ticket")
	}
	t, err := s.get(ctx, g, id)
	if errors.Is(err, core.ErrNotFound) {
		return nil, core.NotFound("ticket", fmt.Sprintf("#%d", n))
	}
	return t, err
}

// anyVersion makes change take the ticket at whatever version it is (an
// appended message), locked.
const anyVersion = -1

// change runs fn on the locked ticket id at version, then brings its SLA
// up to date, writes it with the next version and emits the events fn
// returns (each built from the ticket after the change). fn returning no
// events means nothing changed: nothing is written.
func (s *Tickets) change(ctx context.Context, id core.ID, version int64, doing string, routes bool,
	fn func(ctx context.Context, tx *store.Tx, g *guard, t *Ticket, now time.Time) ([]func(t *Ticket) (string, any), error)) (*Ticket, error) {
	if version != anyVersion {
		if err := core.CheckVersion(version); err != nil {
			return nil, err
		}
	}
	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return nil, err
	}
	return s.changeAs(ctx, g, id, version, doing, routes, fn)
}

// changeAs is change with the record access of g.
func (s *Tickets) changeAs(ctx context.Context, g *guard, id core.ID, version int64, doing string, routes bool,
	fn func(ctx context.Context, tx *store.Tx, g *guard, t *Ticket, now time.Time) ([]func(t *Ticket) (string, any), error)) (*Ticket, error) {
	var out *Ticket
	err := s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		now := tx.Runtime().Now()
		if routes {
			// The routing first: every transaction that routes locks it
			// before any ticket.
			var err error
			if g.route, err = lockRouter(ctx, s.sc.WithTx(tx), tx, tenant); err != nil {
				return err
			}
		}
		cur, err := g.ticket(ctx, tx.Q(), tenant, id, access.Update, true)
		if err != nil {
			return err
		}
		if g.route != nil {
			g.route.exclude = cur.ID
		}
		if version != anyVersion && cur.Version != version {
			return fmt.Errorf("%w: ticket %s is at version %d, not %d; read it again", core.ErrConflict, id, cur.Version, version)
		}
		next := cur.clone()
		events, err := fn(ctx, tx, g, next, now)
		if err != nil {
			return err
		}
		env, err := loadSLA(ctx, s.sc.WithTx(tx), now)
		if err != nil {
			return err
		}
		if len(events) == 0 {
			out = cur
			return env.fill(ctx, out, now)
		}
		if err := env.apply(ctx, next, now); err != nil {
			return err
		}
		next.UpdatedAt = now
		next.Version = cur.Version + 1
		if err := updateTicket(ctx, tx.Q(), tenant, next, cur.Version); err != nil {
			return err
		}
		if err := schedule(ctx, tx, tenant, next, env.policy(next.clock.policyID)); err != nil {
			return err
		}
		if err := env.fill(ctx, next, now); err != nil {
			return err
		}
		for _, ev := range events {
			typ, data := ev(next)
			if err := tx.Emit(ctx, ticketEvent(tenant, typ, next, now, data)); err != nil {
				return err
			}
		}
		out = next
		if r := g.route; r != nil {
			r.stored()
			if frees(cur, next) {
				if err := r.freed(ctx); err != nil {
					return err
				}
			}
			return r.save(ctx)
		}
		return nil
	})
	if err != nil {
		return nil, store.Wrap(g.done(ctx, err), doing)
	}
	return out, nil
}

// Update applies patch if patch.Version is still the ticket's version and
// emits "ticket.updated" with the fields that changed. A stale version is
// ErrConflict, version 0 ErrInvalid; a patch that changes nothing writes
// nothing.
func (s *Tickets) Update(ctx context.Context, id core.ID, patch TicketPatch) (_ *Ticket, err error) {
	ctx, span := s.sc.SpanID(ctx, "tickets.Tickets.Update", id)
	defer span.End(&err)

	return s.change(ctx, id, patch.Version, "update ticket", false, func(ctx context.Context, tx *store.Tx, g *guard, t *Ticket, now time.Time) ([]func(*Ticket) (string, any), error) {
		before := t.clone()
		if patch.Subject != nil {
			t.Subject = *patch.Subject
		}
		if patch.ContactID != nil {
			id := *patch.ContactID
			t.ContactID = &id
		}
		if patch.CompanyID != nil {
			t.CompanyID = core.About(*patch.CompanyID)
		}
		if patch.Channel != nil {
			t.Channel = *patch.Channel
		}
		if patch.Priority != nil {
			t.Priority = *patch.Priority
		}
		if patch.Category != nil {
			t.Category = *patch.Category
		}
		if patch.Tags != nil {
			t.Tags = slices.Clone(*patch.Tags)
		}
		if patch.Language != nil {
			t.Language = *patch.Language
		}
		if patch.ProductLine != nil {
			t.ProductLine = *patch.ProductLine
		}
		for k, val := range patch.Attributes {
			if val == nil {
				delete(t.Attributes, k)
			} else {
				t.Attributes[k] = val
			}
		}
		v := &core.ValidationError{}
		if _, err := s.check(ctx, tx, v, t, now); err != nil {
			return nil, err
		}
		if err := v.Err(); err != nil {
			return nil, err
		}
		changed := changedFields(before, t)
		if len(changed) == 0 {
			return nil, nil
		}
		return []func(*Ticket) (string, any){func(t *Ticket) (string, any) {
			return EventTicketUpdated, TicketUpdated{Ticket: t, Changed: changed}
		}}, nil
	})
}

func changedFields(a, b *Ticket) []string {
	var out []string
	add := func(name string, differ bool) {
		if differ {
			out = append(out, name)
		}
	}
	add("subject", a.Subject != b.Subject)
	add("contact_id", idOrNil(a.ContactID) != idOrNil(b.ContactID))
	add("company_id", idOrNil(a.CompanyID) != idOrNil(b.CompanyID))
	add("channel", a.Channel != b.Channel)
	add("priority", a.Priority != b.Priority)
	add("category", a.Category != b.Category)
	add("tags", !slices.Equal(a.Tags, b.Tags))
	add("language", a.Language != b.Language)
	add("product_line", a.ProductLine != b.ProductLine)
	add("attributes", string(store.JSON(a.Attributes)) != string(store.JSON(b.Attributes)))
	return out
}

func idOrNil(id *core.ID) core.ID {
	if id == nil {
		return core.NilID
	}
	return *id
}

// SetStatus changes the ticket's status along Transitions and emits
// "ticket.status_changed". Pending needs a reminder time in the future.
// A change Transitions does not allow is ErrInvalid; setting the status
// the ticket has writes nothing (except pending with a new reminder).
func (s *Tickets) SetStatus(ctx context.Context, id core.ID, ch StatusChange) (_ *Ticket, err error) {
	ctx, span := s.sc.SpanID(ctx, "tickets.Tickets.SetStatus", id)
	defer span.End(&err)

	return s.change(ctx, id, ch.Version, "set ticket status", true, func(ctx context.Context, tx *store.Tx, g *guard, t *Ticket, now time.Time) ([]func(*Ticket) (string, any), error) {
		from := t.Status
		if from == ch.Status && (ch.Status != StatusPending || sameTime(t.PendingUntil, ch.PendingUntil)) {
			return nil, nil
		}
		v := &core.ValidationError{}
		if !slices.Contains(Statuses, ch.Status) {
			v.Add("status", "%q is not one of %s", ch.Status, strings.Join(enumValues(Statuses), ", "))
		} else if !CanTransition(from, ch.Status) {
			v.Add("status", "a %s ticket cannot become %s (allowed: %s)", from, ch.Status, strings.Join(enumValues(Transitions[from]), ", "))
		}
		if t.MergedInto != nil {
			v.Add("status", "ticket %s was merged into %s", t.ID, *t.MergedInto)
		}
		if ch.Status != StatusPending && ch.PendingUntil != nil {
			v.Add("pending_until", "is only for a pending ticket")
		}
		if err := v.Err(); err != nil {
			return nil, err
		}
		t.Status, t.PendingUntil = ch.Status, ch.PendingUntil
		if t.Status.done() {
			t.QueuedAt = nil // no longer waits
		}
		if t.Status == StatusPending && t.PendingUntil != nil {
			u := t.PendingUntil.UTC()
			t.PendingUntil = &u
		}
		if _, err := s.check(ctx, tx, v, t, now); err != nil {
			return nil, err
		}
		if err := v.Err(); err != nil {
			return nil, err
		}
		events := []func(*Ticket) (string, any){func(t *Ticket) (string, any) {
			return EventTicketStatusChanged, StatusChanged{Ticket: t, From: from, To: t.Status}
		}}
		if from.done() && !t.Status.done() && t.AssigneeID == "" && g.route != nil {
			// Reopened without an agent: routed within its team again.
			picked, queued, err := g.route.route(ctx, t)
			if err != nil {
				return nil, err
			}
			if picked != "" {
				events = append(events, func(t *Ticket) (string, any) {
					return EventTicketAssigned, Assigned{Ticket: t, FromTeam: t.Team, Mode: picked}
				})
			}
			if queued {
				events = append(events, func(t *Ticket) (string, any) { return EventTicketQueued, Queued{Ticket: t} })
			}
		}
		return events, nil
	})
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// Assign sets the ticket's agent and team and emits "ticket.assigned".
// The team must be a team of the tenant (package access). A team without
// an agent is routed within the team when its mode assigns (see Routing):
// a member takes it, or it waits in the team's queue ("ticket.queued").
// Taking the ticket from its agent frees their capacity: the queues are
// served.
func (s *Tickets) Assign(ctx context.Context, id core.ID, a Assignment) (_ *Ticket, err error) {
	ctx, span := s.sc.SpanID(ctx, "tickets.Tickets.Assign", id)
	defer span.End(&err)

	return s.change(ctx, id, a.Version, "assign ticket", true, func(ctx context.Context, tx *store.Tx, g *guard, t *Ticket, now time.Time) ([]func(*Ticket) (string, any), error) {
		fromAssignee, fromTeam := t.AssigneeID, t.Team
		t.AssigneeID, t.Team = strings.TrimSpace(a.AssigneeID), strings.TrimSpace(a.Team)
		if t.AssigneeID == fromAssignee && t.Team == fromTeam {
			return nil, nil
		}
		v := &core.ValidationError{}
		if _, err := s.check(ctx, tx, v, t, now); err != nil {
			return nil, err
		}
		if err := v.Err(); err != nil {
			return nil, err
		}
		if err := g.checkAssignment(id, access.Update, t.AssigneeID, t.Team); err != nil {
			return nil, err
		}
		var picked AssignMode
		var queued bool
		if g.route != nil && !t.Status.done() {
			var err error
			if picked, queued, err = g.route.route(ctx, t); err != nil {
				return nil, err
			}
		} else if t.AssigneeID != "" || t.Team == "" {
			t.QueuedAt = nil
		}
		events := []func(*Ticket) (string, any){func(t *Ticket) (string, any) {
			return EventTicketAssigned, Assigned{Ticket: t, FromAssignee: fromAssignee, FromTeam: fromTeam, Mode: picked}
		}}
		if queued {
			events = append(events, func(t *Ticket) (string, any) { return EventTicketQueued, Queued{Ticket: t} })
		}
		return events, nil
	})
}

// ListOptions select, order and page a list of tickets.
type ListOptions struct {
	// Filter selects tickets (TicketSchema; custom fields as
	// "attributes.<key>").
	Filter filter.Expr
	// Sort is one of TicketSchema's sortable fields, "-" for descending;
	// default "-created_at". "sla_due" orders an agent queue (tickets
	// without a running SLA last).
	Sort   string
	Limit  int
	Cursor string
}

// List returns one page of tickets, each with its SLA as of now.
// Only the tickets the actor sees are listed, and a page's cursor is
// bound to the actor.
func (s *Tickets) List(ctx context.Context, opts ListOptions) (_ core.Page[*Ticket], err error) {
	ctx, span := s.sc.Span(ctx, "tickets.Tickets.List")
	defer span.End(&err)

	g, err := check(ctx, s.sc, "ticket", core.NilID, access.Read)
	if err != nil {
		return core.Page[*Ticket]{}, err
	}
	schema, err := fields.Module.SchemaFor(ctx, s.sc, TicketSchema, EntityTicket, "t.attributes", opts.Filter, opts.Sort)
	if err != nil {
		return core.Page[*Ticket]{}, err
	}
	plan, err := s.sc.PlanList(store.ListRequest{Schema: schema, Filter: opts.Filter, Sort: opts.Sort,
		DefaultSort: "-created_at", Limit: opts.Limit, Cursor: opts.Cursor, Visible: g.visible("t")})
	if err != nil {
		return core.Page[*Ticket]{}, err
	}
	tenant, _ := s.sc.Tenant()
	rows, err := store.ListPage(ctx, s.sc.Q(), tenant, `SELECT `+ticketColumns+` FROM crm_tickets t `, "t", plan, scanTicket)
	if err != nil {
		return core.Page[*Ticket]{}, store.Wrap(err, "list tickets")
	}
	now := s.sc.Runtime().Now()
	env, err := loadSLA(ctx, s.sc, now)
	if err != nil {
		return core.Page[*Ticket]{}, store.Wrap(err, "list tickets")
	}
	for _, t := range rows {
		if err := env.fill(ctx, t, now); err != nil {
			return core.Page[*Ticket]{}, store.Wrap(err, "list tickets")
		}
	}
	return store.PageOf(s.sc, plan, rows, func(t *Ticket) (any, core.ID) { return plan.Sort.Field.SortKey(t), t.ID })
}

// Count returns the number of tickets f selects (TicketSchema; custom
// fields as "attributes.<key>") among those the actor sees: a team's open
// queue is Count(filter.And(filter.Eq("team", "support"),
// filter.Eq("status", "open"))).
func (s *Tickets) Count(ctx context.Context, f filter.Expr) (_ int64, err error) {
	ctx, span := s.sc.Span(ctx, "tickets.Tickets.Count")
	defer span.End(&err)

	g, err := check(ctx, s.sc, "ticket", core.NilID, access.Read)
	if err != nil {
		return 0, err
	}
	tenant, _ := s.sc.Tenant()
	schema, err := fields.Module.SchemaFor(ctx, s.sc, TicketSchema, EntityTicket, "t.attributes", f, "")
	if err != nil {
		return 0, err
	}
	where, err := schema.Compile(f, filter.Dialect(s.sc.Runtime().Dialect.Kind), s.sc.Runtime().Now())
	if err != nil {
		return 0, err
	}
	extra, args := g.where("t")
	var n int64
	err = s.sc.Q().QueryRow(ctx, `SELECT count(*) FROM crm_tickets t WHERE t.tenant_id = ? AND (`+where.Where+`)`+extra,
		append(append([]any{tenant}, where.Args...), args...)...).Scan(&n)
	return n, store.Wrap(err, "count tickets")
}
