package analytics_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/analytics"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/tickets"
)

// The ticket figures of the service report and the dashboard count, for
// actors who see their own, their teams' and all tickets, exactly the
// tickets the tickets module counts for them (c.Tickets.Count with the
// same filter): team visibility admits a ticket assigned to a member of
// one of the actor's teams or filed under one of those teams by name,
// whoever it is assigned to.
func TestTicketFiguresCountWhatTicketsCounts(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		clock := dbtest.NewClock(time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC))
		c, err := crm.New(db, crm.Config{Clock: clock})
		require.NoError(t, err)
		require.NoError(t, c.Migrate(ctx))
		t.Cleanup(func() { require.NoError(t, c.Close()) })
		for _, vis := range []access.Visibility{access.VisibilityOwn, access.VisibilityTeam, access.VisibilityAll} {
			_, err := c.Access.Roles.Create(ctx, access.RoleInput{Name: "desk-" + string(vis), Permissions: access.Permissions{
				"tickets":   {Actions: []access.Action{access.Read}, Visibility: vis},
				"analytics": {Actions: []access.Action{access.Read}, Visibility: access.VisibilityAll}}})
			require.NoError(t, err)
		}
		for _, u := range []struct{ id, role string }{{"ann", "desk-team"}, {"ben", "desk-own"}, {"cid", "desk-all"}, {"dan", "desk-team"}, {"eve", "desk-team"}} {
			_, err := c.Access.Users.Create(ctx, access.UserInput{ID: u.id, DisplayName: u.id, TimeZone: "UTC", Roles: []string{u.role}})
			require.NoError(t, err)
		}
		teams := map[string]core.ID{}
		for name, members := range map[string][]string{"east": {"ann", "ben"}, "west": {"dan"}, "north": {}} {
			tm, err := c.Access.Teams.Create(ctx, access.TeamInput{Name: name})
			require.NoError(t, err)
			teams[name] = tm.ID
			for _, m := range members {
				tm, err = c.Access.Teams.AddMember(ctx, tm.ID, tm.Version, access.Member{UserID: m})
				require.NoError(t, err)
			}
		}
		person, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
		require.NoError(t, err)
		// Every assignee with every team: among them tickets of east
		// assigned to someone outside east (dan, eve, no one), which
		// east's members see by the team column alone.
		n := 0
		for _, assignee := range []string{"", "ann", "ben", "cid", "dan", "eve", "zed"} {
			for _, team := range []string{"", "east", "west", "north"} {
				tk, err := c.Tickets.Create(ctx, tickets.NewTicket{Subject: "Help", ContactID: person.ID, AssigneeID: assignee, Team: team})
				require.NoError(t, err)
				if n%3 == 1 {
					_, err = c.Tickets.SetStatus(ctx, tk.ID, tickets.StatusChange{Version: tk.Version, Status: tickets.StatusSolved})
					require.NoError(t, err)
				}
				n++
				clock.Add(time.Minute)
			}
		}
		clock.Add(time.Hour)

		from, to := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 7, 2, 0, 0, 0, 0, time.UTC)
		inDay := func(col string) filter.Expr { return filter.And(filter.Gte(col, from), filter.Lt(col, to)) }
		open := filter.In("status", "new", "open", "pending", "on_hold")
		resolved := filter.In("status", "solved", "closed")
		actors := map[string]context.Context{
			"host": ctx, "ann (team east)": as("ann"), "ben (own)": as("ben"), "cid (all)": as("cid"), "dan (team west)": as("dan"),
			"eve (team, no team)": as("eve"),
			// An actor the tenant does not store: its roles and teams
			// (by name or id) apply.
			"x (team east, north)": core.WithActor(ctx, core.Actor{ID: "x", Roles: []string{"desk-team"}, Teams: []string{"east", teams["north"].String()}}),
			"y (own)":              core.WithActor(ctx, core.Actor{ID: "y", Roles: []string{"desk-own"}, Teams: []string{"east"}}),
		}
		for who, actx := range actors {
			count := func(f ...filter.Expr) int64 {
				n, err := c.Tickets.Count(actx, filter.And(append([]filter.Expr{filter.Gte("number", 1)}, f...)...))
				require.NoError(t, err, who)
				return n
			}
			r, err := c.Analytics.ServiceLevels(actx, analytics.ServiceOptions{Period: dayPeriod, By: analytics.ByTeam})
			require.NoError(t, err, who)
			require.Equal(t, count(inDay("created_at")), r.Total.Created, "%s: created", who)
			require.Equal(t, count(resolved), r.Total.Solved, "%s: solved", who)
			require.Len(t, r.Backlog, 1, who)
			require.Equal(t, count(open), r.Total.Backlog[0], "%s: backlog now", who)
			var groups int64
			for _, g := range r.Groups {
				require.Equal(t, count(inDay("created_at"), filter.Eq("team", g.Key)), g.Stats.Created, "%s: created, team %q", who, g.Key)
				require.Equal(t, count(open, filter.Eq("team", g.Key)), g.Stats.Backlog[0], "%s: backlog, team %q", who, g.Key)
				groups += g.Stats.Created
			}
			require.Equal(t, r.Total.Created, groups, who)
			for name, id := range teams {
				r, err := c.Analytics.ServiceLevels(actx, analytics.ServiceOptions{Period: dayPeriod, TeamID: id})
				require.NoError(t, err, who)
				why := fmt.Sprintf("%s, team %s", who, name)
				require.Equal(t, count(inDay("created_at"), filter.Eq("team", name)), r.Total.Created, "%s: created", why)
				require.Equal(t, count(resolved, filter.Eq("team", name)), r.Total.Solved, "%s: solved", why)
				require.Equal(t, count(open, filter.Eq("team", name)), r.Total.Backlog[0], "%s: backlog", why)
			}
			d, err := c.Analytics.Dashboard(actx, analytics.DashboardOptions{Period: dayPeriod})
			require.NoError(t, err, who)
			require.Equal(t, count(open), d.OpenTickets, "%s: dashboard open", who)
			require.Equal(t, count(open, filter.Lt("sla_due", clock.Now())), d.OverdueTickets, "%s: dashboard overdue", who)
			require.Equal(t, count(resolved), d.TicketsSolved, "%s: dashboard solved", who)
		}
		// The team rule matters here: ann sees more than the tickets
		// assigned to east's members.
		byAssignee, err := c.Tickets.Count(ctx, filter.In("assignee_id", "ann", "ben"))
		require.NoError(t, err)
		mine, err := c.Tickets.Count(as("ann"), filter.Gte("number", 1))
		require.NoError(t, err)
		require.Greater(t, mine, byAssignee)
	})
}
