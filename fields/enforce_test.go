package fields_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/modules"
	"github.com/crmkit/crmkit/internal/store"
)

// migrated is the template database of these tests: crmkit's migrations,
// run once per test binary (see dbtest.Template).
var migrated = &dbtest.Template{Name: "crm", Sources: modules.Migrations(), Migrate: func(ctx context.Context, db *bun.DB) error {
	c, err := crm.New(db, crm.Config{})
	if err != nil {
		return err
	}
	return c.Migrate(ctx)
}}

// Each built-in role, and a user with none, walks the facility: defining
// and removing a field needs "fields" manage; reading the definitions
// needs nothing (every module's records and forms use them). Refusals
// are ErrForbidden, change nothing and are in the audit log.
func TestRecordAccessByRole(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c, err := crm.New(db, crm.Config{})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, c.Close()) })
		_, err = c.Access.Roles.InstallBuiltins(ctx)
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
		plan, err := c.Fields.Define(ctx, fields.Definition{Entity: contacts.EntityContact, Key: "plan", Label: "Plan", Type: fields.Text})
		require.NoError(t, err)

		for _, tc := range []struct {
			user   string
			manage bool
		}{
			{"root", true}, {"carol", false}, {"alice", false}, {"dave", false}, {"erin", false}, {"rita", false}, {"nobody", false},
		} {
			t.Run(tc.user, func(t *testing.T) {
				as := core.WithActor(ctx, core.Actor{ID: tc.user})
				got, err := c.Fields.Get(as, contacts.EntityContact, "plan")
				require.NoError(t, err)
				require.Equal(t, plan.Version, got.Version)
				list, err := c.Fields.List(as, contacts.EntityContact)
				require.NoError(t, err)
				require.NotEmpty(t, list)

				key := "field_of_" + tc.user
				_, err = c.Fields.Define(as, fields.Definition{Entity: contacts.EntityContact, Key: key, Label: "Mine", Type: fields.Text, Personal: true})
				_, gerr := c.Fields.Get(ctx, contacts.EntityContact, key)
				if tc.manage {
					require.NoError(t, err)
					require.NoError(t, gerr)
					require.NoError(t, c.Fields.Remove(as, contacts.EntityContact, key))
				} else {
					require.ErrorIs(t, err, core.ErrForbidden)
					require.ErrorIs(t, gerr, core.ErrNotFound, "a refused definition is not written")
					// Nor may they change or remove another's.
					_, err = c.Fields.Define(as, fields.Definition{Entity: contacts.EntityContact, Key: "plan", Label: "Plan", Type: fields.Text, Personal: true})
					require.ErrorIs(t, err, core.ErrForbidden)
					require.ErrorIs(t, c.Fields.Remove(as, contacts.EntityContact, "plan"), core.ErrForbidden)
					now, err := c.Fields.Get(ctx, contacts.EntityContact, "plan")
					require.NoError(t, err)
					require.Equal(t, plan.Version, now.Version)
					require.False(t, now.Personal)
				}
				entries, err := c.Consent.Audit(ctx, consent.AuditQuery{Limit: store.MaxLimit})
				require.NoError(t, err)
				var denied []string
				for _, e := range entries {
					if e.ActorID == tc.user && e.Action == fields.AuditDenied {
						denied = append(denied, e.Detail)
						require.Equal(t, "field", e.SubjectType)
					}
				}
				if tc.manage {
					require.Empty(t, denied)
				} else {
					require.Equal(t, []string{"fields:manage", "fields:manage", "fields:manage"}, denied)
				}
			})
		}
	})
}
