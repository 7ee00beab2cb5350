package filter

import (
	"fmt"
	"sort"
	"strings"
)

// Sort orders a list by one allowlisted field, then by id, so that the
// order is total and keyset pagination never skips or repeats a row.
type Sort struct {
	Field Field
	Desc  bool
}

// ParseSort reads "field" (ascending) or "-field" (descending). An empty
// spec means def. Only fields marked Sortable are accepted.
func (s *Schema) ParseSort(spec, def string) (Sort, error) {
	if spec == "" {
		spec = def
	}
	name, desc := strings.CutPrefix(spec, "-")
	f, ok := s.fields[name]
	if !ok || !f.Sortable {
		var names []string
		for _, f := range s.fields {
			if f.Sortable {
				names = append(names, f.Name)
			}
		}
		sort.Strings(names)
		return Sort{}, fieldInvalid("sort", "%q is not a sortable field of %s (use %s, with - for descending)", spec, s.entity, strings.Join(names, ", "))
	}
	return Sort{Field: f, Desc: desc}, nil
}

// String is the spec ParseSort reads.
func (o Sort) String() string {
	if o.Desc {
		return "-" + o.Field.Name
	}
	return o.Field.Name
}

// OrderBy is the ORDER BY list: the field, then idColumn, both in the
// sort's direction.
func (o Sort) OrderBy(idColumn string) string {
	dir := " ASC"
	if o.Desc {
		dir = " DESC"
	}
	return o.Field.sortColumn() + dir + ", " + idColumn + dir
}

// After is the keyset condition selecting rows after a row whose sort value
// and id are bound as the two ? placeholders.
func (o Sort) After(idColumn string) string {
	cmp := ">"
	if o.Desc {
		cmp = "<"
	}
	return fmt.Sprintf("((%s, %s) %s (?, ?))", o.Field.sortColumn(), idColumn, cmp)
}
