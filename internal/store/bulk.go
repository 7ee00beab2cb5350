package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dialect"
)

// maxBulkParams bounds the parameters of one multi-row INSERT: below
// SQLite's limit (32,766) and PostgreSQL's (65,535), and small enough that
// the statement stays cheap to parse.
const maxBulkParams = 8192

// maxBulkRows bounds the rows of one multi-row INSERT.
const maxBulkRows = 256

// minCopyRows is the fewest rows InsertRows copies: COPY takes more round
// trips than one INSERT.
const minCopyRows = 16

// InsertRows appends rows (values in the order of columns) to table in the
// transaction. On PostgreSQL, in a transaction crmkit began, it streams
// 16 rows or more with COPY. Otherwise it sends multi-row INSERTs, in
// power-of-two sizes so that few statement shapes exist: a size sent once
// through the statement cache, one sent again prepared for the call. Values are
// converted as Q converts parameters (ids, times).
//
// A constraint violation fails the whole call; run it in a savepoint
// (Scope.Write) to keep the transaction usable.
func (t *Tx) InsertRows(ctx context.Context, table string, columns []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	if t.conn != nil && t.rt.Dialect.Kind == dialect.Postgres && len(rows) >= minCopyRows {
		copied, err := t.copyRows(ctx, table, columns, rows)
		if copied || err != nil {
			return err
		}
	}
	return t.insertValues(ctx, table, columns, rows)
}

// copyRows runs COPY through pgx on the transaction's connection; copied is
// false when the driver is not pgx.
func (t *Tx) copyRows(ctx context.Context, table string, columns []string, rows [][]any) (copied bool, err error) {
	d := t.rt.Dialect
	err = t.conn.Raw(func(dc any) error {
		pc, ok := dc.(interface{ Conn() *pgx.Conn })
		if !ok {
			return nil
		}
		copied = true
		i := 0
		vals := make([]any, len(columns))
		start := time.Now()
		n, err := pc.Conn().CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromFunc(func() ([]any, error) {
			if i == len(rows) {
				return nil, nil
			}
			for j, v := range rows[i] {
				vals[j] = d.Value(v)
			}
			i++
			return vals, nil
		}))
		if h := t.rt.QueryHook; h != nil {
			if err != nil {
				n = -1
			}
			h.AfterQuery(ctx, core.QueryInfo{SQL: "COPY " + table + " (" + strings.Join(columns, ", ") + ") FROM STDIN",
				Start: start, Duration: time.Since(start), Rows: n, Err: err})
		}
		return err
	})
	if err != nil {
		err = fmt.Errorf("crm: copy into %s: %w", table, err)
	}
	return copied, err
}

// insertValues sends rows as multi-row INSERTs.
func (t *Tx) insertValues(ctx context.Context, table string, columns []string, rows [][]any) error {
	d := t.rt.Dialect
	per := maxBulkRows
	for per > 1 && per*len(columns) > maxBulkParams {
		per /= 2
	}
	row := "(?" + strings.Repeat(", ?", len(columns)-1) + ")"
	head := "INSERT INTO " + table + " (" + strings.Join(columns, ", ") + ") VALUES "
	args := make([]any, 0, per*len(columns))
	for len(rows) > 0 {
		n := per
		for n > len(rows) {
			n /= 2
		}
		query := head + row + strings.Repeat(", "+row, n-1)
		if len(rows) < 2*n {
			// Once: the statement cache (or the driver's) has it.
			args = args[:0]
			for _, r := range rows[:n] {
				args = append(args, r...)
			}
			if _, err := t.q.Exec(ctx, query, args...); err != nil {
				return fmt.Errorf("crm: insert into %s: %w", table, err)
			}
			rows = rows[n:]
			continue
		}
		st, err := t.bun.Tx.PrepareContext(ctx, d.Rebind(query))
		if err != nil {
			return fmt.Errorf("crm: insert into %s: %w", table, err)
		}
		// Send every chunk of this size with the statement.
		for len(rows) >= n {
			args = args[:0]
			for _, r := range rows[:n] {
				for _, v := range r {
					args = append(args, d.Value(v))
				}
			}
			start := time.Now()
			res, err := st.ExecContext(ctx, args...)
			if h := t.rt.QueryHook; h != nil {
				affected := int64(-1)
				if err == nil {
					if a, err := res.RowsAffected(); err == nil {
						affected = a
					}
				}
				h.AfterQuery(ctx, core.QueryInfo{SQL: d.Rebind(query), Start: start, Duration: time.Since(start), Rows: affected, Err: err})
			}
			if err != nil {
				_ = st.Close()
				return fmt.Errorf("crm: insert into %s: %w", table, err)
			}
			rows = rows[n:]
		}
		_ = st.Close()
	}
	return nil
}

// EmitAll appends events to the outbox in one bulk write, as Emit does one:
// ids, times and actors are filled in and the before hooks run for each.
// Like Emit, it queues for delivery after commit only the events of types
// that have a subscriber.
func (t *Tx) EmitAll(ctx context.Context, evs []core.Event) error {
	rows := make([][]any, len(evs))
	for i := range evs {
		ev := &evs[i]
		if err := t.fill(ctx, ev); err != nil {
			return err
		}
		rows[i] = eventRow(*ev)
	}
	if err := t.InsertRows(ctx, "crm_events", eventInsertColumns, rows); err != nil {
		return err
	}
	if err := t.rt.Hooks.runAppend(ctx, t, evs); err != nil {
		return err
	}
	t.queue(evs)
	return nil
}

// eventInsertColumns are the columns an event is stored in, in the order
// of eventRow.
var eventInsertColumns = []string{"tenant_id", "id", "type", "subject_type", "subject_id", "contact_id", "actor_id", "occurred_at", "data"}

// insertEventSQL stores one event (Emit).
var insertEventSQL = "INSERT INTO crm_events (" + strings.Join(eventInsertColumns, ", ") + ") VALUES (?" +
	strings.Repeat(", ?", len(eventInsertColumns)-1) + ")"

// eventRow is ev's values in the order of eventInsertColumns.
func eventRow(ev core.Event) []any {
	return []any{ev.TenantID, ev.ID, ev.Type, ev.SubjectType, ev.SubjectID, NullID(ev.ContactID), ev.ActorID, ev.OccurredAt, string(ev.Data)}
}
