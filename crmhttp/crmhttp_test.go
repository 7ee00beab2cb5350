package crmhttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/campaigns"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmhttp"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/mailtest"
	"github.com/crmkit/crmkit/internal/modules"
)

var migrated = &dbtest.Template{Name: "crm", Sources: modules.Migrations(), Migrate: func(ctx context.Context, db *bun.DB) error {
	c, err := crm.New(db, crm.Config{})
	if err != nil {
		return err
	}
	return c.Migrate(ctx)
}}

// auth is the host's authentication of the tests: the tenant in
// X-Tenant, the user in X-User with the roles in X-Roles (comma
// separated); no tenant is not authenticated.
func auth(r *http.Request) (string, core.Actor, error) {
	t := r.Header.Get("X-Tenant")
	if t == "" {
		return "", core.Actor{}, errors.New("no credentials")
	}
	a := core.Actor{ID: r.Header.Get("X-User")}
	if roles := r.Header.Get("X-Roles"); roles != "" {
		a.Roles = strings.Split(roles, ",")
	}
	return t, a, nil
}

type client struct {
	t      *testing.T
	crm    *crm.CRM
	srv    *httptest.Server
	router routers.Router
	doc    *openapi3.T
	tenant string
	seen   map[string]bool // operations exercised
}

// tenantCRM is the CRM of the client's tenant.
func (c *client) tenantCRM() *crm.CRM { return c.crm.Tenant(c.tenant) }

// do sends a request and checks the response against the OpenAPI
// document: its status is one the operation declares and its body fits
// the schema.
func (c *client) do(method, path string, body any, header map[string]string) (*http.Response, []byte) {
	c.t.Helper()
	if body == nil {
		return c.send(method, path, "", nil, header)
	}
	b, err := json.Marshal(body)
	require.NoError(c.t, err)
	return c.send(method, path, "application/json", b, header)
}

// send is do with a body of any content type.
func (c *client) send(method, path, contentType string, body []byte, header map[string]string) (*http.Response, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, c.srv.URL+path, rd)
	require.NoError(c.t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.tenant != "" {
		req.Header.Set("X-Tenant", c.tenant)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := c.srv.Client().Do(req)
	require.NoError(c.t, err)
	b, err := io.ReadAll(res.Body)
	require.NoError(c.t, err)
	res.Body.Close()
	if !strings.HasPrefix(path, "/public/") && !strings.HasPrefix(path, "/openapi") {
		route, params, err := c.router.FindRoute(req)
		require.NoError(c.t, err, "%s %s is not in the OpenAPI document", method, path)
		c.seen[route.Operation.OperationID] = true
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: res.StatusCode, Header: res.Header,
			Options: &openapi3filter.Options{IncludeResponseStatus: true}}
		out.SetBodyBytes(b)
		require.NoError(c.t, openapi3filter.ValidateResponse(context.Background(), out), "%s %s → %d %s", method, path, res.StatusCode, b)
	}
	return res, b
}

func setup(t *testing.T, db *bun.DB, cfg crm.Config) (*crm.CRM, *client) {
	t.Helper()
	ctx := context.Background()
	c, err := crm.New(db, cfg)
	require.NoError(t, err)
	require.NoError(t, c.Migrate(ctx))
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	h, err := crmhttp.New(c, crmhttp.Options{Auth: auth, MaxImportBytes: 1 << 20})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	res, err := srv.Client().Get(srv.URL + "/openapi.json")
	require.NoError(t, err)
	spec, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	res.Body.Close()
	doc, err := openapi3.NewLoader().LoadFromData(spec)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(ctx), "the OpenAPI document is valid")
	router, err := legacy.NewRouter(doc)
	require.NoError(t, err)
	return c, &client{t: t, crm: c, srv: srv, router: router, doc: doc, tenant: "acme", seen: map[string]bool{}}
}

// Every route of the OpenAPI document is walked: statuses and bodies fit
// the document, errors are RFC 9457 problems with every field problem,
// updates need If-Match (stale: 412), tenants see only their own.
func TestAPIRoutesMatchTheDocument(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		_, c := setup(t, db, crm.Config{})

		res, _ := c.do(http.MethodPost, "/contacts", contacts.NewContact{Email: "ada@example.com", FirstName: "Ada", Tags: []string{"vip"}}, nil)
		require.Equal(t, http.StatusCreated, res.StatusCode)
		etag := res.Header.Get("ETag")
		require.Equal(t, `"1"`, etag)
		res, b := c.do(http.MethodPost, "/contacts", contacts.NewContact{Email: "not-an-email", LifecycleStage: "astronaut"}, nil)
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
		require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
		var prob struct {
			Status int `json:"status"`
			Errors []struct {
				Location string `json:"location"`
			} `json:"errors"`
		}
		require.NoError(t, json.Unmarshal(b, &prob))
		require.Equal(t, 422, prob.Status)
		require.Len(t, prob.Errors, 2, string(b))
		res, _ = c.do(http.MethodPost, "/contacts", contacts.NewContact{Email: "ada@example.com"}, nil)
		require.Equal(t, http.StatusConflict, res.StatusCode)

		// Idempotency-Key: the same create twice is one contact, answered
		// the same; the key with another body is refused.
		key := map[string]string{"Idempotency-Key": "order-1042"}
		res, b = c.do(http.MethodPost, "/contacts", contacts.NewContact{Email: "once@example.com"}, key)
		require.Equal(t, http.StatusCreated, res.StatusCode, string(b))
		again, b2 := c.do(http.MethodPost, "/contacts", contacts.NewContact{Email: "once@example.com"}, key)
		require.Equal(t, http.StatusCreated, again.StatusCode, string(b2))
		require.Equal(t, string(b), string(b2))
		require.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
		require.Equal(t, res.Header.Get("ETag"), again.Header.Get("ETag"))
		res, _ = c.do(http.MethodPost, "/contacts", contacts.NewContact{Email: "other@example.com"}, key)
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
		res, _ = c.do(http.MethodPost, "/contacts", contacts.NewContact{Email: "x@example.com"}, map[string]string{"Idempotency-Key": "schlüssel"})
		require.Equal(t, http.StatusBadRequest, res.StatusCode)
		// Another tenant's keys are its own.
		c.tenant = "globex"
		res, _ = c.do(http.MethodPost, "/contacts", contacts.NewContact{Email: "once@example.com"}, key)
		require.Equal(t, http.StatusCreated, res.StatusCode)
		c.tenant = "acme"
		res, _ = c.do(http.MethodDelete, "/contacts/"+idOf(t, b), nil, nil)
		require.Equal(t, http.StatusNoContent, res.StatusCode)

		for range 3 {
			res, _ := c.do(http.MethodPost, "/contacts", contacts.NewContact{Email: "x" + core.NewID().String()[24:] + "@example.com"}, nil)
			require.Equal(t, http.StatusCreated, res.StatusCode)
		}
		f, err := json.Marshal(filter.Contains("tags", "vip"))
		require.NoError(t, err)
		res, b = c.do(http.MethodGet, "/contacts?filter="+url.QueryEscape(string(f)), nil, nil)
		require.Equal(t, http.StatusOK, res.StatusCode)
		var page struct {
			Items []contacts.Contact `json:"items"`
			Next  string             `json:"next"`
		}
		require.NoError(t, json.Unmarshal(b, &page))
		require.Len(t, page.Items, 1)
		ada := page.Items[0]
		res, b = c.do(http.MethodGet, "/contacts?limit=2", nil, nil)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.NoError(t, json.Unmarshal(b, &page))
		require.Len(t, page.Items, 2)
		require.NotEmpty(t, page.Next)
		res, b = c.do(http.MethodGet, "/contacts?limit=2&cursor="+url.QueryEscape(page.Next), nil, nil)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.NoError(t, json.Unmarshal(b, &page))
		require.Len(t, page.Items, 2)
		res, _ = c.do(http.MethodGet, "/contacts?cursor=forged", nil, nil)
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
		res, _ = c.do(http.MethodGet, "/contacts?filter="+url.QueryEscape(`{"field":"shoe_size","op":"eq","value":1}`), nil, nil)
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)

		id := ada.ID.String()
		res, _ = c.do(http.MethodGet, "/contacts/"+id, nil, nil)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Equal(t, etag, res.Header.Get("ETag"))
		res, _ = c.do(http.MethodGet, "/contacts/"+core.NewID().String(), nil, nil)
		require.Equal(t, http.StatusNotFound, res.StatusCode)

		name := "Augusta"
		res, _ = c.do(http.MethodPatch, "/contacts/"+id, map[string]any{"first_name": name}, nil)
		require.Equal(t, http.StatusPreconditionRequired, res.StatusCode)
		res, b = c.do(http.MethodPatch, "/contacts/"+id, map[string]any{"first_name": name}, map[string]string{"If-Match": etag})
		require.Equal(t, http.StatusOK, res.StatusCode, string(b))
		require.Equal(t, `"2"`, res.Header.Get("ETag"))
		res, _ = c.do(http.MethodPatch, "/contacts/"+id, map[string]any{"first_name": "Ada"}, map[string]string{"If-Match": etag})
		require.Equal(t, http.StatusPreconditionFailed, res.StatusCode, "stale")
		res, _ = c.do(http.MethodPatch, "/contacts/"+id, map[string]any{"first_name": "Ada"}, map[string]string{"If-Match": "soon"})
		require.Equal(t, http.StatusBadRequest, res.StatusCode)

		// Another tenant sees nothing of it.
		c.tenant = "globex"
		res, _ = c.do(http.MethodGet, "/contacts/"+id, nil, nil)
		require.Equal(t, http.StatusNotFound, res.StatusCode)
		res, _ = c.do(http.MethodDelete, "/contacts/"+id, nil, nil)
		require.Equal(t, http.StatusNotFound, res.StatusCode)
		c.tenant = ""
		res, _ = c.do(http.MethodGet, "/contacts/"+id, nil, nil)
		require.Equal(t, http.StatusUnauthorized, res.StatusCode)
		c.tenant = "acme"

		res, b = c.do(http.MethodGet, "/event-types", nil, nil)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Contains(t, string(b), `"contact.created"`)

		res, _ = c.do(http.MethodDelete, "/contacts/"+id, nil, nil)
		require.Equal(t, http.StatusNoContent, res.StatusCode)
		res, _ = c.do(http.MethodGet, "/contacts/"+id, nil, nil)
		require.Equal(t, http.StatusNotFound, res.StatusCode)

		walkRecords(t, c)
		walkCampaigns(t, c)
		walkTickets(t, c)
		walkConsent(t, c)
		walkAutomation(t, c)
		walkTimeline(t, c)
		walkAnalytics(t, c)
		walkFields(t, c)
		walkAccess(t, c)
		walkImports(t, c)

		// Every operation of the document was walked.
		for path, item := range c.doc.Paths.Map() {
			for method, op := range item.Operations() {
				require.True(t, c.seen[op.OperationID], "%s %s (%s) was not walked", method, path, op.OperationID)
			}
		}
	})
}

// The public routes: unsubscribing asks first on GET and acts on POST
// (RFC 8058 one-click), tracking links redirect and count, forged tokens
// are refused, and a client that floods them is slowed down.
func TestPublicRoutes(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		srv := mailtest.Start(t)
		c, api := setup(t, db, crm.Config{Campaigns: campaigns.Options{
			Mailer:         &campaigns.SMTP{Host: srv.Host, Port: srv.Port, TLS: "none"},
			UnsubscribeURL: "https://shop.example/crm/public/unsubscribe", TrackingURL: "https://shop.example/crm/public/t"}})
		acme := c.Tenant("acme")
		_, err := acme.Consent.DefinePurpose(ctx, consent.NewPurpose{Key: "newsletter", Label: "the Acme newsletter",
			LegalBasis: consent.BasisConsent, Channels: []consent.Channel{consent.Email}, Wording: "Yes"})
		require.NoError(t, err)
		ada, err := acme.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com", Tags: []string{"news"}})
		require.NoError(t, err)
		_, err = acme.Consent.Grant(ctx, ada.ID, "newsletter", consent.Email, consent.Proof{Source: "form"})
		require.NoError(t, err)
		seg, err := acme.Segments.Create(ctx, campaigns.NewSegment{Name: "News", Filter: filter.Contains("tags", "news")})
		require.NoError(t, err)
		tmpl, err := acme.Templates.Create(ctx, campaigns.NewTemplate{Name: "N", Subject: "News",
			HTML: `<p><a href="https://acme.example/sale">Sale</a> <a href="{{.UnsubscribeURL}}">Unsubscribe</a></p>`})
		require.NoError(t, err)
		camp, err := acme.Campaigns.Create(ctx, campaigns.NewCampaign{Name: "N", SegmentID: seg.ID, TemplateID: tmpl.ID, Purpose: "newsletter",
			FromAddress: "news@acme.example"})
		require.NoError(t, err)
		require.NoError(t, c.Start(ctx))
		_, err = acme.Campaigns.Start(ctx, camp.ID, camp.Version)
		require.NoError(t, err)
		require.Eventually(t, func() bool { return len(srv.To(ada.Email)) == 1 }, 10*time.Second, 10*time.Millisecond)
		p, err := srv.To(ada.Email)[0].Parse()
		require.NoError(t, err)
		local := func(u string) string { return strings.TrimPrefix(u, "https://shop.example/crm") }
		unsub := strings.Trim(strings.Split(p.Header.Get("List-Unsubscribe"), ",")[0], "<>")
		var click, pixel string
		for _, m := range strings.Split(p.HTML, `"`) {
			switch {
			case strings.HasPrefix(m, "https://shop.example/crm/public/t/c/"):
				click = m
			case strings.HasPrefix(m, "https://shop.example/crm/public/t/o/"):
				pixel = m
			}
		}
		require.NotEmpty(t, click)
		require.NotEmpty(t, pixel)

		// The page asks, and changes nothing.
		res, b := api.do(http.MethodGet, local(unsub), nil, nil)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Contains(t, string(b), "Stop receiving the Acme newsletter?")
		require.NoError(t, acme.Consent.Allowed(ctx, ada.ID, "newsletter", consent.Email))
		// A scanner following the link with a HEAD, the tracked link once:
		// redirected, not counted as a person.
		req, err := http.NewRequest(http.MethodHead, api.srv.URL+local(click), nil)
		require.NoError(t, err)
		noRedirect := *api.srv.Client()
		noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		res, err = noRedirect.Do(req)
		require.NoError(t, err)
		require.Equal(t, http.StatusFound, res.StatusCode)
		require.Equal(t, "https://acme.example/sale", res.Header.Get("Location"))
		res, b = api.do(http.MethodGet, local(pixel), nil, nil)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Equal(t, "image/gif", res.Header.Get("Content-Type"))
		require.True(t, bytes.HasPrefix(b, []byte("GIF89a")))

		// RFC 8058: POST List-Unsubscribe=One-Click.
		req, err = http.NewRequest(http.MethodPost, api.srv.URL+local(unsub), strings.NewReader("List-Unsubscribe=One-Click"))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err = api.srv.Client().Do(req)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.ErrorIs(t, acme.Consent.Allowed(ctx, ada.ID, "newsletter", consent.Email), core.ErrNoConsent)

		// Forged or altered tokens.
		for _, path := range []string{"/public/unsubscribe/forged", local(unsub) + "x", "/public/t/c/forged", local(click)[:len(local(click))-3] + "AAA"} {
			res, _ := api.do(http.MethodGet, path, nil, nil)
			require.Equal(t, http.StatusNotFound, res.StatusCode, path)
		}

		// A flood from one address is slowed down.
		limited := 0
		for range 40 {
			res, _ := api.do(http.MethodGet, "/public/unsubscribe/forged", nil, nil)
			if res.StatusCode == http.StatusTooManyRequests {
				limited++
			}
		}
		require.Greater(t, limited, 0)
	})
}

// walkRecords walks the routes of companies, tasks, notes, deals and
// pipelines: create, list, get, update (stale: 412), delete.
func walkRecords(t *testing.T, c *client) {
	t.Helper()
	decode := func(b []byte) map[string]any {
		var m map[string]any
		require.NoError(t, json.Unmarshal(b, &m), string(b))
		return m
	}
	res, b := c.do(http.MethodPost, "/companies", map[string]any{"name": "Acme", "domain": "acme.example"}, nil)
	require.Equal(t, http.StatusCreated, res.StatusCode, string(b))
	company := decode(b)["id"].(string)
	res, _ = c.do(http.MethodPost, "/companies", map[string]any{"name": ""}, nil)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	res, b = c.do(http.MethodGet, "/companies", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, string(b), "acme.example")
	res, _ = c.do(http.MethodGet, "/companies/"+company, nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, _ = c.do(http.MethodPatch, "/companies/"+company, map[string]any{"name": "Acme Ltd"}, map[string]string{"If-Match": `"1"`})
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, _ = c.do(http.MethodPatch, "/companies/"+company, map[string]any{"name": "Acme"}, map[string]string{"If-Match": `"1"`})
	require.Equal(t, http.StatusPreconditionFailed, res.StatusCode)

	res, b = c.do(http.MethodPost, "/contacts", contacts.NewContact{Email: "grace@example.com"}, nil)
	require.Equal(t, http.StatusCreated, res.StatusCode)
	contact := decode(b)["id"].(string)

	res, b = c.do(http.MethodPost, "/deals", map[string]any{"title": "Renewal", "amount": map[string]any{"amount": "1200", "currency": "EUR"},
		"contact_id": contact, "company_id": company}, nil)
	require.Equal(t, http.StatusCreated, res.StatusCode, string(b))
	deal := decode(b)
	res, b = c.do(http.MethodGet, "/pipelines", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	var pipelines []struct {
		Stages []struct {
			ID   string `json:"id"`
			Kind string `json:"kind"`
		} `json:"stages"`
	}
	require.NoError(t, json.Unmarshal(b, &pipelines))
	require.NotEmpty(t, pipelines)
	res, b = c.do(http.MethodPost, "/deals/"+deal["id"].(string)+"/stage", map[string]any{"stage_id": pipelines[0].Stages[1].ID},
		map[string]string{"If-Match": `"1"`})
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	require.Equal(t, `"2"`, res.Header.Get("ETag"))
	res, _ = c.do(http.MethodPatch, "/deals/"+deal["id"].(string), map[string]any{"title": "Renewal 2027"}, map[string]string{"If-Match": `"2"`})
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, _ = c.do(http.MethodGet, "/deals?limit=10", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, _ = c.do(http.MethodGet, "/deals/"+deal["id"].(string), nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)

	res, b = c.do(http.MethodPost, "/tasks", map[string]any{"title": "Call Grace", "contact_id": contact, "deal_id": deal["id"],
		"priority": "high", "due_at": "2027-01-05T09:00:00Z"}, nil)
	require.Equal(t, http.StatusCreated, res.StatusCode, string(b))
	task := decode(b)["id"].(string)
	res, _ = c.do(http.MethodPost, "/tasks", map[string]any{"title": "x", "priority": "someday"}, nil)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	res, _ = c.do(http.MethodGet, "/tasks", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, _ = c.do(http.MethodGet, "/tasks/"+task, nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, _ = c.do(http.MethodPatch, "/tasks/"+task, map[string]any{"clear_due_at": true}, map[string]string{"If-Match": `"1"`})
	require.Equal(t, http.StatusOK, res.StatusCode)

	// A user's permissions apply: without a role, nothing; a sales rep
	// writes notes.
	res, _ = c.do(http.MethodPost, "/notes", map[string]any{"contact_id": contact, "body": "Prefers mornings"}, map[string]string{"X-User": "rep-1"})
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	_, err := c.tenantCRM().Access.Roles.InstallBuiltins(context.Background())
	require.NoError(t, err)
	res, b = c.do(http.MethodPost, "/notes", map[string]any{"contact_id": contact, "body": "Prefers mornings"},
		map[string]string{"X-User": "rep-1", "X-Roles": "admin"})
	require.Equal(t, http.StatusCreated, res.StatusCode, string(b))
	note := decode(b)["id"].(string)
	res, _ = c.do(http.MethodGet, "/notes", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, _ = c.do(http.MethodGet, "/notes/"+note, nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, _ = c.do(http.MethodPatch, "/notes/"+note, map[string]any{"pinned": true}, map[string]string{"If-Match": `"1"`})
	require.Equal(t, http.StatusOK, res.StatusCode)

	for _, path := range []string{"/notes/" + note, "/tasks/" + task, "/deals/" + deal["id"].(string), "/companies/" + company} {
		res, _ := c.do(http.MethodDelete, path, nil, nil)
		require.Equal(t, http.StatusNoContent, res.StatusCode, path)
		res, _ = c.do(http.MethodGet, path, nil, nil)
		require.Equal(t, http.StatusNotFound, res.StatusCode, path)
	}
}

// walkCampaigns walks the routes of segments, templates and campaigns
// (this CRM has no mailer: starting is refused with the reason).
func walkCampaigns(t *testing.T, c *client) {
	t.Helper()
	id := func(b []byte) string {
		var m struct {
			ID string `json:"id"`
		}
		require.NoError(t, json.Unmarshal(b, &m), string(b))
		return m.ID
	}
	f := filter.Contains("tags", "vip")
	res, b := c.do(http.MethodPost, "/segments", map[string]any{"name": "VIPs", "filter": f}, nil)
	require.Equal(t, http.StatusCreated, res.StatusCode, string(b))
	seg := id(b)
	res, b = c.do(http.MethodPost, "/segments", map[string]any{"name": "Spare", "filter": f}, nil)
	require.Equal(t, http.StatusCreated, res.StatusCode, string(b))
	spare := id(b)
	res, _ = c.do(http.MethodPost, "/segments", map[string]any{"name": "Bad", "filter": filter.Eq("shoe_size", 42)}, nil)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	res, _ = c.do(http.MethodGet, "/segments", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, _ = c.do(http.MethodGet, "/segments/"+seg, nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, _ = c.do(http.MethodPatch, "/segments/"+seg, map[string]any{"tracked": true}, map[string]string{"If-Match": `"1"`})
	require.Equal(t, http.StatusOK, res.StatusCode)

	res, b = c.do(http.MethodPost, "/templates", map[string]any{"name": "News", "subject": "News", "html": "<p>Hi {{.Contact.FirstName}}</p>"}, nil)
	require.Equal(t, http.StatusCreated, res.StatusCode, string(b))
	tmpl := id(b)
	res, b = c.do(http.MethodPost, "/templates", map[string]any{"name": "Spare", "subject": "S", "html": "<p>x</p>"}, nil)
	require.Equal(t, http.StatusCreated, res.StatusCode, string(b))
	spareTmpl := id(b)
	res, _ = c.do(http.MethodPost, "/templates", map[string]any{"name": "Bad", "subject": "{{.Contact.Nickname}}", "html": "<p>x</p>"}, nil)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	res, _ = c.do(http.MethodGet, "/templates", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, _ = c.do(http.MethodGet, "/templates/"+tmpl, nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, _ = c.do(http.MethodPatch, "/templates/"+tmpl, map[string]any{"subject": "News!"}, map[string]string{"If-Match": `"1"`})
	require.Equal(t, http.StatusOK, res.StatusCode)

	res, _ = c.do(http.MethodPost, "/campaigns", map[string]any{"name": "News", "segment_id": seg, "template_id": tmpl,
		"purpose": "newsletter", "from_address": "news@acme.example"}, nil)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, "no such purpose")
	cr := c.tenantCRM()
	_, err := cr.Consent.DefinePurpose(context.Background(), consent.NewPurpose{Key: "newsletter", Label: "News", LegalBasis: consent.BasisConsent,
		Channels: []consent.Channel{consent.Email}, Wording: "Yes"})
	require.NoError(t, err)
	res, b = c.do(http.MethodPost, "/campaigns", map[string]any{"name": "News", "segment_id": seg, "template_id": tmpl,
		"purpose": "newsletter", "from_address": "news@acme.example"}, nil)
	require.Equal(t, http.StatusCreated, res.StatusCode, string(b))
	camp := id(b)
	res, _ = c.do(http.MethodGet, "/campaigns", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, _ = c.do(http.MethodGet, "/campaigns/"+camp, nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, b = c.do(http.MethodPost, "/campaigns/"+camp+"/start", nil, map[string]string{"If-Match": `"1"`})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, "no mailer")
	require.Contains(t, string(b), "mailer")
	for _, verb := range []string{"pause", "resume"} {
		res, _ := c.do(http.MethodPost, "/campaigns/"+camp+"/"+verb, nil, map[string]string{"If-Match": `"1"`})
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, "a draft cannot be %sd", verb)
	}
	res, _ = c.do(http.MethodPost, "/campaigns/"+camp+"/cancel", nil, map[string]string{"If-Match": `"1"`})
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, b = c.do(http.MethodGet, "/campaigns/"+camp+"/stats", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))

	res, _ = c.do(http.MethodDelete, "/templates/"+tmpl, nil, nil)
	require.Equal(t, http.StatusConflict, res.StatusCode, "in use")
	res, _ = c.do(http.MethodDelete, "/segments/"+seg, nil, nil)
	require.Equal(t, http.StatusConflict, res.StatusCode, "in use")
	res, _ = c.do(http.MethodDelete, "/templates/"+spareTmpl, nil, nil)
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	res, _ = c.do(http.MethodDelete, "/segments/"+spare, nil, nil)
	require.Equal(t, http.StatusNoContent, res.StatusCode)
}

// walkTickets walks the routes of tickets: create with a first message,
// list, get, update, status (a refused change is 422), assignment,
// messages.
func walkTickets(t *testing.T, c *client) {
	t.Helper()
	res, b := c.do(http.MethodPost, "/contacts", contacts.NewContact{Email: "help@example.com"}, nil)
	require.Equal(t, http.StatusCreated, res.StatusCode, string(b))
	var contact struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(b, &contact))
	res, b = c.do(http.MethodPost, "/tickets", map[string]any{"subject": "Cannot log in", "contact_id": contact.ID, "channel": "web",
		"message": map[string]any{"author_kind": "customer", "body": "The login page says no.", "public": true}}, nil)
	require.Equal(t, http.StatusCreated, res.StatusCode, string(b))
	var ticket struct {
		ID     string `json:"id"`
		Number int64  `json:"number"`
	}
	require.NoError(t, json.Unmarshal(b, &ticket))
	require.Positive(t, ticket.Number)
	res, _ = c.do(http.MethodPost, "/tickets", map[string]any{"subject": "", "contact_id": core.NewID().String()}, nil)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	res, _ = c.do(http.MethodGet, "/tickets", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, _ = c.do(http.MethodGet, "/tickets/"+ticket.ID, nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	etag := res.Header.Get("ETag")
	res, b = c.do(http.MethodPatch, "/tickets/"+ticket.ID, map[string]any{"priority": "high"}, map[string]string{"If-Match": etag})
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	etag = res.Header.Get("ETag")
	res, _ = c.do(http.MethodPost, "/tickets/"+ticket.ID+"/status", map[string]any{"status": "pending"}, map[string]string{"If-Match": etag})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, "pending needs a reminder time")
	res, b = c.do(http.MethodPost, "/tickets/"+ticket.ID+"/status", map[string]any{"status": "open"}, map[string]string{"If-Match": etag})
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	etag = res.Header.Get("ETag")
	res, b = c.do(http.MethodPost, "/tickets/"+ticket.ID+"/assignment", map[string]any{"assignee_id": "agent-1"}, map[string]string{"If-Match": etag})
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	res, b = c.do(http.MethodPost, "/tickets/"+ticket.ID+"/messages", map[string]any{"author_kind": "agent", "author_id": "agent-1",
		"body": "Try again now.", "public": true}, nil)
	require.Equal(t, http.StatusCreated, res.StatusCode, string(b))
	res, b = c.do(http.MethodGet, "/tickets/"+ticket.ID+"/messages", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	var msgs []map[string]any
	require.NoError(t, json.Unmarshal(b, &msgs))
	require.Len(t, msgs, 2)
	res, _ = c.do(http.MethodGet, "/tickets/"+core.NewID().String()+"/messages", nil, nil)
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	walkTicketServices(t, c)
}

// walkConsent walks the routes of consent: a purpose, a grant and a
// withdrawal with proof, the log, the subject access export and erasure.
func walkConsent(t *testing.T, c *client) {
	t.Helper()
	res, b := c.do(http.MethodPost, "/purposes", map[string]any{"key": "offers", "label": "Offers", "legal_basis": "consent",
		"channels": []string{"email"}, "wording": "Send me offers."}, nil)
	require.Equal(t, http.StatusCreated, res.StatusCode, string(b))
	res, _ = c.do(http.MethodPost, "/purposes", map[string]any{"key": "Bad Key", "label": "", "legal_basis": "whim"}, nil)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	res, _ = c.do(http.MethodGet, "/purposes/offers", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, _ = c.do(http.MethodGet, "/purposes/nope", nil, nil)
	require.Equal(t, http.StatusNotFound, res.StatusCode)

	res, b = c.do(http.MethodPost, "/contacts", contacts.NewContact{Email: "linus@example.com", FirstName: "Linus"}, nil)
	require.Equal(t, http.StatusCreated, res.StatusCode, string(b))
	var ct struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(b, &ct))
	change := map[string]any{"purpose": "offers", "channel": "email", "source": "form"}
	res, b = c.do(http.MethodPost, "/contacts/"+ct.ID+"/consent/grant", change, map[string]string{"User-Agent": "Mozilla/5.0"})
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	res, _ = c.do(http.MethodPost, "/contacts/"+ct.ID+"/consent/grant", map[string]any{"purpose": "nope", "channel": "email", "source": "form"}, nil)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	res, b = c.do(http.MethodPost, "/contacts/"+ct.ID+"/consent/withdraw", change, nil)
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	res, b = c.do(http.MethodGet, "/contacts/"+ct.ID+"/consent", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, 2, strings.Count(string(b), `"purpose":"offers"`), string(b))
	res, b = c.do(http.MethodGet, "/contacts/"+ct.ID+"/export", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, string(b), "linus@example.com")
	res, b = c.do(http.MethodPost, "/contacts/"+ct.ID+"/erase", map[string]any{"reason": "request"}, nil)
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	res, _ = c.do(http.MethodPost, "/contacts/"+ct.ID+"/erase", map[string]any{"reason": "request"}, nil)
	require.Equal(t, http.StatusConflict, res.StatusCode, "erased already")
	res, b = c.do(http.MethodGet, "/contacts/"+ct.ID+"/export", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.NotContains(t, string(b), "linus@example.com")
	res, _ = c.do(http.MethodGet, "/contacts/"+core.NewID().String()+"/export", nil, nil)
	require.Equal(t, http.StatusNotFound, res.StatusCode)
}

// idOf is the id of a record in a JSON body.
func idOf(t *testing.T, b []byte) string {
	t.Helper()
	var m struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(b, &m), string(b))
	return m.ID
}

// walkAutomation walks the routes of rules and webhooks.
func walkAutomation(t *testing.T, c *client) {
	t.Helper()
	rule := map[string]any{"name": "Tag VIPs", "enabled": true, "triggers": []string{"contact.created"},
		"condition": map[string]any{"event": map[string]any{"field": "data.email", "op": "contains", "value": "@vip.example"}},
		"actions":   []any{map[string]any{"type": "add_tag", "tag": "vip"}}}
	res, b := c.do(http.MethodPost, "/rules", rule, nil)
	require.Equal(t, http.StatusCreated, res.StatusCode, string(b))
	id := idOf(t, b)
	res, _ = c.do(http.MethodPost, "/rules", map[string]any{"name": "x", "triggers": []string{"contact.creatd"}, "actions": []any{}}, nil)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, "a misspelt trigger")
	res, _ = c.do(http.MethodGet, "/rules", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, _ = c.do(http.MethodGet, "/rules/"+id, nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	rule["name"] = "Tag the VIPs"
	res, b = c.do(http.MethodPatch, "/rules/"+id, rule, map[string]string{"If-Match": res.Header.Get("ETag")})
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	res, _ = c.do(http.MethodDelete, "/rules/"+id, nil, nil)
	require.Equal(t, http.StatusNoContent, res.StatusCode)

	res, b = c.do(http.MethodPost, "/webhooks", map[string]any{"url": "https://1.1.1.1/hook", "event_types": []string{"deal.*"}}, nil)
	require.Equal(t, http.StatusCreated, res.StatusCode, string(b))
	hook := idOf(t, b)
	res, _ = c.do(http.MethodPost, "/webhooks", map[string]any{"url": "http://127.0.0.1/hook"}, nil)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, "loopback")
	res, _ = c.do(http.MethodGet, "/webhooks", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, _ = c.do(http.MethodGet, "/webhooks/"+hook, nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, b = c.do(http.MethodPatch, "/webhooks/"+hook, map[string]any{"url": "https://1.0.0.1/hook"}, map[string]string{"If-Match": res.Header.Get("ETag")})
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	res, _ = c.do(http.MethodDelete, "/webhooks/"+hook, nil, nil)
	require.Equal(t, http.StatusNoContent, res.StatusCode)
}

// walkTimeline walks tracking, the timeline and search.
func walkTimeline(t *testing.T, c *client) {
	t.Helper()
	res, b := c.do(http.MethodPost, "/contacts", contacts.NewContact{Email: "grete@example.com", FirstName: "Grete"}, nil)
	require.Equal(t, http.StatusCreated, res.StatusCode, string(b))
	id := idOf(t, b)
	res, b = c.do(http.MethodPost, "/contacts/"+id+"/activities", map[string]any{"kind": "purchase", "name": "order",
		"purchase": map[string]any{"order_id": "o-1", "total": map[string]any{"amount": "49.90", "currency": "EUR"}}}, nil)
	require.Equal(t, http.StatusCreated, res.StatusCode, string(b))
	res, _ = c.do(http.MethodPost, "/contacts/"+id+"/activities", map[string]any{"kind": "purchase"}, nil)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, "a purchase needs its order")
	res, _ = c.do(http.MethodPost, "/contacts/"+core.NewID().String()+"/activities", map[string]any{"kind": "web", "name": "x"}, nil)
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	res, b = c.do(http.MethodGet, "/contacts/"+id+"/timeline?limit=10", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, string(b), `"o-1"`)
	res, b = c.do(http.MethodGet, "/search?q=grete", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, string(b), id)
}

// walkAnalytics walks the dashboard and the funnel.
func walkAnalytics(t *testing.T, c *client) {
	t.Helper()
	today := core.DateOf(time.Now().UTC())
	q := "?from=" + today.String() + "&to=" + today.AddDays(1).String()
	res, b := c.do(http.MethodGet, "/analytics/dashboard"+q, nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	require.Contains(t, string(b), `"new_contacts"`)
	res, _ = c.do(http.MethodGet, "/analytics/dashboard?from=yesterday&to=today", nil, nil)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	res, b = c.do(http.MethodGet, "/analytics/funnel"+q, nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	require.Contains(t, string(b), `"stage":"lead"`)
	res, _ = c.do(http.MethodGet, "/analytics/funnel?from="+today.String()+"&to="+today.String(), nil, nil)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	walkServiceReports(t, c)
}
