package contacts_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
)

// "in" with thousands of values works on fields, tags and custom
// attributes (bound as one list value, not one parameter each), and SQL
// agrees with Match; beyond filter.MaxInValues, Parse, List and Match all
// refuse it with ErrInvalid.
func TestInWithManyValues(t *testing.T) {
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		const n = 60
		for i := 0; i < n; i++ {
			_, err := b.svc.Create(ctx, contacts.NewContact{Email: fmt.Sprintf("c%d@ex.example", i*100), Tags: []string{fmt.Sprintf("t-%d", i*100)},
				Attributes: map[string]any{"code": fmt.Sprintf("k-%d", i*100), "n": i * 100}})
			require.NoError(t, err)
		}
		all := listAll(t, b, filter.Expr{})
		require.Len(t, all, n)
		now := time.Now()

		list := func(format string, count int) []any {
			out := make([]any, count)
			for i := range out {
				if format == "" {
					out[i] = i
				} else {
					out[i] = fmt.Sprintf(format, i)
				}
			}
			return out
		}
		const many = 5000 // contacts 0..49 have values below it
		for _, f := range []filter.Expr{
			filter.In("tags", list("t-%d", many)...),
			filter.In("email", list("c%d@ex.example", many)...),
			filter.In("attributes.code", list("k-%d", many)...),
			filter.In("attributes.n", list("", many)...),
			filter.Not(filter.In("attributes.code", list("k-%d", many)...)),
		} {
			js, err := json.Marshal(f)
			require.NoError(t, err)
			parsed, err := filter.Parse(js)
			require.NoError(t, err)
			want := []core.ID{}
			for _, c := range all {
				ok, err := contacts.Schema.Match(f, c, now)
				require.NoError(t, err)
				if ok {
					want = append(want, c.ID)
				}
			}
			got := ids(listAll(t, b, parsed))
			slices.SortFunc(want, compareID)
			slices.SortFunc(got, compareID)
			require.Equal(t, want, got, "%s", f.Field)
			if f.Not == nil {
				require.Len(t, got, 50, "%s", f.Field)
			} else {
				require.Len(t, got, 10)
			}
		}

		tooMany := filter.In("tags", list("t-%d", filter.MaxInValues+1)...)
		js, err := json.Marshal(tooMany)
		require.NoError(t, err)
		_, err = filter.Parse(js)
		require.ErrorIs(t, err, core.ErrInvalid)
		_, err = b.svc.List(ctx, contacts.ListOptions{Filter: tooMany})
		require.ErrorIs(t, err, core.ErrInvalid)
		_, err = contacts.Schema.Match(tooMany, all[0], now)
		require.ErrorIs(t, err, core.ErrInvalid)
		// The limit counts every list of the filter.
		half := filter.In("email", list("c%d@ex.example", filter.MaxInValues/2+1)...)
		_, err = b.svc.Count(ctx, filter.Or(half, half))
		require.ErrorIs(t, err, core.ErrInvalid)
		// At the limit it works.
		_, err = b.svc.Count(ctx, filter.In("email", list("c%d@ex.example", filter.MaxInValues)...))
		require.NoError(t, err)
	})
}
