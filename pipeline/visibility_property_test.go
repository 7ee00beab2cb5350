package pipeline_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
	"github.com/crmkit/crmkit/pipeline"
)

// For random owners, team layouts and actors, the deals Deals.List pages
// through and the board counts and sums (both in SQL) are those an
// in-memory reference of own/team/all visibility picks.
func TestVisibilityMatchesReference(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		root := store.NewScope(newRuntime(t, db))
		rng := rand.New(rand.NewPCG(13, uint64(len(t.Name()))))
		users := []string{"u0", "u1", "u2", "u3", "u4", "u5"}
		for round := range 6 {
			ctx := context.Background()
			w := worldOf(root.WithTenant(fmt.Sprintf("prop-%d", round)))
			for _, vis := range []access.Visibility{access.VisibilityOwn, access.VisibilityTeam, access.VisibilityAll} {
				_, err := w.access.Roles.Create(ctx, access.RoleInput{Name: "deals-" + string(vis), Permissions: access.Permissions{
					"pipeline": {Actions: []access.Action{access.Read}, Visibility: vis}}})
				require.NoError(t, err)
			}
			for _, u := range users {
				_, err := w.access.Users.Create(ctx, access.UserInput{ID: u, DisplayName: u, TimeZone: "UTC"})
				require.NoError(t, err)
			}
			teams := map[string][]string{}
			for i := range 3 {
				name := fmt.Sprintf("t%d", i)
				team, err := w.access.Teams.Create(ctx, access.TeamInput{Name: name})
				require.NoError(t, err)
				for _, u := range users {
					if rng.IntN(3) == 0 {
						team, err = w.access.Teams.AddMember(ctx, team.ID, team.Version, access.Member{UserID: u})
						require.NoError(t, err)
						teams[name] = append(teams[name], u)
					}
				}
			}
			p, err := w.pipelines.Default(ctx)
			require.NoError(t, err)
			// The actor is "x" (not a stored user: its Roles and Teams apply).
			owners := append(slices.Clone(users), "", "x")
			type deal struct {
				owner  string
				stage  core.ID
				amount decimal.Decimal
			}
			deals := map[core.ID]deal{}
			for range 4 + rng.IntN(10) {
				st := p.Stages[rng.IntN(len(p.Stages))]
				amount := decimal.NewFromInt(int64(1 + rng.IntN(1000)))
				d, err := w.deals.Create(ctx, pipeline.NewDeal{Title: "d", Amount: core.Money{Amount: amount, Currency: "EUR"},
					OwnerID: owners[rng.IntN(len(owners))], StageID: st.ID})
				require.NoError(t, err)
				deals[d.ID] = deal{owner: d.OwnerID, stage: st.ID, amount: amount}
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
				// The reference: which owners' deals the actor sees.
				sees := func(owner string) bool {
					switch vis {
					case access.VisibilityAll:
						return true
					case access.VisibilityTeam:
						if owner == "x" {
							return true
						}
						for _, name := range actorTeams {
							if slices.Contains(teams[name], owner) {
								return true
							}
						}
						return false
					default:
						return owner == "x"
					}
				}
				var want []core.ID
				count := map[core.ID]int64{}
				sum := map[core.ID]decimal.Decimal{}
				for id, d := range deals {
					if sees(d.owner) {
						want = append(want, id)
						count[d.stage]++
						sum[d.stage] = sum[d.stage].Add(d.amount)
					}
				}
				actx := core.WithActor(ctx, core.Actor{ID: "x", Roles: []string{"deals-" + string(vis)}, Teams: actorTeams})
				why := fmt.Sprintf("round %d, %s visibility, teams %v of %v", round, vis, actorTeams, teams)
				require.Equal(t, sortedIDs(want), pageAll(t, w.deals, actx), why)
				board, err := w.deals.Board(actx, p.ID, pipeline.BoardOptions{Closed: true})
				require.NoError(t, err)
				for _, col := range board.Columns {
					require.Equal(t, count[col.Stage.ID], col.Count, "%s: stage %s", why, col.Stage.Name)
					got := decimal.Zero
					for _, m := range col.Totals {
						got = got.Add(m.Amount)
					}
					require.True(t, sum[col.Stage.ID].Equal(got), "%s: stage %s sums %s, want %s", why, col.Stage.Name, got, sum[col.Stage.ID])
				}
			}
		}
	})
}
