package tickets

import (
	"context"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// Links between tickets: a follow-up of a closed ticket, a ticket a
// forwarded mail referred to.

// LinkKind says how a ticket relates to the one it links to.
type LinkKind string

// Kinds of links.
const (
	// LinkFollowUp: the ticket continues a closed one (a reply to it).
	LinkFollowUp LinkKind = "follow_up"
	// LinkRefersTo: the ticket was opened by a mail from another address
	// that named the linked ticket in its subject (a forward).
	LinkRefersTo LinkKind = "refers_to"
)

// TicketLink is a link from a ticket to another.
type TicketLink struct {
	TicketID  core.ID   `json:"ticket_id"`
	LinkedID  core.ID   `json:"linked_id"`
	Kind      LinkKind  `json:"kind"`
	CreatedAt time.Time `json:"created_at"`
}

// Links returns the links from and to the ticket (a follow-up of a
// closed ticket, a ticket a forward referred to), oldest first. It needs
// "tickets" read and a ticket the actor sees.
func (s *Tickets) Links(ctx context.Context, ticketID core.ID) (_ []TicketLink, err error) {
	ctx, span := s.sc.SpanID(ctx, "tickets.Tickets.Links", ticketID)
	defer span.End(&err)

	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return nil, err
	}
	tenant, _ := s.sc.Tenant()
	q := s.sc.Q()
	if _, err := g.ticket(ctx, q, tenant, ticketID, access.Read, false); err != nil {
		return nil, store.Wrap(g.done(ctx, err), "list ticket links")
	}
	rows, err := q.Query(ctx, `SELECT ticket_id, linked_id, kind, created_at FROM crm_ticket_links
		WHERE tenant_id = ? AND (ticket_id = ? OR linked_id = ?) ORDER BY created_at, ticket_id, linked_id`, tenant, ticketID, ticketID)
	if err != nil {
		return nil, store.Wrap(err, "list ticket links")
	}
	out := []TicketLink{}
	err = store.EachRow(rows, func(r store.Scanner) error {
		var l TicketLink
		var kind string
		err := r.Scan(&l.TicketID, &l.LinkedID, &kind, &l.CreatedAt)
		l.Kind, l.CreatedAt = LinkKind(kind), l.CreatedAt.UTC()
		out = append(out, l)
		return err
	})
	return out, store.Wrap(err, "list ticket links")
}
