package automation_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/automation"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
)

// A run's step results can name the person (a host's action returns what
// it likes): an actor who reads runs and
// contacts but not contacts' personal data gets the steps without their
// results.
func TestRunStepResultsNeedPersonalData(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := idle(t, db, crm.Config{})
		for name, pd := range map[string]bool{"runs-pd": true, "runs-masked": false} {
			_, err := c.Access.Roles.Create(ctx, access.RoleInput{Name: name, Permissions: access.Permissions{
				"automation": {Actions: []access.Action{access.Read}, Visibility: access.VisibilityAll},
				"contacts":   {Actions: []access.Action{access.Read}, Visibility: access.VisibilityAll, PersonalData: pd}}})
			require.NoError(t, err)
		}
		for id, role := range map[string]string{"pia": "runs-pd", "max": "runs-masked"} {
			_, err := c.Access.Users.Create(ctx, access.UserInput{ID: id, DisplayName: id, Roles: []string{role}})
			require.NoError(t, err)
		}
		// A host's action whose result names the person.
		require.NoError(t, c.RegisterAction("greet", func(ctx context.Context, tx *crm.CRM, call automation.Call) (any, error) {
			p, err := tx.Contacts.Get(ctx, *call.ContactID)
			if err != nil {
				return nil, err
			}
			return map[string]any{"greeting": "Hello " + p.FirstName}, nil
		}, nil))
		_, err := c.Automation.Rules.Create(ctx, automation.Rule{Name: "Welcome", Enabled: true, Triggers: []string{contacts.EventContactCreated},
			Actions: []automation.Action{{Type: "greet"}}})
		require.NoError(t, err)
		_, err = c.Contacts.Create(ctx, contacts.NewContact{Email: "zelda@example.com", FirstName: "Zelda"})
		require.NoError(t, err)
		automation.WorkQueued(t, c.Automation)
		runs, err := c.Automation.Runs.List(ctx, automation.RunQuery{Limit: 10})
		require.NoError(t, err)
		require.Len(t, runs, 1)

		get := func(user string) *automation.Run {
			r, err := c.Automation.Runs.Get(core.WithActor(ctx, core.Actor{ID: user}), runs[0].ID)
			require.NoError(t, err)
			require.Len(t, r.Steps, 1)
			return r
		}
		require.Contains(t, string(get("pia").Steps[0].Result), "Zelda", "seen with personal data")
		masked := get("max")
		require.JSONEq(t, "null", string(masked.Steps[0].Result))
		require.Equal(t, automation.StepOK, masked.Steps[0].Status, "the step itself is shown")
		host, err := c.Automation.Runs.Get(ctx, runs[0].ID)
		require.NoError(t, err)
		require.Contains(t, string(host.Steps[0].Result), "Zelda", "the host's own code sees all")
	})
}
