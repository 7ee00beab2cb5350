package crm_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/filter"
)

// A process keeps the settings single writes read (here the custom field
// definitions) for Config.SettingsTTL: a change through crmkit applies at
// once — in the process, and inside the transaction that makes it, while
// others keep the committed state —, one made behind crmkit's back within
// the TTL, and at once with a negative TTL.
func TestSettingsAreKeptUntilAChange(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		open := func(ttl time.Duration) *crm.CRM {
			c, err := crm.New(db, crm.Config{SettingsTTL: ttl})
			require.NoError(t, err)
			return c
		}
		c := open(time.Hour)
		require.NoError(t, c.Migrate(ctx))
		create := func(c *crm.CRM, attrs map[string]any) error {
			_, err := c.Contacts.Create(ctx, contacts.NewContact{LastName: "Hopper", Attributes: attrs})
			return err
		}
		require.NoError(t, create(c, nil), "no definitions: kept for the hour")

		// Through crmkit: applies at once.
		_, err := c.Fields.Define(ctx, fields.Definition{Entity: contacts.EntityContact, Key: "plan", Label: "Plan", Type: fields.Text, Required: true})
		require.NoError(t, err)
		err = create(c, nil)
		require.ErrorIs(t, err, core.ErrInvalid, "the new required field counts at once")
		require.ErrorContains(t, err, "plan")
		require.NoError(t, create(c, map[string]any{"plan": "pro"}))

		// Behind crmkit's back: the process keeps what it read…
		_, err = db.ExecContext(ctx, `DELETE FROM crm_field_definitions WHERE tenant_id = ? AND key = ?`, crm.DefaultTenant, "plan")
		require.NoError(t, err)
		require.ErrorIs(t, create(c, nil), core.ErrInvalid, "read before the change, kept for the hour")
		require.NoError(t, create(open(-1), nil), "a process that keeps nothing sees it at once")
		short := open(50 * time.Millisecond)
		_, err = short.Fields.Define(ctx, fields.Definition{Entity: contacts.EntityContact, Key: "tier", Label: "Tier", Type: fields.Text, Required: true})
		require.NoError(t, err)
		require.ErrorIs(t, create(short, nil), core.ErrInvalid)
		_, err = db.ExecContext(ctx, `DELETE FROM crm_field_definitions WHERE tenant_id = ? AND key = ?`, crm.DefaultTenant, "tier")
		require.NoError(t, err)
		require.Eventually(t, func() bool { return create(short, nil) == nil }, 10*time.Second, 20*time.Millisecond,
			"a change behind crmkit's back applies within the TTL")

		// A transaction that defines a field sees it in its next write;
		// the others keep the committed definitions until it commits, and
		// nothing of a rolled-back one stays.
		// (No require in the transactions: a failure there would leave them open.)
		c = open(time.Hour)
		require.NoError(t, create(c, nil))
		errRollback := errors.New("roll back")
		var inside, outside error
		err = c.InTx(ctx, func(ctx context.Context, tx *crm.CRM) error {
			if _, err := tx.Fields.Define(ctx, fields.Definition{Entity: contacts.EntityContact, Key: "region", Label: "Region", Type: fields.Text, Required: true}); err != nil {
				return err
			}
			_, inside = tx.Contacts.Create(ctx, contacts.NewContact{LastName: "Lovelace"})
			if db.Dialect().Name().String() == "pg" {
				// SQLite has one writer: a second write would wait for this one.
				outside = create(c, nil)
			}
			return errRollback
		})
		require.ErrorIs(t, err, errRollback)
		require.ErrorIs(t, inside, core.ErrInvalid, "the transaction's own definition counts in it")
		require.NoError(t, outside, "others keep the committed definitions")
		require.NoError(t, create(c, nil), "the rolled-back definition is gone")
	})
}

// A taken email is refused with ErrConflict naming the contact that has it,
// and the host's transaction stays usable: the insert does not fail on
// the unique index (PostgreSQL would abort the transaction), it finds the
// row there and explains.
func TestCreateWithATakenEmailInAHostTransaction(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c, err := crm.New(db, crm.Config{})
		require.NoError(t, err)
		ada, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
		require.NoError(t, err)
		_, err = c.Contacts.Create(ctx, contacts.NewContact{Email: "ADA@example.com"})
		require.ErrorIs(t, err, core.ErrConflict)
		require.ErrorContains(t, err, ada.ID.String())
		require.NotContains(t, err.Error(), "ada@", "no personal data in errors")

		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback() }()
		in := c.WithTx(tx)
		_, err = in.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
		require.ErrorIs(t, err, core.ErrConflict)
		grace, err := in.Contacts.Create(ctx, contacts.NewContact{Email: "grace@example.com"})
		require.NoError(t, err, "the host's transaction goes on")
		require.NoError(t, tx.Commit())
		in.Committed(ctx)
		got, err := c.Contacts.Get(ctx, grace.ID)
		require.NoError(t, err)
		require.Equal(t, "grace@example.com", got.Email)
		n, err := c.Contacts.Count(ctx, filter.Expr{})
		require.NoError(t, err)
		require.EqualValues(t, 2, n, "nothing of the refused creates was written")
	})
}
