package crmhttp

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/tickets"
)

// macroBody creates or replaces a macro.
type macroBody struct {
	Name string `json:"name"`
	Body string `json:"body,omitempty" doc:"The reply, a Go text/template over .Ticket, .Contact and .Agent (see tickets.MacroData); empty adds no message."`
	// Public replies go to the customer; others are internal notes.
	Public  bool                 `json:"public,omitempty" doc:"The reply goes to the customer; otherwise it is an internal note."`
	Changes tickets.MacroChanges `json:"changes,omitzero" doc:"The ticket fields the macro sets; assignee_id @agent is the agent who applies it."`
}

func (b macroBody) input() tickets.NewMacro {
	return tickets.NewMacro{Name: b.Name, Body: b.Body, Public: b.Public, Changes: b.Changes}
}

// registerTicketMacros registers the macros (canned replies) and their
// application to a ticket.
func registerTicketMacros(api huma.API) {
	registerSetting(api, setting[*tickets.Macro, macroBody]{path: "/macros", singular: "macro", id: "macro", ids: "macros", plural: "macros",
		tag: "macros", doc: "The tenant's macros (canned replies with field changes), by name.",
		list: func(ctx context.Context, c *crm.CRM) ([]*tickets.Macro, error) { return c.Tickets.Macros().List(ctx) },
		create: func(ctx context.Context, c *crm.CRM, in macroBody) (*tickets.Macro, error) {
			return c.Tickets.Macros().Create(ctx, in.input())
		},
		get: func(ctx context.Context, c *crm.CRM, id core.ID) (*tickets.Macro, error) {
			return c.Tickets.Macros().Get(ctx, id)
		},
		replace: func(ctx context.Context, c *crm.CRM, id core.ID, v int64, in macroBody) (*tickets.Macro, error) {
			return c.Tickets.Macros().Update(ctx, id, v, in.input())
		},
		del: func(ctx context.Context, c *crm.CRM, id core.ID, v int64) error {
			return c.Tickets.Macros().Delete(ctx, id, v)
		},
	})
	huma.Register(api, common(huma.Operation{OperationID: "apply-macro", Method: http.MethodPost, Path: "/tickets/{id}/macros/{macro}",
		Tags: []string{"tickets"}, Summary: "Apply a macro to a ticket",
		Description: "Sets the macro's fields and adds its reply, rendered for the ticket, as the calling agent's message, in one change, " +
			"if If-Match still names the ticket's version (else 412). The caller must be a user (the reply is theirs); a change the " +
			"ticket refuses is 422 and nothing is written.",
		Errors: ifMatchErrors}),
		func(ctx context.Context, in *struct {
			ID      core.ID `path:"id" doc:"The ticket's id."`
			Macro   core.ID `path:"macro" doc:"The macro's id."`
			IfMatch string  `header:"If-Match" doc:"The ticket's version read (the ETag of GET)."`
		}) (*one[*tickets.Ticket], error) {
			v, err := versionOf(in.IfMatch)
			if err != nil {
				return nil, err
			}
			t, err := crmOf(ctx).Tickets.ApplyMacro(ctx, in.ID, in.Macro, v)
			if err != nil {
				return nil, problem(err, true)
			}
			return &one[*tickets.Ticket]{ETag: etag(t.Version), Body: t}, nil
		})
}
