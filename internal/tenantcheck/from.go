package tenantcheck

import (
	"fmt"
	"slices"
)

// FROM lists: joins, tables, derived tables and LATERAL, and the aliases
// that name them.

// fromList analyses a FROM (or USING) list into sc. joined records the
// tenant-scoped tables of the list as joined together.
func (a *analysis) fromList(t []token, sc *scope, joined bool) error {
	before := len(sc.sources)
	for _, item := range splitTop(t, ",") {
		if err := a.fromItem(item, sc); err != nil {
			return err
		}
	}
	if joined && len(sc.sources)-before > 1 {
		a.groups = append(a.groups, slices.Clone(sc.sources[before:]))
	}
	return nil
}

func isJoinStart(t []token, i int) bool {
	tk := t[i]
	next := func(w ...string) bool {
		return i+1 < len(t) && slices.ContainsFunc(w, func(s string) bool { return t[i+1].is(s) })
	}
	switch {
	case tk.is("join"), tk.is("natural"):
		return true
	case tk.is("inner"), tk.is("cross"):
		return next("join")
	case tk.is("left"), tk.is("right"), tk.is("full"):
		return next("join", "outer")
	}
	return false
}

// fromItem analyses one item of a FROM list: a table reference and the
// joins that follow it.
func (a *analysis) fromItem(t []token, sc *scope) error {
	i := 0
	var prev []*source
	for i < len(t) {
		// The join keywords before the next table reference.
		for i < len(t) && (isJoinStart(t, i) || t[i].is("outer") || t[i].is("join")) {
			i++
		}
		start := len(sc.sources)
		j, err := a.tableRef(t, i, sc)
		if err != nil {
			return err
		}
		i = j
		added := sc.sources[start:]
		// ON or USING.
		if i < len(t) && t[i].is("on") {
			end := i + 1
			for end < len(t) && !isJoinStart(t, end) {
				if t[end].punct("(") {
					end = closing(t, end)
					if end < 0 {
						return fmt.Errorf("unbalanced parentheses")
					}
				}
				end++
			}
			a.conditions(t[i+1:end], sc)
			i = end
		} else if i < len(t) && t[i].is("using") && i+1 < len(t) && t[i+1].punct("(") {
			end := closing(t, i+1)
			if end < 0 {
				return fmt.Errorf("unbalanced parentheses")
			}
			if slices.Contains(identList(t[i+2:end]), "tenant_id") {
				for _, s := range added {
					for _, p := range prev {
						a.union(s.tenantNode(), p.tenantNode())
					}
				}
			}
			i = end + 1
		} else if i < len(t) && !isJoinStart(t, i) {
			return fmt.Errorf("FROM: unexpected %q", text(t[i:], 6))
		}
		prev = append(prev, added...)
	}
	return nil
}

// tableRef reads one table reference at t[i] into sc and returns the
// index after it.
func (a *analysis) tableRef(t []token, i int, sc *scope) (int, error) {
	for i < len(t) && (t[i].is("lateral") || t[i].is("only")) {
		i++
	}
	if i >= len(t) {
		return i, fmt.Errorf("FROM: missing table")
	}
	var src *source
	switch {
	case t[i].punct("("):
		end := closing(t, i)
		if end < 0 {
			return i, fmt.Errorf("unbalanced parentheses")
		}
		inner := t[i+1 : end]
		if len(inner) > 0 && (inner[0].is("select") || inner[0].is("with") || inner[0].is("values") || inner[0].punct("(")) && !isJoinedTables(inner) {
			src = &source{}
			before := len(a.bases)
			items, err := a.stmt(inner, sc)
			if err != nil {
				return i, err
			}
			src.inner = slices.Clone(a.bases[before:])
			i = end + 1
			alias, cols, j := readAlias(t, i)
			src.alias, i = alias, j
			a.linkOutput(src, items, cols)
		} else {
			// (a JOIN b ON …)
			if err := a.fromItem(inner, sc); err != nil {
				return i, err
			}
			return end + 1, nil
		}
	case t[i].k == tIdent:
		name := t[i].s
		i++
		for i+1 < len(t) && t[i].punct(".") && t[i+1].k == tIdent {
			name = t[i+1].s
			i += 2
		}
		if i < len(t) && t[i].punct("(") {
			// A function: its arguments may hold subqueries.
			end := closing(t, i)
			if end < 0 {
				return i, fmt.Errorf("unbalanced parentheses")
			}
			a.walk(t[i+1:end], sc)
			i = end + 1
			if i+1 < len(t) && t[i].is("with") && t[i+1].is("ordinality") {
				i += 2
			}
			src = &source{}
		} else if c := sc.cte(name); c != nil {
			src = &source{name: name, out: c.out, inner: c.inner}
		} else if a.tenant(name) {
			src = &source{name: name, base: true, node: a.node()}
			a.bases = append(a.bases, src)
		} else {
			src = &source{name: name}
		}
		alias, _, j := readAlias(t, i)
		src.alias, i = alias, j
	default:
		return i, fmt.Errorf("FROM: unexpected %q", text(t[i:], 6))
	}
	if i < len(t) && t[i].is("tablesample") {
		for i < len(t) && !isJoinStart(t, i) && !t[i].is("on") {
			i++
		}
	}
	sc.sources = append(sc.sources, src)
	return i, nil
}

// isJoinedTables tells (a JOIN b …) from a parenthesised query.
func isJoinedTables(t []token) bool {
	return findTop(t, 0, func(tk token) bool { return tk.is("join") }) < len(t) &&
		!(t[0].is("select") || t[0].is("with") || t[0].is("values"))
}

// readAlias reads "[AS] alias [(columns)]" at t[i].
func readAlias(t []token, i int) (alias string, cols []string, next int) {
	if i < len(t) && t[i].is("as") {
		i++
	} else if i >= len(t) || t[i].k != tIdent || isKeyword(t[i]) {
		return "", nil, i
	}
	if i >= len(t) || t[i].k != tIdent {
		return "", nil, i
	}
	alias = t[i].s
	i++
	if i < len(t) && t[i].punct("(") {
		if end := closing(t, i); end > 0 {
			cols = identList(t[i+1 : end])
			i = end + 1
		}
	}
	return alias, cols, i
}

var keywords = map[string]bool{
	"on": true, "using": true, "join": true, "inner": true, "left": true, "right": true, "full": true,
	"outer": true, "cross": true, "natural": true, "where": true, "group": true, "having": true,
	"window": true, "order": true, "limit": true, "offset": true, "fetch": true, "for": true,
	"union": true, "intersect": true, "except": true, "set": true, "returning": true, "as": true,
	"from": true, "lateral": true, "tablesample": true, "values": true, "select": true,
	"default": true, "with": true, "into": true, "and": true, "or": true,
	"not": true, "is": true, "in": true, "desc": true, "asc": true, "nulls": true, "then": true,
	"else": true, "end": true, "when": true,
}

func isKeyword(tk token) bool { return tk.k == tIdent && !tk.quoted && keywords[tk.s] }
