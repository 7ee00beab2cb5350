package crmhttp_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmhttp"
)

// The public pages need no login: the host mails a person the link of a
// signed token, and the page's form acts on it — here a double opt-in
// and then the preference centre.
func ExampleNew_publicPages() {
	ctx := context.Background()
	c, _ := crm.Open(ctx, crm.Config{DSN: ":memory:", Secret: []byte("a secret of at least thirty-two bytes")})
	defer c.Close()
	_ = c.Migrate(ctx)
	acme := c.Tenant("acme")
	_, _ = acme.Consent.DefinePurpose(ctx, consent.NewPurpose{Key: "newsletter", Label: "our newsletter",
		LegalBasis: consent.BasisConsent, Channels: []consent.Channel{consent.Email}, Wording: "Send me the newsletter."})
	ada, _ := acme.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})

	h, _ := crmhttp.New(c, crmhttp.Options{Auth: func(*http.Request) (string, core.Actor, error) {
		return "", core.Actor{}, errors.New("the host's login")
	}})
	mux := http.NewServeMux()
	mux.Handle("/crm/", http.StripPrefix("/crm", h))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// The confirmation link of a double opt-in: the GET asks, the POST confirms.
	optIn, _ := acme.Consent.RequestOptIn(ctx, ada.ID, "newsletter", consent.Email, consent.Proof{Source: "signup_form"})
	confirm := srv.URL + "/crm/public/confirm/" + optIn.Token
	res, _ := srv.Client().Get(confirm)
	res.Body.Close()
	fmt.Println("confirm page:", res.StatusCode, acme.Consent.Allowed(ctx, ada.ID, "newsletter", consent.Email) == nil)
	res, _ = srv.Client().PostForm(confirm, url.Values{"confirm": {"yes"}})
	res.Body.Close()
	fmt.Println("confirmed:", res.StatusCode, acme.Consent.Allowed(ctx, ada.ID, "newsletter", consent.Email) == nil)

	// The preference centre: every box the page showed, ticked or not.
	link, _ := acme.Consent.PreferencesToken(ctx, ada.ID)
	res, _ = srv.Client().PostForm(srv.URL+"/crm/public/preferences/"+link.Token, url.Values{"shown": {"newsletter:email"}})
	res.Body.Close()
	fmt.Println("preferences saved:", res.StatusCode, acme.Consent.Allowed(ctx, ada.ID, "newsletter", consent.Email) == nil)
	// Output:
	// confirm page: 200 false
	// confirmed: 200 true
	// preferences saved: 200 false
}
