package crmhttp

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/tickets"
)

// newArticle is the body of POST /articles.
type newArticle struct {
	Title    string `json:"title"`
	Body     string `json:"body,omitempty" doc:"Markdown or plain text; required to publish."`
	Category string `json:"category,omitempty" doc:"A code (lower-case letters, digits and _)."`
	Locale   string `json:"locale" doc:"A BCP 47 language tag, e.g. en or de-CH."`
	AuthorID string `json:"author_id,omitempty" doc:"The author's user id, for the host's own code; a user's call is theirs."`
}

// articlePatch is the body of PATCH /articles/{id}.
type articlePatch struct {
	Title    *string `json:"title,omitempty"`
	Body     *string `json:"body,omitempty"`
	Category *string `json:"category,omitempty" doc:"Empty clears it."`
	Locale   *string `json:"locale,omitempty"`
}

// registerKnowledgeBase registers the knowledge base: articles, their
// publication, search and suggestions for a ticket.
func registerKnowledgeBase(api huma.API) {
	tag := "knowledge base"
	tags := []string{tag}
	huma.Register(api, common(huma.Operation{OperationID: "list-articles", Method: http.MethodGet, Path: "/articles", Tags: tags,
		Summary: "List articles",
		Description: "One page of the knowledge base's articles, newest change first unless sorted otherwise. Readers who may not " +
			"write the knowledge base (tickets manage) see published articles only.",
		Errors: []int{http.StatusUnprocessableEntity}}),
		func(ctx context.Context, in *struct {
			Status   tickets.ArticleStatus `query:"status" doc:"draft or published; none: both."`
			Category string                `query:"category" doc:"A category (a code)."`
			Locale   string                `query:"locale" doc:"A language (de: every locale of it) or a locale (de-CH: exactly it)."`
			Sort     string                `query:"sort" doc:"title, created_at or updated_at; - for descending (default -updated_at)."`
			Limit    int                   `query:"limit" minimum:"0" maximum:"1000" doc:"Page size (default 50)."`
			Cursor   string                `query:"cursor" doc:"The next of the previous page."`
		}) (*listPage[*tickets.Article], error) {
			p, err := crmOf(ctx).KnowledgeBase.List(ctx, tickets.ArticleListOptions{Status: in.Status, Category: in.Category,
				Locale: in.Locale, Sort: in.Sort, Limit: in.Limit, Cursor: in.Cursor})
			if err != nil {
				return nil, inQuery(err, map[string]string{"status": "status", "category": "category", "locale": "locale"})
			}
			out := &listPage[*tickets.Article]{}
			out.Body.Items, out.Body.Next = p.Items, p.Next
			if out.Body.Items == nil {
				out.Body.Items = []*tickets.Article{}
			}
			return out, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "create-article", Method: http.MethodPost, Path: "/articles", Tags: tags,
		Summary: "Create an article", Description: "A draft article; publish it for readers and search.", DefaultStatus: http.StatusCreated,
		Errors: []int{http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity}}),
		func(ctx context.Context, in *struct {
			IdempotencyKey string `header:"Idempotency-Key" maxLength:"200" doc:"Sent again with the same key and body, the create answers as the first time (kept 24 hours)."`
			Body           newArticle
		}) (*one[*tickets.Article], error) {
			b := in.Body
			return versionedAnswer(crmOf(ctx).KnowledgeBase.Create(ctx, tickets.NewArticle{Title: b.Title, Body: b.Body, Category: b.Category,
				Locale: b.Locale, AuthorID: b.AuthorID}))
		})
	huma.Register(api, common(huma.Operation{OperationID: "get-article", Method: http.MethodGet, Path: "/articles/{id}", Tags: tags,
		Summary: "Get an article", Description: "The article, with its version as ETag; a draft only for those who may write the knowledge base.",
		Errors: []int{http.StatusNotFound}}),
		func(ctx context.Context, in *idInput) (*one[*tickets.Article], error) {
			return versionedAnswer(crmOf(ctx).KnowledgeBase.Get(ctx, in.ID))
		})
	huma.Register(api, common(huma.Operation{OperationID: "update-article", Method: http.MethodPatch, Path: "/articles/{id}", Tags: tags,
		Summary:     "Update an article",
		Description: "Changes the fields given, if If-Match still names the article's version (else 412). A published article stays published.",
		Errors:      changeErrors}),
		func(ctx context.Context, in *struct {
			ID      core.ID `path:"id" doc:"The record's id."`
			IfMatch string  `header:"If-Match" doc:"The version read (the ETag of GET)."`
			Body    articlePatch
		}) (*one[*tickets.Article], error) {
			v, err := versionOf(in.IfMatch)
			if err != nil {
				return nil, err
			}
			p := in.Body
			a, err := crmOf(ctx).KnowledgeBase.Update(ctx, in.ID, tickets.ArticlePatch{Version: v, Title: p.Title, Body: p.Body,
				Category: p.Category, Locale: p.Locale})
			if err != nil {
				return nil, problem(err, true)
			}
			return &one[*tickets.Article]{ETag: etag(a.Version), Body: a}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "delete-article", Method: http.MethodDelete, Path: "/articles/{id}", Tags: tags,
		Summary: "Delete an article", Description: "Deletes the article, if If-Match still names its version (else 412).",
		DefaultStatus: http.StatusNoContent, Errors: changeErrors}),
		func(ctx context.Context, in *versionedID) (*struct{}, error) {
			v, err := versionOf(in.IfMatch)
			if err != nil {
				return nil, err
			}
			return nil, problem(crmOf(ctx).KnowledgeBase.Delete(ctx, in.ID, v), true)
		})
	for _, op := range []struct {
		verb, summary, doc string
		publish            bool
	}{{"publish", "Publish an article", "Makes the article visible to readers and search (an article without a body is 422).", true},
		{"unpublish", "Unpublish an article", "Takes the article back to draft: readers and search no longer find it.", false}} {
		huma.Register(api, common(huma.Operation{OperationID: op.verb + "-article", Method: http.MethodPost, Path: "/articles/{id}/" + op.verb,
			Tags: tags, Summary: op.summary, Description: op.doc + " If-Match must still name the article's version (else 412).",
			Errors: changeErrors}),
			func(ctx context.Context, in *versionedID) (*one[*tickets.Article], error) {
				v, err := versionOf(in.IfMatch)
				if err != nil {
					return nil, err
				}
				kb := crmOf(ctx).KnowledgeBase
				change := kb.Unpublish
				if op.publish {
					change = kb.Publish
				}
				a, err := change(ctx, in.ID, v)
				if err != nil {
					return nil, problem(err, true)
				}
				return &one[*tickets.Article]{ETag: etag(a.Version), Body: a}, nil
			})
	}
	huma.Register(api, common(huma.Operation{OperationID: "search-articles", Method: http.MethodGet, Path: "/articles/search", Tags: tags,
		Summary: "Search the knowledge base",
		Description: "The published articles that have every word of q (each also as the beginning of a longer word), best first, " +
			"at most 20. Case, umlaut spellings and word endings do not matter.",
		Errors: []int{http.StatusUnprocessableEntity}}),
		func(ctx context.Context, in *struct {
			Q      string `query:"q" doc:"Words to find."`
			Locale string `query:"locale" doc:"A language (de: every locale of it) or a locale (de-CH: exactly it); none: all."`
		}) (*struct{ Body []tickets.ArticleHit }, error) {
			hits, err := crmOf(ctx).KnowledgeBase.Search(ctx, in.Q, in.Locale)
			if err != nil {
				return nil, inQuery(err, map[string]string{"query": "q", "locale": "locale"})
			}
			if hits == nil {
				hits = []tickets.ArticleHit{}
			}
			return &struct{ Body []tickets.ArticleHit }{Body: hits}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "suggest-ticket-articles", Method: http.MethodGet, Path: "/tickets/{id}/articles",
		Tags: []string{"tickets", tag}, Summary: "Articles for a ticket",
		Description: "The published articles that best match the ticket's subject and first customer message, best first: what an " +
			"agent may send, or a customer may read first.",
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity}}),
		func(ctx context.Context, in *struct {
			ID    core.ID `path:"id" doc:"The ticket's id."`
			Limit int     `query:"limit" minimum:"0" maximum:"50" doc:"How many (default 5)."`
		}) (*struct{ Body []tickets.ArticleHit }, error) {
			c := crmOf(ctx)
			subject, body, err := firstRequest(ctx, c, in.ID)
			if err != nil {
				return nil, problem(err, false)
			}
			n := in.Limit
			if n == 0 {
				n = 5
			}
			hits, err := c.KnowledgeBase.SuggestArticles(ctx, subject, body, n)
			if err != nil {
				return nil, problem(err, false)
			}
			if hits == nil {
				hits = []tickets.ArticleHit{}
			}
			return &struct{ Body []tickets.ArticleHit }{Body: hits}, nil
		})
}
