package tickets_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/tickets"
)

// For random assignees, teams, team layouts and actors, the tickets
// Tickets.List pages through and Tickets.Count counts (both in SQL) are
// those an in-memory reference of own/team/all visibility picks: own is
// assigned to the actor; team is assigned to a member of the actor's
// teams (or the actor) or in one of those teams by the team column.
func TestVisibilityMatchesReference(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		b := setup(t, db)
		rng := rand.New(rand.NewPCG(17, uint64(len(t.Name()))))
		users := []string{"u0", "u1", "u2", "u3", "u4", "u5"}
		for round := range 5 {
			ctx := context.Background()
			c := b.c.Tenant(fmt.Sprintf("prop-%d", round))
			for _, vis := range []access.Visibility{access.VisibilityOwn, access.VisibilityTeam, access.VisibilityAll} {
				_, err := c.Access.Roles.Create(ctx, access.RoleInput{Name: "tickets-" + string(vis), Permissions: access.Permissions{
					"tickets": {Actions: []access.Action{access.Read}, Visibility: vis}}})
				require.NoError(t, err)
			}
			for _, u := range users {
				_, err := c.Access.Users.Create(ctx, access.UserInput{ID: u, DisplayName: u, TimeZone: "UTC"})
				require.NoError(t, err)
			}
			teams := map[string][]string{}
			names := []string{"t0", "t1", "t2"}
			for _, name := range names {
				team, err := c.Access.Teams.Create(ctx, access.TeamInput{Name: name})
				require.NoError(t, err)
				teams[name] = []string{}
				for _, u := range users {
					if rng.IntN(3) == 0 {
						team, err = c.Access.Teams.AddMember(ctx, team.ID, team.Version, access.Member{UserID: u})
						require.NoError(t, err)
						teams[name] = append(teams[name], u)
					}
				}
			}
			p, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "p@example.com"})
			require.NoError(t, err)
			// The actor is "x" (not a stored user: its Roles and Teams apply).
			assignees := append(slices.Clone(users), "", "x")
			type ticket struct{ assignee, team string }
			all := map[core.ID]ticket{}
			for range 6 + rng.IntN(12) {
				tk, err := c.Tickets.Create(ctx, tickets.NewTicket{Subject: "s", ContactID: p.ID,
					AssigneeID: assignees[rng.IntN(len(assignees))], Team: append(slices.Clone(names), "")[rng.IntN(len(names)+1)]})
				require.NoError(t, err)
				all[tk.ID] = ticket{tk.AssigneeID, tk.Team}
			}
			for range 4 {
				vis := []access.Visibility{access.VisibilityOwn, access.VisibilityTeam, access.VisibilityAll}[rng.IntN(3)]
				var actorTeams []string
				for _, name := range names {
					if rng.IntN(2) == 0 {
						actorTeams = append(actorTeams, name)
					}
				}
				sees := func(tk ticket) bool {
					switch vis {
					case access.VisibilityAll:
						return true
					case access.VisibilityTeam:
						if tk.assignee == "x" || slices.Contains(actorTeams, tk.team) {
							return true
						}
						for _, name := range actorTeams {
							if tk.assignee != "" && slices.Contains(teams[name], tk.assignee) {
								return true
							}
						}
						return false
					default:
						return tk.assignee == "x"
					}
				}
				var want, inT0 []core.ID
				for id, tk := range all {
					if sees(tk) {
						want = append(want, id)
						if tk.team == "t0" {
							inT0 = append(inT0, id)
						}
					}
				}
				actx := core.WithActor(ctx, core.Actor{ID: "x", Roles: []string{"tickets-" + string(vis)}, Teams: actorTeams})
				why := fmt.Sprintf("round %d, %s visibility, teams %v of %v", round, vis, actorTeams, teams)
				require.Equal(t, sortedIDs(want), pageAll(t, c.Tickets, actx), why)
				n, err := c.Tickets.Count(actx, filter.Expr{})
				require.NoError(t, err)
				require.EqualValues(t, len(want), n, why)
				n, err = c.Tickets.Count(actx, filter.Eq("team", "t0"))
				require.NoError(t, err)
				require.EqualValues(t, len(inT0), n, why)
			}
		}
	})
}
