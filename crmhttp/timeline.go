package crmhttp

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
)

// newActivity is the body of POST /contacts/{id}/activities.
type newActivity struct {
	Kind           contacts.ActivityKind `json:"kind" enum:"note,call,email,meeting,web,purchase,support,custom"`
	Name           string                `json:"name,omitempty"`
	OccurredAt     *time.Time            `json:"occurred_at,omitempty" doc:"Default: now."`
	Properties     map[string]any        `json:"properties,omitempty"`
	IdempotencyKey string                `json:"idempotency_key,omitempty" doc:"The host's event or order id: a second Track with it records nothing."`
	CompanyID      *core.ID              `json:"company_id,omitempty"`
	DealID         *core.ID              `json:"deal_id,omitempty"`
	Purchase       *contacts.Purchase    `json:"purchase,omitempty" doc:"Required for a purchase."`
}

func registerTimeline(api huma.API) {
	tags := []string{"contacts"}
	huma.Register(api, common(huma.Operation{OperationID: "track-activity", Method: http.MethodPost, Path: "/contacts/{id}/activities", Tags: tags,
		Summary: "Track an activity", Description: "Records what the contact did or what happened with them (a web event, a call, a purchase).",
		DefaultStatus: http.StatusCreated, Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity}}),
		func(ctx context.Context, in *struct {
			ID   core.ID `path:"id"`
			Body newActivity
		}) (*struct{ Body *contacts.Activity }, error) {
			b := in.Body
			a := contacts.NewActivity{Kind: b.Kind, Name: b.Name, Properties: b.Properties, IdempotencyKey: b.IdempotencyKey,
				CompanyID: b.CompanyID, DealID: b.DealID, Purchase: b.Purchase}
			if b.OccurredAt != nil {
				a.OccurredAt = *b.OccurredAt
			}
			x, err := crmOf(ctx).Contacts.Track(ctx, contacts.ByID(in.ID), a)
			if err != nil {
				return nil, problem(err, false)
			}
			return &struct{ Body *contacts.Activity }{Body: x}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "contact-timeline", Method: http.MethodGet, Path: "/contacts/{id}/timeline", Tags: tags,
		Summary: "A contact's timeline", Description: "Activities, notes and events about the contact, newest first, one page at a time.",
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity}}),
		func(ctx context.Context, in *struct {
			ID     core.ID `path:"id"`
			Limit  int     `query:"limit" minimum:"0" maximum:"1000"`
			Cursor string  `query:"cursor"`
		}) (*listPage[contacts.TimelineItem], error) {
			p, err := crmOf(ctx).Contacts.Timeline(ctx, in.ID, contacts.TimelineOptions{Limit: in.Limit, Cursor: in.Cursor})
			if err != nil {
				return nil, problem(err, false)
			}
			out := &listPage[contacts.TimelineItem]{}
			out.Body.Items, out.Body.Next = p.Items, p.Next
			if out.Body.Items == nil {
				out.Body.Items = []contacts.TimelineItem{}
			}
			return out, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "search", Method: http.MethodGet, Path: "/search", Tags: tags,
		Summary: "Search contacts and companies", Description: "Full-text search over names, emails, phones and companies, best hits first.",
		Errors: []int{http.StatusUnprocessableEntity}}),
		func(ctx context.Context, in *struct {
			Q     string `query:"q" doc:"Words to find (prefixes match)."`
			Limit int    `query:"limit" minimum:"0" maximum:"100"`
		}) (*struct{ Body []contacts.SearchHit }, error) {
			hits, err := crmOf(ctx).Contacts.Search(ctx, in.Q, contacts.SearchOptions{Limit: in.Limit})
			if err != nil {
				return nil, problem(err, false)
			}
			if hits == nil {
				hits = []contacts.SearchHit{}
			}
			return &struct{ Body []contacts.SearchHit }{Body: hits}, nil
		})
}
