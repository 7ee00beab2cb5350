package crm

import (
	"fmt"
	"slices"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dialect"
)

// The plan of a copy: which tables and columns are copied, in the order
// of their foreign keys.

// copyBookkeeping are crm_ tables Copy leaves alone: the destination's
// migrations write their own.
var copyBookkeeping = map[string]bool{"crm_migrations": true, "crm_migration_locks": true}

// tablePlan is how one table is copied.
type tablePlan struct {
	name    string
	columns []string
	kinds   []colKind
	pk      []int // indexes into columns
	// selfRefs are the columns of foreign keys to the table itself: they
	// are written NULL, then set once every row is in.
	selfRefs []int
}

// planCopy decides which tables and columns are copied, in which order.
func planCopy(src, dst map[string]*tableSchema, srcKind, dstKind dialect.Kind) ([]tablePlan, error) {
	var names []string
	for name := range dst {
		if copyBookkeeping[name] {
			continue
		}
		if _, ok := src[name]; !ok {
			return nil, fmt.Errorf("%w: the source has no table %s", core.ErrNotMigrated, name)
		}
		names = append(names, name)
	}
	for name := range src {
		if _, ok := dst[name]; !ok && !copyBookkeeping[name] {
			return nil, core.Invalid("src", "has a table %s that this crmkit does not know", name)
		}
	}
	slices.Sort(names)
	// Referenced tables first (Kahn's algorithm, by name among equals).
	deps := map[string]map[string]bool{}
	for _, name := range names {
		deps[name] = map[string]bool{}
		for _, r := range dst[name].refs {
			if r.table != name {
				deps[name][r.table] = true
			}
		}
	}
	var order []string
	done := map[string]bool{}
	for len(order) < len(names) {
		progress := false
		for _, name := range names {
			if done[name] {
				continue
			}
			ready := true
			for d := range deps[name] {
				if !done[d] {
					ready = false
				}
			}
			if ready {
				done[name] = true
				order = append(order, name)
				progress = true
			}
		}
		if !progress {
			return nil, fmt.Errorf("crm: copy: the foreign keys of the tables form a cycle")
		}
	}

	plans := make([]tablePlan, 0, len(order))
	for _, name := range order {
		s, d := src[name], dst[name]
		if _, ok := d.column("tenant_id"); !ok {
			return nil, fmt.Errorf("crm: copy: table %s has no tenant_id", name)
		}
		p := tablePlan{name: name}
		for _, dc := range d.columns {
			sc, ok := s.column(dc.name)
			switch {
			case dc.generated:
				continue
			case !ok || sc.generated:
				if !dc.nullable && !dc.defaulted {
					return nil, fmt.Errorf("crm: copy: the source's %s has no column %s", name, dc.name)
				}
				continue
			}
			k := dc.kind
			switch {
			case srcKind == dialect.Postgres && dstKind != dialect.Postgres && sc.known:
				k = sc.kind
			case !dc.known && sc.known:
				k = sc.kind
			}
			p.columns = append(p.columns, dc.name)
			p.kinds = append(p.kinds, k)
		}
		for _, sc := range s.columns {
			if _, ok := d.column(sc.name); !ok && !sc.generated && !sc.defaulted {
				return nil, core.Invalid("src", "table %s has a column %s that this crmkit does not know", name, sc.name)
			}
		}
		for _, k := range d.pk {
			i := slices.Index(p.columns, k)
			if i < 0 {
				p.pk = nil // a rowid key, not copied: no order
				break
			}
			p.pk = append(p.pk, i)
		}
		for _, r := range d.refs {
			if r.table != name {
				continue
			}
			for _, c := range r.columns {
				i := slices.Index(p.columns, c)
				if i < 0 {
					continue
				}
				if col, _ := d.column(c); !col.nullable || len(p.pk) == 0 {
					return nil, fmt.Errorf("crm: copy: cannot order the rows of %s (column %s)", name, c)
				}
				if !slices.Contains(p.selfRefs, i) {
					p.selfRefs = append(p.selfRefs, i)
				}
			}
		}
		plans = append(plans, p)
	}
	return plans, nil
}
