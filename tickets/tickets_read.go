package tickets

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/store"
)

// Reading tickets: one by id or number, a page of them, a count, each
// through the actor's record access.

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
	rows, err := store.ListPage(ctx, s.sc.Q(), tenant, `SELECT `+ticketColumns(s.sc.Q().D)+` FROM crm_tickets t `, "t", plan, newTicketRow(true).scan)
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
