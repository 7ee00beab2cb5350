package contacts_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
)

// Paging through a list in every sort order sees every matching contact
// exactly once, in order.
func TestListPagination(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		const total = 137
		for i := 0; i < total; i++ {
			_, err := b.svc.Create(ctx, contacts.NewContact{
				Email:    fmt.Sprintf("p%03d@example.com", i),
				LastName: []string{"Meier", "Adams", "Zuse", ""}[i%4], // ties, to exercise the id tiebreak
				Tags:     []string{[]string{"odd", "even"}[i%2]},
			})
			require.NoError(t, err)
		}
		for _, sort := range []string{"created_at", "-created_at", "updated_at", "-updated_at", "last_name", "-last_name", ""} {
			for _, f := range []filter.Expr{{}, filter.Contains("tags", "even")} {
				var seen []*contacts.Contact
				cursor := ""
				for pages := 0; ; pages++ {
					require.Less(t, pages, 20)
					page, err := b.svc.List(ctx, contacts.ListOptions{Filter: f, Sort: sort, Limit: 25, Cursor: cursor})
					require.NoError(t, err)
					seen = append(seen, page.Items...)
					if page.Next == "" {
						break
					}
					require.Len(t, page.Items, 25)
					cursor = page.Next
				}
				want, err := b.svc.Count(ctx, f)
				require.NoError(t, err)
				require.Len(t, seen, int(want), "sort %q filter %s", sort, f)
				ids := map[core.ID]bool{}
				for _, c := range seen {
					require.False(t, ids[c.ID], "contact seen twice")
					ids[c.ID] = true
				}
				require.True(t, slices.IsSortedFunc(seen, orderOf(sort)), "sort %q out of order", sort)
			}
		}
	})
}

func orderOf(spec string) func(a, b *contacts.Contact) int {
	if spec == "" {
		spec = "-created_at"
	}
	field, desc := strings.CutPrefix(spec, "-")
	return func(a, b *contacts.Contact) int {
		var c int
		switch field {
		case "last_name":
			c = strings.Compare(a.LastName, b.LastName)
		case "created_at":
			c = a.CreatedAt.Compare(b.CreatedAt)
		case "updated_at":
			c = a.UpdatedAt.Compare(b.UpdatedAt)
		}
		if c == 0 {
			c = strings.Compare(a.ID.String(), b.ID.String())
		}
		if desc {
			return -c
		}
		return c
	}
}

func TestListRejectsBadRequests(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		for i := 0; i < 3; i++ {
			_, err := b.svc.Create(ctx, contacts.NewContact{Email: fmt.Sprintf("c%d@example.com", i)})
			require.NoError(t, err)
		}
		page, err := b.svc.List(ctx, contacts.ListOptions{Limit: 1})
		require.NoError(t, err)
		require.NotEmpty(t, page.Next)

		other, _ := b.forTenant("other")
		bad := map[string]func() error{
			"unknown filter field": func() error {
				_, err := b.svc.List(ctx, contacts.ListOptions{Filter: filter.Eq("password", "x")})
				return err
			},
			"unknown sort field": func() error {
				_, err := b.svc.List(ctx, contacts.ListOptions{Sort: "email; DROP TABLE crm_contacts"})
				return err
			},
			"limit too large": func() error {
				_, err := b.svc.List(ctx, contacts.ListOptions{Limit: 100000})
				return err
			},
			"forged cursor": func() error {
				_, err := b.svc.List(ctx, contacts.ListOptions{Limit: 1, Cursor: page.Next[:len(page.Next)-2] + "xx"})
				return err
			},
			"garbage cursor": func() error {
				_, err := b.svc.List(ctx, contacts.ListOptions{Cursor: "not a cursor"})
				return err
			},
			"cursor of another filter": func() error {
				_, err := b.svc.List(ctx, contacts.ListOptions{Limit: 1, Cursor: page.Next, Filter: filter.Prefix("email", "c")})
				return err
			},
			"cursor of another sort": func() error {
				_, err := b.svc.List(ctx, contacts.ListOptions{Limit: 1, Cursor: page.Next, Sort: "created_at"})
				return err
			},
			"cursor of another tenant": func() error {
				_, err := other.List(ctx, contacts.ListOptions{Limit: 1, Cursor: page.Next})
				return err
			},
			"wrong value type": func() error {
				_, err := b.svc.List(ctx, contacts.ListOptions{Filter: filter.Eq("created_at", 42)})
				return err
			},
			"unknown enum value": func() error {
				_, err := b.svc.Count(ctx, filter.Eq("lifecycle_stage", "champion"))
				return err
			},
		}
		for name, call := range bad {
			err := call()
			require.ErrorIs(t, err, core.ErrInvalid, name)
			require.True(t, strings.HasPrefix(err.Error(), "crm: invalid input"), "%s: %v", name, err)
		}
		n, err := b.svc.Count(ctx, filter.Expr{})
		require.NoError(t, err)
		require.Equal(t, int64(3), n)
	})
}
