package analytics_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/analytics"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/pipeline"
)

// For random owners, team layouts and actors, the dashboard's deal
// figures and the pipeline report's (both in SQL) are the sums an
// in-memory reference of own/team/all visibility of deals gives.
func TestReportVisibilityMatchesReference(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		root, err := crm.New(db, crm.Config{Clock: dbtest.NewClock(time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC))})
		require.NoError(t, err)
		require.NoError(t, root.Migrate(ctx))
		t.Cleanup(func() { require.NoError(t, root.Close()) })
		rng := rand.New(rand.NewPCG(23, uint64(len(t.Name()))))
		users := []string{"u0", "u1", "u2", "u3", "u4", "u5"}
		for round := range 4 {
			c := root.Tenant(fmt.Sprintf("prop-%d", round))
			for _, vis := range []access.Visibility{access.VisibilityOwn, access.VisibilityTeam, access.VisibilityAll} {
				_, err := c.Access.Roles.Create(ctx, access.RoleInput{Name: "deals-" + string(vis), Permissions: access.Permissions{
					"pipeline":  {Actions: []access.Action{access.Read}, Visibility: vis},
					"analytics": {Actions: []access.Action{access.Read}, Visibility: access.VisibilityAll}}})
				require.NoError(t, err)
			}
			for _, u := range users {
				_, err := c.Access.Users.Create(ctx, access.UserInput{ID: u, DisplayName: u, TimeZone: "UTC"})
				require.NoError(t, err)
			}
			teams := map[string][]string{}
			for i := range 3 {
				name := fmt.Sprintf("t%d", i)
				team, err := c.Access.Teams.Create(ctx, access.TeamInput{Name: name})
				require.NoError(t, err)
				for _, u := range users {
					if rng.IntN(3) == 0 {
						team, err = c.Access.Teams.AddMember(ctx, team.ID, team.Version, access.Member{UserID: u})
						require.NoError(t, err)
						teams[name] = append(teams[name], u)
					}
				}
			}
			// The actor is "x" (not a stored user: its Roles and Teams apply).
			owners := append(slices.Clone(users), "", "x")
			type deal struct {
				owner  string
				status pipeline.DealStatus
				amount decimal.Decimal
			}
			var deals []deal
			for range 5 + rng.IntN(12) {
				amount := decimal.NewFromInt(int64(1 + rng.IntN(1000)))
				d, err := c.Deals.Create(ctx, pipeline.NewDeal{Title: "d", Amount: core.Money{Amount: amount, Currency: "EUR"},
					OwnerID: owners[rng.IntN(len(owners))]})
				require.NoError(t, err)
				switch rng.IntN(3) {
				case 1:
					d, err = c.Deals.Win(ctx, d.ID, d.Version)
				case 2:
					d, err = c.Deals.Lose(ctx, d.ID, d.Version, "price")
				}
				require.NoError(t, err)
				deals = append(deals, deal{owner: d.OwnerID, status: d.Status, amount: amount})
			}
			for range 4 {
				vis := []access.Visibility{access.VisibilityOwn, access.VisibilityTeam, access.VisibilityAll}[rng.IntN(3)]
				var actorTeams []string
				for name := range teams {
					if rng.IntN(2) == 0 {
						actorTeams = append(actorTeams, name)
					}
				}
				slices.Sort(actorTeams)
				sees := func(o string) bool {
					switch vis {
					case access.VisibilityAll:
						return true
					case access.VisibilityTeam:
						if o == "x" {
							return true
						}
						for _, name := range actorTeams {
							if slices.Contains(teams[name], o) {
								return true
							}
						}
						return false
					default:
						return o == "x"
					}
				}
				var open, won, lost int64
				openSum, wonSum := decimal.Zero, decimal.Zero
				for _, d := range deals {
					if !sees(d.owner) {
						continue
					}
					switch d.status {
					case pipeline.DealOpen:
						open++
						openSum = openSum.Add(d.amount)
					case pipeline.DealWon:
						won++
						wonSum = wonSum.Add(d.amount)
					case pipeline.DealLost:
						lost++
					}
				}
				actx := contextWithActor(ctx, "deals-"+string(vis), actorTeams)
				why := fmt.Sprintf("round %d, %s visibility, teams %v of %v", round, vis, actorTeams, teams)
				d, err := c.Analytics.Dashboard(actx, analytics.DashboardOptions{Period: dayPeriod})
				require.NoError(t, err)
				require.Equal(t, open, d.OpenDeals, why)
				require.Equal(t, won, d.WonDeals, why)
				require.Equal(t, lost, d.LostDeals, why)
				require.True(t, openSum.Equal(sumOf(d.OpenPipeline)), "%s: open %s, want %s", why, sumOf(d.OpenPipeline), openSum)
				require.True(t, wonSum.Equal(sumOf(d.WonRevenue)), "%s: won %s, want %s", why, sumOf(d.WonRevenue), wonSum)
				p, err := c.Analytics.Pipelines(actx, analytics.PipelineOptions{Period: dayPeriod})
				require.NoError(t, err)
				require.Len(t, p.Pipelines, 1)
				require.Equal(t, open, p.Pipelines[0].Open, why)
				require.Equal(t, won, p.Pipelines[0].Won, why)
				require.Equal(t, lost, p.Pipelines[0].Lost, why)
			}
		}
	})
}

// contextWithActor is ctx with the actor "x" holding role in teams.
func contextWithActor(ctx context.Context, role string, teams []string) context.Context {
	return core.WithActor(ctx, core.Actor{ID: "x", Roles: []string{role}, Teams: teams})
}

// sumOf adds the amounts of ms (one currency in these tests).
func sumOf(ms []core.Money) decimal.Decimal {
	s := decimal.Zero
	for _, m := range ms {
		s = s.Add(m.Amount)
	}
	return s
}
