package filter

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/crmkit/crmkit/core"
)

// Relation is a condition over records related to the one filtered: a
// contact's purchases, the campaigns they opened, the segments they are
// in. A condition names it with Related and gives its Params; Op and
// Value compare its Result — a count or a sum (Number: eq, ne, lt, lte,
// gt, gte with a number), or whether it holds (Bool: exists with true or
// false):
//
//	{"related": "purchases", "params": {"within": "90d", "sku": "TEA-1"}, "op": "gte", "value": 2}
//	{"related": "in_segment", "params": {"segment": "0190…"}, "op": "exists", "value": true}
//
// Relations are evaluated in SQL only (lists, counts, segments): Match and
// Matcher refuse a filter that uses one. The module that owns the related
// records declares the relation (module.Module.Relations), so its tables
// are read by its own SQL.
type Relation struct {
	Name string
	Doc  string
	// Result is Number or Bool.
	Result Type
	Params []Param
	// SQL is the relation's result for the filtered record (correlated to
	// the columns of the schema's table), with ? placeholders for args.
	// params holds the given params by name, converted: a string, a
	// uuid.UUID for ParamID, and for ParamWithin the start of the period
	// (a time.Time: now minus the duration).
	SQL func(d Dialect, params map[string]any) (sql string, args []any)
}

// Param is a parameter of a relation.
type Param struct {
	Name     string
	Type     ParamType
	Required bool
}

// ParamType is the type of a relation's parameter.
type ParamType string

// Parameter types: a string; an id (UUID); a duration back from now
// ("90d", "12h").
const (
	ParamString ParamType = "string"
	ParamID     ParamType = "id"
	ParamWithin ParamType = "within"
)

// WithRelations returns a copy of s that also allows rels.
func (s *Schema) WithRelations(rels ...Relation) *Schema {
	if len(rels) == 0 {
		return s
	}
	c := &Schema{entity: s.entity, fields: s.fields, attrColumn: s.attrColumn, attrPrefix: s.attrPrefix, nested: s.nested,
		relations: make(map[string]Relation, len(s.relations)+len(rels))}
	for k, r := range s.relations {
		c.relations[k] = r
	}
	for _, r := range rels {
		c.relations[r.Name] = r
	}
	return c
}

// Relations lists the schema's relations by name.
func (s *Schema) Relations() []Relation {
	out := make([]Relation, 0, len(s.relations))
	for _, r := range s.relations {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Relation) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// bindRelation binds a condition on a relation.
func (s *Schema) bindRelation(e Expr, path string, now time.Time, v *core.ValidationError) node {
	out := node{op: e.Op}
	rel, ok := s.relations[e.Related]
	if !ok {
		v.Add(path+".related", "%q is not a relation of %s", e.Related, s.entity)
		return out
	}
	if e.Field != "" {
		v.Add(path+".field", "a related condition names no field")
	}
	params := map[string]any{}
	for name := range e.Params {
		if !slices.ContainsFunc(rel.Params, func(p Param) bool { return p.Name == name }) {
			v.Add(path+".params."+name, "is not a parameter of %s", rel.Name)
		}
	}
	for _, p := range rel.Params {
		raw, ok := e.Params[p.Name]
		if !ok || raw == nil {
			if p.Required {
				v.Add(path+".params."+p.Name, "is required")
			}
			continue
		}
		str, isString := raw.(string)
		switch {
		case !isString:
			v.Add(path+".params."+p.Name, "must be a string")
		case p.Type == ParamID:
			id, err := uuid.Parse(str)
			if err != nil {
				v.Add(path+".params."+p.Name, "is not an id")
				continue
			}
			params[p.Name] = id
		case p.Type == ParamWithin:
			d, err := ParseDuration(str)
			if err != nil {
				v.Add(path+".params."+p.Name, "%v", err)
				continue
			}
			params[p.Name] = core.NormalizeTime(now.Add(-d))
		default:
			if len(str) > 500 {
				v.Add(path+".params."+p.Name, "is longer than 500 bytes")
				continue
			}
			params[p.Name] = str
		}
	}
	out.rel, out.relParams = &rel, params
	switch rel.Result {
	case Bool:
		b, ok := e.Value.(bool)
		if e.Op != OpExists || !ok {
			v.Add(path+".op", "%s holds or not: use exists with true or false", rel.Name)
		}
		out.exists = b
	default:
		if !slices.Contains([]Op{OpEq, OpNe, OpLt, OpLte, OpGt, OpGte}, e.Op) {
			v.Add(path+".op", "%q is not an operator for %s (use eq, ne, lt, lte, gt or gte)", e.Op, rel.Name)
			return out
		}
		f, ok := toFloat(e.Value)
		if !ok {
			v.Add(path+".value", "must be a number")
			return out
		}
		out.kind, out.vals = kNumber, []any{f}
	}
	return out
}

// compileRelation writes the SQL of a bound relation condition.
func (c *compiler) relation(n node) {
	sql, args := n.rel.SQL(Dialect(c.d.Kind), n.relParams)
	if n.rel.Result == Bool {
		if !n.exists {
			c.b.WriteString("NOT ")
		}
		c.b.WriteString("(" + sql + ")")
		c.args = append(c.args, args...)
		return
	}
	c.b.WriteString("(" + sql + ")" + comparison[n.op] + "?")
	c.args = append(append(c.args, args...), n.vals[0])
}

// usesRelation reports whether a bound filter holds a relation.
func usesRelation(n node) bool {
	if n.rel != nil {
		return true
	}
	for _, k := range append(append([]node{}, n.and...), n.or...) {
		if usesRelation(k) {
			return true
		}
	}
	return n.not != nil && usesRelation(*n.not)
}

// errRelationInMemory refuses to match a relation in memory.
func errRelationInMemory() error {
	return fmt.Errorf("%w: related conditions are evaluated in SQL (lists, counts, segments), not in memory", core.ErrInvalid)
}
