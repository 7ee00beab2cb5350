package tenantcheck

import "fmt"

// Queries: set operations (UNION, INTERSECT, EXCEPT), VALUES, and SELECT
// blocks with their select lists.

// query analyses a SELECT, VALUES or parenthesised query with set
// operations, ORDER BY and LIMIT.
func (a *analysis) query(t []token, parent *scope) ([]item, error) {
	var out []item
	first := true
	for {
		var term []token
		var rest []token
		if len(t) > 0 && t[0].punct("(") {
			end := closing(t, 0)
			if end < 0 {
				return nil, fmt.Errorf("unbalanced parentheses")
			}
			term, rest = t[:end+1], t[end+1:]
		} else {
			i := findTop(t, 0, func(tk token) bool {
				return tk.is("union") || tk.is("intersect") || tk.is("except")
			})
			term, rest = t[:i], t[i:]
		}
		var items []item
		var err error
		switch {
		case len(term) > 0 && term[0].punct("("):
			items, err = a.stmt(term[1:len(term)-1], parent)
		case len(term) > 0 && term[0].is("values"):
			items, err = a.values(term[1:], parent)
		case len(term) > 0 && term[0].is("select"):
			items, err = a.selectBlock(term, parent)
		case len(term) > 0 && term[0].is("with"):
			items, err = a.stmt(term, parent)
		default:
			return nil, fmt.Errorf("expected a query, got %q", text(term, 6))
		}
		if err != nil {
			return nil, err
		}
		if first {
			out, first = items, false
		} else {
			for i := range min(len(out), len(items)) {
				if out[i].node < 0 {
					out[i].node = items[i].node
				} else {
					a.union(out[i].node, items[i].node)
				}
			}
		}
		if len(rest) == 0 {
			return out, nil
		}
		if rest[0].is("union") || rest[0].is("intersect") || rest[0].is("except") {
			rest = rest[1:]
			if len(rest) > 0 && (rest[0].is("all") || rest[0].is("distinct")) {
				rest = rest[1:]
			}
			t = rest
			continue
		}
		// ORDER BY, LIMIT … after a parenthesised term.
		a.walk(rest, &scope{parent: parent})
		return out, nil
	}
}

// values analyses VALUES rows; the first row gives the items.
func (a *analysis) values(t []token, sc *scope) ([]item, error) {
	var out []item
	for i, row := range splitTop(t, ",") {
		row = unwrapOne(row)
		for j, e := range splitTop(row, ",") {
			a.walk(e, sc)
			if i == 0 {
				out = append(out, item{name: fmt.Sprintf("column%d", j+1), node: a.valueNode(e)})
			}
		}
	}
	return out, nil
}

// clause keywords that end a SELECT list or a FROM list.
var clauseEnd = map[string]bool{
	"from": true, "where": true, "group": true, "having": true, "window": true, "order": true,
	"limit": true, "offset": true, "fetch": true, "for": true, "union": true, "intersect": true,
	"except": true, "into": true, "returning": true, "on": true, "set": true, "using": true,
}

func (a *analysis) selectBlock(t []token, parent *scope) ([]item, error) {
	t = t[1:] // SELECT
	if len(t) > 0 && (t[0].is("all") || t[0].is("distinct")) {
		if t[0].is("distinct") && len(t) > 1 && t[1].is("on") && len(t) > 2 && t[2].punct("(") {
			end := closing(t, 2)
			if end < 0 {
				return nil, fmt.Errorf("unbalanced parentheses")
			}
			t = t[end+1:]
		} else {
			t = t[1:]
		}
	}
	sc := &scope{parent: parent}
	listEnd := findTop(t, 0, func(tk token) bool {
		return tk.k == tIdent && !tk.quoted && clauseEnd[tk.s] && tk.s != "on" && tk.s != "set" && tk.s != "using" && tk.s != "returning"
	})
	list, rest := t[:listEnd], t[listEnd:]
	if len(rest) > 0 && rest[0].is("from") {
		end := findTop(rest, 1, func(tk token) bool {
			return tk.is("where") || tk.is("group") || tk.is("having") || tk.is("window") || tk.is("order") ||
				tk.is("limit") || tk.is("offset") || tk.is("fetch") || tk.is("for") || tk.is("union") ||
				tk.is("intersect") || tk.is("except")
		})
		if err := a.fromList(rest[1:end], sc, true); err != nil {
			return nil, err
		}
		rest = rest[end:]
	}
	items := a.selectList(list, sc)
	for len(rest) > 0 {
		kw := rest[0]
		end := findTop(rest, 1, func(tk token) bool {
			return tk.is("where") || tk.is("group") || tk.is("having") || tk.is("window") || tk.is("order") ||
				tk.is("limit") || tk.is("offset") || tk.is("fetch") || tk.is("for")
		})
		body := rest[1:end]
		if kw.is("where") {
			a.conditions(body, sc)
		} else {
			a.walk(body, sc)
		}
		rest = rest[end:]
	}
	return items, nil
}

// selectList analyses the output expressions of a SELECT or RETURNING.
func (a *analysis) selectList(t []token, sc *scope) []item {
	var out []item
	for _, e := range splitTop(t, ",") {
		if len(e) == 0 {
			continue
		}
		// *, alias.*
		if len(e) == 1 && e[0].k == tOp && e[0].s == "*" {
			for _, s := range sc.sources {
				if n := s.tenantNode(); n >= 0 {
					out = append(out, item{name: "tenant_id", node: n})
				}
			}
			continue
		}
		if len(e) == 3 && e[1].punct(".") && e[2].k == tOp && e[2].s == "*" {
			for _, s := range sc.sources {
				if s.ref() == e[0].s {
					out = append(out, item{name: "tenant_id", node: s.tenantNode()})
				}
			}
			continue
		}
		a.walk(e, sc)
		name := ""
		expr := e
		if n := len(e); n >= 2 && e[n-2].is("as") && e[n-1].k == tIdent {
			name, expr = e[n-1].s, e[:n-2]
		} else if n >= 2 && e[n-1].k == tIdent && (e[n-2].k == tIdent || e[n-2].punct(")")) && !e[n-2].punct(".") && !isKeyword(e[n-1]) {
			name, expr = e[n-1].s, e[:n-1]
		}
		node := -1
		if qual, col, ok := columnRef(expr); ok {
			if name == "" {
				name = col
			}
			if col == "tenant_id" {
				node = sc.column(qual)
			}
		} else {
			node = a.valueNode(expr)
		}
		out = append(out, item{name: name, node: node})
	}
	return out
}
