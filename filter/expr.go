package filter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"iter"
	"strconv"
	"time"

	"github.com/crmkit/crmkit/core"
)

// Op is a comparison operator.
type Op string

// Operators.
const (
	OpEq         Op = "eq"
	OpNe         Op = "ne"
	OpLt         Op = "lt"
	OpLte        Op = "lte"
	OpGt         Op = "gt"
	OpGte        Op = "gte"
	OpIn         Op = "in"          // value is a list; true when the field equals one of them (tags: holds one of them)
	OpContains   Op = "contains"    // strings: substring; tags: holds the tag
	OpPrefix     Op = "prefix"      // strings: starts with
	OpExists     Op = "exists"      // value true: the field has a value (non-empty string, non-empty tags, attribute present)
	OpWithinLast Op = "within_last" // times: within the last duration ("90d", "12h", "30m")
)

// Expr is one node of a filter: a combination (exactly one of And, Or, Not)
// or a condition (Field, Op, Value). The zero Expr matches everything.
type Expr struct {
	And []Expr `json:"and,omitempty"`
	Or  []Expr `json:"or,omitempty"`
	Not *Expr  `json:"not,omitempty"`

	Field string `json:"field,omitempty"`
	// Related names a relation of the schema instead of a field, with its
	// Params (see Relation).
	Related string         `json:"related,omitempty"`
	Params  map[string]any `json:"params,omitempty"`
	Op      Op             `json:"op,omitempty"`
	// Value is a string, number (float64, int or json.Number), bool, time or
	// a list of those, as the field and operator require.
	Value any `json:"value,omitempty"`
}

// IsZero reports whether e is the empty filter, which matches everything.
func (e Expr) IsZero() bool {
	return e.And == nil && e.Or == nil && e.Not == nil && e.Field == "" && e.Related == "" && e.Params == nil && e.Op == "" && e.Value == nil
}

// And matches when every e matches (and nothing: always).
func And(e ...Expr) Expr { return Expr{And: nonNil(e)} }

// Or matches when any e matches (and nothing: never).
func Or(e ...Expr) Expr { return Expr{Or: nonNil(e)} }

// Not matches when e does not.
func Not(e Expr) Expr { return Expr{Not: &e} }

func nonNil(e []Expr) []Expr {
	if e == nil {
		return []Expr{}
	}
	return e
}

// Cond builds a condition.
func Cond(field string, op Op, value any) Expr { return Expr{Field: field, Op: op, Value: value} }

// Eq, Ne, Lt, Lte, Gt, Gte, In, Contains, Prefix and Exists build conditions.
func Eq(field string, v any) Expr        { return Cond(field, OpEq, v) }
func Ne(field string, v any) Expr        { return Cond(field, OpNe, v) }
func Lt(field string, v any) Expr        { return Cond(field, OpLt, v) }
func Lte(field string, v any) Expr       { return Cond(field, OpLte, v) }
func Gt(field string, v any) Expr        { return Cond(field, OpGt, v) }
func Gte(field string, v any) Expr       { return Cond(field, OpGte, v) }
func In(field string, v ...any) Expr     { return Cond(field, OpIn, v) }
func Contains(field string, v any) Expr  { return Cond(field, OpContains, v) }
func Prefix(field string, v string) Expr { return Cond(field, OpPrefix, v) }
func Exists(field string) Expr           { return Cond(field, OpExists, true) }
func WithinLast(field string, d time.Duration) Expr {
	return Cond(field, OpWithinLast, FormatDuration(d))
}

// Limits on filters, against abuse through the JSON form. Parse, Compile
// and Match all refuse a filter beyond them with ErrInvalid.
const (
	MaxDepth      = 32
	MaxConditions = 500
	// MaxInValues bounds the values of the "in" lists of one filter, all
	// lists together. Each list is bound to SQL as one JSON array value,
	// whatever its length, so databases' limits on parameters (65,535 on
	// PostgreSQL) and on expression size (SQLite) do not apply.
	MaxInValues = 10_000
	// MaxJSONBytes bounds the JSON form: room for MaxInValues ids.
	MaxJSONBytes = 1 << 20
)

// Parse reads a filter's JSON form. Unknown keys, malformed JSON and nodes
// that are neither one combination nor one condition are ErrInvalid. Field
// names and values are checked later, against a Schema.
func Parse(data []byte) (Expr, error) {
	if len(data) > MaxJSONBytes {
		return Expr{}, core.Invalid("filter", "is larger than %d bytes", MaxJSONBytes)
	}
	if len(bytes.TrimSpace(data)) == 0 || string(bytes.TrimSpace(data)) == "null" {
		return Expr{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	var e Expr
	if err := dec.Decode(&e); err != nil {
		return Expr{}, core.Invalid("filter", "is not valid filter JSON: %v", err)
	}
	if dec.More() {
		return Expr{}, core.Invalid("filter", "has data after the filter")
	}
	v := &core.ValidationError{}
	n, values := 0, 0
	checkShape(e, "filter", 0, &n, &values, v)
	if err := v.Err(); err != nil {
		return Expr{}, err
	}
	return e, nil
}

// MarshalJSON writes the canonical JSON form, which Parse reads back to an
// equal filter: an empty "and" or "or" list is kept (they match all and
// nothing), and a condition always carries its value.
func (e Expr) MarshalJSON() ([]byte, error) {
	switch {
	case e.And != nil:
		return json.Marshal(struct {
			And []Expr `json:"and"`
		}{e.And})
	case e.Or != nil:
		return json.Marshal(struct {
			Or []Expr `json:"or"`
		}{e.Or})
	case e.Not != nil:
		return json.Marshal(struct {
			Not *Expr `json:"not"`
		}{e.Not})
	case e.IsZero():
		return []byte("{}"), nil
	}
	if e.Related != "" {
		return json.Marshal(struct {
			Related string         `json:"related"`
			Params  map[string]any `json:"params,omitempty"`
			Op      Op             `json:"op"`
			Value   any            `json:"value"`
		}{e.Related, e.Params, e.Op, e.Value})
	}
	return json.Marshal(struct {
		Field string `json:"field"`
		Op    Op     `json:"op"`
		Value any    `json:"value"`
	}{e.Field, e.Op, e.Value})
}

// Conditions yields every condition of e (a comparison on a field or a
// related predicate), nested ones included, in order.
func (e Expr) Conditions() iter.Seq[Expr] {
	return func(yield func(Expr) bool) { e.conditions(yield) }
}

func (e Expr) conditions(yield func(Expr) bool) bool {
	if (e.Field != "" || e.Related != "") && !yield(e) {
		return false
	}
	for _, list := range [][]Expr{e.And, e.Or} {
		for _, k := range list {
			if !k.conditions(yield) {
				return false
			}
		}
	}
	return e.Not == nil || e.Not.conditions(yield)
}

// String is the canonical JSON form.
func (e Expr) String() string {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Sprintf("<invalid filter: %v>", err)
	}
	return string(b)
}

func checkShape(e Expr, path string, depth int, n, values *int, v *core.ValidationError) {
	if depth > MaxDepth {
		v.Add(path, "is nested deeper than %d levels", MaxDepth)
		return
	}
	*n++
	if *n > MaxConditions {
		if *n == MaxConditions+1 {
			v.Add("filter", "has more than %d nodes", MaxConditions)
		}
		return
	}
	kinds := 0
	if e.And != nil {
		kinds++
	}
	if e.Or != nil {
		kinds++
	}
	if e.Not != nil {
		kinds++
	}
	isCond := e.Field != "" || e.Related != "" || e.Params != nil || e.Op != "" || e.Value != nil
	if isCond {
		kinds++
		if e.Op == OpIn {
			if list, ok := asList(e.Value); ok {
				before := *values
				*values += len(list)
				if *values > MaxInValues && before <= MaxInValues {
					v.Add(path+".value", "brings the filter's in lists to more than %d values", MaxInValues)
				}
			}
		}
	}
	if kinds > 1 {
		v.Add(path, "must be exactly one of and, or, not or a condition")
		return
	}
	for i, c := range e.And {
		checkShape(c, fmt.Sprintf("%s.and[%d]", path, i), depth+1, n, values, v)
	}
	for i, c := range e.Or {
		checkShape(c, fmt.Sprintf("%s.or[%d]", path, i), depth+1, n, values, v)
	}
	if e.Not != nil {
		checkShape(*e.Not, path+".not", depth+1, n, values, v)
	}
}

// ParseDuration reads a relative-date duration: "90d", "12h", "30m", or
// any Go duration ("1h30m"). Negative and zero durations are refused.
func ParseDuration(s string) (time.Duration, error) {
	d, err := parseSpan(s)
	if err == nil && d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration", s)
	}
	return d, err
}

// parseSpan reads a duration like ParseDuration, zero and negative ones
// included.
func parseSpan(s string) (time.Duration, error) {
	if len(s) > 1 && s[len(s)-1] == 'd' {
		days, err := strconv.Atoi(s[:len(s)-1])
		if err != nil || days > 100*366 || days < -100*366 {
			return 0, fmt.Errorf("%q is not a duration such as 90d, 12h or 30m", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 90d, 12h or 30m", s)
	}
	return d, nil
}

// FormatDuration writes d in the form ParseDuration reads, in days when
// whole.
func FormatDuration(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}
