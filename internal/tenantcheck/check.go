package tenantcheck

import (
	"fmt"
	"slices"
	"strings"
)

// A Problem is one reason a statement is not bound to one tenant.
type Problem struct {
	// Table is the tenant-scoped table the problem is about.
	Table string
	// Reason says what is missing.
	Reason string
}

func (p Problem) String() string { return p.Table + ": " + p.Reason }

// Reasons a Problem gives.
const (
	ReasonNoPredicate  = "no tenant_id predicate"
	ReasonNotEquated   = "joined without equating tenant_id"
	ReasonNoColumn     = "written without tenant_id in the column list"
	ReasonInsertSource = "INSERT … SELECT whose tenant_id is not a bound tenant"
	ReasonTruncate     = "TRUNCATE empties every tenant"
	ReasonTwoTenants   = "joined to a table bound to another tenant value"
	ReasonListing      = "marked as a tenant listing but returns more than tenant_id"
)

// Check analyses one PostgreSQL statement. tenantScoped says whether a
// table (its unqualified name) has a tenant_id column. Statements other
// than SELECT, INSERT, UPDATE, DELETE, COPY and TRUNCATE (transaction
// control, SET, DDL) have no problems. An error means the text could not
// be analysed.
func Check(sql string, tenantScoped func(table string) bool) ([]Problem, error) {
	toks, err := lex(sql)
	if err != nil {
		return nil, err
	}
	for len(toks) > 0 && toks[len(toks)-1].punct(";") {
		toks = toks[:len(toks)-1]
	}
	a := &analysis{tenant: tenantScoped, consts: map[string]int{}}
	items, err := a.stmt(toks, nil)
	if err != nil {
		return nil, err
	}
	if IsListing(sql) {
		return a.listing(toks, items), nil
	}
	if err := a.allSeen(toks); err != nil {
		return nil, err
	}
	return a.problems(), nil
}

// allSeen guards against a misreading: every tenant-scoped table a query
// or write names must have been found as one of its sources (a table
// name elsewhere is a qualifier: UPDATE crm_deals … WHERE
// crm_deals.tenant_id = …). A statement it was not understood is an error,
// never a pass.
func (a *analysis) allSeen(t []token) error {
	if len(t) == 0 || !(t[0].is("select") || t[0].is("with") || t[0].is("insert") || t[0].is("update") ||
		t[0].is("delete") || t[0].is("values") || t[0].punct("(")) {
		return nil
	}
	seen := map[string]bool{}
	for _, s := range a.bases {
		seen[s.name] = true
	}
	for _, tk := range t {
		if tk.k == tIdent && a.tenant(tk.s) && !seen[tk.s] {
			return fmt.Errorf("%s is named but was not found as a table of the statement", tk.s)
		}
	}
	return nil
}

// ListingMarker marks a tenant listing: a query that finds the tenants
// with rows in a table, for periodic work that then goes tenant by
// tenant. It reads every tenant by nature, so it is exempt from the
// tenant_id predicate, but it must return nothing but tenant_id.
const ListingMarker = "/* crm:tenant-listing */"

// IsListing reports whether sql carries ListingMarker.
func IsListing(sql string) bool { return strings.Contains(sql, ListingMarker) }

// listing checks a marked tenant listing: a SELECT (or a set operation of
// SELECTs) whose every output column is the tenant_id of a tenant-scoped
// table, with no other problem than the missing predicate.
func (a *analysis) listing(t []token, items []item) []Problem {
	var out []Problem
	if len(t) == 0 || !(t[0].is("select") || t[0].punct("(")) || len(items) == 0 {
		out = append(out, Problem{Table: "?", Reason: ReasonListing})
	}
	for _, it := range items {
		if it.name != "tenant_id" || it.node < 0 || len(a.bound(it.node)) > 0 {
			out = append(out, Problem{Table: "?", Reason: ReasonListing})
			break
		}
	}
	for _, p := range a.problems() {
		if p.Reason != ReasonNoPredicate && p.Reason != ReasonNotEquated {
			out = append(out, p)
		}
	}
	return out
}

// analysis holds one statement's tenant_id columns as nodes of a
// union-find: an equality between two of them, or between one and a bound
// value, joins their sets. A table is bound to one tenant when its set
// holds a value.
type analysis struct {
	tenant func(string) bool
	parent []int
	consts map[string]int // bound value's text → node
	bases  []*source      // occurrences of tenant-scoped tables
	extra  []Problem
	// groups are the tenant-scoped tables of one FROM list (joined).
	groups [][]*source
}

func (a *analysis) node() int {
	a.parent = append(a.parent, len(a.parent))
	return len(a.parent) - 1
}

func (a *analysis) find(x int) int {
	for a.parent[x] != x {
		a.parent[x] = a.parent[a.parent[x]]
		x = a.parent[x]
	}
	return x
}

func (a *analysis) union(x, y int) {
	if x < 0 || y < 0 {
		return
	}
	x, y = a.find(x), a.find(y)
	if x != y {
		a.parent[x] = y
	}
}

func (a *analysis) constNode(text string) int {
	if n, ok := a.consts[text]; ok {
		return n
	}
	n := a.node()
	a.consts[text] = n
	return n
}

// bound returns the constants of x's set.
func (a *analysis) bound(x int) []string {
	var out []string
	r := a.find(x)
	for text, n := range a.consts {
		if a.find(n) == r {
			out = append(out, text)
		}
	}
	slices.Sort(out)
	return out
}

func (a *analysis) problems() []Problem {
	out := slices.Clone(a.extra)
	anyBound := false
	for _, s := range a.bases {
		if len(a.bound(s.node)) > 0 {
			anyBound = true
		}
	}
	for _, s := range a.bases {
		if len(a.bound(s.node)) > 0 {
			continue
		}
		reason := ReasonNoPredicate
		if anyBound {
			reason = ReasonNotEquated
		}
		out = append(out, Problem{Table: s.name, Reason: reason})
	}
	// Tables joined in one FROM list (directly, or inside the derived
	// tables and CTEs joined) each bound, but to different values ($1 and
	// $2): nothing says the two are the same tenant.
	for _, g := range a.groups {
		var members [][]*source
		for _, s := range g {
			if s.base {
				members = append(members, []*source{s})
			} else if len(s.inner) > 0 {
				members = append(members, s.inner)
			}
		}
		if len(members) < 2 {
			continue
		}
		ref := members[0][0]
		for _, m := range members[1:] {
			for _, b := range m {
				if len(a.bound(b.node)) > 0 && len(a.bound(ref.node)) > 0 && a.find(b.node) != a.find(ref.node) {
					out = append(out, Problem{Table: b.name, Reason: ReasonTwoTenants + " (" + ref.name + ")"})
				}
			}
		}
	}
	slices.SortFunc(out, func(x, y Problem) int { return strings.Compare(x.String(), y.String()) })
	return slices.Compact(out)
}

// A source is a table, CTE, subquery or function in a FROM list (or the
// target of a write).
type source struct {
	name  string // table or CTE name; "" for a subquery or function
	alias string
	base  bool           // a tenant-scoped table
	node  int            // its tenant_id (base tables)
	out   map[string]int // a derived source's output columns that are tenant nodes
	inner []*source      // a derived source's tenant-scoped tables
}

// tenantNode is the node of the source's tenant_id column, or -1.
func (s *source) tenantNode() int {
	if s.base {
		return s.node
	}
	if n, ok := s.out["tenant_id"]; ok {
		return n
	}
	return -1
}

func (s *source) ref() string {
	if s.alias != "" {
		return s.alias
	}
	return s.name
}

// A scope is one query block's sources and the CTEs it sees.
type scope struct {
	parent  *scope
	sources []*source
	ctes    map[string]*source
}

func (sc *scope) cte(name string) *source {
	for ; sc != nil; sc = sc.parent {
		if c, ok := sc.ctes[name]; ok {
			return c
		}
	}
	return nil
}

// column resolves qual.tenant_id (qual may be "") to its node, or -1.
func (sc *scope) column(qual string) int {
	for s := sc; s != nil; s = s.parent {
		if qual != "" {
			for _, src := range s.sources {
				if src.ref() == qual {
					return src.tenantNode()
				}
			}
			continue
		}
		for _, src := range s.sources {
			if n := src.tenantNode(); n >= 0 {
				return n
			}
		}
	}
	return -1
}

// item is one output column of a query: its name and, when it is a
// tenant_id column or a bound value, its node.
type item struct {
	name string
	node int
}
