package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/crmkit/crmkit/core"
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
//
// When the runtime has a QueryHook, Q reports every statement to it after
// running it (text, timing, rows, error; never the arguments).
type Q struct {
	c           conn
	D           *dialect.Dialect
	planPerCall bool
	hook        core.QueryHook
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
	if err := checkText(args); err != nil {
		return nil, err
	}
	query = q.D.Rebind(query)
	if q.hook == nil {
		return q.c.ExecContext(ctx, query, q.D.Args(args, q.planPerCall)...)
	}
	start := time.Now()
	res, err := q.c.ExecContext(ctx, query, q.D.Args(args, q.planPerCall)...)
	n := int64(-1)
	if err == nil {
		if a, err := res.RowsAffected(); err == nil {
			n = a
		}
	}
	q.hook.AfterQuery(ctx, core.QueryInfo{SQL: query, Start: start, Duration: time.Since(start), Rows: n, Err: err})
	return res, err
}

// Query runs a query returning rows.
func (q Q) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if err := checkText(args); err != nil {
		return nil, err
	}
	query = q.D.Rebind(query)
	if q.hook == nil {
		return q.c.QueryContext(ctx, query, q.D.Args(args, q.planPerCall)...)
	}
	start := time.Now()
	rows, err := q.c.QueryContext(ctx, query, q.D.Args(args, q.planPerCall)...)
	q.hook.AfterQuery(ctx, core.QueryInfo{SQL: query, Start: start, Duration: time.Since(start), Rows: -1, Err: err})
	return rows, err
}

// QueryRow runs a query returning at most one row.
func (q Q) QueryRow(ctx context.Context, query string, args ...any) *Row {
	if err := checkText(args); err != nil {
		return &Row{err: err}
	}
	query = q.D.Rebind(query)
	if q.hook == nil {
		return &Row{row: q.c.QueryRowContext(ctx, query, q.D.Args(args, q.planPerCall)...)}
	}
	start := time.Now()
	return &Row{row: q.c.QueryRowContext(ctx, query, q.D.Args(args, q.planPerCall)...),
		hook: q.hook, ctx: ctx, sql: query, start: start}
}

// Row is the result of QueryRow: *sql.Row, or the error that kept the
// query from running.
type Row struct {
	row *sql.Row
	err error

	// The statement to report to hook when the row is read (Scan or
	// Err), once; nil hook: nothing to report.
	hook  core.QueryHook
	ctx   context.Context
	sql   string
	start time.Time
}

// Scan copies the row's columns into dest (see sql.Row.Scan).
func (r *Row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	err := r.row.Scan(dest...)
	r.report(err)
	return err
}

// Err reports the error of the query, if any (see sql.Row.Err).
func (r *Row) Err() error {
	if r.err != nil {
		return r.err
	}
	err := r.row.Err()
	r.report(err)
	return err
}

// report tells the hook, once, how the query ended: err is Scan's or Err's.
func (r *Row) report(err error) {
	if r.hook == nil {
		return
	}
	info := core.QueryInfo{SQL: r.sql, Start: r.start, Duration: time.Since(r.start), Rows: 1}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		info.Rows = 0
	case err != nil:
		info.Rows, info.Err = -1, err
	}
	hook, ctx := r.hook, r.ctx
	r.hook, r.ctx = nil, nil
	hook.AfterQuery(ctx, info)
}

// checkText refuses text arguments that are not valid UTF-8 or contain a
// NUL byte, on both databases alike: PostgreSQL fails such a parameter with
// a driver error, SQLite would compare it with nothing. Such text was never
// stored (writes refuse it), so a read could only find nothing; crmkit says
// the input is invalid instead (ErrInvalid), for reads and writes, whatever
// the method, rather than check each argument at each call site.
func checkText(args []any) error {
	for _, a := range args {
		var s string
		switch v := a.(type) {
		case string:
			s = v
		case *string:
			if v == nil {
				continue
			}
			s = *v
		default:
			continue
		}
		if !core.StorableText(s) {
			return core.Invalid("text", "an argument is not valid UTF-8 or contains a NUL byte")
		}
	}
	return nil
}
