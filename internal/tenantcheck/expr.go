package tenantcheck

import (
	"strings"
)

// walk analyses the subqueries of an expression.
func (a *analysis) walk(t []token, sc *scope) {
	for i := 0; i < len(t); i++ {
		if !t[i].punct("(") {
			continue
		}
		end := closing(t, i)
		if end < 0 {
			return
		}
		if i+1 < end && (t[i+1].is("select") || t[i+1].is("with")) {
			if _, err := a.stmt(t[i+1:end], sc); err != nil {
				a.extra = append(a.extra, Problem{Table: "?", Reason: "subquery not analysed: " + err.Error()})
			}
			i = end
		}
	}
}

// conditions analyses a WHERE or ON condition: each of its top-level
// conjuncts that equates tenant_id with another tenant_id or a bound value
// joins the two.
func (a *analysis) conditions(t []token, sc *scope) {
	for _, c := range conjuncts(t) {
		a.conjunct(c, sc)
	}
}

// conjuncts splits t at its top-level ANDs (not BETWEEN's), entering
// parentheses that hold a conjunction.
func conjuncts(t []token) [][]token {
	t = unwrapCond(t)
	var out [][]token
	depth, start, between := 0, 0, false
	for i, tk := range t {
		switch {
		case tk.punct("(") || tk.punct("["):
			depth++
		case tk.punct(")") || tk.punct("]"):
			depth--
		case depth == 0 && tk.is("between"):
			between = true
		case depth == 0 && tk.is("and"):
			if between {
				between = false
				continue
			}
			out = append(out, t[start:i])
			start = i + 1
		}
	}
	out = append(out, t[start:])
	if len(out) == 1 {
		return out
	}
	var flat [][]token
	for _, c := range out {
		flat = append(flat, conjuncts(c)...)
	}
	return flat
}

// unwrapCond removes parentheses around a whole condition (not around a
// subquery).
func unwrapCond(t []token) []token {
	for len(t) >= 2 && t[0].punct("(") && closing(t, 0) == len(t)-1 && !(t[1].is("select") || t[1].is("with")) {
		t = t[1 : len(t)-1]
	}
	return t
}

func (a *analysis) conjunct(c []token, sc *scope) {
	// An OR at the top level binds nothing for sure.
	if findTop(c, 0, func(tk token) bool { return tk.is("or") }) < len(c) || (len(c) > 0 && c[0].is("not")) {
		a.walk(c, sc)
		return
	}
	// lhs IN (subquery) / lhs IN (values) / lhs = ANY (…) / lhs = rhs.
	if i := findTop(c, 0, func(tk token) bool { return tk.is("in") }); i < len(c) && i+1 < len(c) && c[i+1].punct("(") && closing(c, i+1) == len(c)-1 && !(i > 0 && c[i-1].is("not")) {
		lhs, inner := c[:i], c[i+2:len(c)-1]
		if len(inner) > 0 && (inner[0].is("select") || inner[0].is("with")) {
			items, err := a.stmt(inner, sc)
			if err != nil {
				a.extra = append(a.extra, Problem{Table: "?", Reason: "subquery not analysed: " + err.Error()})
				return
			}
			a.walk(lhs, sc)
			for k, n := range a.tupleNodes(lhs, sc) {
				if n >= 0 && k < len(items) {
					a.union(n, items[k].node)
				}
			}
			return
		}
		a.walk(c, sc)
		lhsNodes := a.tupleNodes(lhs, sc)
		for _, v := range splitTop(inner, ",") {
			vals := [][]token{v}
			if len(lhsNodes) > 1 {
				vals = splitTop(unwrapOne(v), ",")
			}
			for k, n := range lhsNodes {
				if n >= 0 && k < len(vals) {
					a.union(n, a.valueNode(vals[k]))
				}
			}
		}
		return
	}
	a.walk(c, sc)
	eq := findTop(c, 0, func(tk token) bool { return tk.k == tOp && tk.s == "=" })
	if eq == len(c) {
		return
	}
	lhs, rhs := c[:eq], c[eq+1:]
	// x = ANY(values)
	if len(rhs) > 2 && (rhs[0].is("any") || rhs[0].is("some")) && rhs[1].punct("(") && closing(rhs, 1) == len(rhs)-1 {
		rhs = rhs[2 : len(rhs)-1]
	}
	ln, rn := a.tupleNodes(lhs, sc), a.tupleNodes(rhs, sc)
	if len(ln) == len(rn) {
		for k := range ln {
			if ln[k] >= 0 && rn[k] >= 0 && (a.isTenantRef(lhs, sc, len(ln), k) || a.isTenantRef(rhs, sc, len(rn), k)) {
				a.union(ln[k], rn[k])
			}
		}
	}
}

// isTenantRef reports whether element k of side (a tuple of n) is a
// tenant_id column (so an equality there matters).
func (a *analysis) isTenantRef(side []token, sc *scope, n, k int) bool {
	elems := [][]token{side}
	if n > 1 {
		elems = splitTop(unwrapOne(side), ",")
	}
	if k >= len(elems) {
		return false
	}
	_, col, ok := columnRef(stripCast(unwrapOne(elems[k])))
	return ok && col == "tenant_id"
}

// tupleNodes returns the node of each element of side: one for a plain
// expression, one per element of a row (a, b).
func (a *analysis) tupleNodes(side []token, sc *scope) []int {
	s := stripCast(side)
	if len(s) > 2 && s[0].punct("(") && closing(s, 0) == len(s)-1 && !(s[1].is("select") || s[1].is("with")) {
		if parts := splitTop(s[1:len(s)-1], ","); len(parts) > 1 {
			out := make([]int, len(parts))
			for i, p := range parts {
				out[i] = a.sideNode(p, sc)
			}
			return out
		}
	}
	return []int{a.sideNode(side, sc)}
}

// sideNode is the node of one side of an equality: a tenant_id column or
// a bound value; -1 otherwise.
func (a *analysis) sideNode(side []token, sc *scope) int {
	s := stripCast(unwrapOne(stripCast(side)))
	if qual, col, ok := columnRef(s); ok {
		if col == "tenant_id" {
			return sc.column(qual)
		}
		return -1
	}
	return a.valueNode(side)
}

// valueNode returns the node of a bound value (a parameter or literal,
// possibly cast), or -1.
func (a *analysis) valueNode(e []token) int {
	s := stripCast(unwrapOne(stripCast(e)))
	if len(s) >= 4 && s[0].is("cast") && s[1].punct("(") && closing(s, 1) == len(s)-1 {
		if as := findTop(s[2:len(s)-1], 0, func(tk token) bool { return tk.is("as") }); as > 0 {
			s = s[2 : 2+as]
		}
	}
	if len(s) == 1 && (s[0].k == tParam || s[0].k == tString) {
		if s[0].s == "?" {
			return a.node() // each ? is its own value
		}
		return a.constNode(s[0].s)
	}
	return -1
}

// columnRef recognises [schema.][table.]column.
func columnRef(t []token) (qual, col string, ok bool) {
	switch {
	case len(t) == 1 && t[0].k == tIdent && !isKeyword(t[0]):
		return "", t[0].s, true
	case len(t) == 3 && t[0].k == tIdent && t[1].punct(".") && t[2].k == tIdent:
		return t[0].s, t[2].s, true
	case len(t) == 5 && t[0].k == tIdent && t[1].punct(".") && t[2].k == tIdent && t[3].punct(".") && t[4].k == tIdent:
		return t[2].s, t[4].s, true
	}
	return "", "", false
}

// stripCast removes a trailing ::type (of one or more words, with []).
func stripCast(t []token) []token {
	if i := findTop(t, 0, func(tk token) bool { return tk.k == tOp && tk.s == "::" }); i > 0 {
		return t[:i]
	}
	return t
}

// --- token helpers ----------------------------------------------------------

// closing returns the index of the bracket closing the one at t[i], or -1.
func closing(t []token, i int) int {
	depth := 0
	for j := i; j < len(t); j++ {
		switch {
		case t[j].punct("(") || t[j].punct("["):
			depth++
		case t[j].punct(")") || t[j].punct("]"):
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}

// findTop returns the index of the first token at depth 0 from start
// matching f, or len(t).
func findTop(t []token, start int, f func(token) bool) int {
	depth := 0
	for j := start; j < len(t); j++ {
		switch {
		case t[j].punct("(") || t[j].punct("["):
			depth++
		case t[j].punct(")") || t[j].punct("]"):
			depth--
		case depth == 0 && f(t[j]):
			return j
		}
	}
	return len(t)
}

// splitTop splits t at top-level separators sep.
func splitTop(t []token, sep string) [][]token {
	var out [][]token
	start := 0
	for {
		i := findTop(t, start, func(tk token) bool { return tk.punct(sep) })
		out = append(out, t[start:i])
		if i == len(t) {
			return out
		}
		start = i + 1
	}
}

// unwrap removes parentheses around a whole statement.
func unwrap(t []token) []token {
	for len(t) >= 2 && t[0].punct("(") && closing(t, 0) == len(t)-1 {
		t = t[1 : len(t)-1]
	}
	return t
}

// unwrapOne removes one pair of parentheses around the whole of t.
func unwrapOne(t []token) []token {
	if len(t) >= 2 && t[0].punct("(") && closing(t, 0) == len(t)-1 {
		return t[1 : len(t)-1]
	}
	return t
}

func identList(t []token) []string {
	var out []string
	for _, p := range splitTop(t, ",") {
		if len(p) > 0 && p[0].k == tIdent {
			out = append(out, p[0].s)
		}
	}
	return out
}

// text renders up to n tokens for a message.
func text(t []token, n int) string {
	var parts []string
	for i, tk := range t {
		if i == n {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, tk.s)
	}
	return strings.Join(parts, " ")
}
