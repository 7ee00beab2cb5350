package crmhttp_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
)

// historyLen is how many consent records the contact has.
func historyLen(t *testing.T, c *crm.CRM, id core.ID) int {
	t.Helper()
	h, err := c.Consent.History(context.Background(), id)
	require.NoError(t, err)
	return len(h)
}

// The double opt-in link: the GET page shows what is confirmed and
// changes nothing; the POST of its form confirms (with the proof's
// address, the host recording it) and thanks; a second POST says it was
// done and writes nothing; forged, altered, foreign, expired links and
// forms that are not the page's are refused with 4xx pages.
func TestPublicConfirm(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		b := setupPublic(t, db, crm.Config{RecordNetworkDetails: true})
		acme, globex := b.c.Tenant("acme"), b.c.Tenant("globex")
		for _, c := range []*crm.CRM{acme, globex} {
			_, err := c.Consent.DefinePurpose(ctx, consent.NewPurpose{Key: "newsletter", Label: "the Acme newsletter",
				LegalBasis: consent.BasisConsent, Channels: []consent.Channel{consent.Email}, Wording: "Yes, send me the monthly newsletter."})
			require.NoError(t, err)
		}
		ada, err := acme.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
		require.NoError(t, err)
		optIn, err := acme.Consent.RequestOptIn(ctx, ada.ID, "newsletter", consent.Email, consent.Proof{Source: "signup_form"})
		require.NoError(t, err)
		path := "/public/confirm/" + optIn.Token
		pending := historyLen(t, acme, ada.ID)

		// The page asks, with the wording asked with, and changes nothing.
		status, page := b.get(path)
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, page, "the Acme newsletter")
		require.Contains(t, page, "Yes, send me the monthly newsletter.")
		require.Contains(t, page, `<form method="post"><button type="submit" name="confirm" value="yes">Confirm</button></form>`)
		require.NotContains(t, page, "ada@example.com")
		require.ErrorIs(t, acme.Consent.Allowed(ctx, ada.ID, "newsletter", consent.Email), core.ErrNoConsent)
		require.Equal(t, pending, historyLen(t, acme, ada.ID))

		// Forms that are not the page's: nothing written.
		for _, bad := range []struct{ contentType, body string }{
			{"application/x-www-form-urlencoded", ""},
			{"application/x-www-form-urlencoded", "confirm=no"},
			{"application/json", `{"confirm": "yes"}`},
			{"application/x-www-form-urlencoded", "confirm=yes&x=" + strings.Repeat("a", 70<<10)},
		} {
			status, page := b.postRaw(path, bad.contentType, bad.body)
			require.Equal(t, http.StatusBadRequest, status, bad.body)
			require.Contains(t, page, "The form could not be read")
		}
		require.Equal(t, pending, historyLen(t, acme, ada.ID))

		// Confirmed, with the proof.
		status, page = b.post(path, url.Values{"confirm": {"yes"}})
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, page, "Your confirmation is recorded.")
		require.NoError(t, acme.Consent.Allowed(ctx, ada.ID, "newsletter", consent.Email))
		rec, err := acme.Consent.Status(ctx, ada.ID, "newsletter", consent.Email)
		require.NoError(t, err)
		require.Equal(t, consent.Granted, rec.State)
		require.Equal(t, consent.SourceDoubleOptIn, rec.Source)
		require.Equal(t, "127.0.0.1", rec.IP, "the host records network details")
		require.Equal(t, "Go-http-client/1.1", rec.UserAgent)
		require.Equal(t, optIn.Record.RequestID, rec.RequestID)
		confirmed := historyLen(t, acme, ada.ID)
		require.Equal(t, pending+1, confirmed)

		// Again: idempotent, and the page says so.
		status, page = b.post(path, url.Values{"confirm": {"yes"}})
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, page, "Already confirmed")
		status, page = b.get(path)
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, page, "Already confirmed")
		require.NotContains(t, page, "<form")
		require.Equal(t, confirmed, historyLen(t, acme, ada.ID))

		// Forged, altered, another kind, another key: 404, nothing written.
		unsub, err := acme.Consent.UnsubscribeToken(ctx, ada.ID, "newsletter")
		require.NoError(t, err)
		otherKey := []byte("fedcba9876543210fedcba9876543210")
		for _, token := range []string{"forged", "a.b", altered(optIn.Token), unsub,
			signConsent(t, otherKey, "optin", "acme", *optIn.Record.RequestID, "newsletter", b.clock.Now().Add(time.Hour))} {
			status, page := b.get("/public/confirm/" + token)
			require.Equal(t, http.StatusNotFound, status, token)
			require.Contains(t, page, "This link does not work")
			status, _ = b.post("/public/confirm/"+token, url.Values{"confirm": {"yes"}})
			require.Equal(t, http.StatusNotFound, status, token)
		}

		// A token of the right key for another tenant does not reach
		// acme's request: refused, nothing written in either tenant.
		bob, err := acme.Contacts.Create(ctx, contacts.NewContact{Email: "bob@example.com"})
		require.NoError(t, err)
		bobIn, err := acme.Consent.RequestOptIn(ctx, bob.ID, "newsletter", consent.Email, consent.Proof{Source: "signup_form"})
		require.NoError(t, err)
		foreign := signConsent(t, tokenKey, "optin", "globex", *bobIn.Record.RequestID, "newsletter", b.clock.Now().Add(time.Hour))
		status, _ = b.get("/public/confirm/" + foreign)
		require.True(t, status >= 400 && status < 500, status)
		status, page = b.post("/public/confirm/"+foreign, url.Values{"confirm": {"yes"}})
		require.True(t, status >= 400 && status < 500, status)
		require.NotContains(t, page, "bob@example.com")
		require.ErrorIs(t, acme.Consent.Allowed(ctx, bob.ID, "newsletter", consent.Email), core.ErrNoConsent)

		// Expired: 410, and the request stays pending.
		b.clock.advance(7*24*time.Hour + time.Minute)
		status, page = b.get("/public/confirm/" + bobIn.Token)
		require.Equal(t, http.StatusGone, status)
		require.Contains(t, page, "This link has expired")
		status, _ = b.post("/public/confirm/"+bobIn.Token, url.Values{"confirm": {"yes"}})
		require.Equal(t, http.StatusGone, status)
		rec, err = acme.Consent.Status(ctx, bob.ID, "newsletter", consent.Email)
		require.NoError(t, err)
		require.Equal(t, consent.Pending, rec.State)
	})
}

// The preference centre: the page lists the purposes the person chooses
// (not those on contract) with their state per channel and changes
// nothing; the POST records grants and withdrawals of what changed
// (source "preference_centre"; without the address, as the host does not
// record network details) and the same form again writes nothing;
// malformed forms, foreign, forged and expired links are refused and
// write nothing.
func TestPublicPreferences(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		b := setupPublic(t, db, crm.Config{})
		acme, globex := b.c.Tenant("acme"), b.c.Tenant("globex")
		for _, p := range []consent.NewPurpose{
			{Key: "newsletter", Label: "Our newsletter", LegalBasis: consent.BasisConsent, Channels: []consent.Channel{consent.Email, consent.SMS},
				Wording: "News every month."},
			{Key: "offers", Label: "Offers for customers", LegalBasis: consent.BasisLegitimateInterest, Channels: []consent.Channel{consent.Email},
				Wording: "Offers like what you bought."},
			{Key: "billing", Label: "Invoices", LegalBasis: consent.BasisContract, Channels: []consent.Channel{consent.Email}, Wording: "Your invoices."},
		} {
			_, err := acme.Consent.DefinePurpose(ctx, p)
			require.NoError(t, err)
		}
		ada, err := acme.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com", FirstName: "Ada"})
		require.NoError(t, err)
		_, err = acme.Consent.Grant(ctx, ada.ID, "newsletter", consent.Email, consent.Proof{Source: "form"})
		require.NoError(t, err)
		link, err := acme.Consent.PreferencesToken(ctx, ada.ID)
		require.NoError(t, err)
		require.Equal(t, b.clock.Now().Add(consent.DefaultPreferencesTTL), link.ExpiresAt)
		path := "/public/preferences/" + link.Token
		before := historyLen(t, acme, ada.ID)

		status, page := b.get(path)
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, page, "<legend>Our newsletter</legend>")
		require.Contains(t, page, "<legend>Offers for customers</legend>")
		require.NotContains(t, page, "Invoices", "a contract is not the person's to switch off")
		require.NotContains(t, page, "ada@example.com")
		require.NotContains(t, page, "Ada")
		require.Contains(t, page, `<input type="checkbox" name="on" id="c-newsletter-email" value="newsletter:email" checked><label for="c-newsletter-email">Email</label>`)
		require.Contains(t, page, `<input type="checkbox" name="on" id="c-newsletter-sms" value="newsletter:sms"><label for="c-newsletter-sms">`)
		require.Contains(t, page, `value="offers:email" checked>`, "legitimate interest is on until the person objects")
		require.Equal(t, before, historyLen(t, acme, ada.ID))

		shown := []string{"newsletter:email", "newsletter:sms", "offers:email"}
		// Forms that are not the page's: refused, nothing written.
		for _, bad := range []struct {
			status            int
			contentType, body string
		}{
			{http.StatusBadRequest, "application/json", `{"on": ["newsletter:sms"]}`},
			{http.StatusBadRequest, "application/x-www-form-urlencoded", "shown=offers:email&x=" + strings.Repeat("a", 70<<10)},
			{http.StatusUnprocessableEntity, "application/x-www-form-urlencoded", ""},
			{http.StatusUnprocessableEntity, "application/x-www-form-urlencoded", url.Values{"on": {"newsletter:sms"}}.Encode()},
			{http.StatusUnprocessableEntity, "application/x-www-form-urlencoded", url.Values{"shown": {"newsletter:email"}, "on": {"newsletter:sms"}}.Encode()},
			{http.StatusUnprocessableEntity, "application/x-www-form-urlencoded", url.Values{"shown": {"newsletter"}}.Encode()},
			{http.StatusUnprocessableEntity, "application/x-www-form-urlencoded", url.Values{"shown": {"newsletter:email", "newsletter:email"}}.Encode()},
			{http.StatusUnprocessableEntity, "application/x-www-form-urlencoded", url.Values{"shown": {"billing:email"}}.Encode()},
			{http.StatusUnprocessableEntity, "application/x-www-form-urlencoded", url.Values{"shown": {"newsletter:post", "newsletter:email"}}.Encode()},
			{http.StatusUnprocessableEntity, "application/x-www-form-urlencoded", url.Values{"shown": {"nothing:email"}, "on": {"nothing:email"}}.Encode()},
		} {
			status, page := b.postRaw(path, bad.contentType, bad.body)
			require.Equal(t, bad.status, status, bad.body)
			require.NotContains(t, page, "ada@example.com")
			if status == http.StatusUnprocessableEntity {
				require.Contains(t, page, `role="alert"`)
				require.Contains(t, page, `value="newsletter:email" checked>`, "the page shows the state as it is")
			}
		}
		require.Equal(t, before, historyLen(t, acme, ada.ID))

		// Out of the newsletter by mail, into it by SMS, offers kept.
		form := url.Values{"shown": shown, "on": {"newsletter:sms", "offers:email"}}
		status, page = b.post(path, form)
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, page, "your choices are saved")
		require.Contains(t, page, `value="newsletter:sms" checked>`)
		require.Contains(t, page, `value="newsletter:email"><label`)
		require.Equal(t, before+2, historyLen(t, acme, ada.ID))
		require.ErrorIs(t, acme.Consent.Allowed(ctx, ada.ID, "newsletter", consent.Email), core.ErrNoConsent)
		require.NoError(t, acme.Consent.Allowed(ctx, ada.ID, "newsletter", consent.SMS))
		require.NoError(t, acme.Consent.Allowed(ctx, ada.ID, "offers", consent.Email))
		for ch, state := range map[consent.Channel]consent.State{consent.Email: consent.Withdrawn, consent.SMS: consent.Granted} {
			rec, err := acme.Consent.Status(ctx, ada.ID, "newsletter", ch)
			require.NoError(t, err)
			require.Equal(t, state, rec.State)
			require.Equal(t, consent.SourcePreferenceCentre, rec.Source)
			require.Empty(t, rec.IP, "the host does not record network details")
			require.Empty(t, rec.UserAgent)
		}

		// The same form again changes nothing; offers off is an opt-out.
		status, _ = b.post(path, form)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, before+2, historyLen(t, acme, ada.ID))
		status, _ = b.post(path, url.Values{"shown": shown, "on": {"newsletter:sms"}})
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, before+3, historyLen(t, acme, ada.ID))
		require.ErrorIs(t, acme.Consent.Allowed(ctx, ada.ID, "offers", consent.Email), core.ErrNoConsent)

		// A suppressed address cannot be switched on: 409, nothing written.
		bob, err := acme.Contacts.Create(ctx, contacts.NewContact{Email: "bob@example.com"})
		require.NoError(t, err)
		require.NoError(t, acme.Consent.Suppress(ctx, "bob@example.com", "", "complaint"))
		bobLink, err := acme.Consent.PreferencesToken(ctx, bob.ID)
		require.NoError(t, err)
		status, page = b.post("/public/preferences/"+bobLink.Token, url.Values{"shown": shown, "on": {"newsletter:email"}})
		require.Equal(t, http.StatusConflict, status)
		require.NotContains(t, page, "bob@example.com")
		require.Equal(t, 0, historyLen(t, acme, bob.ID))

		// Forged, altered, another kind: 404. A token of the right key for
		// another tenant does not reach acme's contact.
		unsub, err := acme.Consent.UnsubscribeToken(ctx, ada.ID, "newsletter")
		require.NoError(t, err)
		for _, token := range []string{"forged", altered(link.Token), unsub} {
			status, _ := b.get("/public/preferences/" + token)
			require.Equal(t, http.StatusNotFound, status, token)
			status, _ = b.post("/public/preferences/"+token, url.Values{"shown": shown})
			require.Equal(t, http.StatusNotFound, status, token)
		}
		_, err = globex.Consent.DefinePurpose(ctx, consent.NewPurpose{Key: "newsletter", Label: "Globex news", LegalBasis: consent.BasisConsent,
			Channels: []consent.Channel{consent.Email}, Wording: "Globex news."})
		require.NoError(t, err)
		foreign := signConsent(t, tokenKey, "prefs", "globex", ada.ID, "", b.clock.Now().Add(time.Hour))
		status, page = b.get("/public/preferences/" + foreign)
		require.True(t, status >= 400 && status < 500, status)
		require.NotContains(t, page, "Globex news")
		status, _ = b.post("/public/preferences/"+foreign, url.Values{"shown": {"newsletter:email"}, "on": {"newsletter:email"}})
		require.True(t, status >= 400 && status < 500, status)
		require.Equal(t, before+3, historyLen(t, acme, ada.ID))

		// Expired: 410, nothing written.
		b.clock.advance(consent.DefaultPreferencesTTL + time.Second)
		status, page = b.get(path)
		require.Equal(t, http.StatusGone, status)
		require.Contains(t, page, "This link has expired")
		status, _ = b.post(path, url.Values{"shown": shown, "on": shown})
		require.Equal(t, http.StatusGone, status)
		require.Equal(t, before+3, historyLen(t, acme, ada.ID))
	})
}

// fieldsOf returns the fields a validation error lists.
func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	var ve *core.ValidationError
	require.ErrorAs(t, err, &ve)
	require.ErrorIs(t, err, core.ErrInvalid)
	out := make([]string, len(ve.Fields))
	for i, f := range ve.Fields {
		out[i] = f.Field
	}
	return out
}

// What the preference centre's POST calls lists every bad choice at once
// and writes nothing; a preference token is not an unsubscribe or opt-in
// token, nor theirs a preference token.
func TestSetPreferencesListsEveryProblem(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		b := setupPublic(t, db, crm.Config{})
		acme := b.c.Tenant("acme")
		_, err := acme.Consent.DefinePurpose(ctx, consent.NewPurpose{Key: "newsletter", Label: "News", LegalBasis: consent.BasisConsent,
			Channels: []consent.Channel{consent.Email}, Wording: "News."})
		require.NoError(t, err)
		_, err = acme.Consent.DefinePurpose(ctx, consent.NewPurpose{Key: "billing", Label: "Invoices", LegalBasis: consent.BasisContract,
			Channels: []consent.Channel{consent.Email}, Wording: "Invoices."})
		require.NoError(t, err)
		ada, err := acme.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
		require.NoError(t, err)
		link, err := acme.Consent.PreferencesToken(ctx, ada.ID)
		require.NoError(t, err)

		_, err = acme.Consent.SetPreferences(ctx, link.Token, []consent.Choice{
			{Purpose: "newsletter", Channel: consent.Email, On: true},
			{Purpose: "billing", Channel: consent.Email},
			{Purpose: "newsletter", Channel: consent.SMS, On: true},
			{Purpose: "newsletter", Channel: consent.Email},
		}, consent.Proof{})
		require.Equal(t, []string{"choices.1.purpose", "choices.2.channel", "choices.3.channel"}, fieldsOf(t, err))
		_, err = acme.Consent.SetPreferences(ctx, link.Token, nil, consent.Proof{})
		require.Equal(t, []string{"choices"}, fieldsOf(t, err))
		require.Equal(t, 0, historyLen(t, acme, ada.ID))

		unsub, err := acme.Consent.UnsubscribeToken(ctx, ada.ID, "newsletter")
		require.NoError(t, err)
		_, err = acme.Consent.Preferences(ctx, unsub)
		require.ErrorIs(t, err, consent.ErrTokenInvalid)
		_, err = acme.Consent.Unsubscribe(ctx, link.Token, consent.Proof{})
		require.ErrorIs(t, err, consent.ErrTokenInvalid)
		_, err = acme.Consent.Confirm(ctx, link.Token, consent.Proof{})
		require.ErrorIs(t, err, consent.ErrTokenInvalid)
		_, err = b.c.Tenant("globex").Consent.Preferences(ctx, link.Token)
		require.ErrorIs(t, err, consent.ErrTokenTenant)

		recs, err := acme.Consent.SetPreferences(ctx, link.Token, []consent.Choice{{Purpose: "newsletter", Channel: consent.Email, On: true}},
			consent.Proof{IP: "192.0.2.1", Source: "made up"})
		require.NoError(t, err)
		require.Len(t, recs, 1)
		require.Equal(t, consent.SourcePreferenceCentre, recs[0].Source, "the source is the preference centre's, whatever the caller says")
	})
}
