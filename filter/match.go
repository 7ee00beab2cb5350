package filter

import (
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Record is a value Match can test: FilterValue returns the value of an
// allowlisted field by name — a string, a time.Time (zero: none), a
// []string of tags, a uuid.UUID (nil: none), a number (float64 or an
// integer) — and for "attributes.<key>" the attribute's JSON value (nil when
// absent).
type Record interface {
	FilterValue(field string) any
}

// Match reports whether r satisfies e, with the same answers the compiled
// SQL gives. now anchors relative dates.
func (s *Schema) Match(e Expr, r Record, now time.Time) (bool, error) {
	m, err := s.Matcher(e, now)
	if err != nil {
		return false, err
	}
	return m.Match(r), nil
}

func match(n node, r Record) bool {
	switch {
	case n.and != nil:
		for _, k := range n.and {
			if !match(k, r) {
				return false
			}
		}
		return true
	case n.or != nil:
		for _, k := range n.or {
			if match(k, r) {
				return true
			}
		}
		return false
	case n.not != nil:
		return !match(*n.not, r)
	}
	name := n.field.Name
	if n.attrKey != "" {
		name = n.attrName
	}
	return matchCond(n, r.FilterValue(name))
}

func matchCond(n node, v any) bool {
	if n.op == OpExists {
		return present(n, v) == n.exists
	}
	if n.field.Type == Tags {
		tags, _ := v.([]string)
		if list, ok := v.([]any); ok { // a JSON array, e.g. a multi-enum custom field
			for _, e := range list {
				if s, ok := e.(string); ok {
					tags = append(tags, s)
				}
			}
		}
		for _, want := range n.vals {
			if slices.Contains(tags, want.(string)) {
				return true
			}
		}
		return false
	}
	// Bring the record's value to the condition's kind; a value of another
	// kind is missing, and a condition on a missing value is false.
	var have any
	switch n.kind {
	case kString:
		s, ok := v.(string)
		if !ok {
			return false
		}
		have = s
	case kNumber:
		f, ok := toFloat(v)
		if !ok {
			return false
		}
		have = f
	case kBool:
		b, ok := v.(bool)
		if !ok {
			return false
		}
		have = b
	case kTime:
		t, ok := v.(time.Time)
		if !ok || t.IsZero() {
			return false
		}
		have = t
	case kID:
		id, ok := v.(uuid.UUID)
		if !ok || id == uuid.Nil {
			return false
		}
		have = id
	}
	switch n.op {
	case OpIn:
		for _, want := range n.vals {
			if compare(have, want) == 0 {
				return true
			}
		}
		return false
	case OpContains:
		return strings.Contains(have.(string), n.vals[0].(string))
	case OpPrefix:
		return strings.HasPrefix(have.(string), n.vals[0].(string))
	}
	c := compare(have, n.vals[0])
	switch n.op {
	case OpEq:
		return c == 0
	case OpNe:
		return c != 0
	case OpLt:
		return c < 0
	case OpLte:
		return c <= 0
	case OpGt:
		return c > 0
	case OpGte, OpWithinLast:
		return c >= 0
	}
	return false
}

func present(n node, v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case string:
		// A text column's "" means not given; an attribute's "" is a value.
		return n.attrKey != "" || x != ""
	case []string:
		return len(x) > 0
	case []any:
		return n.field.Type != Tags || len(x) > 0
	case time.Time:
		return !x.IsZero()
	case uuid.UUID:
		return x != uuid.Nil
	}
	return true
}

// compare orders two values of the same kind.
func compare(a, b any) int {
	switch x := a.(type) {
	case string:
		return strings.Compare(x, b.(string))
	case float64:
		y := b.(float64)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case bool:
		y := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case time.Time:
		return x.Compare(b.(time.Time))
	case uuid.UUID:
		return strings.Compare(x.String(), b.(uuid.UUID).String())
	}
	return 0
}

// Matcher is a filter checked and bound to a schema once, for matching
// many records (rules test every event against their conditions).
type Matcher struct{ n node }

// Matcher binds e for repeated matching; now anchors relative dates.
func (s *Schema) Matcher(e Expr, now time.Time) (*Matcher, error) {
	n, err := s.bind(e, now)
	if err != nil {
		return nil, err
	}
	if usesRelation(n) {
		return nil, errRelationInMemory()
	}
	return &Matcher{n: n}, nil
}

// Match reports whether r satisfies the filter (as Schema.Match does).
func (m *Matcher) Match(r Record) bool { return match(m.n, r) }
