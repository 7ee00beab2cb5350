package store

import (
	"context"
	"database/sql"

	"github.com/crmkit/crmkit/internal/dialect"
)

// conn is the database/sql handle a query runs on: *sql.DB, *sql.Tx or
// *sql.Conn.
type conn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Q runs crmkit's hand-written SQL with bound parameters. Queries are
// written with ? placeholders; Q rewrites them for the database and converts
// arguments (times) to their stored form.
//
// Q goes to database/sql directly rather than through bun's query builder:
// bun inlines values into the SQL text, which defeats prepared-statement
// reuse on PostgreSQL (see internal/dialect).
type Q struct {
	c           conn
	D           *dialect.Dialect
	planPerCall bool
}

// PlanPerCall returns a Q whose queries are planned with their values on
// every call rather than with a cached generic plan: use it for filtered
// lists and counts (see dialect.Args). Point lookups keep the default.
func (q Q) PlanPerCall() Q {
	q.planPerCall = true
	return q
}

// Exec runs a statement.
func (q Q) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return q.c.ExecContext(ctx, q.D.Rebind(query), q.D.Args(args, q.planPerCall)...)
}

// Query runs a query returning rows.
func (q Q) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return q.c.QueryContext(ctx, q.D.Rebind(query), q.D.Args(args, q.planPerCall)...)
}

// QueryRow runs a query returning at most one row.
func (q Q) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return q.c.QueryRowContext(ctx, q.D.Rebind(query), q.D.Args(args, q.planPerCall)...)
}
