package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/crmkit/crmkit/core"
)

// Scanner is one row to scan: *sql.Row or *sql.Rows.
type Scanner interface{ Scan(dest ...any) error }

// EachRow calls fn for every row and closes rows.
func EachRow(rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}, fn func(Scanner) error) error {
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ListPage runs one page of a list: sel is "SELECT … FROM table alias ",
// alias the table's alias; rows come back in the plan's keyset order.
func ListPage[T any](ctx context.Context, q Q, tenant, sel, alias string, plan ListPlan, scan func(Scanner) (T, error)) ([]T, error) {
	var b strings.Builder
	b.WriteString(sel)
	b.WriteString("WHERE " + alias + ".tenant_id = ? AND ")
	b.WriteString(plan.Where.Where)
	args := append([]any{tenant}, plan.Where.Args...)
	if plan.After != nil {
		b.WriteString(" AND " + plan.Sort.After(alias+".id"))
		args = append(args, plan.After...)
	}
	b.WriteString(" ORDER BY " + plan.Sort.OrderBy(alias+".id") + " LIMIT ?")
	rows, err := q.PlanPerCall().Query(ctx, b.String(), append(args, plan.Fetch)...)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, plan.Fetch)
	err = EachRow(rows, func(r Scanner) error {
		v, err := scan(r)
		if err == nil {
			out = append(out, v)
		}
		return err
	})
	return out, err
}

// Wrap adds what was being done to an unexpected error; errors that match a
// core sentinel (ErrNotFound, ErrInvalid, …) already say what is wrong and
// are returned as they are.
func Wrap(err error, doing string) error {
	if err == nil {
		return nil
	}
	for _, known := range []error{core.ErrNotFound, core.ErrConflict, core.ErrInvalid, core.ErrForbidden, core.ErrNoConsent} {
		if errors.Is(err, known) {
			return err
		}
	}
	return fmt.Errorf("crm: %s: %w", doing, err)
}

// JSON encodes v as event data ({} if it cannot be encoded).
func JSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`{}`)
	}
	return b
}
