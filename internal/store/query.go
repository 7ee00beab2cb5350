package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/uptrace/bun"

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
	c conn
	D *dialect.Dialect
}

// Exec runs a statement.
func (q Q) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return q.c.ExecContext(ctx, q.D.Rebind(query), q.D.Args(args)...)
}

// Query runs a query returning rows.
func (q Q) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return q.c.QueryContext(ctx, q.D.Rebind(query), q.D.Args(args)...)
}

// QueryRow runs a query returning at most one row.
func (q Q) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return q.c.QueryRowContext(ctx, q.D.Rebind(query), q.D.Args(args)...)
}

// rawConn returns the database/sql handle behind a bun handle.
func rawConn(idb bun.IDB) (conn, error) {
	switch v := idb.(type) {
	case *bun.DB:
		return v.DB, nil
	case bun.Tx:
		return v.Tx, nil
	case *bun.Tx:
		return v.Tx, nil
	case bun.Conn:
		return v.Conn, nil
	case *bun.Conn:
		return v.Conn, nil
	}
	return nil, fmt.Errorf("crm: unsupported bun handle %T", idb)
}
