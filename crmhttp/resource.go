package crmhttp

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
)

// list is the query of a list route.
type list struct {
	Filter filter.Expr
	Sort   string
	Limit  int
	Cursor string
}

// resource is the REST routes of one kind of record: T the record, N the
// body that creates one, P the body that changes one. A nil function has
// no route.
type resource[T, N, P any] struct {
	path     string // "/companies"
	singular string // "company", for operation ids and summaries
	plural   string // "companies"
	tag      string
	list     func(ctx context.Context, c *crm.CRM, q list) ([]T, string, error)
	create   func(ctx context.Context, c *crm.CRM, in N) (T, int64, error)
	get      func(ctx context.Context, c *crm.CRM, id core.ID) (T, int64, error)
	update   func(ctx context.Context, c *crm.CRM, id core.ID, version int64, in P) (T, int64, error)
	del      func(ctx context.Context, c *crm.CRM, id core.ID) error
}

// one is a record with its version as ETag.
type one[T any] struct {
	ETag string `header:"ETag"`
	Body T
}

// listPage is one page of records.
type listPage[T any] struct {
	Body struct {
		Items []T `json:"items"`
		// Next continues the list (pass it as cursor); empty on the last
		// page.
		Next string `json:"next,omitempty"`
	}
}

type listInput struct {
	Filter string `query:"filter" doc:"A filter in the filter language's JSON form, e.g. {\"field\":\"tags\",\"op\":\"contains\",\"value\":\"vip\"}."`
	Sort   string `query:"sort" doc:"A sortable field; - for descending."`
	Limit  int    `query:"limit" minimum:"0" maximum:"1000" doc:"Page size (default 50)."`
	Cursor string `query:"cursor" doc:"The next of the previous page."`
}

func (in *listInput) query() (list, error) {
	q := list{Sort: in.Sort, Limit: in.Limit, Cursor: in.Cursor}
	if in.Filter != "" {
		f, err := filter.Parse([]byte(in.Filter))
		if err != nil {
			return q, problem(err, false)
		}
		q.Filter = f
	}
	return q, nil
}

type idInput struct {
	ID core.ID `path:"id" doc:"The record's id."`
}

func register[T, N, P any](api huma.API, r resource[T, N, P]) {
	tags := []string{r.tag}
	item := r.path + "/{id}"
	if r.list != nil {
		huma.Register(api, common(huma.Operation{OperationID: "list-" + r.plural, Method: http.MethodGet, Path: r.path, Tags: tags,
			Summary: "List " + r.plural, Description: "One page of " + r.plural + " matching the filter, in keyset order.",
			Errors: []int{http.StatusUnprocessableEntity}}),
			func(ctx context.Context, in *listInput) (*listPage[T], error) {
				q, err := in.query()
				if err != nil {
					return nil, err
				}
				items, next, err := r.list(ctx, crmOf(ctx), q)
				if err != nil {
					return nil, problem(err, false)
				}
				out := &listPage[T]{}
				out.Body.Items, out.Body.Next = items, next
				if out.Body.Items == nil {
					out.Body.Items = []T{}
				}
				return out, nil
			})
	}
	if r.create != nil {
		huma.Register(api, common(huma.Operation{OperationID: "create-" + r.singular, Method: http.MethodPost, Path: r.path, Tags: tags,
			Summary: "Create a " + r.singular, DefaultStatus: http.StatusCreated,
			Errors: []int{http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity}}),
			func(ctx context.Context, in *struct {
				IdempotencyKey string `header:"Idempotency-Key" maxLength:"200" doc:"Sent again with the same key and body, the create answers as the first time, without a second record (kept 24 hours)."`
				Body           N
			}) (*one[T], error) {
				x, v, err := r.create(ctx, crmOf(ctx), in.Body)
				if err != nil {
					return nil, problem(err, false)
				}
				return &one[T]{ETag: etag(v), Body: x}, nil
			})
	}
	if r.get != nil {
		huma.Register(api, common(huma.Operation{OperationID: "get-" + r.singular, Method: http.MethodGet, Path: item, Tags: tags,
			Summary: "Get a " + r.singular, Description: "The record, with its version as ETag.", Errors: []int{http.StatusNotFound}}),
			func(ctx context.Context, in *idInput) (*one[T], error) {
				x, v, err := r.get(ctx, crmOf(ctx), in.ID)
				if err != nil {
					return nil, problem(err, false)
				}
				return &one[T]{ETag: etag(v), Body: x}, nil
			})
	}
	if r.update != nil {
		huma.Register(api, common(huma.Operation{OperationID: "update-" + r.singular, Method: http.MethodPatch, Path: item, Tags: tags,
			Summary:     "Update a " + r.singular,
			Description: "Changes the fields given, if If-Match still names the record's version (else 412).",
			Errors: []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed,
				http.StatusPreconditionRequired, http.StatusUnprocessableEntity}}),
			func(ctx context.Context, in *struct {
				ID      core.ID `path:"id" doc:"The record's id."`
				IfMatch string  `header:"If-Match" doc:"The version read (the ETag of GET)."`
				Body    P
			}) (*one[T], error) {
				version, err := versionOf(in.IfMatch)
				if err != nil {
					return nil, err
				}
				x, v, err := r.update(ctx, crmOf(ctx), in.ID, version, in.Body)
				if err != nil {
					return nil, problem(err, true)
				}
				return &one[T]{ETag: etag(v), Body: x}, nil
			})
	}
	if r.del != nil {
		huma.Register(api, common(huma.Operation{OperationID: "delete-" + r.singular, Method: http.MethodDelete, Path: item, Tags: tags,
			Summary: "Delete a " + r.singular, DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound, http.StatusConflict}}),
			func(ctx context.Context, in *idInput) (*struct{}, error) {
				return nil, problem(r.del(ctx, crmOf(ctx), in.ID), false)
			})
	}
}
