package consent_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/migrate"
	"github.com/crmkit/crmkit/internal/module"
	"github.com/crmkit/crmkit/internal/modules"
	"github.com/crmkit/crmkit/internal/store"
)

var (
	key1 = []byte("key-one-key-one-key-one-key-one!")
	key2 = []byte("key-two-key-two-key-two-key-two!")
)

type bundle struct {
	sc       store.Scope
	consent  *consent.Service
	contacts *contacts.Service
	clock    *dbtest.Clock
	opts     consent.Options
}

// migrated is the template database of these tests: crmkit's migrations,
// run once per test binary (see dbtest.Template).
var migrated = &dbtest.Template{Name: "store", Sources: modules.Migrations(), Migrate: func(ctx context.Context, db *bun.DB) error {
	_, err := migrate.Up(ctx, db, modules.Migrations())
	return err
}}

func each(t *testing.T, fn func(t *testing.T, b *bundle)) {
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		_, err := migrate.Up(context.Background(), db, modules.Migrations())
		require.NoError(t, err)
		c := dbtest.NewClock(time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC))
		rt, err := store.NewRuntime(db, c, []byte("test-secret-test-secret-test-secret!"), slog.Default())
		require.NoError(t, err)
		module.Wire(rt, []module.Module{contacts.Module.Declare(), consent.Module.Declare()})
		sc := store.NewScope(rt)
		opts := consent.Options{Keys: [][]byte{key1}, RecordNetwork: true}
		fn(t, &bundle{sc: sc, consent: consent.Module.Service(sc, opts), contacts: contacts.Module.Contacts(sc), clock: c, opts: opts})
	})
}

func newsletter(t *testing.T, b *bundle) *consent.Purpose {
	p, err := b.consent.DefinePurpose(context.Background(), consent.NewPurpose{Key: "newsletter", Label: "Newsletter",
		LegalBasis: consent.BasisConsent, Channels: []consent.Channel{consent.Email, consent.SMS}, Wording: "Yes, send me the monthly newsletter."})
	require.NoError(t, err)
	return p
}

func TestPurposesAndTheConsentLog(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		_, err := b.consent.DefinePurpose(ctx, consent.NewPurpose{Key: "Bad Key", LegalBasis: "whim", Channels: []consent.Channel{"pigeon"}})
		require.ErrorIs(t, err, core.ErrInvalid)
		for _, f := range []string{"key", "label", "legal_basis", "channels", "wording"} {
			require.Contains(t, err.Error(), f)
		}
		p := newsletter(t, b)
		require.Equal(t, int64(1), p.WordingVersion)
		ada, err := b.contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
		require.NoError(t, err)

		// Nothing recorded: not allowed, with the reason.
		err = b.consent.Allowed(ctx, ada.ID, "newsletter", consent.Email)
		require.ErrorIs(t, err, core.ErrNoConsent)
		require.Contains(t, err.Error(), "no consent")

		// Bad input: unknown purpose, a grant without a source, a channel
		// the purpose does not use — nothing written.
		_, err = b.consent.Grant(ctx, ada.ID, "lottery", consent.Email, consent.Proof{Source: "form"})
		require.ErrorIs(t, err, core.ErrInvalid)
		_, err = b.consent.Grant(ctx, ada.ID, "newsletter", consent.Post, consent.Proof{})
		require.ErrorIs(t, err, core.ErrInvalid)
		require.Contains(t, err.Error(), "proof.source")
		require.Contains(t, err.Error(), "channel")
		_, err = b.consent.Grant(ctx, core.NewID(), "newsletter", consent.Email, consent.Proof{Source: "form"})
		require.ErrorIs(t, err, core.ErrInvalid)
		hist, err := b.consent.History(ctx, ada.ID)
		require.NoError(t, err)
		require.Empty(t, hist)

		rec, err := b.consent.Grant(ctx, ada.ID, "newsletter", consent.Email, consent.Proof{Source: "checkout", IP: "192.0.2.7", UserAgent: "Firefox"})
		require.NoError(t, err)
		require.Equal(t, int64(1), rec.WordingVersion)
		require.Equal(t, "192.0.2.7", rec.IP)
		require.NoError(t, b.consent.Allowed(ctx, ada.ID, "newsletter", consent.Email))
		require.ErrorIs(t, b.consent.Allowed(ctx, ada.ID, "newsletter", consent.SMS), core.ErrNoConsent, "per channel")

		// A new wording is a new version; the old proof keeps its own.
		p2, err := b.consent.DefinePurpose(ctx, consent.NewPurpose{Key: "newsletter", Label: "Newsletter", LegalBasis: consent.BasisConsent,
			Channels: []consent.Channel{consent.Email, consent.SMS}, Wording: "Yes, send me the weekly newsletter."})
		require.NoError(t, err)
		require.Equal(t, int64(2), p2.WordingVersion)
		old, err := b.consent.Wording(ctx, "newsletter", rec.WordingVersion)
		require.NoError(t, err)
		require.Equal(t, "Yes, send me the monthly newsletter.", old)

		// Withdrawal (every channel at once) takes effect immediately.
		recs, err := b.consent.Withdraw(ctx, ada.ID, "newsletter", "", consent.Proof{Source: "preference_center"})
		require.NoError(t, err)
		require.Len(t, recs, 2)
		err = b.consent.Allowed(ctx, ada.ID, "newsletter", consent.Email)
		require.ErrorIs(t, err, core.ErrNoConsent)
		require.Contains(t, err.Error(), "withdrawn")
		st, err := b.consent.Status(ctx, ada.ID, "newsletter", consent.Email)
		require.NoError(t, err)
		require.Equal(t, consent.Withdrawn, st.State)
		require.Equal(t, int64(2), st.WordingVersion)

		// Legitimate interest: allowed until the person objects.
		_, err = b.consent.DefinePurpose(ctx, consent.NewPurpose{Key: "service_updates", Label: "Service updates",
			LegalBasis: consent.BasisLegitimateInterest, Channels: []consent.Channel{consent.Email}, Wording: "We tell customers about changes to their service."})
		require.NoError(t, err)
		require.NoError(t, b.consent.Allowed(ctx, ada.ID, "service_updates", consent.Email))
		_, err = b.consent.Object(ctx, ada.ID, "service_updates", consent.Email, consent.Proof{Source: "email_reply"})
		require.NoError(t, err)
		require.ErrorIs(t, b.consent.Allowed(ctx, ada.ID, "service_updates", consent.Email), core.ErrNoConsent)

		// The log is complete and in order.
		hist, err = b.consent.History(ctx, ada.ID)
		require.NoError(t, err)
		var states []consent.State
		for _, r := range hist {
			states = append(states, r.State)
		}
		require.Equal(t, []consent.State{consent.Granted, consent.Withdrawn, consent.Withdrawn, consent.Objected}, states)

		// Another tenant sees none of it.
		other := consent.Module.Service(b.sc.WithTenant("other"), b.opts)
		_, err = other.Purpose(ctx, "newsletter")
		require.ErrorIs(t, err, core.ErrNotFound)
		hist, err = other.History(ctx, ada.ID)
		require.NoError(t, err)
		require.Empty(t, hist)
		_, err = other.Grant(ctx, ada.ID, "newsletter", consent.Email, consent.Proof{Source: "form"})
		require.ErrorIs(t, err, core.ErrInvalid)

		// Network details are dropped unless the host opts in.
		quiet := consent.Module.Service(b.sc, consent.Options{Keys: [][]byte{key1}})
		r, err := quiet.Grant(ctx, ada.ID, "newsletter", consent.SMS, consent.Proof{Source: "form", IP: "192.0.2.8"})
		require.NoError(t, err)
		require.Empty(t, r.IP)
	})
}

func TestDoubleOptInAndUnsubscribe(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		newsletter(t, b)
		ada, err := b.contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
		require.NoError(t, err)

		req, err := b.consent.RequestOptIn(ctx, ada.ID, "newsletter", consent.Email, consent.Proof{Source: "signup_form", IP: "192.0.2.1"})
		require.NoError(t, err)
		err = b.consent.Allowed(ctx, ada.ID, "newsletter", consent.Email)
		require.ErrorIs(t, err, core.ErrNoConsent)
		require.Contains(t, err.Error(), "awaits")

		// A flipped bit, another tenant's token, a wrong kind: refused.
		raw := []byte(req.Token)
		raw[len(raw)/3] ^= 1
		_, err = b.consent.Confirm(ctx, string(raw), consent.Proof{})
		require.ErrorIs(t, err, consent.ErrTokenInvalid)
		other := consent.Module.Service(b.sc.WithTenant("other"), b.opts)
		_, err = other.Confirm(ctx, req.Token, consent.Proof{})
		require.ErrorIs(t, err, consent.ErrTokenTenant)
		require.ErrorIs(t, err, core.ErrForbidden)
		_, err = b.consent.Unsubscribe(ctx, req.Token, consent.Proof{})
		require.ErrorIs(t, err, consent.ErrTokenInvalid)

		// Key rotation: a token of the old key still verifies.
		rotated := consent.Module.Service(b.sc, consent.Options{Keys: [][]byte{key2, key1}, RecordNetwork: true})
		rec, err := rotated.Confirm(ctx, req.Token, consent.Proof{Source: "link", IP: "192.0.2.2"})
		require.NoError(t, err)
		require.Equal(t, consent.Granted, rec.State)
		require.Equal(t, consent.SourceDoubleOptIn, rec.Source)
		require.Equal(t, "192.0.2.2", rec.IP)
		require.NoError(t, b.consent.Allowed(ctx, ada.ID, "newsletter", consent.Email))
		_, err = b.consent.Confirm(ctx, req.Token, consent.Proof{})
		require.ErrorIs(t, err, consent.ErrTokenUsed)
		onlyNew := consent.Module.Service(b.sc, consent.Options{Keys: [][]byte{key2}})
		_, err = onlyNew.Confirm(ctx, req.Token, consent.Proof{})
		require.ErrorIs(t, err, consent.ErrTokenInvalid, "the old key was dropped")

		// Expiry, and the purge of stale requests.
		late, err := b.consent.RequestOptIn(ctx, ada.ID, "newsletter", consent.SMS, consent.Proof{Source: "signup_form"})
		require.NoError(t, err)
		b.clock.Add(8 * 24 * time.Hour)
		_, err = b.consent.Confirm(ctx, late.Token, consent.Proof{})
		require.ErrorIs(t, err, consent.ErrTokenExpired)
		n, err := b.consent.PurgeOptIns(ctx, b.clock.Now())
		require.NoError(t, err)
		require.Equal(t, int64(1), n)

		// Unsubscribe: withdraws what is granted or pending (email, and the
		// expired sms request); again, nothing to do.
		tok, err := b.consent.UnsubscribeToken(ctx, ada.ID, "newsletter")
		require.NoError(t, err)
		recs, err := b.consent.Unsubscribe(ctx, tok, consent.Proof{})
		require.NoError(t, err)
		require.Len(t, recs, 2)
		require.Equal(t, consent.SourceUnsubscribe, recs[0].Source)
		require.ErrorIs(t, b.consent.Allowed(ctx, ada.ID, "newsletter", consent.Email), core.ErrNoConsent)
		recs, err = b.consent.Unsubscribe(ctx, tok, consent.Proof{})
		require.NoError(t, err)
		require.Empty(t, recs, "idempotent")

		// The records of a merged contact count for the winner, unchanged;
		// deleting the winner deletes them.
		dup, err := b.contacts.Create(ctx, contacts.NewContact{Email: "ada.l@example.com"})
		require.NoError(t, err)
		_, err = b.contacts.Merge(ctx, dup.ID, ada.ID)
		require.NoError(t, err)
		hist, err := b.consent.History(ctx, dup.ID)
		require.NoError(t, err)
		require.NotEmpty(t, hist)
		require.Equal(t, ada.ID, hist[0].ContactID, "records are never changed, not even by a merge")
		st, err := b.consent.Status(ctx, dup.ID, "newsletter", consent.Email)
		require.NoError(t, err)
		require.Equal(t, consent.Withdrawn, st.State, "the merged contact's withdrawal holds for the winner")
		require.NoError(t, b.contacts.Delete(ctx, dup.ID))
		hist, err = b.consent.History(ctx, dup.ID)
		require.NoError(t, err)
		require.Empty(t, hist)
	})
}

func FuzzParseToken(f *testing.F) {
	f.Add("eyJrIjoib3B0aW4ifQ.AAAA")
	f.Add("")
	f.Add(".")
	f.Add(strings.Repeat("a", 3000))
	f.Fuzz(func(t *testing.T, token string) {
		kind, _, _, _, _, err := consent.ParseToken([][]byte{key1}, token)
		if err == nil && kind != "optin" && kind != "unsub" {
			t.Fatalf("accepted kind %q", kind)
		}
		if err != nil && kind != "" {
			t.Fatalf("claims returned with an error")
		}
	})
}

func TestSubjectAccessExportAndAudit(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		// The data protection officer acts as an admin: the contacts module
		// checks the actor's permissions.
		_, err := access.Module.Service(b.sc).Roles.InstallBuiltins(context.Background())
		require.NoError(t, err)
		ctx := core.WithActor(context.Background(), core.Actor{ID: "dpo-1", Roles: []string{access.RoleAdmin}})
		newsletter(t, b)
		ada, err := b.contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com", FirstName: "Ada", Phone: "+44 20 7946 0000"})
		require.NoError(t, err)
		_, err = b.contacts.Track(ctx, contacts.ByID(ada.ID), contacts.NewActivity{Kind: contacts.KindWeb, Name: "pricing_calculator_used"})
		require.NoError(t, err)
		_, err = contacts.Module.Notes(b.sc).Create(ctx, contacts.NewNote{ContactID: ada.ID, Body: "Prefers calls in the morning", AuthorID: "rep-1"})
		require.NoError(t, err)
		_, err = b.consent.Grant(ctx, ada.ID, "newsletter", consent.Email, consent.Proof{Source: "form"})
		require.NoError(t, err)
		last := "Lovelace"
		cur, err := b.contacts.Get(ctx, ada.ID)
		require.NoError(t, err)
		_, err = b.contacts.Update(ctx, ada.ID, contacts.ContactPatch{Version: cur.Version, LastName: &last})
		require.NoError(t, err)

		doc, err := b.consent.Export(ctx, ada.ID)
		require.NoError(t, err)
		require.Equal(t, "Lovelace", doc.Data["contact"].(*contacts.Contact).LastName)
		require.Len(t, doc.Data["activities"], 1)
		require.Len(t, doc.Data["notes"], 1)
		require.Len(t, doc.Data["consents"], 1)
		require.NotEmpty(t, doc.Data["events"])
		require.Len(t, doc.Purposes, 1)
		require.Equal(t, consent.BasisConsent, doc.Purposes[0].LegalBasis)
		raw, err := json.Marshal(doc)
		require.NoError(t, err)
		require.Contains(t, string(raw), "Prefers calls in the morning")

		// Another tenant's contact is not found, and nothing is audited
		// there. (The actor has no role in that tenant: they may not even
		// ask.)
		other := consent.Module.Service(b.sc.WithTenant("other"), b.opts)
		_, err = other.Export(context.Background(), ada.ID)
		require.ErrorIs(t, err, core.ErrNotFound)
		_, err = other.Export(ctx, ada.ID)
		require.ErrorIs(t, err, core.ErrForbidden)

		// The audit log: who did what to whom, without the data.
		entries, err := b.consent.Audit(ctx, consent.AuditQuery{SubjectID: ada.ID})
		require.NoError(t, err)
		var actions []string
		for _, e := range entries {
			actions = append(actions, e.Action)
			require.Equal(t, "dpo-1", e.ActorID)
		}
		require.Equal(t, []string{"contact.created", "consent.granted", "contact.updated", "export"}, actions)
		require.Equal(t, "last_name", entries[2].Detail, "the changed field, not its value")
		all, err := json.Marshal(entries)
		require.NoError(t, err)
		require.NotContains(t, string(all), "Lovelace")
		require.NotContains(t, string(all), "ada@example.com")
		none, err := other.Audit(context.Background(), consent.AuditQuery{})
		require.NoError(t, err)
		require.Len(t, none, 1)
		require.Equal(t, consent.AuditDenied, none[0].Action, "only the refused export")
	})
}

func TestSuppressionList(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		newsletter(t, b)
		ok, err := b.consent.Suppressed(ctx, "spam@example.com", "")
		require.NoError(t, err)
		require.False(t, ok)
		require.ErrorIs(t, b.consent.Suppress(ctx, "", "", "objection"), core.ErrInvalid)
		require.NoError(t, b.consent.Suppress(ctx, " Gone@Example.com ", "+49 (30) 1234-567", "objection"))
		require.NoError(t, b.consent.Suppress(ctx, "gone@example.com", "", "objection"), "idempotent")
		for _, probe := range [][2]string{{"gone@example.com", ""}, {"", "+4930 1234567"}} {
			ok, err = b.consent.Suppressed(ctx, probe[0], probe[1])
			require.NoError(t, err)
			require.True(t, ok, "%v", probe)
		}
		// A new contact with the address cannot be marketed to.
		c, err := b.contacts.Create(ctx, contacts.NewContact{Email: "gone@example.com"})
		require.NoError(t, err)
		_, err = b.consent.Grant(ctx, c.ID, "newsletter", consent.Email, consent.Proof{Source: "import"})
		require.ErrorIs(t, err, consent.ErrSuppressed)
		_, err = b.consent.RequestOptIn(ctx, c.ID, "newsletter", consent.Email, consent.Proof{Source: "form"})
		require.ErrorIs(t, err, core.ErrNoConsent)
		require.ErrorIs(t, b.consent.Allowed(ctx, c.ID, "newsletter", consent.Email), consent.ErrSuppressed)
		// Only hashes are stored; tenants have their own list.
		other := consent.Module.Service(b.sc.WithTenant("other"), b.opts)
		ok, err = other.Suppressed(ctx, "gone@example.com", "")
		require.NoError(t, err)
		require.False(t, ok)
	})
}

func TestRestriction(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		newsletter(t, b)
		scoring := contacts.Module.Scoring(b.sc)
		e := filter.Ne("email", "")
		_, err := scoring.SetModel(ctx, 0, contacts.ScoringModel{Rules: []contacts.ScoringRule{{Name: "Anyone", Points: 10, When: &e}}})
		require.NoError(t, err)
		ada, err := b.contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
		require.NoError(t, err)
		_, err = b.consent.Grant(ctx, ada.ID, "newsletter", consent.Email, consent.Proof{Source: "form"})
		require.NoError(t, err)

		require.ErrorIs(t, b.contacts.Restrict(ctx, ada.ID, "Contested Accuracy"), core.ErrInvalid)
		require.NoError(t, b.contacts.Restrict(ctx, ada.ID, "contested_accuracy"))
		require.NoError(t, b.contacts.Restrict(ctx, ada.ID, "contested_accuracy"), "idempotent")
		require.ErrorIs(t, b.consent.Allowed(ctx, ada.ID, "newsletter", consent.Email), consent.ErrRestricted)
		res, err := scoring.Rescore(ctx)
		require.NoError(t, err)
		require.Zero(t, res.Changed, "restricted contacts are not scored")
		n, err := b.contacts.Count(ctx, filter.Eq("restricted", true))
		require.NoError(t, err)
		require.Equal(t, int64(1), n)
		got, err := b.contacts.Get(ctx, ada.ID)
		require.NoError(t, err)
		require.True(t, got.Restricted, "still stored")

		require.NoError(t, b.contacts.LiftRestriction(ctx, ada.ID, "corrected"))
		require.NoError(t, b.consent.Allowed(ctx, ada.ID, "newsletter", consent.Email))
		res, err = scoring.Rescore(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(1), res.Changed)

		entries, err := b.consent.Audit(ctx, consent.AuditQuery{SubjectID: ada.ID})
		require.NoError(t, err)
		var lifted []string
		for _, e := range entries {
			if e.Action == "contact.restricted" || e.Action == "contact.restriction_lifted" {
				lifted = append(lifted, e.Action+":"+e.Detail)
			}
		}
		require.Equal(t, []string{"contact.restricted:contested_accuracy", "contact.restriction_lifted:corrected"}, lifted)
	})
}
