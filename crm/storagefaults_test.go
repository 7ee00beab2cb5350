package crm_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the admin connection's driver
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/opendb"
)

// An SQLite database that reaches its size limit (a full disk, made with
// max_page_count): writes fail with a clear error and leave nothing
// half-written, the file stays intact, and writes resume once there is
// space again.
func TestSQLiteDiskFull(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// One connection, so that the per-connection pragma holds for every
	// statement.
	db := migrated.SQLiteWith(t, opendb.Options{MaxOpenConns: 1})
	c := newCRM(t, db)
	var pages int64
	require.NoError(t, db.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages))
	_, err := db.ExecContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", pages+8))
	require.NoError(t, err)

	var full error
	created := 0
	for i := 0; i < 10_000 && full == nil; i++ {
		before := snapshot(t, db)
		_, err := c.Contacts.Create(ctx, contacts.NewContact{Email: fmt.Sprintf("filler%d@example.com", i), FirstName: "Filler",
			Attributes: map[string]any{"note": fmt.Sprintf("%0500d", i)}})
		if err != nil {
			full = err
			requireSame(t, before, snapshot(t, db), "a create on a full database")
			break
		}
		created++
	}
	require.Error(t, full, "the database never filled up")
	require.Positive(t, created)
	require.ErrorContains(t, full, "crm: ")
	require.ErrorContains(t, full, "full")
	require.NotErrorIs(t, full, core.ErrInvalid)
	t.Logf("full after %d contacts: %v", created, full)

	var check string
	require.NoError(t, db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check))
	require.Equal(t, "ok", check)
	n, err := c.Contacts.Count(ctx, filter.Expr{})
	require.NoError(t, err)
	require.EqualValues(t, created, n)

	// Space again: the same write succeeds.
	_, err = db.ExecContext(ctx, "PRAGMA max_page_count = 1073741823")
	require.NoError(t, err)
	_, err = c.Contacts.Create(ctx, contacts.NewContact{Email: fmt.Sprintf("filler%d@example.com", created), FirstName: "Filler"})
	require.NoError(t, err)
}

// PostgreSQL connections killed by the server (pg_terminate_backend):
// inside a host transaction, the error reaches the host and nothing of the
// transaction is stored; idle connections of the pool killed, the pool
// recovers and the next writes succeed.
func TestPostgresConnectionKilled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := migrated.Postgres(t)
	c := newCRM(t, db)
	admin, err := sql.Open("pgx", dbtest.PostgresDSN(t))
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close() })

	// Killed mid-transaction.
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	var pid int
	require.NoError(t, tx.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid))
	in := c.WithTx(tx)
	_, err = in.Contacts.Create(ctx, contacts.NewContact{Email: "first@example.com"})
	require.NoError(t, err)
	_, err = admin.ExecContext(ctx, "SELECT pg_terminate_backend($1)", pid)
	require.NoError(t, err)
	_, err = in.Contacts.Create(ctx, contacts.NewContact{Email: "second@example.com"})
	require.Error(t, err)
	require.ErrorContains(t, err, "crm: ")
	require.Error(t, tx.Commit())
	n, err := c.Contacts.Count(ctx, filter.Expr{})
	require.NoError(t, err)
	require.Zero(t, n, "nothing of the killed transaction is stored")

	// Every connection of the pool killed while idle: calls may fail
	// until the pool has replaced them, and then succeed; none is
	// half-written.
	// The pool's connections (and no other test's): three held at once,
	// so that they are three, then given back idle.
	var pids []int
	var conns []bun.Conn
	for range 3 {
		conn, err := db.Conn(ctx)
		require.NoError(t, err)
		var pid int
		require.NoError(t, conn.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid))
		pids, conns = append(pids, pid), append(conns, conn)
	}
	for _, conn := range conns {
		require.NoError(t, conn.Close())
	}
	for _, p := range pids {
		_, err := admin.ExecContext(ctx, "SELECT pg_terminate_backend($1)", p)
		require.NoError(t, err)
	}
	ok := 0
	for i := 0; i < 40; i++ {
		before := snapshot(t, db)
		if _, err := c.Contacts.Create(ctx, contacts.NewContact{Email: fmt.Sprintf("after%d@example.com", i)}); err != nil {
			require.ErrorContains(t, err, "crm: ")
			requireSame(t, before, snapshot(t, db), "a create on a killed connection")
			continue
		}
		ok++
	}
	t.Logf("%d connections killed while idle: %d of 40 creates then failed, the rest succeeded", len(pids), 40-ok)
	require.GreaterOrEqual(t, ok, 40-2*len(pids), "the pool recovers")
	n, err = c.Contacts.Count(ctx, filter.Expr{})
	require.NoError(t, err)
	require.EqualValues(t, ok, n)
}
