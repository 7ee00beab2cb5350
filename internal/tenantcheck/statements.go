package tenantcheck

import (
	"fmt"
	"slices"
)

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

// target reads the table of an INSERT, UPDATE or DELETE at t[i] into sc.
func (a *analysis) target(t []token, i int, sc *scope, aliasOK bool) (*source, int, error) {
	if i < len(t) && t[i].is("only") {
		i++
	}
	if i >= len(t) || t[i].k != tIdent {
		return nil, i, fmt.Errorf("expected a table name")
	}
	name := t[i].s
	i++
	for i+1 < len(t) && t[i].punct(".") && t[i+1].k == tIdent {
		name = t[i+1].s
		i += 2
	}
	src := &source{name: name, base: a.tenant(name)}
	if src.base {
		src.node = a.node()
		a.bases = append(a.bases, src)
	}
	if aliasOK {
		if i < len(t) && t[i].is("as") && i+1 < len(t) && t[i+1].k == tIdent {
			src.alias = t[i+1].s
			i += 2
		} else if i < len(t) && t[i].k == tIdent && !isKeyword(t[i]) {
			src.alias = t[i].s
			i++
		}
	}
	sc.sources = append(sc.sources, src)
	return src, i, nil
}

func (a *analysis) insert(t []token, parent *scope) ([]item, error) {
	if len(t) < 2 || !t[1].is("into") {
		return nil, fmt.Errorf("INSERT: expected INTO")
	}
	sc := &scope{parent: parent}
	// INSERT INTO t AS alias: "as" only, a bare name is not an alias here.
	tgt, i, err := a.target(t, 2, sc, false)
	if err != nil {
		return nil, err
	}
	if i+1 < len(t) && t[i].is("as") {
		tgt.alias = t[i+1].s
		i += 2
	}
	var cols []string
	if i < len(t) && t[i].punct("(") {
		end := closing(t, i)
		if end < 0 {
			return nil, fmt.Errorf("unbalanced parentheses")
		}
		cols = identList(t[i+1 : end])
		i = end + 1
	}
	if i < len(t) && t[i].is("overriding") { // OVERRIDING { SYSTEM | USER } VALUE
		i = min(i+3, len(t))
	}
	rest := t[i:]
	end := 0
	for {
		end = findTop(rest, end, func(tk token) bool { return tk.is("on") || tk.is("returning") })
		if end == len(rest) || rest[end].is("returning") || (end+1 < len(rest) && rest[end+1].is("conflict")) {
			break
		}
		end++ // the ON of a join
	}
	src, tail := rest[:end], rest[end:]
	col := slices.Index(cols, "tenant_id")
	if tgt.base && col < 0 {
		a.extra = append(a.extra, Problem{Table: tgt.name, Reason: ReasonNoColumn})
	}
	var items []item
	switch {
	case len(src) > 0 && src[0].is("default"):
	case len(src) > 0 && src[0].is("values"):
		for _, row := range splitTop(src[1:], ",") {
			vals := splitTop(unwrapOne(row), ",")
			for _, v := range vals {
				a.walk(v, sc.parentOrEmpty())
			}
			if tgt.base && col >= 0 && col < len(vals) {
				if n := a.valueNode(vals[col]); n >= 0 {
					a.union(tgt.node, n)
				} else {
					a.extra = append(a.extra, Problem{Table: tgt.name, Reason: ReasonInsertSource})
				}
			}
		}
	default:
		items, err = a.stmt(src, parent)
		if err != nil {
			return nil, err
		}
		if tgt.base && col >= 0 {
			if col < len(items) && items[col].node >= 0 {
				a.union(tgt.node, items[col].node)
			} else {
				a.extra = append(a.extra, Problem{Table: tgt.name, Reason: ReasonInsertSource})
			}
		}
	}
	if tgt.base && col < 0 {
		// Reported above; do not report it twice as unbound.
		a.union(tgt.node, a.constNode("<unbound insert>"))
	}
	// ON CONFLICT … DO UPDATE SET … WHERE …: the target and EXCLUDED.
	csc := &scope{parent: parent, sources: []*source{tgt, {name: "excluded", out: map[string]int{"tenant_id": tgt.tenantNode()}}}}
	for len(tail) > 0 {
		if tail[0].is("returning") {
			return a.selectList(tail[1:], csc), nil
		}
		e := findTop(tail, 1, func(tk token) bool { return tk.is("returning") })
		a.walk(tail[:e], csc)
		tail = tail[e:]
	}
	return nil, nil
}

func (sc *scope) parentOrEmpty() *scope {
	if sc.parent != nil {
		return sc.parent
	}
	return &scope{}
}

func (a *analysis) update(t []token, parent *scope) ([]item, error) {
	sc := &scope{parent: parent}
	_, i, err := a.target(t, 1, sc, true)
	if err != nil {
		return nil, err
	}
	if i >= len(t) || !t[i].is("set") {
		return nil, fmt.Errorf("UPDATE: expected SET")
	}
	return a.dmlTail(t[i:], sc)
}

func (a *analysis) delete(t []token, parent *scope) ([]item, error) {
	if len(t) < 2 || !t[1].is("from") {
		return nil, fmt.Errorf("DELETE: expected FROM")
	}
	sc := &scope{parent: parent}
	_, i, err := a.target(t, 2, sc, true)
	if err != nil {
		return nil, err
	}
	return a.dmlTail(t[i:], sc)
}

// dmlTail analyses SET, FROM, USING, WHERE and RETURNING of an UPDATE or
// DELETE.
func (a *analysis) dmlTail(t []token, sc *scope) ([]item, error) {
	isClause := func(tk token) bool {
		return tk.is("set") || tk.is("from") || tk.is("using") || tk.is("where") || tk.is("returning")
	}
	var set, where, ret []token
	for len(t) > 0 {
		kw := t[0]
		end := findTop(t, 1, isClause)
		body := t[1:end]
		switch {
		case kw.is("set"):
			set = body
		case kw.is("from"), kw.is("using"):
			if err := a.fromList(body, sc, false); err != nil {
				return nil, err
			}
			if len(sc.sources) > 1 {
				a.groups = append(a.groups, slices.Clone(sc.sources))
			}
		case kw.is("where"):
			where = body
		case kw.is("returning"):
			ret = body
		default:
			return nil, fmt.Errorf("unexpected %q", text(t, 6))
		}
		t = t[end:]
	}
	a.walk(set, sc)
	a.conditions(where, sc)
	if ret != nil {
		return a.selectList(ret, sc), nil
	}
	return nil, nil
}

func (a *analysis) copyFrom(t []token) error {
	if len(t) < 2 || t[1].k != tIdent {
		return nil
	}
	i := 1
	name := t[i].s
	i++
	for i+1 < len(t) && t[i].punct(".") && t[i+1].k == tIdent {
		name = t[i+1].s
		i += 2
	}
	if !a.tenant(name) {
		return nil
	}
	var cols []string
	if i < len(t) && t[i].punct("(") {
		if end := closing(t, i); end > 0 {
			cols = identList(t[i+1 : end])
		}
	}
	if !slices.Contains(cols, "tenant_id") {
		a.extra = append(a.extra, Problem{Table: name, Reason: ReasonNoColumn})
	}
	return nil
}
