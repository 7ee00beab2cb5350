package analytics_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/analytics"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/pipeline"
	"github.com/crmkit/crmkit/tickets"
)

// The dashboard counts the period's new contacts, won and lost deals and
// revenue, and now's open pipeline and open tickets, each per tenant.
func TestDashboard(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c, err := crm.New(db, crm.Config{})
		require.NoError(t, err)
		require.NoError(t, c.Migrate(ctx))
		ada, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
		require.NoError(t, err)
		_, err = c.Contacts.Create(ctx, contacts.NewContact{Email: "bob@example.com"})
		require.NoError(t, err)
		deal := func(amount, currency string) *pipeline.Deal {
			d, err := c.Deals.Create(ctx, pipeline.NewDeal{Title: "d", Amount: core.MustMoney(amount, currency), ContactID: &ada.ID})
			require.NoError(t, err)
			return d
		}
		won := deal("1200", "EUR")
		_, err = c.Deals.Win(ctx, won.ID, won.Version)
		require.NoError(t, err)
		lost := deal("300", "EUR")
		_, err = c.Deals.Lose(ctx, lost.ID, lost.Version, "price")
		require.NoError(t, err)
		deal("500", "EUR")
		deal("80", "USD")
		_, err = c.Tickets.Create(ctx, tickets.NewTicket{Subject: "Help", ContactID: ada.ID})
		require.NoError(t, err)

		today := core.DateOf(time.Now().UTC())
		d, err := c.Analytics.Dashboard(ctx, analytics.DashboardOptions{Period: analytics.Period{From: today, To: today.AddDays(1)}})
		require.NoError(t, err)
		require.EqualValues(t, 2, d.NewContacts)
		require.EqualValues(t, 2, d.OpenDeals)
		require.Len(t, d.OpenPipeline, 2)
		require.Equal(t, "500 EUR", d.OpenPipeline[0].String())
		require.Equal(t, "80 USD", d.OpenPipeline[1].String())
		require.EqualValues(t, 1, d.WonDeals)
		require.EqualValues(t, 1, d.LostDeals)
		require.Equal(t, 0.5, d.WinRate)
		require.Equal(t, "1200 EUR", d.WonRevenue[0].String())
		require.EqualValues(t, 1, d.OpenTickets)
		var b strings.Builder
		require.NoError(t, d.WriteCSV(&b))
		require.Contains(t, b.String(), "won_revenue,1200,EUR")

		// Last month: nothing new; another tenant: nothing at all.
		d, err = c.Analytics.Dashboard(ctx, analytics.DashboardOptions{Period: analytics.Period{From: today.AddDays(-40), To: today.AddDays(-10)}})
		require.NoError(t, err)
		require.Zero(t, d.NewContacts+d.WonDeals)
		require.EqualValues(t, 2, d.OpenDeals, "open now")
		d, err = c.Tenant("other").Analytics.Dashboard(ctx, analytics.DashboardOptions{Period: analytics.Period{From: today, To: today.AddDays(1)}})
		require.NoError(t, err)
		require.Zero(t, d.NewContacts+d.OpenDeals+d.OpenTickets)
		_, err = c.Analytics.Dashboard(ctx, analytics.DashboardOptions{})
		require.ErrorIs(t, err, core.ErrInvalid)
	})
}
