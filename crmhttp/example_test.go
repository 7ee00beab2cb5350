package crmhttp_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmhttp"
)

// The host mounts the API under a prefix, with its own authentication.
func ExampleNew() {
	ctx := context.Background()
	c, _ := crm.Open(ctx, crm.Config{DSN: ":memory:"})
	defer c.Close()
	_ = c.Migrate(ctx)
	_, _ = c.Tenant("acme").Access.Roles.InstallBuiltins(ctx) // admin, manager, sales, …

	h, _ := crmhttp.New(c, crmhttp.Options{Auth: func(r *http.Request) (string, core.Actor, error) {
		if r.Header.Get("Authorization") != "Bearer secret" {
			return "", core.Actor{}, fmt.Errorf("not logged in")
		}
		return "acme", core.Actor{ID: "user-1", Roles: []string{"sales"}}, nil
	}})
	mux := http.NewServeMux()
	mux.Handle("/crm/", http.StripPrefix("/crm", h))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/crm/contacts", strings.NewReader(`{"email": "ada@example.com"}`))
	req.Header.Set("Authorization", "Bearer secret")
	req.Header.Set("Content-Type", "application/json")
	res, _ := srv.Client().Do(req)
	fmt.Println(res.StatusCode, res.Header.Get("ETag"))
	res.Body.Close()

	res, _ = srv.Client().Get(srv.URL + "/crm/contacts")
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(res.StatusCode, strings.Contains(string(b), "not authenticated"))
	// Output:
	// 201 "1"
	// 401 true
}
