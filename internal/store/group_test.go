package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dbtest"
)

// Writes waiting together share one transaction, each in its savepoint:
// one that fails leaves no row and fails alone; the others commit; every
// call returns only after its commit. On PostgreSQL each is a transaction
// of its own.
func TestWriteGrouped(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		_, err := db.ExecContext(ctx, `CREATE TABLE grouped_writes_test (tenant_id TEXT NOT NULL, n INTEGER NOT NULL)`)
		require.NoError(t, err)
		rt, err := NewRuntime(db, core.SystemClock, []byte("test-secret-test-secret-test-secret!"), slog.New(slog.DiscardHandler))
		require.NoError(t, err)
		sc := NewScope(rt)
		sqlite := db.Dialect().Name().String() == "sqlite"

		const writers = 20
		errBad := errors.New("bad write")
		var mu sync.Mutex
		txs := map[*Tx]int{}
		release := make(chan struct{})
		write := func(i int) error {
			return sc.WriteGrouped(ctx, "test", func(ctx context.Context, tx *Tx) error {
				if i == 0 {
					<-release // the first holds its transaction until the others wait
				}
				mu.Lock()
				txs[tx]++
				mu.Unlock()
				if _, err := tx.Q().Exec(ctx, `INSERT INTO grouped_writes_test (tenant_id, n) VALUES (?, ?)`, "default", i); err != nil {
					return err
				}
				if i%5 == 3 {
					return fmt.Errorf("write %d: %w", i, errBad)
				}
				return nil
			})
		}
		errs := make([]error, writers)
		var wg sync.WaitGroup
		wg.Go(func() { errs[0] = write(0) })
		if sqlite {
			require.Eventually(t, func() bool { return rt.groupLen("test") == 0 && rt.groupRunning("test") }, 10*time.Second, time.Millisecond)
		}
		for i := 1; i < writers; i++ {
			wg.Go(func() { errs[i] = write(i) })
		}
		if sqlite {
			require.Eventually(t, func() bool { return rt.groupLen("test") == writers-1 }, 10*time.Second, time.Millisecond)
		}
		close(release)
		wg.Wait()

		var want []int
		for i, err := range errs {
			if i%5 == 3 {
				require.ErrorIs(t, err, errBad, "write %d", i)
				continue
			}
			require.NoError(t, err, "write %d", i)
			want = append(want, i)
		}
		var got []int
		rows, err := db.QueryContext(ctx, `SELECT n FROM grouped_writes_test WHERE tenant_id = ? ORDER BY n`, "default")
		require.NoError(t, err)
		for rows.Next() {
			var n int
			require.NoError(t, rows.Scan(&n))
			got = append(got, n)
		}
		require.NoError(t, rows.Err())
		require.Equal(t, want, got, "the failed writes left nothing, the others committed")
		if sqlite {
			require.Len(t, txs, 2, "the first alone, the nineteen that waited in one transaction")
		} else {
			require.Len(t, txs, writers, "PostgreSQL: a transaction each")
		}
	})
}

// groupLen is the number of writes waiting in the group of key.
func (rt *Runtime) groupLen(key string) int {
	v, ok := rt.groups.Load(key)
	if !ok {
		return -1
	}
	g := v.(*writeGroup)
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.pending)
}

// groupRunning reports whether a write of the group of key leads.
func (rt *Runtime) groupRunning(key string) bool {
	v, ok := rt.groups.Load(key)
	if !ok {
		return false
	}
	g := v.(*writeGroup)
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.running
}
