package crm_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dbtest"
)

// Every module's "not found" names the entity and the id looked up, and
// still matches core.ErrNotFound.
func TestNotFoundNamesEntityAndID(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := newCRM(t, db)
		id := core.NewID()
		lookups := map[string]func() error{
			"contact":          func() error { _, err := c.Contacts.Get(ctx, id); return err },
			"activity":         func() error { _, err := c.Contacts.GetActivity(ctx, id); return err },
			"company":          func() error { _, err := c.Companies.Get(ctx, id); return err },
			"note":             func() error { _, err := c.Notes.Get(ctx, id); return err },
			"task":             func() error { _, err := c.Tasks.Get(ctx, id); return err },
			"deal":             func() error { _, err := c.Deals.Get(ctx, id); return err },
			"pipeline":         func() error { _, err := c.Pipelines.Get(ctx, id); return err },
			"product":          func() error { _, err := c.Products.Get(ctx, id); return err },
			"rule":             func() error { _, err := c.Automation.Rules.Get(ctx, id); return err },
			"webhook":          func() error { _, err := c.Automation.Webhooks.Get(ctx, id); return err },
			"rule run":         func() error { _, err := c.Automation.Runs.Get(ctx, id); return err },
			"contact (delete)": func() error { return c.Contacts.Delete(ctx, id) },
			"deal (delete)":    func() error { return c.Deals.Delete(ctx, id) },
			"contact (export)": func() error { _, err := c.Consent.Export(ctx, id); return err },
		}
		for name, get := range lookups {
			err := get()
			require.ErrorIs(t, err, core.ErrNotFound, name)
			var nf *core.NotFoundError
			require.True(t, errors.As(err, &nf), "%s: %v", name, err)
			require.Equal(t, id.String(), nf.ID, name)
			require.Contains(t, err.Error(), "crm: not found: ", name)
			require.Contains(t, err.Error(), id.String(), name)
		}

		_, err := c.Consent.Purpose(ctx, "newsletter")
		require.ErrorIs(t, err, core.ErrNotFound)
		require.Contains(t, err.Error(), "purpose newsletter")

		// A lookup by email never puts the address into the error.
		_, err = c.Contacts.GetByEmail(ctx, "nobody@example.com")
		require.ErrorIs(t, err, core.ErrNotFound)
		require.NotContains(t, err.Error(), "nobody")
	})
}
