package campaigns_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/campaigns"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
)

// For random owners, team layouts and actors, a segment's count and its
// pages of members (both in SQL) are the members an in-memory reference
// of own/team/all visibility of contacts picks.
func TestSegmentVisibilityMatchesReference(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		root := newCRM(t, db, walkConfig())
		rng := rand.New(rand.NewPCG(17, uint64(len(t.Name()))))
		users := []string{"u0", "u1", "u2", "u3", "u4", "u5"}
		for round := range 5 {
			ctx := context.Background()
			c := root.Tenant(fmt.Sprintf("prop-%d", round))
			for _, vis := range []access.Visibility{access.VisibilityOwn, access.VisibilityTeam, access.VisibilityAll} {
				_, err := c.Access.Roles.Create(ctx, access.RoleInput{Name: "people-" + string(vis), Permissions: access.Permissions{
					"contacts":  {Actions: []access.Action{access.Read}, Visibility: vis},
					"campaigns": {Actions: []access.Action{access.Read}, Visibility: access.VisibilityAll}}})
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
			owner := map[core.ID]string{}
			for i := range 5 + rng.IntN(12) {
				tags := []string{"news"}
				if rng.IntN(4) == 0 {
					tags = []string{"other"} // not a member
				}
				email := fmt.Sprintf("p%d@example.com", i)
				if rng.IntN(6) == 0 {
					email = "" // not a member either
				}
				ct, err := c.Contacts.Create(ctx, contacts.NewContact{FirstName: "P", Email: email, OwnerID: owners[rng.IntN(len(owners))], Tags: tags})
				require.NoError(t, err)
				if email != "" && tags[0] == "news" {
					owner[ct.ID] = ct.OwnerID
				}
			}
			seg, err := c.Segments.Create(ctx, campaigns.NewSegment{Name: "News", Filter: filter.Contains("tags", "news")})
			require.NoError(t, err)
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
				var want []core.ID
				for id, o := range owner {
					if sees(o) {
						want = append(want, id)
					}
				}
				slices.SortFunc(want, func(a, b core.ID) int { return strings.Compare(a.String(), b.String()) })
				actx := core.WithActor(ctx, core.Actor{ID: "x", Roles: []string{"people-" + string(vis)}, Teams: actorTeams})
				why := fmt.Sprintf("round %d, %s visibility, teams %v of %v", round, vis, actorTeams, teams)
				n, err := c.Segments.Count(actx, seg.ID)
				require.NoError(t, err)
				require.EqualValues(t, len(want), n, why)
				var got []core.ID
				after := core.NilID
				for {
					page, err := c.Segments.Members(actx, seg.ID, after, 3)
					require.NoError(t, err)
					if len(page) == 0 {
						break
					}
					for _, m := range page {
						got = append(got, m.ContactID)
						require.Empty(t, m.Email, "no personal data in the role")
					}
					after = page[len(page)-1].ContactID
				}
				require.Equal(t, want, got, why)
			}
		}
	})
}
