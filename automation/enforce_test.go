package automation_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/automation"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/internal/store"
)

// Each built-in role, and a user with none, walks the automation
// services: rules and webhooks are settings (read to list and get them,
// manage to change them), runs and deliveries need read. Refusals are
// ErrForbidden, change nothing and are in the audit log.
func TestRecordAccessByRole(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := idle(t, db, loopbackConfig())
		_, err := c.Access.Roles.InstallBuiltins(ctx)
		require.NoError(t, err)
		for _, u := range []struct{ id, role string }{
			{"root", access.RoleAdmin}, {"carol", access.RoleManager}, {"alice", access.RoleSales},
			{"dave", access.RoleSupport}, {"erin", access.RoleMarketing}, {"rita", access.RoleReadOnly}, {"nobody", ""},
		} {
			var roles []string
			if u.role != "" {
				roles = []string{u.role}
			}
			_, err := c.Access.Users.Create(ctx, access.UserInput{ID: u.id, DisplayName: u.id, Roles: roles})
			require.NoError(t, err)
		}
		rule, err := c.Automation.Rules.Create(ctx, calculatorRule)
		require.NoError(t, err)
		hook, err := c.Automation.Webhooks.Create(ctx, automation.WebhookInput{URL: "http://127.0.0.1:9/hook", EventTypes: []string{"contact.created"}})
		require.NoError(t, err)
		lead, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "lea@example.com", FirstName: "Lea", OwnerID: "anna"})
		require.NoError(t, err)
		_, err = c.Contacts.Track(ctx, contacts.ByID(lead.ID), contacts.NewActivity{Kind: contacts.KindWeb, Name: "pricing_calculator_used"})
		require.NoError(t, err)
		automation.WorkQueued(t, c.Automation)
		runs, err := c.Automation.Runs.List(ctx, automation.RunQuery{RuleID: rule.ID})
		require.NoError(t, err)
		require.Len(t, runs, 1)
		deliveries, err := c.Automation.Webhooks.Deliveries(ctx, hook.ID, 10)
		require.NoError(t, err)
		require.NotEmpty(t, deliveries)

		for _, tc := range []struct {
			user         string
			read, manage bool
			// hidden: the run is about a contact the user does not see
			// (carol sees her team's contacts; the lead is anna's).
			hidden bool
		}{
			{user: "root", read: true, manage: true},
			{user: "carol", read: true, hidden: true}, {user: "erin", read: true}, {user: "rita", read: true},
			{user: "alice"}, {user: "dave"}, {user: "nobody"},
		} {
			t.Run(tc.user, func(t *testing.T) {
				as := core.WithActor(ctx, core.Actor{ID: tc.user})
				is := func(ok bool, err error) {
					t.Helper()
					if ok {
						require.NoError(t, err)
					} else {
						require.ErrorIs(t, err, core.ErrForbidden)
					}
				}
				rules, err := c.Automation.Rules.List(as)
				is(tc.read, err)
				if tc.read {
					require.NotEmpty(t, rules)
				}
				_, err = c.Automation.Rules.Get(as, rule.ID)
				is(tc.read, err)
				_, err = c.Automation.Webhooks.List(as)
				is(tc.read, err)
				_, err = c.Automation.Webhooks.Get(as, hook.ID)
				is(tc.read, err)
				_, err = c.Automation.Webhooks.Deliveries(as, hook.ID, 10)
				is(tc.read, err)
				_, err = c.Automation.Webhooks.Delivery(as, deliveries[0].ID)
				is(tc.read, err)
				got, err := c.Automation.Runs.List(as, automation.RunQuery{RuleID: rule.ID})
				is(tc.read, err)
				switch {
				case tc.hidden:
					require.Empty(t, got)
				case tc.read:
					require.Len(t, got, 1)
				}
				_, err = c.Automation.Runs.Get(as, runs[0].ID)
				if tc.hidden {
					require.ErrorIs(t, err, core.ErrNotFound)
				} else {
					is(tc.read, err)
				}

				countRules := func() int {
					all, err := c.Automation.Rules.List(ctx)
					require.NoError(t, err)
					return len(all)
				}
				before := countRules()
				r2, err := c.Automation.Rules.Create(as, automation.Rule{Name: "Rule of " + tc.user, Triggers: []string{"contact.created"},
					Actions: []automation.Action{{Type: automation.ActionAddTag, Tag: "new"}}})
				is(tc.manage, err)
				cur, err := c.Automation.Rules.Get(ctx, rule.ID)
				require.NoError(t, err)
				_, err = c.Automation.Rules.SetEnabled(as, rule.ID, cur.Version, false)
				is(tc.manage, err)
				cur, err = c.Automation.Rules.Get(ctx, rule.ID)
				require.NoError(t, err)
				cur.Name = "Renamed by " + tc.user
				_, err = c.Automation.Rules.Update(as, rule.ID, *cur)
				is(tc.manage, err)
				wh, err := c.Automation.Webhooks.Create(as, automation.WebhookInput{URL: "http://127.0.0.1:9/" + tc.user, EventTypes: []string{"deal.won"}})
				is(tc.manage, err)
				curHook, err := c.Automation.Webhooks.Get(ctx, hook.ID)
				require.NoError(t, err)
				_, err = c.Automation.Webhooks.Update(as, hook.ID, curHook.Version, automation.WebhookInput{URL: curHook.URL, EventTypes: []string{"contact.updated"}})
				is(tc.manage, err)
				if tc.manage {
					require.NoError(t, c.Automation.Rules.Delete(as, r2.ID))
					require.NoError(t, c.Automation.Webhooks.Delete(as, wh.ID))
					_, err = c.Automation.Rules.SetEnabled(as, rule.ID, cur.Version+1, true)
					require.NoError(t, err)
				} else {
					require.ErrorIs(t, c.Automation.Rules.Delete(as, rule.ID), core.ErrForbidden)
					require.ErrorIs(t, c.Automation.Webhooks.Delete(as, hook.ID), core.ErrForbidden)
					require.Equal(t, before, countRules())
					after, err := c.Automation.Rules.Get(ctx, rule.ID)
					require.NoError(t, err)
					require.Equal(t, cur.Version, after.Version, "a refused change writes nothing")
					afterHook, err := c.Automation.Webhooks.Get(ctx, hook.ID)
					require.NoError(t, err)
					require.Equal(t, curHook.Version, afterHook.Version)
				}
				denied := deniedOf(t, c, tc.user)
				if !tc.manage {
					require.Contains(t, denied, "automation:manage")
				}
				if !tc.read {
					require.Contains(t, denied, "automation:read")
				}
				if tc.read && tc.manage {
					require.Empty(t, denied)
				}
			})
		}
	})
}

// deniedOf returns the details of actor's refused attempts in the audit
// log.
func deniedOf(t *testing.T, c *crm.CRM, actor string) []string {
	t.Helper()
	entries, err := c.Consent.Audit(context.Background(), consent.AuditQuery{Limit: store.MaxLimit})
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		if e.Action == automation.AuditDenied && e.ActorID == actor {
			out = append(out, e.Detail)
		}
	}
	return out
}
