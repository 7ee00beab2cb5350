package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dialect"
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

// ScanIDs reads rows of one id column (a RETURNING id) and closes rows.
func ScanIDs(rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}) ([]core.ID, error) {
	var ids []core.ID
	err := EachRow(rows, func(s Scanner) error {
		var id core.ID
		err := s.Scan(&id)
		ids = append(ids, id)
		return err
	})
	return ids, err
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
	if Known(err) {
		return err
	}
	switch {
	case dialect.IsMissingTable(err):
		return fmt.Errorf("%w (%s)", core.ErrNotMigrated, doing)
	case dialect.IsTransactionCollision(err):
		// Concurrent writers that lock the same rows in opposite orders:
		// PostgreSQL aborts one of them, which may simply run again.
		return fmt.Errorf("%w: %s: the database aborted the transaction, which collided with a concurrent one (deadlock or serialization failure); run it again", core.ErrConflict, doing)
	case dialect.IsForeignKeyViolation(err):
		// Writes check their references first (CheckRefs); this is one that
		// went away meanwhile, or one a write did not check.
		field := dialect.ForeignKeyColumn(err)
		if field == "" {
			field = "reference"
		}
		return core.Invalid(field, "no such record in this tenant (%s)", doing)
	}
	return fmt.Errorf("crm: %s: %w", doing, err)
}

// Known reports whether err matches a core sentinel (ErrNotFound,
// ErrConflict, ErrInvalid, ErrForbidden, ErrNoConsent): an expected
// outcome that says what is wrong, not a failure of the machinery.
func Known(err error) bool {
	for _, known := range []error{core.ErrNotFound, core.ErrConflict, core.ErrInvalid, core.ErrForbidden, core.ErrNoConsent, core.ErrNotMigrated} {
		if errors.Is(err, known) {
			return true
		}
	}
	return false
}

// JSON encodes v as event data ({} if it cannot be encoded).
func JSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`{}`)
	}
	return b
}

// IDRange is one batch of a table's rows of a tenant, by id: the ids after
// After up to Last, or — the final batch — every id after After.
type IDRange struct {
	After, Last core.ID
	Final       bool
}

// SQL is the range's condition on id column col (see Args).
func (r IDRange) SQL(col string) string {
	if r.Final {
		return col + " > ?"
	}
	return col + " > ? AND " + col + " <= ?"
}

// Args are the parameters of SQL.
func (r IDRange) Args() []any {
	if r.Final {
		return []any{r.After}
	}
	return []any{r.After, r.Last}
}

// NextIDRange returns the next batch of size rows of table in tenant after
// the id after: for jobs that walk a large table in transactions of a
// bounded size.
func NextIDRange(ctx context.Context, q Q, table, tenant string, after core.ID, size int) (IDRange, error) {
	r := IDRange{After: after}
	err := q.PlanPerCall().QueryRow(ctx, `SELECT t.id FROM `+table+` t WHERE t.tenant_id = ? AND t.id > ?
		ORDER BY t.id LIMIT 1 OFFSET ?`, tenant, after, size-1).Scan(&r.Last)
	if errors.Is(err, sql.ErrNoRows) {
		r.Final, err = true, nil
	}
	return r, err
}

// InIDRanges walks the tenant's rows of table in id order, size rows at a
// time, and calls fn with each range in a transaction of its own, so that a
// job over a large table never holds one transaction (or SQLite's write
// lock) for long. It stops at the first error, wrapped as store.Wrap does
// with doing; when ctx ends between ranges it returns ctx's error as is.
func (s Scope) InIDRanges(ctx context.Context, table string, size int, doing string, fn func(ctx context.Context, sc Scope, r IDRange) error) error {
	tenant, err := s.Tenant()
	if err != nil {
		return err
	}
	after := core.NilID
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var r IDRange
		err := s.InTx(ctx, func(ctx context.Context, sc Scope) error {
			var err error
			if r, err = NextIDRange(ctx, sc.Q(), table, tenant, after, size); err != nil {
				return err
			}
			return fn(ctx, sc, r)
		})
		if err != nil || r.Final {
			return Wrap(err, doing)
		}
		after = r.Last
	}
}

// NullID is id as a query parameter: NULL for nil.
func NullID(id *core.ID) any {
	if id == nil {
		return nil
	}
	return *id
}

// LookedUpID returns the id a lookup's arguments name, for core.NotFound:
// args[0] when the lookup was by id, nil otherwise (an email address or
// another personal value never reaches an error message).
func LookedUpID(args []any) any {
	if len(args) > 0 {
		if id, ok := args[0].(core.ID); ok {
			return id
		}
	}
	return nil
}
