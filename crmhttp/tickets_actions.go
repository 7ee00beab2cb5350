package crmhttp

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/tickets"
)

// registerTicketActions registers what is done to one ticket besides its
// fields: merging a duplicate, a satisfaction survey link, its links.
func registerTicketActions(api huma.API) {
	tags := []string{"tickets"}
	huma.Register(api, common(huma.Operation{OperationID: "merge-ticket", Method: http.MethodPost, Path: "/tickets/{id}/merge", Tags: tags,
		Summary: "Merge a ticket into another",
		Description: "Folds the duplicate ticket (the path's, at the version If-Match names; else 412) into the target: its messages " +
			"move to the target, and it is closed with a reference to it (merged_into). A closed or merged ticket, a closed target " +
			"or the ticket itself are 422. Answers with the target.",
		Errors: ifMatchErrors}),
		func(ctx context.Context, in *struct {
			ID      core.ID `path:"id" doc:"The duplicate ticket's id."`
			IfMatch string  `header:"If-Match" doc:"The duplicate's version read (the ETag of GET)."`
			Body    struct {
				TargetID core.ID `json:"target_id" doc:"The ticket that takes the duplicate's messages."`
			}
		}) (*struct{ Body *tickets.Ticket }, error) {
			v, err := versionOf(in.IfMatch)
			if err != nil {
				return nil, err
			}
			t, err := crmOf(ctx).Tickets.Merge(ctx, in.ID, v, in.Body.TargetID)
			if err != nil {
				return nil, problem(err, true)
			}
			return &struct{ Body *tickets.Ticket }{Body: t}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "create-ticket-survey", Method: http.MethodPost, Path: "/tickets/{id}/surveys",
		Tags: tags, Summary: "Issue a satisfaction survey link",
		Description: "A signed, single-use token asking the customer of a solved or closed ticket for a score (csat: 1 to 5, nps: " +
			"0 to 10), for the host to send in a link; it replaces the ticket's unanswered link of that kind. The answer becomes the " +
			"ticket's csat or nps. Needs tickets update.",
		DefaultStatus: http.StatusCreated, Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity}}),
		func(ctx context.Context, in *struct {
			ID   core.ID `path:"id" doc:"The ticket's id."`
			Body struct {
				Kind tickets.SurveyKind `json:"kind" enum:"csat,nps"`
			}
		}) (*struct{ Body *tickets.SurveyLink }, error) {
			l, err := crmOf(ctx).Tickets.Survey(ctx, in.ID, in.Body.Kind)
			if err != nil {
				return nil, problem(err, false)
			}
			return &struct{ Body *tickets.SurveyLink }{Body: l}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "list-ticket-links", Method: http.MethodGet, Path: "/tickets/{id}/links",
		Tags: tags, Summary: "A ticket's links",
		Description: "The links from and to the ticket, oldest first: a follow-up of a closed ticket, a ticket a forwarded mail referred to.",
		Errors:      []int{http.StatusNotFound}}),
		func(ctx context.Context, in *idInput) (*struct{ Body []tickets.TicketLink }, error) {
			ls, err := crmOf(ctx).Tickets.Links(ctx, in.ID)
			if err != nil {
				return nil, problem(err, false)
			}
			if ls == nil {
				ls = []tickets.TicketLink{}
			}
			return &struct{ Body []tickets.TicketLink }{Body: ls}, nil
		})
}

// registerTicketServices registers the service desk's routes besides
// the tickets' own: settings, macros, mail intake, the classifier, the
// knowledge base and the actions on one ticket.
func registerTicketServices(api huma.API) {
	registerTicketSettings(api)
	registerTicketMacros(api)
	registerTicketInbound(api)
	registerTicketClassifier(api)
	registerKnowledgeBase(api)
	registerTicketActions(api)
}
