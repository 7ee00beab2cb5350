package opendb

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestWritesClassifiesStatements(t *testing.T) {
	for q, want := range map[string]bool{
		"SELECT 1":                                           false,
		"  select * from crm_contacts":                       false,
		"-- name: Get :one\nSELECT 1":                        false,
		"/* hint */ SELECT 1":                                false,
		"EXPLAIN QUERY PLAN SELECT 1":                        false,
		"WITH x AS (SELECT 1) SELECT * FROM x":               false,
		"WITH x AS (SELECT 1) UPDATE t SET a = 1":            true,
		"INSERT INTO t VALUES (1)":                           true,
		"UPDATE river_job SET state = 'running' RETURNING *": true,
		"DELETE FROM t":                                      true,
		"PRAGMA journal_mode":                                true,
		"CREATE TABLE t (a)":                                 true,
	} {
		require.Equal(t, want, writes(q), q)
	}
}

// Many goroutines writing through few connections queue at the gate and
// none fails, while readers are not held up by it.
func TestGateQueuesWriters(t *testing.T) {
	ctx := context.Background()
	db, err := OpenSQLite(ctx, "file:"+t.TempDir()+"/gate.db", Options{MaxOpenConns: 3, BusyTimeout: 30 * time.Second})
	require.NoError(t, err)
	defer db.Close()
	_, err = db.ExecContext(ctx, "CREATE TABLE counter (n INTEGER NOT NULL)")
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, "INSERT INTO counter VALUES (0)")
	require.NoError(t, err)
	sib, ok := Sibling(db.DB, 2)
	require.True(t, ok)
	defer sib.Close()

	var inside, most atomic.Int32
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			pool := db.DB
			if g%2 == 1 {
				pool = sib // the sibling pool shares the gate
			}
			for i := 0; i < 10; i++ {
				tx, err := pool.BeginTx(ctx, nil)
				require.NoError(t, err)
				if n := inside.Add(1); n > most.Load() {
					most.Store(n)
				}
				_, err = tx.ExecContext(ctx, "UPDATE counter SET n = n + 1")
				require.NoError(t, err)
				inside.Add(-1)
				require.NoError(t, tx.Commit())
			}
		}(g)
	}
	wg.Wait()
	var n int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT n FROM counter").Scan(&n))
	require.Equal(t, 160, n)
	require.Equal(t, int32(1), most.Load(), "one writer at a time")
}
