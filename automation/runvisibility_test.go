package automation_test

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/automation"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/pipeline"
	"github.com/crmkit/crmkit/tickets"
)

// The run log is narrowed per record: an actor who reads automation sees
// the runs whose contact they see in the contacts module and whose
// event's subject — a contact, a task, a deal, a ticket — they see in its
// module, in SQL, so pages and filters stay right; a hidden run is
// ErrNotFound on Get, as a missing one, and the attempt is audited.
func TestRunsFollowRecordVisibility(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := idle(t, db, crm.Config{})
		runner := func(vis access.Visibility, modules ...string) access.Permissions {
			p := access.Permissions{"automation": {Actions: []access.Action{access.Read}, Visibility: access.VisibilityAll}}
			for _, m := range modules {
				p[m] = access.Grant{Actions: []access.Action{access.Read}, Visibility: vis, PersonalData: true}
			}
			return p
		}
		for name, p := range map[string]access.Permissions{
			"runner-own":  runner(access.VisibilityOwn, "contacts", "pipeline", "tickets"),
			"runner-team": runner(access.VisibilityTeam, "contacts", "pipeline", "tickets"),
			// Sees every contact and deal, no ticket.
			"runner-sales": runner(access.VisibilityAll, "contacts", "pipeline"),
			"runner-all":   runner(access.VisibilityAll, "contacts", "pipeline", "tickets"),
		} {
			_, err := c.Access.Roles.Create(ctx, access.RoleInput{Name: name, Permissions: p})
			require.NoError(t, err)
		}
		for _, u := range []struct{ id, role string }{
			{"olga", "runner-own"}, {"tom", "runner-team"}, {"nick", "runner-sales"}, {"ada", "runner-all"},
			{"anna", ""}, {"bob", ""},
		} {
			var roles []string
			if u.role != "" {
				roles = []string{u.role}
			}
			_, err := c.Access.Users.Create(ctx, access.UserInput{ID: u.id, DisplayName: u.id, Roles: roles})
			require.NoError(t, err)
		}
		team, err := c.Access.Teams.Create(ctx, access.TeamInput{Name: "east"})
		require.NoError(t, err)
		for _, m := range []string{"tom", "anna"} {
			team, err = c.Access.Teams.AddMember(ctx, team.ID, team.Version, access.Member{UserID: m})
			require.NoError(t, err)
		}
		_, err = c.Automation.Rules.Create(ctx, automation.Rule{Name: "Tag what happens", Enabled: true,
			Triggers: []string{contacts.EventContactCreated, contacts.EventTaskCreated, pipeline.EventDealCreated, tickets.EventTicketCreated},
			Actions:  []automation.Action{{Type: automation.ActionAddTag, Tag: "seen"}}})
		require.NoError(t, err)

		// Records of olga, anna (tom's team) and bob, each with a run;
		// sees maps each run's subject to the users who see it.
		sees := map[core.ID][]string{}
		person := map[string]core.ID{}
		for _, owner := range []string{"olga", "anna", "bob"} {
			p, err := c.Contacts.Create(ctx, contacts.NewContact{Email: owner + "@example.com", FirstName: owner, OwnerID: owner})
			require.NoError(t, err)
			person[owner] = p.ID
			sees[p.ID] = []string{owner, "ada", "nick"}
		}
		sees[person["anna"]] = append(sees[person["anna"]], "tom")
		deal := func(owner, of string, who ...string) {
			d, err := c.Deals.Create(ctx, pipeline.NewDeal{Title: "Deal", Amount: core.MustMoney("100", "EUR"), OwnerID: owner, ContactID: new(person[of])})
			require.NoError(t, err)
			sees[d.ID] = append(who, "ada", "nick")
		}
		deal("olga", "olga", "olga")
		deal("olga", "anna") // olga's deal of a contact she does not see; tom sees the contact, not the deal
		deal("bob", "olga")  // olga's contact, bob's deal
		deal("anna", "anna", "tom")
		ticket := func(assignee, of string, who ...string) {
			tk, err := c.Tickets.Create(ctx, tickets.NewTicket{Subject: "Help", ContactID: person[of], AssigneeID: assignee})
			require.NoError(t, err)
			sees[tk.ID] = append(who, "ada") // nick reads no ticket
		}
		ticket("olga", "olga", "olga")
		ticket("bob", "olga")
		ticket("anna", "anna", "tom")
		task := func(assignee, of string, who ...string) {
			tk, err := c.Tasks.Create(ctx, contacts.NewTask{Title: "Call", AssigneeID: assignee, ContactID: new(person[of])})
			require.NoError(t, err)
			sees[tk.ID] = append(who, "ada", "nick")
		}
		task("olga", "olga", "olga")
		task("bob", "olga")
		task("anna", "anna", "tom")
		task("olga", "bob") // olga's task about a contact she does not see
		automation.WorkQueued(t, c.Automation)

		all, err := c.Automation.Runs.List(ctx, automation.RunQuery{Limit: 1000})
		require.NoError(t, err)
		require.Len(t, all, len(sees), "one run per record, for the host")
		events, err := c.Events(ctx, crm.EventQuery{Limit: 1000, Types: []string{contacts.EventContactCreated, contacts.EventTaskCreated,
			pipeline.EventDealCreated, tickets.EventTicketCreated}})
		require.NoError(t, err)
		subjectOf := map[core.ID]core.ID{}
		for _, ev := range events {
			subjectOf[ev.ID] = ev.SubjectID
		}
		// want returns the ids of the runs user sees, newest first.
		want := func(user string) []core.ID {
			out := []core.ID{}
			for _, r := range all {
				if slices.Contains(sees[subjectOf[r.EventID]], user) {
					out = append(out, r.ID)
				}
			}
			return out
		}
		ids := func(runs []*automation.Run) []core.ID {
			out := []core.ID{}
			for _, r := range runs {
				out = append(out, r.ID)
			}
			return out
		}
		require.Len(t, want("olga"), 4)
		require.Len(t, want("tom"), 4)
		require.Len(t, want("nick"), len(sees)-3)
		require.Len(t, want("ada"), len(sees))

		for _, user := range []string{"olga", "tom", "nick", "ada"} {
			t.Run(user, func(t *testing.T) {
				as := core.WithActor(ctx, core.Actor{ID: user})
				runs, err := c.Automation.Runs.List(as, automation.RunQuery{})
				require.NoError(t, err)
				require.Equal(t, want(user), ids(runs))

				// Paged two at a time: every page full but the last.
				var paged []core.ID
				before := core.NilID
				for {
					page, err := c.Automation.Runs.List(as, automation.RunQuery{Before: before, Limit: 2})
					require.NoError(t, err)
					paged = append(paged, ids(page)...)
					if len(page) < 2 {
						break
					}
					before = page[len(page)-1].ID
				}
				require.Equal(t, want(user), paged)

				// Filters by contact and status narrow the same way.
				for owner, p := range person {
					runs, err := c.Automation.Runs.List(as, automation.RunQuery{ContactID: p})
					require.NoError(t, err)
					for _, r := range runs {
						require.Contains(t, want(user), r.ID, "run of %s's contact", owner)
					}
				}
				done, err := c.Automation.Runs.List(as, automation.RunQuery{Status: automation.RunDone})
				require.NoError(t, err)
				for _, r := range done {
					require.Contains(t, want(user), r.ID)
				}

				for _, r := range all {
					got, err := c.Automation.Runs.Get(as, r.ID)
					if slices.Contains(want(user), r.ID) {
						require.NoError(t, err)
						require.NotEmpty(t, got.Steps)
						continue
					}
					require.ErrorIs(t, err, core.ErrNotFound)
					entries, err := c.Consent.Audit(ctx, consent.AuditQuery{SubjectID: r.ID})
					require.NoError(t, err)
					require.True(t, slices.ContainsFunc(entries, func(e consent.AuditEntry) bool {
						return e.Action == automation.AuditDenied && e.ActorID == user && e.Detail == "automation:read"
					}), "the hidden run's Get is audited")
				}
				_, err = c.Automation.Runs.Get(as, core.NewID())
				require.ErrorIs(t, err, core.ErrNotFound)
			})
		}
	})
}
