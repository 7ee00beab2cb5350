package tenantcheck

import (
	"fmt"
	"slices"
)

// Statements: each analysed by its first word (see query.go, dml.go),
// and WITH, whose common table expressions the statement reads.

// stmt analyses a statement and returns its output columns (of a query,
// or of RETURNING).
func (a *analysis) stmt(t []token, parent *scope) ([]item, error) {
	t = unwrap(t)
	if len(t) == 0 {
		return nil, nil
	}
	switch {
	case t[0].is("with"):
		sc := &scope{parent: parent, ctes: map[string]*source{}}
		rest, err := a.with(t[1:], sc)
		if err != nil {
			return nil, err
		}
		return a.stmt(rest, sc)
	case t[0].is("select"), t[0].is("values"), t[0].punct("("):
		return a.query(t, parent)
	case t[0].is("insert"):
		return a.insert(t, parent)
	case t[0].is("update"):
		return a.update(t, parent)
	case t[0].is("delete"):
		return a.delete(t, parent)
	case t[0].is("copy"):
		return nil, a.copyFrom(t)
	case t[0].is("truncate"):
		for _, tk := range t[1:] {
			if tk.k == tIdent && a.tenant(tk.s) {
				a.extra = append(a.extra, Problem{Table: tk.s, Reason: ReasonTruncate})
			}
		}
		return nil, nil
	case t[0].is("explain"):
		for i, tk := range t {
			if tk.is("select") || tk.is("with") || tk.is("insert") || tk.is("update") || tk.is("delete") {
				return a.stmt(t[i:], parent)
			}
		}
	}
	return nil, nil
}

// with reads the CTEs after WITH into sc and returns the statement after
// them.
func (a *analysis) with(t []token, sc *scope) ([]token, error) {
	if len(t) > 0 && t[0].is("recursive") {
		t = t[1:]
	}
	for {
		if len(t) == 0 || t[0].k != tIdent {
			return nil, fmt.Errorf("WITH: expected a name")
		}
		name := t[0].s
		t = t[1:]
		var cols []string
		if len(t) > 0 && t[0].punct("(") {
			end := closing(t, 0)
			if end < 0 {
				return nil, fmt.Errorf("WITH %s: unbalanced parentheses", name)
			}
			cols = identList(t[1:end])
			t = t[end+1:]
		}
		if len(t) == 0 || !t[0].is("as") {
			return nil, fmt.Errorf("WITH %s: expected AS", name)
		}
		t = t[1:]
		for len(t) > 0 && (t[0].is("not") || t[0].is("materialized")) {
			t = t[1:]
		}
		if len(t) == 0 || !t[0].punct("(") {
			return nil, fmt.Errorf("WITH %s: expected (", name)
		}
		end := closing(t, 0)
		if end < 0 {
			return nil, fmt.Errorf("WITH %s: unbalanced parentheses", name)
		}
		// Registered before its body, which may refer to it (RECURSIVE).
		c := &source{name: name, out: map[string]int{"tenant_id": a.node()}}
		if len(cols) > 0 && !slices.Contains(cols, "tenant_id") {
			c.out = map[string]int{}
		}
		sc.ctes[name] = c
		before := len(a.bases)
		items, err := a.stmt(t[1:end], sc)
		if err != nil {
			return nil, err
		}
		c.inner = slices.Clone(a.bases[before:])
		a.linkOutput(c, items, cols)
		t = t[end+1:]
		if len(t) > 0 && t[0].punct(",") {
			t = t[1:]
			continue
		}
		return t, nil
	}
}

// linkOutput joins a derived source's tenant_id output with the items of
// its query (renamed by cols when given).
func (a *analysis) linkOutput(s *source, items []item, cols []string) {
	if s.out == nil {
		s.out = map[string]int{}
	}
	for i, it := range items {
		name := it.name
		if i < len(cols) {
			name = cols[i]
		}
		if name != "tenant_id" || it.node < 0 {
			continue
		}
		if n, ok := s.out[name]; ok {
			a.union(n, it.node)
		} else {
			s.out[name] = it.node
		}
	}
}
