package demo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/crmkit/crmkit/tickets"
)

// The demo's tickets: opened by a customer, answered, solved.

// planTicket plans a ticket of p: opened with the customer's message,
// answered, solved (and some closed), unless it is too recent.
func (f *filler) planTicket(p *person) {
	opened := f.between(p.created.Add(3*24*time.Hour), f.opts.Until)
	subject := pick(f.rng, ticketSubjects)
	body := fmt.Sprintf(pick(f.rng, customerMessages), strings.ToLower(subject[:1])+subject[1:])
	priority := tickets.PriorityNormal
	switch u := f.rng.Float64(); {
	case u < 0.1:
		priority = tickets.PriorityUrgent
	case u < 0.3:
		priority = tickets.PriorityHigh
	case u < 0.5:
		priority = tickets.PriorityLow
	}
	channel := pick(f.rng, []tickets.Channel{tickets.ChannelEmail, tickets.ChannelWeb, tickets.ChannelPhone})
	agent := pick(f.rng, f.support)
	reply := opened.Add(time.Duration(1+f.rng.IntN(30)) * time.Hour)
	replyText := pick(f.rng, agentReplies)
	solved := reply.Add(time.Duration(1+f.rng.IntN(10)) * 24 * time.Hour)
	closes := f.rng.Float64() < 0.2
	var t *tickets.Ticket
	f.add(opened, func(ctx context.Context) error {
		var err error
		t, err = f.c.Tickets.Create(ctx, tickets.NewTicket{Subject: subject, ContactID: f.id(p), CompanyID: p.companyID, Channel: channel,
			Priority: priority, AssigneeID: agent, Team: "Support", Language: "en",
			Message: &tickets.NewMessage{Public: true, AuthorKind: tickets.AuthorCustomer, Body: body}})
		f.sum.Tickets++
		f.sum.Messages++
		return err
	})
	f.add(reply, func(ctx context.Context) error {
		_, err := f.c.Tickets.AddMessage(ctx, t.ID, tickets.NewMessage{Public: true, AuthorKind: tickets.AuthorAgent, AuthorID: agent, Body: replyText})
		f.sum.Messages++
		return err
	})
	if f.rng.Float64() < 0.85 {
		f.add(solved, func(ctx context.Context) error {
			cur, err := f.c.Tickets.Get(ctx, t.ID)
			if err != nil {
				return err
			}
			t, err = f.c.Tickets.SetStatus(ctx, t.ID, tickets.StatusChange{Version: cur.Version, Status: tickets.StatusSolved})
			return err
		})
		if closes {
			f.add(solved.Add(3*24*time.Hour), func(ctx context.Context) error {
				cur, err := f.c.Tickets.Get(ctx, t.ID)
				if err != nil {
					return err
				}
				_, err = f.c.Tickets.SetStatus(ctx, t.ID, tickets.StatusChange{Version: cur.Version, Status: tickets.StatusClosed})
				return err
			})
		}
	}
}
