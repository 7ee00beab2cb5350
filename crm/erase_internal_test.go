package crm

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/analytics"
	"github.com/crmkit/crmkit/campaigns"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/modules"
	"github.com/crmkit/crmkit/pipeline"
	"github.com/crmkit/crmkit/tickets"
)

// migrated is the template database of these tests: crmkit's migrations and
// River's, run once per test binary (see dbtest.Template).
var migrated = &dbtest.Template{Name: "crm", Sources: modules.Migrations(), Migrate: func(ctx context.Context, db *bun.DB) error {
	c, err := New(db, Config{})
	if err != nil {
		return err
	}
	return c.Migrate(ctx)
}}

// After an erasure no text or JSON column of any crm_ table holds the
// person's email, names or phone; what is not personal stays.
func TestErasureLeavesNothingPersonal(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := core.WithActor(context.Background(), core.Actor{ID: "dpo", Roles: []string{access.RoleAdmin}})
		c, err := New(db, Config{Campaigns: campaigns.Options{UnsubscribeURL: "https://shop.example/u",
			Mailer: campaigns.MailerFunc(func(ctx context.Context, m *campaigns.Message) error { return nil })}})
		require.NoError(t, err)
		require.NoError(t, c.Migrate(ctx))
		t.Cleanup(func() { require.NoError(t, c.Close()) })
		_, err = c.Access.Roles.InstallBuiltins(context.Background()) // the actor's role
		require.NoError(t, err)

		p, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "augusta.lovelace@example.com", FirstName: "Augusta", LastName: "Lovelace",
			Phone: "+44 20 7946 0999", Tags: []string{"vip"}, ExternalIDs: []contacts.ExternalID{{Source: "shop", ID: "cust-augusta-1"}}})
		require.NoError(t, err)
		dup, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "a.lovelace@example.com", LastName: "Lovelace"})
		require.NoError(t, err)
		_, err = c.Contacts.Merge(ctx, p.ID, dup.ID)
		require.NoError(t, err)
		_, err = c.Contacts.Track(ctx, contacts.ByID(p.ID), contacts.NewActivity{Kind: contacts.KindWeb, Name: "form_submitted",
			Properties: map[string]any{"email": "augusta.lovelace@example.com"}})
		require.NoError(t, err)
		purchase := contacts.NewActivity{Kind: contacts.KindPurchase, Name: "order", Purchase: &contacts.Purchase{OrderID: "o-1", Total: core.MustMoney("120", "EUR")}}
		_, err = c.Contacts.Track(ctx, contacts.ByID(p.ID), purchase)
		require.NoError(t, err)
		// Their RFM scores and churn risk, stored on the contact, are in
		// the subject access export.
		stored, err := c.Analytics.StoreScores(ctx, analytics.StoreScoresOptions{})
		require.NoError(t, err)
		require.Equal(t, int64(1), stored.Stored)
		doc, err := c.Consent.Export(ctx, p.ID)
		require.NoError(t, err)
		exported, err := json.Marshal(doc.Data["contact"])
		require.NoError(t, err)
		require.Contains(t, string(exported), `"customer":{"r":1,"f":1,"m":1,"segment":"lost"`)
		_, err = c.Notes.Create(ctx, contacts.NewNote{ContactID: p.ID, Body: "Augusta prefers calls", AuthorID: "rep"})
		require.NoError(t, err)
		_, err = c.Tasks.Create(ctx, contacts.NewTask{Title: "Call Augusta Lovelace back", ContactID: &p.ID})
		require.NoError(t, err)
		deal, err := c.Deals.Create(ctx, pipeline.NewDeal{Title: "Lovelace renewal", Amount: core.MustMoney("5000", "EUR"), ContactID: &p.ID})
		require.NoError(t, err)
		// A ticket of the person, its subject and messages naming them.
		tk, err := c.Tickets.Create(ctx, tickets.NewTicket{Subject: "Augusta Lovelace cannot log in", ContactID: p.ID,
			Message: &tickets.NewMessage{Public: true, AuthorKind: tickets.AuthorCustomer, Body: "This is Augusta Lovelace, call me on +44 20 7946 0999",
				Attachments: []tickets.Attachment{{Name: "lovelace-screenshot.png", ContentType: "image/png", Size: 10, StorageKey: "k1"}}}})
		require.NoError(t, err)
		_, err = c.Tickets.AddMessage(ctx, tk.ID, tickets.NewMessage{Public: true, AuthorKind: tickets.AuthorAgent, AuthorID: "agent-1",
			Body: "Dear Augusta, we reset your password (augusta.lovelace@example.com)."})
		require.NoError(t, err)
		_, err = c.Consent.DefinePurpose(ctx, consent.NewPurpose{Key: "newsletter", Label: "Newsletter", LegalBasis: consent.BasisConsent,
			Channels: []consent.Channel{consent.Email}, Wording: "Send me news."})
		require.NoError(t, err)
		_, err = c.Consent.Grant(ctx, p.ID, "newsletter", consent.Email, consent.Proof{Source: "form"})
		require.NoError(t, err)
		// A campaign went to the person.
		seg, err := c.Segments.Create(ctx, campaigns.NewSegment{Name: "VIP", Filter: filter.Contains("tags", "vip")})
		require.NoError(t, err)
		tmpl, err := c.Templates.Create(ctx, campaigns.NewTemplate{Name: "News", Subject: "News", HTML: "<p>Hi {{.Contact.FirstName}}</p>"})
		require.NoError(t, err)
		camp, err := c.Campaigns.Create(ctx, campaigns.NewCampaign{Name: "News", SegmentID: seg.ID, TemplateID: tmpl.ID, Purpose: "newsletter",
			FromAddress: "news@shop.example"})
		require.NoError(t, err)
		require.NoError(t, c.Start(ctx))
		_, err = c.Campaigns.Start(ctx, camp.ID, camp.Version)
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			st, err := c.Campaigns.Stats(ctx, camp.ID)
			require.NoError(t, err)
			return st.Sent == 1
		}, 10*time.Second, 10*time.Millisecond)

		// Their auto-reply came back to the return path, and is kept.
		kept, err := c.Campaigns.Inbound(ctx, strings.NewReader("From: Augusta Lovelace <augusta.lovelace@example.com>\r\nSubject: Away\r\n\r\nBack on Monday."), "")
		require.NoError(t, err)
		require.True(t, kept.Kept)

		// The scan finds the person before the erasure (it can fail).
		require.Greater(t, len(leftovers(t, db, "lovelace")), 10)

		receipt, err := c.Consent.Erase(ctx, p.ID, "request")
		require.NoError(t, err)
		require.Contains(t, receipt.Sections, "deals")
		require.Contains(t, receipt.Sections, "tickets")
		_, err = c.Consent.Erase(ctx, p.ID, "request")
		require.ErrorIs(t, err, core.ErrConflict, "erasing twice")
		_, err = c.Tenant("other").Consent.Erase(ctx, p.ID, "request")
		require.Error(t, err)

		// Scan every column of every crm_ table, the search index's too.
		// (Needles are not hex: ids, hashes and salts must not match by
		// chance.)
		requireNothingOf(t, db, "augusta", "lovelace", "20 7946")

		// What is not personal stays: the deal in revenue, the purchase.
		d, err := c.Deals.Get(ctx, deal.ID)
		require.NoError(t, err)
		require.Nil(t, d.ContactID)
		require.True(t, d.Amount.Amount.Equal(decimal.NewFromInt(5000)))
		// The ticket stays for the statistics, without the person.
		keptTicket, err := c.Tickets.Get(ctx, tk.ID)
		require.NoError(t, err)
		require.Equal(t, tk.Number, keptTicket.Number)
		require.Equal(t, "[erased] cannot log in", keptTicket.Subject)
		anon, err := c.Contacts.Get(ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, int64(1), anon.Facts.PurchaseCount)
		require.Empty(t, anon.Email)
		// The stored scores went, and the next refresh, which still ranks
		// the anonymous purchase, stores none on the erased contact.
		require.Nil(t, anon.Facts.Customer)
		stored, err = c.Analytics.StoreScores(ctx, analytics.StoreScoresOptions{})
		require.NoError(t, err)
		require.Equal(t, int64(1), stored.Customers)
		require.Zero(t, stored.Stored)
		anon, err = c.Contacts.Get(ctx, p.ID)
		require.NoError(t, err)
		require.Nil(t, anon.Facts.Customer)
		n, err := c.Contacts.Count(ctx, filter.Exists("rfm_segment"))
		require.NoError(t, err)
		require.Zero(t, n)

		// An import cannot bring the address back.
		res, err := c.Contacts.ImportCSV(ctx, strings.NewReader("email,first_name\nAUGUSTA.LOVELACE@example.com,A\nnew@example.com,N\n"), contacts.CSVImportOptions{})
		require.NoError(t, err)
		require.Equal(t, int64(1), res.Created)
		require.Equal(t, int64(1), res.Failed)
		require.Contains(t, res.Errors[0].Message, "suppression list")

		// The address cannot come back for marketing.
		again, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "Augusta.Lovelace@example.com"})
		require.NoError(t, err)
		err = c.Consent.Allowed(ctx, again.ID, "newsletter", consent.Email)
		require.ErrorIs(t, err, consent.ErrSuppressed)
		_, err = c.Consent.Grant(ctx, again.ID, "newsletter", consent.Email, consent.Proof{Source: "form"})
		require.ErrorIs(t, err, core.ErrNoConsent)
		got, err := c.Consent.Erasure(ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, "request", got.Reason)
		require.Equal(t, "dpo", got.ActorID)
	})
}

// A legal hold keeps the invoices (purchase activities) and the identity
// they need, restricted, until the hold ends; ApplyRetention then erases
// them too.
func TestErasureUnderLegalHold(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		clock := dbtest.NewClock(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
		c, err := New(db, Config{Clock: clock})
		require.NoError(t, err)
		require.NoError(t, c.Migrate(ctx))
		_, err = c.Consent.DefinePurpose(ctx, consent.NewPurpose{Key: "newsletter", Label: "Newsletter", LegalBasis: consent.BasisConsent,
			Channels: []consent.Channel{consent.Email}, Wording: "Send me news."})
		require.NoError(t, err)
		p, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "hedwig.oldacre@example.com", FirstName: "Hedwig", LastName: "Oldacre"})
		require.NoError(t, err)
		// Invoiced under her former name, then renamed: the release
		// scrubs the former name too (the history is held with the identity).
		_, err = c.Contacts.Track(ctx, contacts.ByID(p.ID), contacts.NewActivity{Kind: contacts.KindEmail, Name: "Invoice for Hedwig Oldacre"})
		require.NoError(t, err)
		last, email := "Holdsworth", "hedwig.holdsworth@example.com"
		p, err = c.Contacts.Update(ctx, p.ID, contacts.ContactPatch{Version: p.Version, LastName: &last, Email: &email})
		require.NoError(t, err)
		_, err = c.Contacts.Track(ctx, contacts.ByID(p.ID), contacts.NewActivity{Kind: contacts.KindPurchase, Name: "order",
			Properties: map[string]any{"invoice_to": "Hedwig Holdsworth"}, Purchase: &contacts.Purchase{OrderID: "inv-1", Total: core.MustMoney("99", "EUR")}})
		require.NoError(t, err)
		_, err = c.Notes.Create(ctx, contacts.NewNote{ContactID: p.ID, Body: "Hedwig asked for a discount", AuthorID: "rep"})
		require.NoError(t, err)

		_, err = c.Consent.EraseWithHold(ctx, p.ID, "request", consent.LegalHold{Sections: []string{"bookkeeping"}, Until: clock.Now().AddDate(10, 0, 0)})
		require.ErrorIs(t, err, core.ErrInvalid, "unknown section")
		r, err := c.Consent.EraseWithHold(ctx, p.ID, "request", consent.LegalHold{Sections: []string{"activities"}, Until: clock.Now().AddDate(10, 0, 0)})
		require.NoError(t, err)
		require.ElementsMatch(t, []string{"activities", "contact", "events"}, r.Held)
		require.Contains(t, r.Sections, "notes")

		// Held: the invoice and the identity stay, restricted; the note went.
		kept, err := c.Contacts.Get(ctx, p.ID)
		require.NoError(t, err)
		require.True(t, kept.Restricted)
		require.Equal(t, "hedwig.holdsworth@example.com", kept.Email)
		require.ErrorIs(t, c.Consent.Allowed(ctx, p.ID, "newsletter", consent.Email), core.ErrNoConsent)
		doc, err := c.Consent.Export(ctx, p.ID)
		require.NoError(t, err)
		require.Len(t, doc.Data["activities"], 2)
		notes, err := json.Marshal(doc.Data["notes"])
		require.NoError(t, err)
		require.Contains(t, string(notes), "[erased]")

		// Ten years on, retention completes the erasure.
		later := clock.Now().AddDate(10, 0, 1)
		rep, err := c.ApplyRetention(ctx, later)
		require.NoError(t, err)
		require.Equal(t, int64(1), rep.HoldsReleased)
		requireNothingOf(t, db, "hedwig", "holdsworth", "oldacre")
		got, err := c.Consent.Erasure(ctx, p.ID)
		require.NoError(t, err)
		require.Empty(t, got.Held)
		require.Nil(t, got.HoldUntil)
		require.Contains(t, got.Sections, "activities")
	})
}
