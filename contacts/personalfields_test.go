package contacts_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/filter"
)

// Custom fields marked personal are masked like email and phone for
// actors who do not see the module's personal data, in every read path
// (gets, lists, search, timeline, exports), and such actors may neither
// filter, sort nor write on them; actors who see personal data, and the
// host's own code, get them whole.
func TestPersonalCustomFieldsAreMasked(t *testing.T) {
	t.Parallel()
	wired(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		defs := fields.Module.Service(w.sc)
		for _, d := range []fields.Definition{
			{Entity: contacts.EntityContact, Key: "birthday", Label: "Birthday", Type: fields.Date, Personal: true},
			{Entity: contacts.EntityContact, Key: "salary", Label: "Salary", Type: fields.Money, Personal: true},
			{Entity: contacts.EntityContact, Key: "plan", Label: "Plan", Type: fields.Text},
		} {
			got, err := defs.Define(ctx, d)
			require.NoError(t, err)
			require.Equal(t, d.Personal, got.Personal)
		}
		stored, err := defs.Get(ctx, contacts.EntityContact, "birthday")
		require.NoError(t, err)
		require.True(t, stored.Personal, "the flag is stored")

		const birthday = "1987-06-05"
		for i, id := range w.all {
			c, err := w.svc.Get(ctx, id)
			require.NoError(t, err)
			_, err = w.svc.Update(ctx, id, contacts.ContactPatch{Version: c.Version, Attributes: map[string]any{
				"birthday": birthday, "salary": map[string]any{"amount": decimal.NewFromInt(int64(50000 + i)).String(), "currency": "EUR"},
				"plan": "pro"}})
			require.NoError(t, err)
		}
		// An exporter without personal data, resolved from their Actor.
		_, err = w.access.Roles.Create(ctx, access.RoleInput{Name: "exporter", Permissions: access.Permissions{
			"contacts": {Actions: []access.Action{access.Read, access.Export}, Visibility: access.VisibilityAll}}})
		require.NoError(t, err)
		exporter := core.WithActor(ctx, core.Actor{ID: "xavier", Roles: []string{"exporter"}})
		someone := w.byOwner["alice"][0]

		for _, tc := range []struct {
			name   string
			ctx    context.Context
			masked bool
		}{
			{"host", ctx, false},
			{"admin", as("root"), false},
			{"read-only", as("rita"), true},
			{"marketing", as("erin"), true},
			{"exporter", exporter, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				check := func(c *contacts.Contact) {
					t.Helper()
					_, hasBirthday := c.Attributes["birthday"]
					_, hasSalary := c.Attributes["salary"]
					require.Equal(t, !tc.masked, hasBirthday, "birthday of %s", c.ID)
					require.Equal(t, !tc.masked, hasSalary, "salary of %s", c.ID)
					require.Equal(t, "pro", c.Attributes["plan"], "a field not marked personal is never masked")
				}
				// Get.
				c, err := w.svc.Get(tc.ctx, someone)
				require.NoError(t, err)
				check(c)
				// List, page by page.
				opts := contacts.ListOptions{Limit: 3}
				n := 0
				for {
					page, err := w.svc.List(tc.ctx, opts)
					require.NoError(t, err)
					for _, c := range page.Items {
						check(c)
						n++
					}
					if page.Next == "" {
						break
					}
					opts.Cursor = page.Next
				}
				require.Equal(t, len(w.all), n)

				// Filters and sorts on a personal field, or on a part of
				// one: refused without personal data, answered with it.
				queries := []contacts.ListOptions{
					{Filter: filter.Eq("attributes.birthday", birthday)},
					{Filter: filter.Or(filter.Eq("attributes.plan", "free"), filter.Not(filter.Exists("attributes.birthday")))},
					{Filter: filter.Gt("attributes.salary.amount", 50001)},
					{Sort: "-attributes.birthday"},
					{Sort: "attributes.salary.amount"},
				}
				for _, q := range queries {
					_, err := w.svc.List(tc.ctx, q)
					if tc.masked {
						require.ErrorIs(t, err, core.ErrForbidden, "%+v", q)
					} else {
						require.NoError(t, err, "%+v", q)
					}
				}
				count, err := w.svc.Count(tc.ctx, filter.Eq("attributes.birthday", birthday))
				if tc.masked {
					require.ErrorIs(t, err, core.ErrForbidden)
				} else {
					require.NoError(t, err)
					require.EqualValues(t, len(w.all), count)
				}
				count, err = w.svc.Count(tc.ctx, filter.Eq("attributes.plan", "pro"))
				require.NoError(t, err)
				require.EqualValues(t, len(w.all), count)

				// Search: hits carry no attributes, and an actor without
				// personal data finds no contact at all.
				hits, err := w.svc.Search(tc.ctx, "Numberb", contacts.SearchOptions{})
				require.NoError(t, err)
				require.Equal(t, !tc.masked, slices.ContainsFunc(hits, func(h contacts.SearchHit) bool { return h.Entity == contacts.EntityContact }))

				// Timeline: the events about the contact hold its
				// attributes; an actor without personal data gets them
				// without their payloads.
				tl, err := w.svc.Timeline(tc.ctx, someone, contacts.TimelineOptions{Types: []string{contacts.ItemEvent}})
				require.NoError(t, err)
				require.NotEmpty(t, tl.Items)
				leaked := false
				for _, it := range tl.Items {
					leaked = leaked || strings.Contains(string(it.Event.Data), birthday)
				}
				require.Equal(t, !tc.masked, leaked)

				// Exports, for those who may export.
				if tc.name == "host" || tc.name == "admin" || tc.name == "exporter" {
					var jl bytes.Buffer
					n, err := w.svc.ExportJSONL(tc.ctx, &jl, contacts.ExportOptions{})
					require.NoError(t, err)
					require.EqualValues(t, len(w.all), n)
					require.Equal(t, !tc.masked, strings.Contains(jl.String(), birthday))
					for line := range strings.Lines(jl.String()) {
						var c contacts.Contact
						require.NoError(t, json.Unmarshal([]byte(line), &c))
						check(&c)
					}
					var cb bytes.Buffer
					_, err = w.svc.ExportCSV(tc.ctx, &cb, contacts.ExportOptions{})
					require.NoError(t, err)
					text := cb.String()
					rows, err := csv.NewReader(&cb).ReadAll()
					require.NoError(t, err)
					col := slices.Index(rows[0], "attributes.birthday")
					require.GreaterOrEqual(t, col, 0)
					for _, r := range rows[1:] {
						require.Equal(t, !tc.masked, r[col] == birthday)
					}
					require.Equal(t, !tc.masked, strings.Contains(text, birthday))
				}
			})
		}

		// Writes: an actor without personal data may not set a personal
		// field; the others they write keep the personal values they do
		// not see.
		c, err := w.svc.Get(ctx, someone)
		require.NoError(t, err)
		_, err = w.svc.Update(as("erin"), someone, contacts.ContactPatch{Version: c.Version, Attributes: map[string]any{"birthday": "2000-01-01"}})
		require.ErrorIs(t, err, core.ErrForbidden)
		_, err = w.svc.Update(as("erin"), someone, contacts.ContactPatch{Version: c.Version, Attributes: map[string]any{"birthday": nil}})
		require.ErrorIs(t, err, core.ErrForbidden, "nor remove it")
		got, err := w.svc.Update(as("erin"), someone, contacts.ContactPatch{Version: c.Version, Attributes: map[string]any{"plan": "enterprise"}})
		require.NoError(t, err)
		require.NotContains(t, got.Attributes, "birthday")
		c, err = w.svc.Get(ctx, someone)
		require.NoError(t, err)
		require.Equal(t, birthday, c.Attributes["birthday"])
		require.Equal(t, "enterprise", c.Attributes["plan"])
		_, err = w.svc.Create(as("root"), contacts.NewContact{FirstName: "New", Attributes: map[string]any{"birthday": "1999-09-09"}})
		require.NoError(t, err, "with personal data they may")

		// The refusals are in the audit log, with ids only.
		entries := w.denied(t, core.NilID)
		var details []string
		for _, e := range entries {
			details = append(details, e.ActorID+" "+e.Detail)
		}
		require.Contains(t, details, "rita contacts:read")
		require.Contains(t, details, "erin contacts:update")
		for _, e := range entries {
			require.NotContains(t, e.Detail, birthday)
		}
	})
}
