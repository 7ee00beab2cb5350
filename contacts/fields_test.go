package contacts_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/filter"
)

func defineContactFields(t *testing.T, b *bundle) {
	t.Helper()
	ctx := context.Background()
	for _, d := range []fields.Definition{
		{Entity: "contact", Key: "plan", Label: "Plan", Type: fields.Enum, Options: []string{"free", "pro", "team"}, Required: true},
		{Entity: "contact", Key: "seats", Label: "Seats", Type: fields.Number},
		{Entity: "contact", Key: "beta", Label: "Beta tester", Type: fields.Boolean},
		{Entity: "contact", Key: "renewal", Label: "Renewal", Type: fields.Date},
		{Entity: "contact", Key: "channels", Label: "Channels", Type: fields.MultiEnum, Options: []string{"email", "phone", "sms"}},
		{Entity: "contact", Key: "budget", Label: "Budget", Type: fields.Money},
		{Entity: "contact", Key: "nickname", Label: "Nickname", Type: fields.Text},
	} {
		_, err := b.fields.Define(ctx, d)
		require.NoError(t, err, d.Key)
	}
}

func TestCustomFieldsValidateWrites(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		defineContactFields(t, b)

		ok, err := b.svc.Create(ctx, contacts.NewContact{Email: "ada@example.com", Attributes: map[string]any{
			"plan": "pro", "seats": 12, "beta": true, "renewal": "2026-09-30", "channels": []string{"email", "sms"},
			"budget": map[string]any{"amount": "1200.50", "currency": "EUR"}, "free_form": "anything"}})
		require.NoError(t, err)

		_, err = b.svc.Create(ctx, contacts.NewContact{Email: "bad@example.com", Attributes: map[string]any{
			"plan": "gold", "seats": "12", "beta": "yes", "renewal": "2026-02-30", "channels": []string{"fax"},
			"budget": map[string]any{"amount": "1.00001", "currency": "EUR"}, "nickname": 7}})
		require.ErrorIs(t, err, core.ErrInvalid)
		for _, k := range []string{"plan", "seats", "beta", "renewal", "channels", "budget", "nickname"} {
			require.Contains(t, err.Error(), "attributes."+k, "every field problem is listed")
		}
		_, err = b.svc.Create(ctx, contacts.NewContact{Email: "noplan@example.com"})
		require.ErrorIs(t, err, core.ErrInvalid)
		require.Contains(t, err.Error(), "attributes.plan is required")

		// Updates and upserts are checked too; the merged attributes count.
		_, err = b.svc.Update(ctx, ok.ID, contacts.ContactPatch{Version: ok.Version, Attributes: map[string]any{"plan": nil}})
		require.ErrorIs(t, err, core.ErrInvalid)
		_, _, err = b.svc.Upsert(ctx, contacts.NewContact{Email: "ada@example.com", Attributes: map[string]any{"seats": "many"}})
		require.ErrorIs(t, err, core.ErrInvalid)
		got, err := b.svc.Get(ctx, ok.ID)
		require.NoError(t, err)
		require.Equal(t, ok.Version, got.Version, "nothing written")

		// Definitions are validated themselves.
		_, err = b.fields.Define(ctx, fields.Definition{Entity: "invoice", Key: "Bad Key", Type: "colour", Options: []string{"x"}})
		require.ErrorIs(t, err, core.ErrInvalid)
		for _, f := range []string{"entity", "key", "label", "type", "options"} {
			require.Contains(t, err.Error(), f)
		}
		_, err = b.fields.Define(ctx, fields.Definition{Entity: "contact", Key: "tier", Label: "Tier", Type: fields.Enum})
		require.ErrorIs(t, err, core.ErrInvalid, "an enum needs options")

		defs, err := b.fields.List(ctx, "contact")
		require.NoError(t, err)
		require.Len(t, defs, 7)
		redefined, err := b.fields.Define(ctx, fields.Definition{Entity: "contact", Key: "plan", Label: "Plan", Type: fields.Enum, Options: []string{"free", "pro", "team", "enterprise"}})
		require.NoError(t, err)
		require.Equal(t, int64(2), redefined.Version)

		// Removing a definition leaves the data readable and free-form.
		require.NoError(t, b.fields.Remove(ctx, "contact", "seats"))
		_, err = b.fields.Get(ctx, "contact", "seats")
		require.ErrorIs(t, err, core.ErrNotFound)
		got, err = b.svc.Get(ctx, ok.ID)
		require.NoError(t, err)
		require.Equal(t, float64(12), got.Attributes["seats"])
		_, err = b.svc.Update(ctx, ok.ID, contacts.ContactPatch{Version: got.Version, Attributes: map[string]any{"seats": "many"}})
		require.NoError(t, err)
	})
}

func TestCustomFieldsFilterAndSort(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		defineContactFields(t, b)
		seats := []any{5, 40, nil, 12, 40, 1}
		for i, n := range seats {
			attrs := map[string]any{"plan": []string{"free", "pro"}[i%2], "channels": []string{[]string{"email", "sms"}[i%2]}}
			if n != nil {
				attrs["seats"] = n
			}
			if i%3 == 0 {
				attrs["nickname"] = fmt.Sprint("n", 9-i)
			}
			_, err := b.svc.Create(ctx, contacts.NewContact{Email: fmt.Sprintf("c%d@example.com", i), Attributes: attrs})
			require.NoError(t, err)
		}
		count := func(f filter.Expr) int64 {
			n, err := b.svc.Count(ctx, f)
			require.NoError(t, err, "%s", f)
			return n
		}
		require.Equal(t, int64(3), count(filter.Gte("attributes.seats", 12)))
		require.Equal(t, int64(3), count(filter.Contains("attributes.channels", "sms")))
		require.Equal(t, int64(3), count(filter.Eq("attributes.plan", "pro")))
		require.Equal(t, int64(5), count(filter.Exists("attributes.seats")))
		_, err := b.svc.Count(ctx, filter.Eq("attributes.plan", "gold"))
		require.ErrorIs(t, err, core.ErrInvalid, "enum filters check their options")
		_, err = b.svc.Count(ctx, filter.Gt("attributes.seats", "ten"))
		require.ErrorIs(t, err, core.ErrInvalid, "a number field compares with numbers")

		// Sorting by a custom field pages through every contact, missing
		// values first when ascending.
		for _, sort := range []string{"attributes.seats", "-attributes.seats", "attributes.nickname", "-attributes.nickname"} {
			var got []*contacts.Contact
			opts := contacts.ListOptions{Sort: sort, Limit: 2}
			for i := 0; i < 10; i++ {
				page, err := b.svc.List(ctx, opts)
				require.NoError(t, err, sort)
				got = append(got, page.Items...)
				if page.Next == "" {
					break
				}
				opts.Cursor = page.Next
			}
			require.Len(t, got, len(seats), sort)
			key := sort[len("attributes."):]
			if sort[0] == '-' {
				key = sort[len("-attributes."):]
			}
			for i := 1; i < len(got); i++ {
				a, b := sortKey(got[i-1], key), sortKey(got[i], key)
				if sort[0] == '-' {
					require.GreaterOrEqual(t, a, b, sort)
				} else {
					require.LessOrEqual(t, a, b, sort)
				}
			}
		}
		_, err = b.svc.List(ctx, contacts.ListOptions{Sort: "attributes.channels"})
		require.ErrorIs(t, err, core.ErrInvalid, "a multi-valued field does not sort")
		_, err = b.svc.List(ctx, contacts.ListOptions{Sort: "attributes.undefined"})
		require.ErrorIs(t, err, core.ErrInvalid)
	})
}

// sortKey renders an attribute the way crmkit orders it: missing first.
func sortKey(c *contacts.Contact, key string) string {
	switch v := c.Attributes[key].(type) {
	case float64:
		return fmt.Sprintf("1%020.3f", v)
	case string:
		return "1" + v
	}
	return "0"
}

func TestCompanyCustomFields(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		_, err := b.fields.Define(ctx, fields.Definition{Entity: "company", Key: "employees", Label: "Employees", Type: fields.Number, Required: true})
		require.NoError(t, err)
		_, err = b.companies.Create(ctx, contacts.NewCompany{Name: "Acme"})
		require.ErrorIs(t, err, core.ErrInvalid)
		for i, n := range []int{50, 5000, 500} {
			_, err := b.companies.Create(ctx, contacts.NewCompany{Name: fmt.Sprint("Co", i), Attributes: map[string]any{"employees": n}})
			require.NoError(t, err)
		}
		page, err := b.companies.List(ctx, contacts.CompanyListOptions{Filter: filter.Gt("attributes.employees", 100), Sort: "-attributes.employees"})
		require.NoError(t, err)
		require.Len(t, page.Items, 2)
		require.Equal(t, "Co1", page.Items[0].Name)

		// Definitions belong to one tenant.
		other := fields.Module.Service(b.sc.WithTenant("other"))
		defs, err := other.List(ctx, "company")
		require.NoError(t, err)
		require.Empty(t, defs)
		_, otherCompanies := b.forTenant("other")
		_, err = otherCompanies.Create(ctx, contacts.NewCompany{Name: "No employees needed"})
		require.NoError(t, err)
	})
}

// A money field filters and sorts by its amount and its currency, in SQL
// and in Match alike.
func TestMoneyFieldFilterAndSort(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		_, err := b.fields.Define(ctx, fields.Definition{Entity: "contact", Key: "budget", Label: "Budget", Type: fields.Money})
		require.NoError(t, err)
		budgets := []map[string]any{
			{"amount": "1200.50", "currency": "EUR"}, {"amount": "99", "currency": "USD"},
			{"amount": "-5.25", "currency": "EUR"}, nil, {"amount": "1200.5", "currency": "CHF"},
		}
		for i, m := range budgets {
			attrs := map[string]any{}
			if m != nil {
				attrs["budget"] = m
			}
			_, err := b.svc.Create(ctx, contacts.NewContact{Email: fmt.Sprintf("m%d@example.com", i), Attributes: attrs})
			require.NoError(t, err)
		}
		_, err = b.svc.Create(ctx, contacts.NewContact{Email: "sci@example.com", Attributes: map[string]any{"budget": map[string]any{"amount": "1e3", "currency": "EUR"}}})
		require.ErrorIs(t, err, core.ErrInvalid, "amounts are written in plain decimals")

		all, err := b.svc.List(ctx, contacts.ListOptions{Limit: 100})
		require.NoError(t, err)
		for _, tc := range []struct {
			f    filter.Expr
			want int
		}{
			{filter.Gte("attributes.budget.amount", 1200.5), 2},
			{filter.Lt("attributes.budget.amount", 0), 1},
			{filter.Eq("attributes.budget.currency", "EUR"), 2},
			{filter.And(filter.Eq("attributes.budget.currency", "EUR"), filter.Gt("attributes.budget.amount", 100)), 1},
			{filter.Exists("attributes.budget"), 4},
		} {
			n, err := b.svc.Count(ctx, tc.f)
			require.NoError(t, err, "%s", tc.f)
			require.Equal(t, int64(tc.want), n, "%s", tc.f)
			matched := 0
			schema, err := contacts.Module.Declare().Schemas[contacts.EntityContact](ctx, b.sc)
			require.NoError(t, err)
			for _, c := range all.Items {
				ok, err := schema.Match(tc.f, c, time.Now())
				require.NoError(t, err)
				if ok {
					matched++
				}
			}
			require.Equal(t, tc.want, matched, "Match agrees with SQL: %s", tc.f)
		}
		_, err = b.svc.Count(ctx, filter.Gt("attributes.budget.amount", "lots"))
		require.ErrorIs(t, err, core.ErrInvalid)

		page, err := b.svc.List(ctx, contacts.ListOptions{Sort: "-attributes.budget.amount", Limit: 3})
		require.NoError(t, err)
		amounts := make([]any, len(page.Items))
		for i, c := range page.Items {
			amounts[i] = c.Attributes["budget"].(map[string]any)["amount"]
		}
		require.ElementsMatch(t, []any{"1200.50", "1200.5"}, amounts[:2], "equal amounts, in either order")
		require.Equal(t, "99", amounts[2])
	})
}
