package store

import (
	"encoding/json"
	"time"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
)

// Page size bounds shared by every list.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

// ListRequest is a filtered, sorted, keyset-paginated list request.
type ListRequest struct {
	Schema      *filter.Schema
	Filter      filter.Expr
	Sort        string
	DefaultSort string
	Limit       int
	Cursor      string
}

// ListPlan is a checked ListRequest ready for SQL.
type ListPlan struct {
	Where filter.Compiled
	Sort  filter.Sort
	// After holds the sort value and id of the previous page's last row,
	// bound to Sort.After's placeholders; nil on the first page.
	After []any
	// Fetch is the number of rows to select: one more than the page, to
	// learn whether another page follows.
	Fetch int
	limit int
	scope string
}

// PlanList checks r (filter, sort, limit, cursor) for the scope's tenant.
// A cursor made for another tenant, list, filter or sort is ErrInvalid.
func (s Scope) PlanList(r ListRequest) (ListPlan, error) {
	if s.err != nil {
		return ListPlan{}, s.err
	}
	v := &core.ValidationError{}
	sort, err := r.Schema.ParseSort(r.Sort, r.DefaultSort)
	addAll(v, err)
	where, err := r.Schema.Compile(r.Filter, filter.Dialect(s.rt.Dialect.Kind), s.rt.Now())
	addAll(v, err)
	limit := r.Limit
	switch {
	case limit == 0:
		limit = DefaultLimit
	case limit < 0 || limit > MaxLimit:
		v.Add("limit", "must be between 1 and %d", MaxLimit)
	}
	if err := v.Err(); err != nil {
		return ListPlan{}, err
	}
	p := ListPlan{Where: where, Sort: sort, Fetch: limit + 1, limit: limit,
		scope: s.tenant + "\x00" + r.Schema.Entity() + "\x00" + sort.String() + "\x00" + r.Filter.String()}
	if r.Cursor != "" {
		vals, err := s.rt.Cursors.Decode(p.scope, r.Cursor)
		if err != nil {
			return ListPlan{}, err
		}
		if p.After, err = decodeAfter(sort.Field.Type, vals); err != nil {
			return ListPlan{}, err
		}
	}
	return p, nil
}

func addAll(v *core.ValidationError, err error) {
	if err == nil {
		return
	}
	if ve, ok := err.(*core.ValidationError); ok {
		v.Fields = append(v.Fields, ve.Fields...)
		return
	}
	v.Add("list", "%v", err)
}

func decodeAfter(t filter.Type, vals []json.RawMessage) ([]any, error) {
	bad := core.Invalid("cursor", "is not a cursor of this list")
	if len(vals) != 2 {
		return nil, bad
	}
	var id core.ID
	if err := json.Unmarshal(vals[1], &id); err != nil {
		return nil, bad
	}
	var key any
	switch t {
	case filter.Time:
		var tm time.Time
		if err := json.Unmarshal(vals[0], &tm); err != nil {
			return nil, bad
		}
		key = tm
	case filter.ID:
		var x core.ID
		if err := json.Unmarshal(vals[0], &x); err != nil {
			return nil, bad
		}
		key = x
	case filter.Number:
		var f float64
		if err := json.Unmarshal(vals[0], &f); err != nil {
			return nil, bad
		}
		key = f
	default:
		var s string
		if err := json.Unmarshal(vals[0], &s); err != nil {
			return nil, bad
		}
		key = s
	}
	return []any{key, id}, nil
}

// PageOf turns the rows a plan fetched into a page, with the cursor of the
// next page when there is one. key returns a row's sort value and id.
func PageOf[T any](s Scope, p ListPlan, rows []T, key func(T) (any, core.ID)) (core.Page[T], error) {
	if len(rows) <= p.limit {
		if rows == nil {
			rows = []T{}
		}
		return core.Page[T]{Items: rows}, nil
	}
	rows = rows[:p.limit]
	v, id := key(rows[len(rows)-1])
	next, err := s.rt.Cursors.Encode(p.scope, v, id)
	if err != nil {
		return core.Page[T]{}, err
	}
	return core.Page[T]{Items: rows, Next: next}, nil
}
