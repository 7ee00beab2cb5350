package crmhttp

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/tickets"
)

// trainBody chooses what a training learns.
type trainBody struct {
	Targets        []tickets.ClassifierTarget `json:"targets,omitempty" doc:"category, team, or both (none: both)."`
	HoldoutPercent int                        `json:"holdout_percent,omitempty" minimum:"0" maximum:"50" doc:"The share of tickets held out to measure the model, 1 to 50 (0: 20)."`
}

// textBody is a ticket's text: its subject and first customer message.
type textBody struct {
	Subject string `json:"subject"`
	Body    string `json:"body,omitempty" doc:"The first customer message."`
}

// firstRequest returns a ticket's subject and its first customer message
// (what the classifier learns from and suggests for), read through the
// actor's visibility.
func firstRequest(ctx context.Context, c *crm.CRM, id core.ID) (subject, body string, err error) {
	t, err := c.Tickets.Get(ctx, id)
	if err != nil {
		return "", "", err
	}
	ms, err := c.Tickets.Messages(ctx, id)
	if err != nil {
		return "", "", err
	}
	for _, m := range ms {
		if m.AuthorKind == tickets.AuthorCustomer {
			return t.Subject, m.Body, nil
		}
	}
	return t.Subject, "", nil
}

// registerTicketClassifier registers the ticket classifier: training,
// its models, its settings and its suggestions.
func registerTicketClassifier(api huma.API) {
	tags := []string{"classifier"}
	huma.Register(api, common(huma.Operation{OperationID: "train-classifier", Method: http.MethodPost, Path: "/classifier/train", Tags: tags,
		Summary: "Train the ticket classifier",
		Description: "Learns a model of each target (category, team) from the tenant's solved and closed tickets, measures it on a " +
			"held-out share and makes it active. A target without enough data is skipped (the answer says why); when every target " +
			"is, 422. Needs tickets manage.",
		Errors: []int{http.StatusUnprocessableEntity}}),
		func(ctx context.Context, in *struct {
			Body *trainBody `required:"false"`
		}) (*struct{ Body *tickets.TrainReport }, error) {
			var opts tickets.TrainOptions
			if in.Body != nil {
				opts = tickets.TrainOptions{Targets: in.Body.Targets, HoldoutPercent: in.Body.HoldoutPercent}
			}
			r, err := crmOf(ctx).Classifier.Train(ctx, opts)
			if err != nil {
				return nil, problem(err, false)
			}
			return &struct{ Body *tickets.TrainReport }{Body: r}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "list-classifier-models", Method: http.MethodGet, Path: "/classifier/models", Tags: tags,
		Summary: "The classifier's models", Description: "The active model of each target with its metrics (none before the first training)."}),
		func(ctx context.Context, _ *struct{}) (*struct{ Body []*tickets.ClassifierModel }, error) {
			ms, err := crmOf(ctx).Classifier.Models(ctx)
			if err != nil {
				return nil, problem(err, false)
			}
			if ms == nil {
				ms = []*tickets.ClassifierModel{}
			}
			return &struct{ Body []*tickets.ClassifierModel }{Body: ms}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "get-classifier-settings", Method: http.MethodGet, Path: "/classifier/settings",
		Tags: tags, Summary: "Get the classifier's settings",
		Description: "The confidence at which new tickets take the suggested category and team, with the version as ETag (\"0\" before they are first set)."}),
		func(ctx context.Context, _ *struct{}) (*one[*tickets.ClassifierSettings], error) {
			s, err := crmOf(ctx).Classifier.Settings(ctx)
			if err != nil {
				return nil, problem(err, false)
			}
			return &one[*tickets.ClassifierSettings]{ETag: etag(s.Version), Body: s}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "set-classifier-settings", Method: http.MethodPut, Path: "/classifier/settings",
		Tags: tags, Summary: "Replace the classifier's settings",
		Description: "Sets the threshold, if If-Match still names the settings' version (\"0\" before they are first set; else 412). Needs tickets manage.",
		Errors:      changeErrors}),
		func(ctx context.Context, in *struct {
			IfMatch string `header:"If-Match" doc:"The version read (the ETag of GET)."`
			Body    struct {
				Threshold float64 `json:"threshold" doc:"0 (off) or more than 0 up to 1: the confidence at which a new ticket without a category (team) takes the suggested one."`
			}
		}) (*one[*tickets.ClassifierSettings], error) {
			v, err := settingsVersionOf(in.IfMatch)
			if err != nil {
				return nil, err
			}
			s, err := crmOf(ctx).Classifier.SetSettings(ctx, v, tickets.ClassifierSettingsInput{Threshold: in.Body.Threshold})
			if err != nil {
				return nil, problem(err, true)
			}
			return &one[*tickets.ClassifierSettings]{ETag: etag(s.Version), Body: s}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "suggest-classification", Method: http.MethodPost, Path: "/classifier/suggestions",
		Tags: tags, Summary: "Suggest a category and team for a text",
		Description: "The category and team the tenant's models give a ticket with this subject and first message, each with its " +
			"confidence; none where there is no model or no word it knows.",
		Errors: []int{http.StatusUnprocessableEntity}}),
		func(ctx context.Context, in *struct{ Body textBody }) (*struct{ Body *tickets.Suggestion }, error) {
			s, err := crmOf(ctx).Classifier.Suggest(ctx, in.Body.Subject, in.Body.Body)
			if err != nil {
				return nil, problem(err, false)
			}
			return &struct{ Body *tickets.Suggestion }{Body: s}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "suggest-ticket-classification", Method: http.MethodGet, Path: "/tickets/{id}/suggestion",
		Tags: []string{"tickets", "classifier"}, Summary: "Suggest a category and team for a ticket",
		Description: "What the tenant's models give the ticket now, from its subject and first customer message (the ticket's " +
			"suggestion field is what they gave when it was created).",
		Errors: []int{http.StatusNotFound}}),
		func(ctx context.Context, in *idInput) (*struct{ Body *tickets.Suggestion }, error) {
			c := crmOf(ctx)
			subject, body, err := firstRequest(ctx, c, in.ID)
			if err != nil {
				return nil, problem(err, false)
			}
			s, err := c.Classifier.Suggest(ctx, subject, body)
			if err != nil {
				return nil, problem(err, false)
			}
			return &struct{ Body *tickets.Suggestion }{Body: s}, nil
		})
}
