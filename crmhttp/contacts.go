package crmhttp

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
)

type contactOut struct {
	ETag string `header:"ETag"`
	Body *contacts.Contact
}

type contactID struct {
	ID core.ID `path:"id" doc:"The contact's id."`
}

type contactPage struct {
	Body struct {
		Items []*contacts.Contact `json:"items"`
		// Next continues the list (pass it as cursor); empty on the last
		// page.
		Next string `json:"next,omitempty"`
	}
}

// contactPatch is the body of PATCH /contacts/{id}: the fields given
// change, the others stay.
type contactPatch struct {
	Email          *string         `json:"email,omitempty"`
	Phone          *string         `json:"phone,omitempty"`
	FirstName      *string         `json:"first_name,omitempty"`
	LastName       *string         `json:"last_name,omitempty"`
	CompanyID      *core.ID        `json:"company_id,omitempty" doc:"The company; the nil UUID removes it."`
	LifecycleStage *contacts.Stage `json:"lifecycle_stage,omitempty"`
	OwnerID        *string         `json:"owner_id,omitempty"`
	Tags           *[]string       `json:"tags,omitempty" doc:"Replaces the whole set."`
	Attributes     map[string]any  `json:"attributes,omitempty" doc:"Merged: each key given is set; a key given as null is removed."`
}

func registerContacts(api huma.API, h *handler) {
	tags := []string{"contacts"}
	huma.Register(api, common(huma.Operation{OperationID: "list-contacts", Method: http.MethodGet, Path: "/contacts", Tags: tags,
		Summary: "List contacts", Description: "One page of contacts matching the filter, in keyset order; the page's next continues it.",
		Errors: []int{http.StatusUnprocessableEntity}}),
		func(ctx context.Context, in *struct {
			Filter string `query:"filter" doc:"A filter in the filter language's JSON form, e.g. {\"field\":\"tags\",\"op\":\"contains\",\"value\":\"vip\"}."`
			Sort   string `query:"sort" doc:"created_at, updated_at or last_name; - for descending (default -created_at)."`
			Limit  int    `query:"limit" minimum:"0" maximum:"1000" doc:"Page size (default 50)."`
			Cursor string `query:"cursor" doc:"The next of the previous page."`
		}) (*contactPage, error) {
			opts := contacts.ListOptions{Sort: in.Sort, Limit: in.Limit, Cursor: in.Cursor}
			if in.Filter != "" {
				f, err := filter.Parse([]byte(in.Filter))
				if err != nil {
					return nil, problem(err, false)
				}
				opts.Filter = f
			}
			page, err := crmOf(ctx).Contacts.List(ctx, opts)
			if err != nil {
				return nil, problem(err, false)
			}
			out := &contactPage{}
			out.Body.Items, out.Body.Next = page.Items, page.Next
			if out.Body.Items == nil {
				out.Body.Items = []*contacts.Contact{}
			}
			return out, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "create-contact", Method: http.MethodPost, Path: "/contacts", Tags: tags,
		Summary: "Create a contact", DefaultStatus: http.StatusCreated,
		Errors: []int{http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity}}),
		func(ctx context.Context, in *struct {
			IdempotencyKey string `header:"Idempotency-Key" maxLength:"200" doc:"Sent again with the same key and body, the create answers as the first time, without a second contact (kept 24 hours)."`
			Body           contacts.NewContact
		}) (*contactOut, error) {
			c, err := crmOf(ctx).Contacts.Create(ctx, in.Body)
			if err != nil {
				return nil, problem(err, false)
			}
			return &contactOut{ETag: etag(c.Version), Body: c}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "get-contact", Method: http.MethodGet, Path: "/contacts/{id}", Tags: tags,
		Summary: "Get a contact", Description: "The contact, with its version as ETag.", Errors: []int{http.StatusNotFound}}),
		func(ctx context.Context, in *contactID) (*contactOut, error) {
			c, err := crmOf(ctx).Contacts.Get(ctx, in.ID)
			if err != nil {
				return nil, problem(err, false)
			}
			return &contactOut{ETag: etag(c.Version), Body: c}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "update-contact", Method: http.MethodPatch, Path: "/contacts/{id}", Tags: tags,
		Summary:     "Update a contact",
		Description: "Changes the fields given, if If-Match still names the contact's version (else 412).",
		Errors: []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed,
			http.StatusPreconditionRequired, http.StatusUnprocessableEntity}}),
		func(ctx context.Context, in *struct {
			ID      core.ID `path:"id" doc:"The contact's id."`
			IfMatch string  `header:"If-Match" doc:"The version read (the ETag of GET)."`
			Body    contactPatch
		}) (*contactOut, error) {
			v, err := versionOf(in.IfMatch)
			if err != nil {
				return nil, err
			}
			b := in.Body
			c, err := crmOf(ctx).Contacts.Update(ctx, in.ID, contacts.ContactPatch{Version: v, Email: b.Email, Phone: b.Phone,
				FirstName: b.FirstName, LastName: b.LastName, CompanyID: b.CompanyID, LifecycleStage: b.LifecycleStage, OwnerID: b.OwnerID,
				Tags: b.Tags, Attributes: b.Attributes})
			if err != nil {
				return nil, problem(err, true)
			}
			return &contactOut{ETag: etag(c.Version), Body: c}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "delete-contact", Method: http.MethodDelete, Path: "/contacts/{id}", Tags: tags,
		Summary: "Delete a contact", Description: "Deletes the contact and what is personal about it (see c.Contacts.Delete).",
		DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound}}),
		func(ctx context.Context, in *contactID) (*struct{}, error) {
			return nil, problem(crmOf(ctx).Contacts.Delete(ctx, in.ID), false)
		})
}

// eventType is one entry of the event catalogue, for the API.
type eventType struct {
	Type    string   `json:"type"`
	Subject string   `json:"subject"`
	Doc     string   `json:"doc"`
	Fields  []string `json:"fields" doc:"The payload's field paths, for rule conditions (data.<path>)."`
}

func registerEvents(api huma.API, h *handler) {
	huma.Register(api, common(huma.Operation{OperationID: "list-event-types", Method: http.MethodGet, Path: "/event-types", Tags: []string{"events"},
		Summary: "The event catalogue", Description: "Every event type crmkit emits, with its payload's fields: what rules, webhooks and subscribers may name."}),
		func(ctx context.Context, _ *struct{}) (*struct{ Body []eventType }, error) {
			out := &struct{ Body []eventType }{Body: []eventType{}}
			for _, t := range crmOf(ctx).EventTypes() {
				out.Body = append(out.Body, eventType{Type: t.Type, Subject: t.Subject, Doc: t.Doc, Fields: orEmpty(t.Fields())})
			}
			return out, nil
		})
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
