package fields

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/filter"
)

// A filter names a custom field wherever its condition sits: nested in
// and, or and not, or in a related predicate's own filter.
func TestNamesAttribute(t *testing.T) {
	attr := filter.Eq("attributes.plan", "pro")
	plain := filter.Eq("lifecycle_stage", "lead")
	for _, c := range []struct {
		f    filter.Expr
		want bool
	}{
		{filter.Expr{}, false},
		{plain, false},
		{attr, true},
		{filter.And(plain, filter.Or(plain, filter.Not(attr))), true},
		{filter.And(plain, filter.Or(plain, filter.Not(plain))), false},
		{filter.Expr{Related: "has_deal", Params: map[string]any{"filter": map[string]any{"field": "attributes.region", "op": "eq", "value": "dach"}}}, true},
		{filter.Expr{Related: "has_deal", Params: map[string]any{"status": "won"}}, false},
		{filter.Eq("attributes", "x"), false},
	} {
		require.Equal(t, c.want, namesAttribute(c.f), "%s", c.f)
	}
}
