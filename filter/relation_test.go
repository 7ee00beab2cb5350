package filter_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
)

var relSchema = filter.NewSchema("contact", "", filter.Field{Name: "email", Column: "c.email", Type: filter.String}).WithRelations(
	filter.Relation{Name: "purchases", Result: filter.Number,
		Params: []filter.Param{{Name: "within", Type: filter.ParamWithin}, {Name: "sku", Type: filter.ParamString}},
		SQL: func(d filter.Dialect, p map[string]any) (string, []any) {
			sql, args := "SELECT count(*) FROM orders o WHERE o.contact = c.id", []any{}
			if at, ok := p["within"]; ok {
				sql, args = sql+" AND o.at >= ?", append(args, at)
			}
			return sql, args
		}},
	filter.Relation{Name: "in_segment", Result: filter.Bool, Params: []filter.Param{{Name: "segment", Type: filter.ParamID, Required: true}},
		SQL: func(d filter.Dialect, p map[string]any) (string, []any) {
			return "EXISTS (SELECT 1 FROM members m WHERE m.contact = c.id AND m.segment = ?)", []any{p["segment"]}
		}})

func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	var ve *core.ValidationError
	require.True(t, errors.As(err, &ve), "%v", err)
	var out []string
	for _, f := range ve.Fields {
		out = append(out, f.Field)
	}
	return out
}

// A related condition reads back from its JSON form, compiles to the
// relation's SQL with every value bound, is checked against the
// relation's params and result, and is refused in memory.
func TestRelatedConditions(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	seg := core.NewID()
	e, err := filter.Parse([]byte(`{"and": [{"related": "purchases", "params": {"within": "90d"}, "op": "gte", "value": 2},
		{"related": "in_segment", "params": {"segment": "` + seg.String() + `"}, "op": "exists", "value": false}]}`))
	require.NoError(t, err)
	again, err := filter.Parse([]byte(e.String()))
	require.NoError(t, err)
	require.Equal(t, e.String(), again.String())

	c, err := relSchema.Compile(e, filter.SQLite, now)
	require.NoError(t, err)
	require.Contains(t, c.Where, "(SELECT count(*) FROM orders o WHERE o.contact = c.id AND o.at >= ?) >= ?")
	require.Contains(t, c.Where, "NOT (EXISTS (SELECT 1 FROM members m WHERE m.contact = c.id AND m.segment = ?))")
	require.Len(t, c.Args, 3)
	require.Equal(t, core.NormalizeTime(now.Add(-90*24*time.Hour)), c.Args[0])
	require.Equal(t, 2.0, c.Args[1])
	require.NotContains(t, c.Where, seg.String(), "values are bound")

	_, err = relSchema.Matcher(e, now)
	require.ErrorIs(t, err, core.ErrInvalid, "in memory")

	for bad, fields := range map[string][]string{
		`{"related": "refunds", "op": "gt", "value": 1}`:                                                  {"filter.related"},
		`{"related": "purchases", "params": {"within": "soon", "colour": "red"}, "op": "gt", "value": 1}`: {"filter.params.colour", "filter.params.within"},
		`{"related": "purchases", "op": "contains", "value": 1}`:                                          {"filter.op"},
		`{"related": "purchases", "op": "gt", "value": "many"}`:                                           {"filter.value"},
		`{"related": "in_segment", "op": "exists", "value": true}`:                                        {"filter.params.segment"},
		`{"related": "in_segment", "params": {"segment": "x"}, "op": "eq", "value": 1}`:                   {"filter.params.segment", "filter.op"},
		`{"related": "purchases", "field": "email", "op": "gt", "value": 1}`:                              {"filter.field"},
	} {
		e, err := filter.Parse([]byte(bad))
		require.NoError(t, err, bad)
		err = relSchema.Check(e)
		require.ErrorIs(t, err, core.ErrInvalid, bad)
		got := fieldsOf(t, err)
		require.ElementsMatch(t, fields, got, bad)
	}
	// A schema without the relation refuses it.
	plain := filter.NewSchema("contact", "", filter.Field{Name: "email", Column: "c.email", Type: filter.String})
	err = plain.Check(filter.Expr{Related: "purchases", Op: filter.OpGt, Value: 1})
	require.True(t, strings.Contains(err.Error(), "not a relation"), err.Error())
}
