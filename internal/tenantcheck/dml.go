package tenantcheck

import (
	"fmt"
	"slices"
)

// Writes: the target table and the source of INSERT (with ON CONFLICT),
// UPDATE … FROM, DELETE … USING, their RETURNING, and COPY.

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
