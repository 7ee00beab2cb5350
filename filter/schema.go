package filter

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/crmkit/crmkit/core"
)

// Type is the type of a filterable field.
type Type int

const (
	// String is a NOT NULL text column; "" means not given.
	String Type = iota + 1
	// Enum is a String with a fixed set of values.
	Enum
	// Time is a time column, possibly NULL.
	Time
	// Tags is a JSON array of strings.
	Tags
	// ID is a (nullable) reference to another record.
	ID
	// Number is a numeric column or expression, compared as a float.
	Number
	// Bool is a boolean column or expression.
	Bool
)

// Field is one entry of a Schema's allowlist.
type Field struct {
	// Name is what filters and sort specs call the field.
	Name string
	// Column is the SQL expression for it, e.g. "c.email".
	Column string
	Type   Type
	// Values lists the allowed values of an Enum.
	Values []string
	// Sortable fields may be used to sort lists (keyset-paginated: the
	// sort key must never be NULL, and should be indexed after the tenant).
	Sortable bool
	// SortColumn, when set, is the sort key instead of Column: an
	// expression that is never NULL (e.g. COALESCE(value, default)).
	SortColumn string
	// SortDefault is the sort key of a record whose value is missing; it
	// must equal what SortColumn gives such a row.
	SortDefault any
}

// sortColumn is the expression lists are ordered by.
func (f Field) sortColumn() string {
	if f.SortColumn != "" {
		return f.SortColumn
	}
	return f.Column
}

// SortKey is the sort key of r for f: its value, or SortDefault when it has
// none.
func (f Field) SortKey(r Record) any {
	v := r.FilterValue(f.Name)
	if v == nil && f.SortDefault != nil {
		return f.SortDefault
	}
	return v
}

// Schema is the allowlist of one entity's filterable fields, plus an
// optional JSON column of custom attributes addressed as "attributes.<key>".
type Schema struct {
	entity     string
	fields     map[string]Field
	attrColumn string
	// attrPrefix addresses the JSON column's keys; AttributePrefix unless
	// set by WithJSONPaths, which also allows nested paths.
	attrPrefix string
	nested     bool
	// relations are the schema's related conditions (WithRelations).
	relations map[string]Relation
}

// AttributePrefix addresses a custom attribute: "attributes.plan".
const AttributePrefix = "attributes."

// ValidAttributeKey reports whether k may name a custom attribute: a
// lower-case letter, then lower-case letters, digits and underscores, at
// most 63 in all.
func ValidAttributeKey(k string) bool { return core.ValidCode(k) }

// NewSchema returns the allowlist for entity. attrColumn is the JSON column
// holding custom attributes, or "" when the entity has none.
func NewSchema(entity, attrColumn string, fields ...Field) *Schema {
	s := &Schema{entity: entity, fields: map[string]Field{}, attrColumn: attrColumn, attrPrefix: AttributePrefix}
	for _, f := range fields {
		s.fields[f.Name] = f
	}
	return s
}

// With returns a copy of s that also allows fields (e.g. the custom fields
// a tenant defined); a field of the same name replaces the original.
func (s *Schema) With(fields ...Field) *Schema {
	if len(fields) == 0 {
		return s
	}
	c := &Schema{entity: s.entity, fields: make(map[string]Field, len(s.fields)+len(fields)), attrColumn: s.attrColumn,
		attrPrefix: s.attrPrefix, nested: s.nested, relations: s.relations}
	for k, f := range s.fields {
		c.fields[k] = f
	}
	for _, f := range fields {
		c.fields[f.Name] = f
	}
	return c
}

// MaxPathDepth bounds the keys of a nested JSON path (see WithJSONPaths).
const MaxPathDepth = 6

// WithJSONPaths returns a copy of s whose JSON column is addressed by
// prefix and a dotted path of keys, e.g. "data.deal.stage_id" with prefix
// "data.": for documents whose shape the schema does not know, such as
// the data of events. Each key is a valid attribute key.
func (s *Schema) WithJSONPaths(prefix string) *Schema {
	c := s.With()
	if c == s {
		c = &Schema{entity: s.entity, fields: s.fields, attrColumn: s.attrColumn, relations: s.relations}
	}
	c.attrPrefix, c.nested = prefix, true
	return c
}

// Entity names the schema's entity.
func (s *Schema) Entity() string { return s.entity }

// Field returns the allowlisted field called name.
func (s *Schema) Field(name string) (Field, bool) {
	f, ok := s.fields[name]
	return f, ok
}

// Check reports every problem of e against the schema (unknown fields,
// operators a field does not support, values of the wrong type) as one
// *core.ValidationError.
func (s *Schema) Check(e Expr) error {
	_, err := s.bind(e, time.Time{})
	return err
}

// valueKind is the type of a bound condition's values.
type valueKind int

const (
	kString valueKind = iota + 1
	kNumber
	kBool
	kTime
	kID
)

// node is an Expr checked against a Schema, with values converted.
type node struct {
	and, or []node
	not     *node
	// condition
	field    Field
	attrKey  string
	attrName string // the field name of an attribute: prefix + key
	op       Op
	kind     valueKind
	vals     []any // string, float64, bool, time.Time or uuid.UUID by kind
	exists   bool
	// a relation's condition
	rel       *Relation
	relParams map[string]any
}

// validKey reports whether key may follow the attribute prefix: one
// attribute key, or with nested paths up to MaxPathDepth dotted ones.
func (s *Schema) validKey(key string) bool {
	if !s.nested {
		return ValidAttributeKey(key)
	}
	parts := strings.Split(key, ".")
	if len(parts) > MaxPathDepth {
		return false
	}
	for _, p := range parts {
		if !ValidAttributeKey(p) {
			return false
		}
	}
	return true
}

func (s *Schema) bind(e Expr, now time.Time) (node, error) {
	v := &core.ValidationError{}
	n, values := 0, 0
	checkShape(e, "filter", 0, &n, &values, v)
	if err := v.Err(); err != nil {
		return node{}, err
	}
	out := s.bindNode(e, "filter", now, v)
	return out, v.Err()
}

func (s *Schema) bindNode(e Expr, path string, now time.Time, v *core.ValidationError) node {
	switch {
	case e.And != nil:
		out := node{and: make([]node, len(e.And))}
		for i, c := range e.And {
			out.and[i] = s.bindNode(c, fmt.Sprintf("%s.and[%d]", path, i), now, v)
		}
		return out
	case e.Or != nil:
		out := node{or: make([]node, len(e.Or))}
		for i, c := range e.Or {
			out.or[i] = s.bindNode(c, fmt.Sprintf("%s.or[%d]", path, i), now, v)
		}
		return out
	case e.Not != nil:
		c := s.bindNode(*e.Not, path+".not", now, v)
		return node{not: &c}
	case e.IsZero():
		return node{and: []node{}}
	}
	return s.bindCond(e, path, now, v)
}

func (s *Schema) bindCond(e Expr, path string, now time.Time, v *core.ValidationError) node {
	if e.Related != "" || e.Params != nil {
		return s.bindRelation(e, path, now, v)
	}
	out := node{op: e.Op}
	if f, ok := s.fields[e.Field]; ok {
		out.field = f
	} else if key, ok := strings.CutPrefix(e.Field, s.attrPrefix); ok && s.attrColumn != "" {
		if !s.validKey(key) {
			v.Add(path+".field", "%q is not a valid attribute key (lower-case letters, digits, _)", key)
			return out
		}
		out.attrKey, out.attrName = key, e.Field
	} else {
		v.Add(path+".field", "%q is not a filterable field of %s", e.Field, s.entity)
		return out
	}

	if e.Op == OpExists {
		b, ok := e.Value.(bool)
		if !ok {
			v.Add(path+".value", "must be true or false for exists")
		}
		out.exists = b
		return out
	}

	// Which value kinds and operators the field allows.
	var kind valueKind
	var ops []Op
	switch {
	case out.attrKey != "":
		kind = attrKind(e.Value)
		switch kind {
		case kString:
			ops = []Op{OpEq, OpNe, OpLt, OpLte, OpGt, OpGte, OpIn, OpContains, OpPrefix}
		case kNumber:
			ops = []Op{OpEq, OpNe, OpLt, OpLte, OpGt, OpGte, OpIn}
		case kBool:
			ops = []Op{OpEq, OpNe, OpIn}
		default:
			v.Add(path+".value", "must be a string, number or boolean (or a list of one of them) for attribute %s", out.attrKey)
			return out
		}
	case out.field.Type == String:
		kind, ops = kString, []Op{OpEq, OpNe, OpLt, OpLte, OpGt, OpGte, OpIn, OpContains, OpPrefix}
	case out.field.Type == Enum:
		kind, ops = kString, []Op{OpEq, OpNe, OpIn}
	case out.field.Type == Time:
		kind, ops = kTime, []Op{OpEq, OpNe, OpLt, OpLte, OpGt, OpGte, OpWithinLast}
	case out.field.Type == Tags:
		kind, ops = kString, []Op{OpContains, OpIn}
	case out.field.Type == ID:
		kind, ops = kID, []Op{OpEq, OpNe, OpIn}
	case out.field.Type == Number:
		kind, ops = kNumber, []Op{OpEq, OpNe, OpLt, OpLte, OpGt, OpGte, OpIn}
	case out.field.Type == Bool:
		kind, ops = kBool, []Op{OpEq, OpNe, OpIn}
	}
	out.kind = kind
	if !slices.Contains(ops, e.Op) {
		names := make([]string, len(ops))
		for i, o := range ops {
			names[i] = string(o)
		}
		v.Add(path+".op", "%q is not an operator for %s (use %s or exists)", e.Op, e.Field, strings.Join(names, ", "))
		return out
	}

	if e.Op == OpWithinLast {
		str, _ := e.Value.(string)
		d, err := ParseDuration(str)
		if err != nil {
			v.Add(path+".value", "%v", err)
			return out
		}
		out.vals = []any{core.NormalizeTime(now.Add(-d))}
		return out
	}

	raw := []any{e.Value}
	if e.Op == OpIn {
		list, ok := asList(e.Value)
		if !ok {
			v.Add(path+".value", "must be a list for in")
			return out
		}
		raw = list
	}
	for i, r := range raw {
		val, err := convert(kind, r, now)
		if err != nil {
			p := path + ".value"
			if e.Op == OpIn {
				p = fmt.Sprintf("%s[%d]", p, i)
			}
			v.Add(p, "%v", err)
			continue
		}
		if out.field.Type == Enum && !slices.Contains(out.field.Values, val.(string)) {
			v.Add(path+".value", "%q is not one of %s", val, strings.Join(out.field.Values, ", "))
			continue
		}
		out.vals = append(out.vals, val)
	}
	return out
}

func asList(v any) ([]any, bool) {
	switch l := v.(type) {
	case []any:
		return l, true
	case []string:
		out := make([]any, len(l))
		for i, s := range l {
			out[i] = s
		}
		return out, true
	}
	return nil, false
}

// attrKind tells the kind of an attribute condition from its value (the
// first element of a list).
func attrKind(v any) valueKind {
	if l, ok := asList(v); ok {
		if len(l) == 0 {
			return kString
		}
		v = l[0]
	}
	switch v.(type) {
	case string:
		return kString
	case bool:
		return kBool
	case float64, float32, int, int32, int64, json.Number:
		return kNumber
	}
	return 0
}

func convert(k valueKind, v any, now time.Time) (any, error) {
	switch k {
	case kString:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("must be a string")
		}
		if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			return nil, fmt.Errorf("must be valid UTF-8 text without NUL bytes")
		}
		return s, nil
	case kNumber:
		f, ok := toFloat(v)
		if !ok {
			return nil, fmt.Errorf("must be a number")
		}
		return f, nil
	case kBool:
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("must be true or false")
		}
		return b, nil
	case kTime:
		t, err := toTime(v, now)
		if err != nil {
			return nil, err
		}
		if !core.InTimeRange(t) {
			return nil, fmt.Errorf("is outside the supported range (years %d to %d UTC)", core.MinYear, core.MaxYear)
		}
		return core.NormalizeTime(t), nil
	case kID:
		switch id := v.(type) {
		case uuid.UUID:
			return id, nil
		case string:
			p, err := uuid.Parse(id)
			if err != nil {
				return nil, fmt.Errorf("must be an id")
			}
			return p, nil
		}
		return nil, fmt.Errorf("must be an id")
	}
	return nil, fmt.Errorf("has an unsupported type")
}

// toTime reads a time value: a time.Time, an RFC 3339 string or a time
// relative to now.
func toTime(v any, now time.Time) (time.Time, error) {
	switch t := v.(type) {
	case time.Time:
		return t, nil
	case string:
		if rel, ok, err := relativeTime(t, now); ok {
			return rel, err
		}
		if p, err := time.Parse(time.RFC3339Nano, t); err == nil {
			return p, nil
		}
	}
	return time.Time{}, fmt.Errorf("must be an RFC 3339 time such as 2026-01-31T12:00:00Z, or now, now-7d, now+48h")
}

// relativeTime reads a time relative to now: "now", "now-7d", "now+48h"
// (durations as ParseDuration reads them). ok is false for other strings.
func relativeTime(s string, now time.Time) (t time.Time, ok bool, err error) {
	rest, isRel := strings.CutPrefix(s, "now")
	if !isRel {
		return time.Time{}, false, nil
	}
	if rest == "" {
		return now, true, nil
	}
	sign := rest[0]
	if sign != '+' && sign != '-' {
		return time.Time{}, true, fmt.Errorf("%q is not a relative time such as now, now-7d or now+48h", s)
	}
	d, err := parseSpan(rest[1:])
	if err != nil || d < 0 || rest[1] == '-' || rest[1] == '+' {
		return time.Time{}, true, fmt.Errorf("%q is not a relative time such as now, now-7d or now+48h", s)
	}
	if sign == '-' {
		d = -d
	}
	return now.Add(d), true, nil
}

// toFloat converts a JSON or Go number.
func toFloat(v any) (float64, bool) {
	var f float64
	switch n := v.(type) {
	case float64:
		f = n
	case float32:
		f = float64(n)
	case int:
		f = float64(n)
	case int32:
		f = float64(n)
	case int64:
		f = float64(n)
	case json.Number:
		x, err := n.Float64()
		if err != nil {
			return 0, false
		}
		f = x
	default:
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

func fieldInvalid(field, format string, args ...any) error {
	return core.Invalid(field, format, args...)
}
