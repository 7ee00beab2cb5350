package contacts_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
)

// For random owners, teams and roles, the contacts List and Count return
// for each user are exactly those an in-memory reference of own/team/all
// visibility picks, on both databases, page by page.
func TestVisibilitySQLAgreesWithReference(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		w := newWorld(t, db) // the runtime; each round is a tenant of its own
		seed := uint64(time.Now().UnixNano())
		t.Logf("seed %d", seed)
		r := rand.New(rand.NewPCG(seed, 13))
		ctx := context.Background()
		vis := []access.Visibility{access.VisibilityOwn, access.VisibilityTeam, access.VisibilityAll}
		for round := range 4 {
			sc := w.sc.WithTenant(fmt.Sprintf("round-%d", round))
			acc := access.Module.Service(sc)
			svc := contacts.Module.Contacts(sc)
			for _, v := range vis {
				_, err := acc.Roles.Create(ctx, access.RoleInput{Name: "see-" + string(v), Permissions: access.Permissions{
					"contacts": {Actions: []access.Action{access.Read}, Visibility: v}}})
				require.NoError(t, err)
			}
			users := make([]string, 8)
			role := map[string]access.Visibility{}
			for i := range users {
				users[i] = fmt.Sprintf("u%d", i)
				role[users[i]] = vis[r.IntN(len(vis))]
				_, err := acc.Users.Create(ctx, access.UserInput{ID: users[i], DisplayName: users[i], TimeZone: "UTC",
					Roles: []string{"see-" + string(role[users[i]])}})
				require.NoError(t, err)
			}
			// Teams with random members; a user may be in several or none.
			teams := make([][]string, 3)
			for i := range teams {
				team, err := acc.Teams.Create(ctx, access.TeamInput{Name: fmt.Sprintf("t%d", i)})
				require.NoError(t, err)
				for _, u := range users {
					if r.IntN(3) == 0 {
						team, err = acc.Teams.AddMember(ctx, team.ID, team.Version, access.Member{UserID: u})
						require.NoError(t, err)
						teams[i] = append(teams[i], u)
					}
				}
			}
			// Contacts owned by users, by no one, or by someone not a user.
			owners := append(slices.Clone(users), "", "outsider")
			type rec struct {
				id    core.ID
				owner string
				stage string
			}
			var recs []rec
			for range 40 + r.IntN(30) {
				in := contacts.NewContact{FirstName: "P", OwnerID: owners[r.IntN(len(owners))],
					LifecycleStage: contacts.Stage([]string{"lead", "customer"}[r.IntN(2)])}
				c, err := svc.Create(ctx, in)
				require.NoError(t, err)
				recs = append(recs, rec{c.ID, c.OwnerID, string(c.LifecycleStage)})
			}
			// The reference.
			sees := func(u, owner string) bool {
				switch role[u] {
				case access.VisibilityAll:
					return true
				case access.VisibilityOwn:
					return owner == u
				}
				if owner == u {
					return true
				}
				for _, members := range teams {
					if slices.Contains(members, u) && slices.Contains(members, owner) {
						return true
					}
				}
				return false
			}
			for _, u := range users {
				actx := core.WithActor(ctx, core.Actor{ID: u})
				for _, f := range []filter.Expr{{}, filter.Eq("lifecycle_stage", "customer")} {
					var want []core.ID
					for _, c := range recs {
						if sees(u, c.owner) && (f.IsZero() || c.stage == "customer") {
							want = append(want, c.id)
						}
					}
					var got []core.ID
					opts := contacts.ListOptions{Filter: f, Limit: 1 + r.IntN(9), Sort: []string{"created_at", "-created_at", "last_name"}[r.IntN(3)]}
					for {
						page, err := svc.List(actx, opts)
						require.NoError(t, err)
						for _, c := range page.Items {
							got = append(got, c.ID)
						}
						if page.Next == "" {
							break
						}
						opts.Cursor = page.Next
					}
					require.Equal(t, sortedIDs(want), sortedIDs(got), "round %d user %s (%s) filter %s (seed %d)", round, u, role[u], f, seed)
					require.Len(t, got, len(want), "no row twice")
					n, err := svc.Count(actx, f)
					require.NoError(t, err)
					require.EqualValues(t, len(want), n)
				}
			}
		}
	})
}
