package crmhttp

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/tickets"
)

// newMessage is a ticket message in the API.
type newMessage struct {
	Public      bool                 `json:"public,omitempty"`
	AuthorKind  tickets.AuthorKind   `json:"author_kind" enum:"customer,agent"`
	AuthorID    string               `json:"author_id,omitempty"`
	Body        string               `json:"body"`
	Attachments []tickets.Attachment `json:"attachments,omitempty"`
}

func (m newMessage) input() tickets.NewMessage {
	return tickets.NewMessage{Public: m.Public, AuthorKind: m.AuthorKind, AuthorID: m.AuthorID, Body: m.Body, Attachments: m.Attachments}
}

// newTicket is the body of POST /tickets.
type newTicket struct {
	Subject      string           `json:"subject"`
	ContactID    core.ID          `json:"contact_id"`
	CompanyID    *core.ID         `json:"company_id,omitempty"`
	Channel      tickets.Channel  `json:"channel,omitempty"`
	Status       tickets.Status   `json:"status,omitempty"`
	PendingUntil *time.Time       `json:"pending_until,omitempty"`
	Priority     tickets.Priority `json:"priority,omitempty"`
	Category     string           `json:"category,omitempty"`
	Tags         []string         `json:"tags,omitempty"`
	AssigneeID   string           `json:"assignee_id,omitempty"`
	Team         string           `json:"team,omitempty"`
	Attributes   map[string]any   `json:"attributes,omitempty"`
	Message      *newMessage      `json:"message,omitempty" doc:"The ticket's first message."`
}

// ticketPatch is the body of PATCH /tickets/{id}; status and assignment
// have routes of their own.
type ticketPatch struct {
	Subject    *string           `json:"subject,omitempty"`
	ContactID  *core.ID          `json:"contact_id,omitempty"`
	CompanyID  *core.ID          `json:"company_id,omitempty" doc:"The nil UUID unlinks the company."`
	Channel    *tickets.Channel  `json:"channel,omitempty"`
	Priority   *tickets.Priority `json:"priority,omitempty"`
	Category   *string           `json:"category,omitempty"`
	Tags       *[]string         `json:"tags,omitempty"`
	Attributes map[string]any    `json:"attributes,omitempty"`
}

var ifMatchErrors = []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed,
	http.StatusPreconditionRequired, http.StatusUnprocessableEntity}

func registerTickets(api huma.API) {
	registerTicketServices(api)
	register(api, resource[*tickets.Ticket, newTicket, ticketPatch]{path: "/tickets", singular: "ticket", plural: "tickets", tag: "tickets",
		list: func(ctx context.Context, c *crm.CRM, q list) ([]*tickets.Ticket, string, error) {
			p, err := c.Tickets.List(ctx, tickets.ListOptions{Filter: q.Filter, Sort: q.Sort, Limit: q.Limit, Cursor: q.Cursor})
			return p.Items, p.Next, err
		},
		create: func(ctx context.Context, c *crm.CRM, in newTicket) (*tickets.Ticket, int64, error) {
			t := tickets.NewTicket{Subject: in.Subject, ContactID: in.ContactID, CompanyID: in.CompanyID, Channel: in.Channel, Status: in.Status,
				PendingUntil: in.PendingUntil, Priority: in.Priority, Category: in.Category, Tags: in.Tags, AssigneeID: in.AssigneeID,
				Team: in.Team, Attributes: in.Attributes}
			if in.Message != nil {
				m := in.Message.input()
				t.Message = &m
			}
			return versioned(c.Tickets.Create(ctx, t))
		},
		get: func(ctx context.Context, c *crm.CRM, id core.ID) (*tickets.Ticket, int64, error) {
			return versioned(c.Tickets.Get(ctx, id))
		},
		update: func(ctx context.Context, c *crm.CRM, id core.ID, v int64, p ticketPatch) (*tickets.Ticket, int64, error) {
			return versioned(c.Tickets.Update(ctx, id, tickets.TicketPatch{Version: v, Subject: p.Subject, ContactID: p.ContactID,
				CompanyID: p.CompanyID, Channel: p.Channel, Priority: p.Priority, Category: p.Category, Tags: p.Tags, Attributes: p.Attributes}))
		},
	})
	huma.Register(api, common(huma.Operation{OperationID: "set-ticket-status", Method: http.MethodPost, Path: "/tickets/{id}/status",
		Tags: []string{"tickets"}, Summary: "Change a ticket's status", Description: "Moves the ticket to a status its transitions allow.",
		Errors: ifMatchErrors}),
		func(ctx context.Context, in *struct {
			ID      core.ID `path:"id"`
			IfMatch string  `header:"If-Match"`
			Body    struct {
				Status       tickets.Status `json:"status"`
				PendingUntil *time.Time     `json:"pending_until,omitempty"`
			}
		}) (*one[*tickets.Ticket], error) {
			v, err := versionOf(in.IfMatch)
			if err != nil {
				return nil, err
			}
			t, err := crmOf(ctx).Tickets.SetStatus(ctx, in.ID, tickets.StatusChange{Version: v, Status: in.Body.Status, PendingUntil: in.Body.PendingUntil})
			if err != nil {
				return nil, problem(err, true)
			}
			return &one[*tickets.Ticket]{ETag: etag(t.Version), Body: t}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "assign-ticket", Method: http.MethodPost, Path: "/tickets/{id}/assignment",
		Tags: []string{"tickets"}, Summary: "Assign a ticket", Description: "Sets the ticket's agent and team (empty: none).",
		Errors: ifMatchErrors}),
		func(ctx context.Context, in *struct {
			ID      core.ID `path:"id"`
			IfMatch string  `header:"If-Match"`
			Body    struct {
				AssigneeID string `json:"assignee_id,omitempty"`
				Team       string `json:"team,omitempty"`
			}
		}) (*one[*tickets.Ticket], error) {
			v, err := versionOf(in.IfMatch)
			if err != nil {
				return nil, err
			}
			t, err := crmOf(ctx).Tickets.Assign(ctx, in.ID, tickets.Assignment{Version: v, AssigneeID: in.Body.AssigneeID, Team: in.Body.Team})
			if err != nil {
				return nil, problem(err, true)
			}
			return &one[*tickets.Ticket]{ETag: etag(t.Version), Body: t}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "list-ticket-messages", Method: http.MethodGet, Path: "/tickets/{id}/messages",
		Tags: []string{"tickets"}, Summary: "A ticket's messages", Errors: []int{http.StatusNotFound}}),
		func(ctx context.Context, in *idInput) (*struct{ Body []*tickets.Message }, error) {
			ms, err := crmOf(ctx).Tickets.Messages(ctx, in.ID)
			if err != nil {
				return nil, problem(err, false)
			}
			if ms == nil {
				ms = []*tickets.Message{}
			}
			return &struct{ Body []*tickets.Message }{Body: ms}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "add-ticket-message", Method: http.MethodPost, Path: "/tickets/{id}/messages",
		Tags: []string{"tickets"}, Summary: "Add a message to a ticket", DefaultStatus: http.StatusCreated,
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity}}),
		func(ctx context.Context, in *struct {
			ID   core.ID `path:"id"`
			Body newMessage
		}) (*struct{ Body *tickets.Message }, error) {
			m, err := crmOf(ctx).Tickets.AddMessage(ctx, in.ID, in.Body.input())
			if err != nil {
				return nil, problem(err, false)
			}
			return &struct{ Body *tickets.Message }{Body: m}, nil
		})
}
