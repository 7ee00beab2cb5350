package store

import (
	"crypto/sha256"
	"encoding/hex"
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
	// Visible narrows the list to the records the actor sees (a module's
	// record visibility); the zero value narrows nothing.
	Visible Visible
}

// Visible is the record visibility of one actor as a list applies it: a
// condition ANDed to the list's WHERE, and a key that names the actor and
// what they see, which the page's cursor is bound to, so that a cursor made
// for one actor is refused for another. The zero value (the host's own
// code) adds nothing.
type Visible struct {
	// Key names the actor and their visibility; it is hashed into the
	// cursor's scope, never stored in it as it is.
	Key string
	// Where is trusted SQL of the module's own (with ? placeholders for
	// Args); "" adds nothing.
	Where string
	Args  []any
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
// A cursor made for another tenant, list, filter or sort, or for an actor
// of another Visible key, is ErrInvalid.
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
	if r.Visible.Where != "" {
		where.Where = "(" + where.Where + ") AND " + r.Visible.Where
		where.Args = append(append([]any(nil), where.Args...), r.Visible.Args...)
	}
	p := ListPlan{Where: where, Sort: sort, Fetch: limit + 1, limit: limit,
		scope: s.tenant + "\x00" + r.Schema.Entity() + "\x00" + sort.String() + "\x00" + r.Filter.String()}
	if r.Visible.Key != "" {
		sum := sha256.Sum256([]byte(r.Visible.Key))
		p.scope += "\x00" + hex.EncodeToString(sum[:12])
	}
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
