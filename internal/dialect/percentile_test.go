package dialect_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/dialect"
)

// PostgreSQL has percentile_cont, interpolating between the closest ranks
// (the 0.9-quantile of 10, 20, 30, 40, 100 is 40 + 0.6 × 60); SQLite has
// no such aggregate and says so.
func TestPercentileCont(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, db *bun.DB) {
		d, err := dialect.For(db)
		require.NoError(t, err)
		p90, ok := d.PercentileCont(0.9, "x")
		if d.Kind == dialect.SQLite {
			require.False(t, ok)
			_, err := db.DB.ExecContext(context.Background(), `SELECT percentile_cont(x, 0.9) FROM (SELECT 1 AS x) v`)
			require.Error(t, err, "modernc's SQLite has no percentile functions")
			return
		}
		require.True(t, ok)
		p50, _ := d.PercentileCont(0.5, "x")
		var a, b float64
		require.NoError(t, db.DB.QueryRowContext(context.Background(), `SELECT `+p50+`, `+p90+`
			FROM (VALUES (30.0), (10.0), (100.0), (20.0), (40.0)) v(x)`).Scan(&a, &b))
		require.Equal(t, 30.0, a)
		require.InDelta(t, 76.0, b, 1e-9)
	})
}
