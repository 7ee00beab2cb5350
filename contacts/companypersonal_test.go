package contacts_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/filter"
)

// Companies' custom fields marked personal are masked for actors who do
// not see the module's personal data, in gets, lists and write results,
// and such actors may neither filter, sort nor write on them, as on a
// contact's; actors who see personal data, and the host's own code, get
// them whole.
func TestPersonalCompanyFieldsAreMasked(t *testing.T) {
	t.Parallel()
	wired(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		defs := fields.Module.Service(w.sc)
		for _, d := range []fields.Definition{
			{Entity: contacts.EntityCompany, Key: "ceo_mobile", Label: "CEO's mobile", Type: fields.Text, Personal: true},
			{Entity: contacts.EntityCompany, Key: "industry", Label: "Industry", Type: fields.Text},
		} {
			_, err := defs.Define(ctx, d)
			require.NoError(t, err)
		}
		co, err := w.companies.Get(ctx, w.company)
		require.NoError(t, err)
		_, err = w.companies.Update(ctx, co.ID, contacts.CompanyPatch{Version: co.Version,
			Attributes: map[string]any{"ceo_mobile": "+49 170 5550101", "industry": "retail"}})
		require.NoError(t, err)
		other, err := w.companies.Create(ctx, contacts.NewCompany{Name: "Globex", Domain: "globex.example",
			Attributes: map[string]any{"ceo_mobile": "+49 170 5550202", "industry": "energy"}})
		require.NoError(t, err)

		// A clerk who may create and change companies, without personal
		// data, resolved from their Actor.
		_, err = w.access.Roles.Create(ctx, access.RoleInput{Name: "clerk", Permissions: access.Permissions{
			"contacts": {Actions: []access.Action{access.Read, access.Create, access.Update}, Visibility: access.VisibilityAll}}})
		require.NoError(t, err)
		clerk := core.WithActor(ctx, core.Actor{ID: "cleo", Roles: []string{"clerk"}})

		for _, tc := range []struct {
			name   string
			ctx    context.Context
			masked bool
		}{
			{"host", ctx, false},
			{"admin", as("root"), false},
			{"sales", as("alice"), false},
			{"read-only", as("rita"), true},
			{"marketing", as("erin"), true},
			{"clerk", clerk, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				check := func(c *contacts.Company) {
					t.Helper()
					_, has := c.Attributes["ceo_mobile"]
					require.Equal(t, !tc.masked, has, "ceo_mobile of %s", c.ID)
					require.NotEmpty(t, c.Attributes["industry"], "a field not marked personal is never masked")
				}
				got, err := w.companies.Get(tc.ctx, w.company)
				require.NoError(t, err)
				check(got)
				got, err = w.companies.GetByDomain(tc.ctx, "globex.example")
				require.NoError(t, err)
				check(got)
				page, err := w.companies.List(tc.ctx, contacts.CompanyListOptions{})
				require.NoError(t, err)
				require.GreaterOrEqual(t, len(page.Items), 2)
				for _, c := range page.Items {
					check(c)
				}

				// Filters and sorts on the personal field (or its
				// parts), and writes of it.
				personal := []contacts.CompanyListOptions{
					{Filter: filter.Prefix("attributes.ceo_mobile", "+49 170 5550")},
					{Filter: filter.Or(filter.Eq("name", "x"), filter.Not(filter.Exists("attributes.ceo_mobile")))},
					{Sort: "-attributes.ceo_mobile"},
				}
				for _, opts := range personal {
					_, err := w.companies.List(tc.ctx, opts)
					if tc.masked {
						require.ErrorIs(t, err, core.ErrForbidden, "%+v", opts)
						continue
					}
					require.NoError(t, err, "%+v", opts)
				}
				page, err = w.companies.List(tc.ctx, contacts.CompanyListOptions{
					Filter: filter.Prefix("attributes.industry", "energy")})
				require.NoError(t, err, "a field not marked personal filters for everyone")
				require.Len(t, page.Items, 1)
				check(page.Items[0])

				if tc.name == "read-only" {
					return // may not write at all
				}
				cur, err := w.companies.Get(ctx, other.ID)
				require.NoError(t, err)
				updated, err := w.companies.Update(tc.ctx, other.ID, contacts.CompanyPatch{Version: cur.Version,
					Attributes: map[string]any{"ceo_mobile": "+49 170 5550303"}})
				if tc.masked {
					require.ErrorIs(t, err, core.ErrForbidden)
					_, err = w.companies.Update(tc.ctx, other.ID, contacts.CompanyPatch{Version: cur.Version,
						Attributes: map[string]any{"ceo_mobile": nil}})
					require.ErrorIs(t, err, core.ErrForbidden, "removing a personal field is writing it")
					// Writing others keeps the personal value unseen and
					// unchanged.
					updated, err = w.companies.Update(tc.ctx, other.ID, contacts.CompanyPatch{Version: cur.Version,
						Attributes: map[string]any{"industry": "energy " + tc.name}})
					require.NoError(t, err)
					check(updated)
					whole, err := w.companies.Get(ctx, other.ID)
					require.NoError(t, err)
					require.Equal(t, cur.Attributes["ceo_mobile"], whole.Attributes["ceo_mobile"])
					if tc.name != "clerk" {
						return // may not create
					}
					_, err = w.companies.Create(tc.ctx, contacts.NewCompany{Name: "Initech",
						Attributes: map[string]any{"ceo_mobile": "+49 170 5550404"}})
					require.ErrorIs(t, err, core.ErrForbidden)
					created, err := w.companies.Create(tc.ctx, contacts.NewCompany{Name: "Initech",
						Attributes: map[string]any{"industry": "software"}})
					require.NoError(t, err)
					require.Equal(t, map[string]any{"industry": "software"}, created.Attributes)
					return
				}
				require.NoError(t, err)
				check(updated)
			})
		}
		// The refusals are audited, without the value.
		require.NotEmpty(t, w.denied(t, other.ID))
	})
}
