package filter_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
)

var schema = filter.NewSchema("thing", "t.attributes",
	filter.Field{Name: "name", Column: "t.name", Type: filter.String, Sortable: true},
	filter.Field{Name: "stage", Column: "t.stage", Type: filter.Enum, Values: []string{"lead", "customer"}},
	filter.Field{Name: "tags", Column: "t.tags", Type: filter.Tags},
	filter.Field{Name: "created_at", Column: "t.created_at", Type: filter.Time, Sortable: true},
)

func TestJSONRoundTrip(t *testing.T) {
	exprs := []filter.Expr{
		{},
		filter.And(),
		filter.Or(),
		filter.Eq("name", "Ada"),
		filter.Not(filter.Exists("tags")),
		filter.Cond("attributes.vip", filter.OpExists, false),
		filter.And(filter.In("stage", "lead", "customer"), filter.Or(filter.Prefix("name", "A"), filter.Gt("attributes.seats", 10))),
		filter.WithinLast("created_at", 90*24*time.Hour),
	}
	for _, e := range exprs {
		js, err := json.Marshal(e)
		require.NoError(t, err)
		back, err := filter.Parse(js)
		require.NoError(t, err, "%s", js)
		js2, err := json.Marshal(back)
		require.NoError(t, err)
		require.JSONEq(t, string(js), string(js2))
		require.NoError(t, schema.Check(back), "%s", js)
	}
}

func TestParseRejectsMalformedJSON(t *testing.T) {
	for name, in := range map[string]string{
		"not json":          `{"field":`,
		"unknown key":       `{"feld":"name","op":"eq","value":"x"}`,
		"two kinds":         `{"and":[],"field":"name","op":"eq","value":"x"}`,
		"trailing data":     `{"and":[]} {"or":[]}`,
		"wrong type":        `{"and":{"field":"name"}}`,
		"nested two kinds":  `{"or":[{"not":{"field":"a","op":"eq","value":1},"and":[]}]}`,
		"too deep":          strings.Repeat(`{"not":`, 40) + `{}` + strings.Repeat(`}`, 40),
		"too many nodes":    `{"and":[` + strings.Repeat(`{"field":"name","op":"eq","value":"x"},`, 600) + `{}]}`,
		"array at the root": `[]`,
	} {
		_, err := filter.Parse([]byte(in))
		require.ErrorIs(t, err, core.ErrInvalid, name)
		require.True(t, strings.HasPrefix(err.Error(), "crm: invalid input"), name)
	}
	e, err := filter.Parse([]byte("  "))
	require.NoError(t, err)
	require.True(t, e.IsZero())
}

func TestCheckReportsEveryProblem(t *testing.T) {
	e := filter.And(
		filter.Eq("password", "x"),           // unknown field
		filter.Gt("tags", "a"),               // operator the field lacks
		filter.Eq("stage", "champion"),       // not an enum value
		filter.Eq("created_at", "yesterday"), // not a time
		filter.Cond("created_at", filter.OpWithinLast, "-3d"),
		filter.Eq("attributes.Bad-Key", 1),          // invalid attribute key
		filter.Eq("attributes.plan", []any{"x"}),    // a list for eq
		filter.Cond("name", filter.OpExists, "yes"), // exists needs a bool
		filter.Contains("attributes.n", 5),          // contains on a number
	)
	err := schema.Check(e)
	var ve *core.ValidationError
	require.True(t, errors.As(err, &ve))
	require.ErrorIs(t, err, core.ErrInvalid)
	require.Len(t, ve.Fields, 9, "%v", err)
	require.True(t, ve.Has("filter.and[0].field"))
	require.True(t, ve.Has("filter.and[1].op"))
	require.True(t, ve.Has("filter.and[2].value"))
}

func TestSort(t *testing.T) {
	s, err := schema.ParseSort("-created_at", "name")
	require.NoError(t, err)
	require.True(t, s.Desc)
	require.Equal(t, "t.created_at DESC, t.id DESC", s.OrderBy("t.id"))
	require.Equal(t, "((t.created_at, t.id) < (?, ?))", s.After("t.id"))
	def, err := schema.ParseSort("", "name")
	require.NoError(t, err)
	require.Equal(t, "name", def.String())
	for _, bad := range []string{"stage", "name desc", "t.name", "-", "created_at; DROP TABLE x"} {
		_, err := schema.ParseSort(bad, "name")
		require.ErrorIs(t, err, core.ErrInvalid, bad)
	}
}

func TestRelativeTimes(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	r := rec{"created_at": now.Add(-36 * time.Hour)}
	for _, tc := range []struct {
		e    filter.Expr
		want bool
	}{
		{filter.Lt("created_at", "now"), true},
		{filter.Gte("created_at", "now-2d"), true},
		{filter.Gte("created_at", "now-1d"), false},
		{filter.Lt("created_at", "now+48h"), true},
		{filter.Lt("created_at", "now-0d"), true},
	} {
		got, err := schema.Match(tc.e, r, now)
		require.NoError(t, err, "%s", tc.e)
		require.Equal(t, tc.want, got, "%s", tc.e)
	}
	for _, bad := range []string{"now*2", "now-", "now-soon", "nowhere", "now--1d", "now+-2h"} {
		require.ErrorIs(t, schema.Check(filter.Lt("created_at", bad)), core.ErrInvalid, bad)
	}
}

func TestDurations(t *testing.T) {
	for in, want := range map[string]time.Duration{"90d": 90 * 24 * time.Hour, "12h": 12 * time.Hour, "30m": 30 * time.Minute, "1h30m": 90 * time.Minute} {
		got, err := filter.ParseDuration(in)
		require.NoError(t, err)
		require.Equal(t, want, got)
		back, err := filter.ParseDuration(filter.FormatDuration(got))
		require.NoError(t, err)
		require.Equal(t, got, back)
	}
	for _, bad := range []string{"", "d", "-1d", "0d", "ten days", "99999999d"} {
		_, err := filter.ParseDuration(bad)
		require.Error(t, err, bad)
	}
}

// Matching needs no database; this pins the documented semantics of
// missing values.
type rec map[string]any

func (r rec) FilterValue(f string) any { return r[f] }

func TestMatchMissingValues(t *testing.T) {
	now := time.Now()
	r := rec{"name": "", "tags": []string{}, "attributes.seats": "12"}
	for _, tc := range []struct {
		e    filter.Expr
		want bool
	}{
		{filter.Gt("attributes.seats", 10), false},            // a string is not a number
		{filter.Not(filter.Gt("attributes.seats", 10)), true}, // so its negation holds
		{filter.Eq("attributes.plan", "pro"), false},          // absent
		{filter.Ne("attributes.plan", "pro"), false},          // absent: ne is false too
		{filter.Not(filter.Eq("attributes.plan", "pro")), true},
		{filter.Exists("name"), false}, // "" is not given
		{filter.Exists("attributes.seats"), true},
		{filter.Eq("created_at", now.Format(time.RFC3339)), false}, // no time
		{filter.Or(), false},
		{filter.And(), true},
	} {
		got, err := schema.Match(tc.e, r, now)
		require.NoError(t, err)
		require.Equal(t, tc.want, got, "%s", tc.e)
	}
}

// FuzzParse: no input makes Parse or Check panic, and whatever Parse
// accepts marshals to JSON that parses to the same filter.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"and":[]}`, `{"or":[{"field":"name","op":"eq","value":"x"}]}`,
		`{"not":{"field":"tags","op":"contains","value":"vip"}}`,
		`{"field":"created_at","op":"within_last","value":"90d"}`,
		`{"field":"attributes.n","op":"in","value":[1,2.5,"x"]}`,
		`{"field":"stage","op":"exists","value":true}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := filter.Parse(data)
		if err != nil {
			if !errors.Is(err, core.ErrInvalid) {
				t.Fatalf("Parse error does not match ErrInvalid: %v", err)
			}
			return
		}
		if err := schema.Check(e); err != nil && !errors.Is(err, core.ErrInvalid) {
			t.Fatalf("Check error does not match ErrInvalid: %v", err)
		}
		js, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("marshal accepted filter: %v", err)
		}
		back, err := filter.Parse(js)
		if err != nil {
			t.Fatalf("re-parse %s: %v", js, err)
		}
		js2, _ := json.Marshal(back)
		if string(js) != string(js2) {
			t.Fatalf("round trip changed the filter:\n%s\n%s", js, js2)
		}
	})
}

// Conditions yields every comparison and related predicate, however
// nested, in order, and stops when asked to.
func TestConditions(t *testing.T) {
	e := filter.And(filter.Eq("a", 1), filter.Or(filter.Not(filter.Eq("b", 2)), filter.Expr{Related: "has_deal"}), filter.Eq("c", 3))
	var got []string
	for c := range e.Conditions() {
		got = append(got, c.Field+c.Related)
	}
	require.Equal(t, []string{"a", "b", "has_deal", "c"}, got)
	n := 0
	for range e.Conditions() {
		if n++; n == 2 {
			break
		}
	}
	require.Equal(t, 2, n)
	require.Empty(t, slices.Collect(filter.Expr{}.Conditions()))
}
