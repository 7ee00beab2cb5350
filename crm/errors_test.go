package crm_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/automation"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/pipeline"
)

// Every module's "not found" names the entity and the id looked up, and
// still matches core.ErrNotFound.
func TestNotFoundNamesEntityAndID(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
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

// A versioned change without the version the caller read (version 0) is
// ErrInvalid naming "version", not a conflict, and changes nothing.
func TestVersionIsRequired(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := core.WithActor(context.Background(), core.Actor{ID: "anna", Roles: []string{access.RoleAdmin}})
		c, err := crm.New(db, crm.Config{Automation: automation.Options{Webhooks: automation.WebhookOptions{AllowLoopback: true}}})
		require.NoError(t, err)
		require.NoError(t, c.Migrate(ctx))
		_, err = c.Access.Roles.InstallBuiltins(context.Background()) // the actor's role
		require.NoError(t, err)
		ada, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
		require.NoError(t, err)
		co, err := c.Companies.Create(ctx, contacts.NewCompany{Name: "Acme"})
		require.NoError(t, err)
		note, err := c.Notes.Create(ctx, contacts.NewNote{ContactID: ada.ID, Body: "hello"})
		require.NoError(t, err)
		task, err := c.Tasks.Create(ctx, contacts.NewTask{Title: "call", AssigneeID: "anna"})
		require.NoError(t, err)
		p, err := c.Pipelines.Default(ctx)
		require.NoError(t, err)
		deal, err := c.Deals.Create(ctx, pipeline.NewDeal{Title: "d", Amount: core.MustMoney("1", "EUR")})
		require.NoError(t, err)
		prod, err := c.Products.Create(ctx, pipeline.NewProduct{SKU: "A", Name: "a", UnitPrice: core.MustMoney("1", "EUR")})
		require.NoError(t, err)
		rule, err := automation.ParseRule([]byte(`{"name": "r", "triggers": ["contact.created"],
			"actions": [{"type": "add_tag", "tag": "x"}]}`))
		require.NoError(t, err)
		r, err := c.Automation.Rules.Create(ctx, rule)
		require.NoError(t, err)
		hook, err := c.Automation.Webhooks.Create(ctx, automation.WebhookInput{URL: "http://127.0.0.1:9/hook"})
		require.NoError(t, err)
		name := "x"

		changes := map[string]func() error{
			"contact update": func() error {
				_, err := c.Contacts.Update(ctx, ada.ID, contacts.ContactPatch{FirstName: &name})
				return err
			},
			"company update": func() error { _, err := c.Companies.Update(ctx, co.ID, contacts.CompanyPatch{Name: &name}); return err },
			"note update":    func() error { _, err := c.Notes.Update(ctx, note.ID, contacts.NotePatch{Body: &name}); return err },
			"task update":    func() error { _, err := c.Tasks.Update(ctx, task.ID, contacts.TaskPatch{Title: &name}); return err },
			"task complete":  func() error { _, err := c.Tasks.Complete(ctx, task.ID, 0); return err },
			"pipeline rename": func() error {
				_, err := c.Pipelines.Rename(ctx, p.ID, 0, "x")
				return err
			},
			"deal update":     func() error { _, err := c.Deals.Update(ctx, deal.ID, pipeline.DealPatch{Title: &name}); return err },
			"deal move":       func() error { _, err := c.Deals.MoveStage(ctx, deal.ID, 0, p.Stages[1].ID); return err },
			"deal win":        func() error { _, err := c.Deals.Win(ctx, deal.ID, 0); return err },
			"deal line items": func() error { _, _, _, err := c.Deals.SetLineItems(ctx, deal.ID, 0, nil); return err },
			"product update": func() error {
				_, err := c.Products.Update(ctx, prod.ID, pipeline.ProductPatch{Name: &name})
				return err
			},
			"rule update": func() error {
				up := *r
				up.Version = 0
				_, err := c.Automation.Rules.Update(ctx, r.ID, up)
				return err
			},
			"rule enable": func() error { _, err := c.Automation.Rules.SetEnabled(ctx, r.ID, 0, false); return err },
			"webhook update": func() error {
				_, err := c.Automation.Webhooks.Update(ctx, hook.ID, 0, automation.WebhookInput{URL: "http://127.0.0.1:9/other"})
				return err
			},
		}
		for what, change := range changes {
			err := change()
			require.ErrorIs(t, err, core.ErrInvalid, what)
			require.NotErrorIs(t, err, core.ErrConflict, what)
			var ve *core.ValidationError
			require.True(t, errors.As(err, &ve), "%s: %v", what, err)
			require.True(t, ve.Has("version"), "%s: %v", what, err)
		}
		got, err := c.Deals.Get(ctx, deal.ID)
		require.NoError(t, err)
		require.Equal(t, deal.Version, got.Version)
	})
}
