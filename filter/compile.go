package filter

import (
	"strings"
	"time"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dialect"
)

// Compiled is a filter as SQL: a boolean expression with ? placeholders
// and its arguments, in order.
type Compiled struct {
	Where string
	Args  []any
}

// Dialect names the SQL Compile writes.
type Dialect string

// The dialects Compile writes.
const (
	SQLite     Dialect = "sqlite"
	PostgreSQL Dialect = "postgres"
)

// Compile checks e against the schema and translates it for database d
// (SQLite or PostgreSQL). now anchors relative dates. The empty filter
// compiles to TRUE.
func (s *Schema) Compile(e Expr, d Dialect, now time.Time) (Compiled, error) {
	dd := dialect.ForKind(dialect.Kind(d))
	if dd == nil {
		return Compiled{}, core.Invalid("dialect", "%q is not sqlite or postgres", string(d))
	}
	n, err := s.bind(e, now)
	if err != nil {
		return Compiled{}, err
	}
	c := &compiler{d: dd, attrs: s.attrColumn}
	c.node(n)
	return Compiled{Where: c.b.String(), Args: c.args}, nil
}

type compiler struct {
	d     *dialect.Dialect
	attrs string
	b     strings.Builder
	args  []any
}

func (c *compiler) node(n node) {
	switch {
	case n.and != nil:
		c.join(n.and, " AND ", c.d.True())
	case n.or != nil:
		c.join(n.or, " OR ", c.d.False())
	case n.not != nil:
		// A negated condition on a missing value is true: IS NOT TRUE maps
		// SQL's NULL to true, the same as Match.
		c.b.WriteString("((")
		c.node(*n.not)
		c.b.WriteString(") IS NOT TRUE)")
	default:
		c.cond(n)
	}
}

func (c *compiler) join(kids []node, sep, empty string) {
	if len(kids) == 0 {
		c.b.WriteString(empty)
		return
	}
	c.b.WriteByte('(')
	for i, k := range kids {
		if i > 0 {
			c.b.WriteString(sep)
		}
		c.node(k)
	}
	c.b.WriteByte(')')
}

// expr is the SQL for the condition's value.
func (c *compiler) expr(n node) string {
	if n.attrKey == "" {
		return n.field.Column
	}
	keys := strings.Split(n.attrKey, ".")
	switch n.kind {
	case kNumber:
		return c.d.JSONNumber(c.attrs, keys...)
	case kBool:
		return c.d.JSONBool(c.attrs, keys...)
	default:
		return c.d.JSONText(c.attrs, keys...)
	}
}

var comparison = map[Op]string{OpEq: " = ", OpNe: " <> ", OpLt: " < ", OpLte: " <= ", OpGt: " > ", OpGte: " >= ", OpWithinLast: " >= "}

func (c *compiler) cond(n node) {
	if n.rel != nil {
		c.relation(n)
		return
	}
	if n.op == OpExists {
		c.exists(n)
		return
	}
	x := c.expr(n)
	if n.field.Type == Tags && len(n.vals) > fewTags {
		// in, many tags: one list value (see MaxInValues).
		c.b.WriteString(c.d.ArrayContainsAny(x))
		c.args = append(c.args, c.d.ValuesArg(n.vals))
		return
	}
	if n.field.Type == Tags {
		// contains: holds the tag; in: holds one of them. A few tags are
		// tested one by one, which PostgreSQL's index on tags serves.
		c.b.WriteByte('(')
		for i, v := range n.vals {
			if i > 0 {
				c.b.WriteString(" OR ")
			}
			c.b.WriteString(c.d.ArrayContains(x))
			c.args = append(c.args, v)
		}
		if len(n.vals) == 0 {
			c.b.WriteString(c.d.False())
		}
		c.b.WriteByte(')')
		return
	}
	switch n.op {
	case OpIn:
		if len(n.vals) == 0 {
			c.b.WriteString(c.d.False())
			return
		}
		// One list value, whatever its length (see MaxInValues).
		c.b.WriteString("(" + c.d.InList(x, sqlType(n)) + ")")
		c.args = append(c.args, c.d.ValuesArg(n.vals))
	case OpContains:
		c.b.WriteString(c.d.Contains(x))
		c.args = append(c.args, n.vals[0])
	case OpPrefix:
		sql, binds := c.d.HasPrefix(x)
		c.b.WriteString(sql)
		for i := 0; i < binds; i++ {
			c.args = append(c.args, n.vals[0])
		}
	default:
		if n.attrKey != "" && n.kind == kString && n.op != OpEq && n.op != OpNe {
			x = c.d.StringCompare(x)
		}
		c.b.WriteString("(" + x + comparison[n.op] + "?)")
		c.args = append(c.args, n.vals[0])
	}
}

func (c *compiler) exists(n node) {
	var sql string
	switch {
	case n.attrKey != "":
		sql = c.d.JSONHas(c.attrs, strings.Split(n.attrKey, ".")...)
	case n.field.Type == Tags:
		sql = c.d.ArrayNotEmpty(n.field.Column)
	case n.field.Type == String || n.field.Type == Enum:
		sql = "(" + n.field.Column + " <> '')"
	case n.field.Type == Number || n.field.Type == Bool:
		sql = "(" + n.field.Column + " IS NOT NULL)"
	default:
		sql = "(" + n.field.Column + " IS NOT NULL)"
	}
	if !n.exists {
		sql = "(" + sql + " IS NOT TRUE)"
	}
	c.b.WriteString(sql)
}

// fewTags is the most tags an "in" condition tests one by one.
const fewTags = 32

// sqlType is the PostgreSQL type of the condition's value, for InList.
func sqlType(n node) string {
	switch {
	case n.kind == kNumber:
		return "double precision"
	case n.kind == kBool:
		return "boolean"
	case n.kind == kID:
		return "uuid"
	}
	return "text"
}
