package crmhttp

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/crmkit/crmkit/fields"
)

// fieldBody is the body of POST /fields.
type fieldBody struct {
	Entity   string      `json:"entity" doc:"The entity whose records carry the field: contact, company, deal, ticket …"`
	Key      string      `json:"key" doc:"The attribute's key: a lower-case letter, then lower-case letters, digits and _."`
	Label    string      `json:"label"`
	Type     fields.Type `json:"type" enum:"text,number,boolean,date,enum,multi_enum,money"`
	Required bool        `json:"required,omitempty"`
	Options  []string    `json:"options,omitempty" doc:"The choices of an enum or multi_enum field."`
}

type fieldOut struct {
	Status int
	ETag   string `header:"ETag"`
	Body   *fields.Definition
}

type fieldKey struct {
	Entity string `path:"entity"`
	Key    string `path:"key"`
}

func registerFields(api huma.API) {
	tags := []string{"fields"}
	huma.Register(api, common(huma.Operation{OperationID: "list-fields", Method: http.MethodGet, Path: "/fields", Tags: tags,
		Summary: "List custom fields", Description: "The custom field definitions of an entity, by key."}),
		func(ctx context.Context, in *struct {
			Entity string `query:"entity" required:"true" doc:"contact, company, deal, ticket …"`
		}) (*struct{ Body []*fields.Definition }, error) {
			defs, err := crmOf(ctx).Fields.List(ctx, in.Entity)
			if err != nil {
				return nil, problem(err, false)
			}
			if defs == nil {
				defs = []*fields.Definition{}
			}
			return &struct{ Body []*fields.Definition }{Body: defs}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "define-field", Method: http.MethodPost, Path: "/fields", Tags: tags,
		Summary: "Define a custom field",
		Description: "Creates (201) or replaces (200) the definition of the entity's key. Values already stored are not rewritten; " +
			"a value that no longer fits is reported by its record's next write.",
		DefaultStatus: http.StatusCreated, Errors: []int{http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity}}),
		func(ctx context.Context, in *struct {
			IdempotencyKey string `header:"Idempotency-Key" maxLength:"200" doc:"Sent again with the same key and body, the call answers as the first time (kept 24 hours)."`
			Body           fieldBody
		}) (*fieldOut, error) {
			b := in.Body
			d, err := crmOf(ctx).Fields.Define(ctx, fields.Definition{Entity: b.Entity, Key: b.Key, Label: b.Label, Type: b.Type,
				Required: b.Required, Options: b.Options})
			if err != nil {
				return nil, problem(err, false)
			}
			status := http.StatusCreated
			if d.Version > 1 {
				status = http.StatusOK
			}
			return &fieldOut{Status: status, ETag: etag(d.Version), Body: d}, nil
		})
	// A replaced definition answers 200 with the same body and headers.
	defined := api.OpenAPI().Paths["/fields"].Post.Responses
	defined["200"] = &huma.Response{Description: "The definition replaced one.", Headers: defined["201"].Headers, Content: defined["201"].Content}
	huma.Register(api, common(huma.Operation{OperationID: "get-field", Method: http.MethodGet, Path: "/fields/{entity}/{key}", Tags: tags,
		Summary: "Get a custom field", Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity}}),
		func(ctx context.Context, in *fieldKey) (*fieldOut, error) {
			d, err := crmOf(ctx).Fields.Get(ctx, in.Entity, in.Key)
			if err != nil {
				return nil, problem(err, false)
			}
			return &fieldOut{Status: http.StatusOK, ETag: etag(d.Version), Body: d}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "remove-field", Method: http.MethodDelete, Path: "/fields/{entity}/{key}", Tags: tags,
		Summary:       "Remove a custom field",
		Description:   "Deletes the definition; the values stay in the records' attributes, readable and free-form.",
		DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound}}),
		func(ctx context.Context, in *fieldKey) (*struct{}, error) {
			return nil, problem(crmOf(ctx).Fields.Remove(ctx, in.Entity, in.Key), false)
		})
}
