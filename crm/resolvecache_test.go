package crm_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
)

// A process reuses an actor's resolved permissions for
// access.Options.ResolveTTL: a change made through crmkit applies at
// once, one made behind its back (another process, the host's SQL) only
// once the process resolves again — at once with a negative TTL.
func TestResolvedActorsAreKeptUntilAChange(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		open := func(ttl time.Duration) *crm.CRM {
			c, err := crm.New(db, crm.Config{Access: access.Options{ResolveTTL: ttl}})
			require.NoError(t, err)
			return c
		}
		c := open(time.Hour)
		require.NoError(t, c.Migrate(ctx))
		_, err := c.Access.Roles.InstallBuiltins(ctx)
		require.NoError(t, err)
		u, err := c.Access.Users.Create(ctx, access.UserInput{ID: "u1", DisplayName: "U", TimeZone: "UTC", Roles: []string{access.RoleReadOnly}})
		require.NoError(t, err)
		as := core.WithActor(ctx, core.Actor{ID: "u1"})
		ada, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
		require.NoError(t, err)
		create := func(c *crm.CRM) error {
			_, err := c.Contacts.Create(as, contacts.NewContact{LastName: "Hopper"})
			return err
		}
		require.ErrorIs(t, create(c), core.ErrForbidden, "read-only creates nothing")

		// Through crmkit: applies at once.
		u, err = c.Access.Users.Update(ctx, u.ID, u.Version, access.UserInput{DisplayName: "U", TimeZone: "UTC", Roles: []string{access.RoleSales}})
		require.NoError(t, err)
		require.NoError(t, create(c), "sales creates contacts")

		// Behind crmkit's back: the process keeps what it resolved…
		_, err = db.ExecContext(ctx, `DELETE FROM crm_user_roles WHERE tenant_id = ? AND user_id = ?`, crm.DefaultTenant, "u1")
		require.NoError(t, err)
		require.NoError(t, create(c), "resolved before the change, kept for the hour")
		fresh := open(-1)
		require.ErrorIs(t, create(fresh), core.ErrForbidden, "a process that keeps nothing sees it at once")
		_, err = fresh.Contacts.Get(as, ada.ID)
		require.ErrorIs(t, err, core.ErrForbidden)
		// …until any change of users, roles or teams through crmkit.
		_, err = c.Access.Teams.Create(ctx, access.TeamInput{Name: "support"})
		require.NoError(t, err)
		require.ErrorIs(t, create(c), core.ErrForbidden)

		// Inside a transaction, an actor is resolved in it: its own changes
		// count at once.
		// (No require in the transaction: a failure there would leave it open.)
		var n int64
		err = c.InTx(ctx, func(ctx context.Context, tx *crm.CRM) error {
			u, err := tx.Access.Users.Get(ctx, "u1")
			if err != nil {
				return err
			}
			if _, err = tx.Access.Users.Update(ctx, u.ID, u.Version, access.UserInput{DisplayName: "U", TimeZone: "UTC", Roles: []string{access.RoleReadOnly}}); err != nil {
				return err
			}
			n, err = tx.Contacts.Count(core.WithActor(ctx, core.Actor{ID: "u1"}), filter.Expr{})
			return err
		})
		require.NoError(t, err)
		require.EqualValues(t, 3, n, "read-only sees every contact")
	})
}
