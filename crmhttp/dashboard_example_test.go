package crmhttp_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmhttp"
)

// The dashboard's pages come with the handler, under /dashboard/ of the
// mount, behind the host's authentication; the actor's roles decide what
// they show.
func ExampleNew_dashboard() {
	ctx := context.Background()
	c, _ := crm.Open(ctx, crm.Config{DSN: ":memory:"})
	defer c.Close()
	_ = c.Migrate(ctx)
	acme := c.Tenant("acme")
	_, _ = acme.Access.Roles.InstallBuiltins(ctx)
	ada, _ := acme.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com", FirstName: "Ada"})

	h, _ := crmhttp.New(c, crmhttp.Options{Auth: func(r *http.Request) (string, core.Actor, error) {
		// The host's login: here a user named by a header, with one role.
		return "acme", core.Actor{ID: "user-1", Roles: []string{r.Header.Get("X-Role")}}, nil
	}})
	mux := http.NewServeMux()
	mux.Handle("/crm/", http.StripPrefix("/crm", h))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	h1 := regexp.MustCompile(`<h1>(.*)</h1>`)
	for _, try := range []struct{ role, page string }{
		{"admin", "/crm/dashboard/?from=2026-01-01&to=2026-02-01"},
		{"sales", "/crm/dashboard/"}, // sales reps read no reports
		{"admin", "/crm/dashboard/contacts/" + ada.ID.String()},
		{"marketing", "/crm/dashboard/contacts/" + ada.ID.String()}, // no personal data for marketing
	} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+try.page, nil)
		req.Header.Set("X-Role", try.role)
		res, _ := srv.Client().Do(req)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		fmt.Println(try.role, res.StatusCode, h1.FindStringSubmatch(string(b))[1], regexp.MustCompile(`ada@example\.com`).Match(b))
	}
	// Output:
	// admin 200 Overview false
	// sales 403 Not allowed false
	// admin 200 Ada true
	// marketing 200 Ada false
}
