package core

import (
	"context"
	"time"
)

// QueryInfo describes one SQL statement crmkit ran, for a QueryHook.
// It never holds the statement's argument values: they are people's data.
type QueryInfo struct {
	// SQL is the statement's text as sent to the database, with its
	// placeholders ($1 on PostgreSQL, ? on SQLite). A bulk load through
	// PostgreSQL's COPY reads "COPY table (columns) FROM STDIN".
	SQL string
	// Start is when the statement was sent (the system's clock, not the
	// CRM's Clock), Duration how long it took: until the database
	// answered for a write, until the row was read for a single-row
	// query, and until the first rows arrived for a query of many rows
	// (the caller reads the rest afterwards).
	Start    time.Time
	Duration time.Duration
	// Rows is how many rows a write affected or COPY loaded, or 0 or 1
	// for a single-row query; -1 when not known (a query of many rows,
	// or a driver that does not tell).
	Rows int64
	// Err is the database's error, nil on success (a single-row query
	// that found no row succeeded). It is the driver's own error, for
	// diagnosis: the caller of crmkit's method gets one of core's
	// errors instead.
	Err error
}

// QueryHook sees every SQL statement crmkit runs for a module's work (see
// crm.Config.QueryHook): to log slow statements, count them, or make a
// span of each with the timestamps of QueryInfo. ctx is the context the
// statement ran with: it carries the span of the crmkit operation that
// ran it, and the actor. AfterQuery runs in the goroutine that ran the
// statement, inside its transaction: it must be quick, must not use the
// CRM, and must be safe for concurrent use.
type QueryHook interface {
	AfterQuery(ctx context.Context, q QueryInfo)
}

// QueryHookFunc adapts a function to QueryHook.
type QueryHookFunc func(ctx context.Context, q QueryInfo)

// AfterQuery calls f(ctx, q).
func (f QueryHookFunc) AfterQuery(ctx context.Context, q QueryInfo) { f(ctx, q) }
