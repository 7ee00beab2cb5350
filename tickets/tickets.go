package tickets

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// Tickets manages the tickets of one tenant and their messages
// (c.Tickets).
type Tickets struct {
	sc store.Scope
}

func newTickets(sc store.Scope) *Tickets { return &Tickets{sc: sc} }

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
