package analytics_test

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crmkit/crmkit/access"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/analytics"
	crmcampaigns "github.com/crmkit/crmkit/campaigns"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
)

// jumpClock is the wall clock plus an offset the test moves.
type jumpClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *jumpClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset).UTC()
}

func (c *jumpClock) Jump(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

var trackedLink = regexp.MustCompile(`https://shop\.example/t/c/([^"]+)"`)

// A campaign's report counts people, not programs, and credits it with
// the purchases its clickers made within the window after their first
// click, per currency; unsubscribes through its links count.
func TestCampaignReport(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		var mu sync.Mutex
		sent := map[string]*crmcampaigns.Message{}
		clock := &jumpClock{}
		c, err := crm.New(db, crm.Config{Clock: clock, Campaigns: crmcampaigns.Options{UnsubscribeURL: "https://shop.example/u",
			TrackingURL: "https://shop.example/t", Mailer: crmcampaigns.MailerFunc(func(ctx context.Context, m *crmcampaigns.Message) error {
				mu.Lock()
				defer mu.Unlock()
				sent[m.To] = m
				return nil
			})}})
		require.NoError(t, err)
		require.NoError(t, c.Migrate(ctx))
		t.Cleanup(func() { require.NoError(t, c.Close()) })
		_, err = c.Consent.DefinePurpose(ctx, consent.NewPurpose{Key: "newsletter", Label: "News", LegalBasis: consent.BasisConsent,
			Channels: []consent.Channel{consent.Email}, Wording: "Yes"})
		require.NoError(t, err)
		var people []*contacts.Contact
		for _, e := range []string{"buyer@example.com", "scanned@example.com", "silent@example.com"} {
			ct, err := c.Contacts.Create(ctx, contacts.NewContact{Email: e, Tags: []string{"news"}})
			require.NoError(t, err)
			_, err = c.Consent.Grant(ctx, ct.ID, "newsletter", consent.Email, consent.Proof{Source: "form"})
			require.NoError(t, err)
			people = append(people, ct)
		}
		seg, err := c.Segments.Create(ctx, crmcampaigns.NewSegment{Name: "News", Filter: filter.Contains("tags", "news")})
		require.NoError(t, err)
		tmpl, err := c.Templates.Create(ctx, crmcampaigns.NewTemplate{Name: "Sale", Subject: "Sale",
			HTML: `<p><a href="https://shop.example/sale">Sale</a> <a href="{{.UnsubscribeURL}}">Unsubscribe</a></p>`})
		require.NoError(t, err)
		camp, err := c.Campaigns.Create(ctx, crmcampaigns.NewCampaign{Name: "Sale", SegmentID: seg.ID, TemplateID: tmpl.ID, Purpose: "newsletter",
			FromAddress: "news@shop.example"})
		require.NoError(t, err)
		require.NoError(t, c.Start(ctx))
		_, err = c.Campaigns.Start(ctx, camp.ID, camp.Version)
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			got, err := c.Campaigns.Get(ctx, camp.ID)
			require.NoError(t, err)
			return got.Status == crmcampaigns.StatusSent
		}, 10*time.Second, 10*time.Millisecond)
		link := func(who *contacts.Contact) string {
			mu.Lock()
			defer mu.Unlock()
			return trackedLink.FindStringSubmatch(sent[who.Email].HTML)[1]
		}
		browser := crmcampaigns.Visit{UserAgent: "Mozilla/5.0", IP: "203.0.113.7"}
		// At once: a scanner's click; then, later, a person's.
		_, err = c.Campaigns.Click(ctx, link(people[1]), browser)
		require.NoError(t, err)
		clock.Jump(time.Hour)
		_, err = c.Campaigns.Click(ctx, link(people[0]), browser)
		require.NoError(t, err)
		clicked := clock.Now()
		buy := func(who *contacts.Contact, at time.Time, amount string) {
			_, err := c.Contacts.Track(ctx, contacts.ByID(who.ID), contacts.NewActivity{Kind: contacts.KindPurchase, OccurredAt: at,
				Purchase: &contacts.Purchase{OrderID: core.NewID().String(), Total: core.MustMoney(amount, "EUR")}})
			require.NoError(t, err)
		}
		buy(people[0], clicked.Add(2*24*time.Hour), "50") // within the window
		buy(people[0], clicked.Add(9*24*time.Hour), "30") // after it
		buy(people[0], clicked.Add(-time.Minute), "20")   // before the click
		buy(people[1], clicked.Add(time.Hour), "70")      // a program clicked
		buy(people[2], clicked.Add(time.Hour), "90")      // never clicked
		token := strings.TrimPrefix(strings.Trim(strings.Split(sent[people[2].Email].Headers["List-Unsubscribe"], ",")[0], "<>"), "https://shop.example/u/")
		_, err = c.Consent.Unsubscribe(ctx, token, consent.Proof{Source: "one_click"})
		require.NoError(t, err)

		rep, err := c.Analytics.Campaigns(ctx, analytics.CampaignOptions{})
		require.NoError(t, err)
		require.Len(t, rep.Campaigns, 1)
		row := rep.Campaigns[0]
		require.Equal(t, camp.ID, row.CampaignID)
		require.EqualValues(t, 3, row.Recipients)
		require.EqualValues(t, 3, row.Sent)
		require.EqualValues(t, 1, row.Opened)
		require.EqualValues(t, 1, row.Clicked)
		require.InDelta(t, 1.0/3, row.ClickThroughRate, 1e-9)
		require.EqualValues(t, 1, row.Unsubscribed)
		require.EqualValues(t, 1, row.Purchases)
		require.Len(t, row.Revenue, 1)
		require.Equal(t, "50 EUR", row.Revenue[0].String())

		// A longer window takes the later purchase too.
		rep, err = c.Analytics.Campaigns(ctx, analytics.CampaignOptions{RevenueWindow: 10 * 24 * time.Hour})
		require.NoError(t, err)
		require.Equal(t, "80 EUR", rep.Campaigns[0].Revenue[0].String())
		var b strings.Builder
		require.NoError(t, rep.WriteCSV(&b))
		require.Contains(t, b.String(), ",80,EUR\n")

		// An actor who sees only their own contacts gets the campaign's
		// counts, and the revenue of their own contacts: none, until the
		// buyer is theirs.
		_, err = c.Access.Roles.Create(ctx, access.RoleInput{Name: "own-marketer", Permissions: access.Permissions{
			"analytics": {Actions: []access.Action{access.Read}, Visibility: access.VisibilityAll},
			"campaigns": {Actions: []access.Action{access.Read}, Visibility: access.VisibilityAll},
			"contacts":  {Actions: []access.Action{access.Read}, Visibility: access.VisibilityOwn}}})
		require.NoError(t, err)
		mine := core.WithActor(ctx, core.Actor{ID: "x", Roles: []string{"own-marketer"}})
		rep, err = c.Analytics.Campaigns(mine, analytics.CampaignOptions{})
		require.NoError(t, err)
		require.Len(t, rep.Campaigns, 1)
		require.EqualValues(t, 3, rep.Campaigns[0].Sent)
		require.EqualValues(t, 1, rep.Campaigns[0].Clicked)
		require.Empty(t, rep.Campaigns[0].Revenue)
		require.Zero(t, rep.Campaigns[0].Purchases)
		x := "x"
		_, err = c.Contacts.Update(ctx, people[0].ID, contacts.ContactPatch{Version: people[0].Version, OwnerID: &x})
		require.NoError(t, err)
		rep, err = c.Analytics.Campaigns(mine, analytics.CampaignOptions{})
		require.NoError(t, err)
		require.Len(t, rep.Campaigns[0].Revenue, 1)
		require.Equal(t, "50 EUR", rep.Campaigns[0].Revenue[0].String())
		// Without "campaigns" read there is no campaign to report; without
		// "analytics" read no report.
		_, err = c.Access.Roles.Create(ctx, access.RoleInput{Name: "reports-only", Permissions: access.Permissions{
			"analytics": {Actions: []access.Action{access.Read}, Visibility: access.VisibilityAll}}})
		require.NoError(t, err)
		rep, err = c.Analytics.Campaigns(core.WithActor(ctx, core.Actor{ID: "y", Roles: []string{"reports-only"}}), analytics.CampaignOptions{})
		require.NoError(t, err)
		require.Empty(t, rep.Campaigns)
		_, err = c.Analytics.Campaigns(core.WithActor(ctx, core.Actor{ID: "y"}), analytics.CampaignOptions{})
		require.ErrorIs(t, err, core.ErrForbidden)

		// Periods and bad input.
		rep, err = c.Analytics.Campaigns(ctx, analytics.CampaignOptions{Period: analytics.Period{From: core.DateOf(clock.Now().Add(48 * time.Hour))}})
		require.NoError(t, err)
		require.Empty(t, rep.Campaigns)
		_, err = c.Analytics.Campaigns(ctx, analytics.CampaignOptions{RevenueWindow: -time.Hour})
		require.ErrorIs(t, err, core.ErrInvalid)
		rep, err = c.Tenant("other").Analytics.Campaigns(ctx, analytics.CampaignOptions{})
		require.NoError(t, err)
		require.Empty(t, rep.Campaigns)
	})
}
