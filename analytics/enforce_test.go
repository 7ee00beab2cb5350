package analytics_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/analytics"
	crmcampaigns "github.com/crmkit/crmkit/campaigns"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/store"
	"github.com/crmkit/crmkit/pipeline"
	"github.com/crmkit/crmkit/tickets"
)

// office is a tenant laid out for the record access of the reports: users
// with the built-in roles (alice and bob, sales reps, also hold a role
// that reads analytics), two teams, and contacts, deals, purchases and
// tickets owned by some of them. The totals each user should see are
// worked out by hand in the tests.
type office struct {
	c *crm.CRM
	// contacts are the contacts' ids by owner ("" for none).
	contacts map[string][]core.ID
}

// as is the context of user id.
func as(id string) context.Context {
	return core.WithActor(context.Background(), core.Actor{ID: id})
}

// today is the day of the office's clock, and dayPeriod that day.
var (
	today     = core.NewDate(2026, 7, 1)
	dayPeriod = analytics.Period{From: today, To: today.AddDays(1)}
)

func newOffice(t *testing.T, db *bun.DB) *office {
	t.Helper()
	ctx := context.Background()
	c, err := crm.New(db, crm.Config{Clock: dbtest.NewClock(time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC))})
	require.NoError(t, err)
	require.NoError(t, c.Migrate(ctx))
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	o := &office{c: c, contacts: map[string][]core.ID{}}

	_, err = c.Access.Roles.InstallBuiltins(ctx)
	require.NoError(t, err)
	_, err = c.Access.Roles.Create(ctx, access.RoleInput{Name: "analyst", Permissions: access.Permissions{
		"analytics": {Actions: []access.Action{access.Read}, Visibility: access.VisibilityAll}}})
	require.NoError(t, err)
	for _, u := range []struct {
		id    string
		roles []string
	}{
		{"root", []string{access.RoleAdmin}}, {"carol", []string{access.RoleManager}},
		{"alice", []string{access.RoleSales, "analyst"}}, {"bob", []string{access.RoleSales, "analyst"}},
		{"sam", []string{access.RoleSales}}, {"dave", []string{access.RoleSupport}}, {"erin", []string{access.RoleMarketing}},
		{"rita", []string{access.RoleReadOnly}}, {"nobody", nil},
	} {
		_, err := c.Access.Users.Create(ctx, access.UserInput{ID: u.id, DisplayName: u.id, TimeZone: "UTC", Roles: u.roles})
		require.NoError(t, err)
	}
	for name, members := range map[string][]string{"east": {"alice", "carol", "dave"}, "west": {"bob"}} {
		tm, err := c.Access.Teams.Create(ctx, access.TeamInput{Name: name})
		require.NoError(t, err)
		for _, m := range members {
			tm, err = c.Access.Teams.AddMember(ctx, tm.ID, tm.Version, access.Member{UserID: m})
			require.NoError(t, err)
		}
	}

	// Contacts: alice 2, bob 1, carol 1, no owner 1.
	for i, owner := range []string{"alice", "alice", "bob", "carol", ""} {
		ct, err := c.Contacts.Create(ctx, contacts.NewContact{Email: strings.Repeat(string(rune('a'+i)), 3) + "@example.com", OwnerID: owner})
		require.NoError(t, err)
		o.contacts[owner] = append(o.contacts[owner], ct.ID)
	}
	// Deals in EUR, closed today where won or lost.
	for _, d := range []struct {
		owner, amount string
		end           pipeline.DealStatus
	}{
		{"alice", "100", pipeline.DealOpen}, {"alice", "200", pipeline.DealOpen}, {"alice", "300", pipeline.DealWon}, {"alice", "50", pipeline.DealLost},
		{"bob", "1000", pipeline.DealOpen}, {"bob", "2000", pipeline.DealWon}, {"bob", "500", pipeline.DealWon}, {"bob", "70", pipeline.DealLost},
		{"carol", "10000", pipeline.DealOpen}, {"carol", "4000", pipeline.DealWon},
		{"", "7", pipeline.DealOpen},
	} {
		deal, err := c.Deals.Create(ctx, pipeline.NewDeal{Title: "Deal", Amount: core.MustMoney(d.amount, "EUR"), OwnerID: d.owner})
		require.NoError(t, err)
		switch d.end {
		case pipeline.DealWon:
			_, err = c.Deals.Win(ctx, deal.ID, deal.Version)
		case pipeline.DealLost:
			_, err = c.Deals.Lose(ctx, deal.ID, deal.Version, "price")
		}
		require.NoError(t, err)
	}
	// Purchases: alice's first contact twice (May, June), bob's once (June).
	buy := func(id core.ID, at time.Time, amount string) {
		_, err := c.Contacts.Track(ctx, contacts.ByID(id), contacts.NewActivity{Kind: contacts.KindPurchase, OccurredAt: at,
			Purchase: &contacts.Purchase{OrderID: core.NewID().String(), Total: core.MustMoney(amount, "EUR")}})
		require.NoError(t, err)
	}
	buy(o.contacts["alice"][0], time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC), "10")
	buy(o.contacts["alice"][0], time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC), "20")
	buy(o.contacts["bob"][0], time.Date(2026, 6, 12, 12, 0, 0, 0, time.UTC), "100")
	// Tickets: assigned to alice, to carol, and to no one.
	for _, assignee := range []string{"alice", "carol", ""} {
		_, err := c.Tickets.Create(ctx, tickets.NewTicket{Subject: "Help", ContactID: o.contacts["carol"][0], AssigneeID: assignee})
		require.NoError(t, err)
	}
	// A draft campaign.
	_, err = c.Consent.DefinePurpose(ctx, consent.NewPurpose{Key: "newsletter", Label: "News", LegalBasis: consent.BasisConsent,
		Channels: []consent.Channel{consent.Email}, Wording: "Yes"})
	require.NoError(t, err)
	seg, err := c.Segments.Create(ctx, crmcampaigns.NewSegment{Name: "All", Filter: filter.Exists("email")})
	require.NoError(t, err)
	tmpl, err := c.Templates.Create(ctx, crmcampaigns.NewTemplate{Name: "T", Subject: "S", HTML: `<p><a href="{{.UnsubscribeURL}}">Unsubscribe</a></p>`})
	require.NoError(t, err)
	_, err = c.Campaigns.Create(ctx, crmcampaigns.NewCampaign{Name: "Draft", SegmentID: seg.ID, TemplateID: tmpl.ID, Purpose: "newsletter",
		FromAddress: "news@shop.example"})
	require.NoError(t, err)
	return o
}

// eur is the one EUR amount of ms ("0" without one).
func eur(t *testing.T, ms []core.Money) string {
	t.Helper()
	require.LessOrEqual(t, len(ms), 1)
	if len(ms) == 0 {
		return "0"
	}
	require.Equal(t, "EUR", ms[0].Currency)
	return ms[0].Amount.String()
}

// The same reports for users who see all, their team's and their own
// deals and contacts give the totals of what each of them sees, worked
// out by hand from the office's layout: the visibility is in the SQL.
func TestReportsApplyRecordVisibility(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		o := newOffice(t, db)
		type want struct {
			newContacts               int64
			openDeals, wonDeals, lost int64
			open, won                 string
			winRate                   float64
			openTickets               int64
			firstStageEntered         int64
			rfm                       []core.ID
			purchases                 string // historical value, summed
			cohortSize                int64  // the May cohort
			leadsEntered              int64  // the funnel's lead stage
			campaigns                 int
			attributionDeals          int64
			attributionRevenue        string
		}
		a0, b0 := o.contacts["alice"][0], o.contacts["bob"][0]
		cases := map[string]want{
			// All: 5 contacts; open 100+200+1000+10000+7; won 300+2000+500+4000; lost 2.
			"root": {5, 5, 4, 2, "11307", "6800", 4.0 / 6, 3, 11, []core.ID{a0, b0}, "130", 1, 5, 1, 4, "6800"},
			"rita": {5, 5, 4, 2, "11307", "6800", 4.0 / 6, 3, 11, []core.ID{a0, b0}, "130", 1, 5, 1, 4, "6800"},
			// Team east (alice, carol, dave): contacts 2+1; deals of alice
			// and carol; the tickets assigned to alice and carol.
			"carol": {3, 3, 2, 1, "10300", "4300", 2.0 / 3, 2, 6, []core.ID{a0}, "30", 1, 3, 1, 2, "4300"},
			// Own: alice's 2 contacts, 4 deals; no tickets module.
			"alice": {2, 2, 1, 1, "300", "300", 0.5, 0, 4, []core.ID{a0}, "30", 1, 2, 0, 1, "300"},
			"bob":   {1, 1, 2, 1, "1000", "2500", 2.0 / 3, 0, 4, []core.ID{b0}, "100", 0, 1, 0, 2, "2500"},
			// Marketing reads no pipeline: no deal at all; all contacts.
			"erin": {5, 0, 0, 0, "0", "0", 0, 0, 0, []core.ID{a0, b0}, "130", 1, 5, 1, 0, "0"},
		}
		for _, user := range slices.Sorted(func(yield func(string) bool) {
			for u := range cases {
				if !yield(u) {
					return
				}
			}
		}) {
			w := cases[user]
			ctx := as(user)
			svc := o.c.Analytics

			d, err := svc.Dashboard(ctx, analytics.DashboardOptions{Period: dayPeriod})
			require.NoError(t, err, user)
			require.Equal(t, w.newContacts, d.NewContacts, "%s: new contacts", user)
			require.Equal(t, w.openDeals, d.OpenDeals, "%s: open deals", user)
			require.Equal(t, w.open, eur(t, d.OpenPipeline), "%s: open pipeline", user)
			require.Equal(t, w.wonDeals, d.WonDeals, "%s: won deals", user)
			require.Equal(t, w.won, eur(t, d.WonRevenue), "%s: won revenue", user)
			require.Equal(t, w.lost, d.LostDeals, "%s: lost deals", user)
			require.InDelta(t, w.winRate, d.WinRate, 1e-9, "%s: win rate", user)
			require.Equal(t, w.openTickets, d.OpenTickets, "%s: open tickets", user)

			p, err := svc.Pipelines(ctx, analytics.PipelineOptions{Period: dayPeriod})
			require.NoError(t, err, user)
			if user == "erin" {
				require.Empty(t, p.Pipelines, "marketing reads no pipeline")
			} else {
				require.Len(t, p.Pipelines, 1, user)
				ps := p.Pipelines[0]
				require.Equal(t, w.wonDeals, ps.Won, "%s: won", user)
				require.Equal(t, w.lost, ps.Lost, "%s: lost", user)
				require.Equal(t, w.openDeals, ps.Open, "%s: open", user)
				require.InDelta(t, w.winRate, ps.WinRate, 1e-9, "%s: win rate", user)
				require.Equal(t, w.firstStageEntered, ps.Stages[0].Entered, "%s: deals entering the first stage", user)
				require.Len(t, ps.Currencies, 1, user)
				require.Equal(t, w.won, ps.Currencies[0].WonAmount.Amount.String(), "%s: won amount", user)
				require.Equal(t, w.open, ps.Currencies[0].OpenAmount.Amount.String(), "%s: open amount", user)
			}

			at, err := svc.Attribution(ctx, analytics.AttributionOptions{Period: dayPeriod})
			require.NoError(t, err, user)
			require.Equal(t, w.attributionDeals, at.Deals, "%s: attributed deals", user)
			require.Equal(t, w.attributionRevenue, eur(t, at.Revenue), "%s: attributed revenue", user)

			rfm, err := svc.RFM(ctx, analytics.RFMOptions{})
			require.NoError(t, err, user)
			var ids []core.ID
			for _, r := range rfm.Customers {
				ids = append(ids, r.ContactID)
			}
			require.ElementsMatch(t, w.rfm, ids, "%s: RFM rows", user)

			cv, err := svc.CustomerValue(ctx, analytics.CustomerValueOptions{Horizon: 30 * 24 * time.Hour})
			require.NoError(t, err, user)
			ids = ids[:0]
			var totals []core.Money
			for _, r := range cv.Customers {
				ids = append(ids, r.ContactID)
				totals = append(totals, r.Total)
			}
			require.ElementsMatch(t, w.rfm, ids, "%s: customer value rows", user)
			sum := "0"
			if len(totals) > 0 {
				s := totals[0].Amount
				for _, m := range totals[1:] {
					s = s.Add(m.Amount)
				}
				sum = s.String()
			}
			require.Equal(t, w.purchases, sum, "%s: historical value", user)

			churn, err := svc.Churn(ctx, analytics.ChurnOptions{})
			require.NoError(t, err, user)
			require.Len(t, churn.Customers, len(w.rfm), "%s: churn rows", user)

			co, err := svc.Cohorts(ctx, analytics.CohortOptions{Period: analytics.Period{From: core.NewDate(2026, 5, 1), To: core.NewDate(2026, 7, 1)}})
			require.NoError(t, err, user)
			var may int64
			for _, x := range co.Cohorts {
				if x.Month == "2026-05" {
					may = x.Size
				}
			}
			require.Equal(t, w.cohortSize, may, "%s: May cohort", user)

			f, err := svc.Funnel(ctx, analytics.FunnelOptions{Period: dayPeriod, ByOwner: true})
			require.NoError(t, err, user)
			require.Equal(t, contacts.StageLead, f.Stages[1].Stage)
			require.Equal(t, w.leadsEntered, f.Stages[1].Entered, "%s: leads entered", user)

			cr, err := svc.Campaigns(ctx, analytics.CampaignOptions{})
			require.NoError(t, err, user)
			require.Len(t, cr.Campaigns, w.campaigns, "%s: campaigns", user)
		}
	})
}

// Every report, for every built-in role and a user without one: a user
// whose roles do not read "analytics" is refused (ErrForbidden, an audit
// entry "analytics:read" each time), the others get the report.
func TestReportsRecordAccessWalk(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		o := newOffice(t, db)
		svc := o.c.Analytics
		reports := map[string]func(ctx context.Context) error{
			"Dashboard": func(ctx context.Context) error {
				_, err := svc.Dashboard(ctx, analytics.DashboardOptions{Period: dayPeriod})
				return err
			},
			"Pipelines": func(ctx context.Context) error {
				_, err := svc.Pipelines(ctx, analytics.PipelineOptions{Period: dayPeriod})
				return err
			},
			"Attribution": func(ctx context.Context) error {
				_, err := svc.Attribution(ctx, analytics.AttributionOptions{Period: dayPeriod})
				return err
			},
			"CustomerValue": func(ctx context.Context) error {
				_, err := svc.CustomerValue(ctx, analytics.CustomerValueOptions{Horizon: time.Hour})
				return err
			},
			"Churn": func(ctx context.Context) error {
				_, err := svc.Churn(ctx, analytics.ChurnOptions{})
				return err
			},
			"RFM": func(ctx context.Context) error {
				_, err := svc.RFM(ctx, analytics.RFMOptions{})
				return err
			},
			"Cohorts": func(ctx context.Context) error {
				_, err := svc.Cohorts(ctx, analytics.CohortOptions{Period: dayPeriod})
				return err
			},
			"Funnel": func(ctx context.Context) error {
				_, err := svc.Funnel(ctx, analytics.FunnelOptions{Period: dayPeriod})
				return err
			},
			"Campaigns": func(ctx context.Context) error {
				_, err := svc.Campaigns(ctx, analytics.CampaignOptions{})
				return err
			},
		}
		reads := map[string]bool{"root": true, "carol": true, "alice": true, "bob": true, "sam": false, "dave": false,
			"erin": true, "rita": true, "nobody": false}
		for user, ok := range reads {
			for name, run := range reports {
				err := run(as(user))
				if ok {
					require.NoError(t, err, "%s as %s", name, user)
					continue
				}
				require.ErrorIs(t, err, core.ErrForbidden, "%s as %s", name, user)
				require.True(t, strings.HasPrefix(err.Error(), "crm: "), err.Error())
				require.Contains(t, err.Error(), user)
			}
			entries, err := o.c.Consent.Audit(context.Background(), consent.AuditQuery{Limit: store.MaxLimit})
			require.NoError(t, err)
			var denied []string
			for _, e := range entries {
				if e.Action == analytics.AuditDenied && e.ActorID == user {
					require.Equal(t, "report", e.SubjectType)
					denied = append(denied, e.Detail)
				}
			}
			if ok {
				require.Empty(t, denied, user)
			} else {
				require.Len(t, denied, len(reports), user)
				for _, d := range denied {
					require.Equal(t, "analytics:read", d)
				}
			}
		}
		// Bad input is still ErrInvalid for those who may read.
		_, err := svc.Dashboard(as("alice"), analytics.DashboardOptions{})
		require.ErrorIs(t, err, core.ErrInvalid)
	})
}
