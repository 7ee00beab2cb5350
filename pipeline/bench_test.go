package pipeline_test

// Benchmarks of the board and the forecast against hand-written SQL, over
// 200k deals in 3 pipelines (50k open deals in the first):
//
//	CRM_TEST_POSTGRES_DSN=… go test -run XXX -bench . -benchtime 200x -count 3 ./pipeline

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
	"github.com/crmkit/crmkit/pipeline"
)

const benchDeals = 200_000

// salesData fills a fresh database with benchDeals deals: pipeline i%3,
// three of four open (expected to close in 2026), the fourth won or lost
// (closed in 2026), 20 owners, 90% in EUR.
func salesData(b *testing.B, db *bun.DB) (*bundle, []*pipeline.Pipeline) {
	bd := setup(b, db)
	ctx := context.Background()
	var ps []*pipeline.Pipeline
	for i := range 3 {
		p, err := bd.pipelines.Create(ctx, pipeline.NewPipeline{Name: fmt.Sprint("P", i)})
		require.NoError(b, err)
		ps = append(ps, p)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cols := []string{"tenant_id", "id", "title", "amount", "currency", "owner_id", "pipeline_id", "stage_id", "status",
		"expected_close", "closed_on", "closed_at", "forecast_commit", "line_items", "attributes", "stage_entered_at", "created_at", "updated_at", "version"}
	err := bd.sc.InTx(ctx, func(ctx context.Context, sc store.Scope) error {
		rows := make([][]any, 0, 10_000)
		for i := 0; i < benchDeals; i++ {
			p := ps[i%3]
			day := now.AddDate(0, 0, (i*7)%365)
			var stage pipeline.Stage
			status, expected, closedOn := "open", day.Format(time.DateOnly), ""
			var closedAt any
			switch (i / 3) % 8 {
			case 6:
				stage, status, closedOn, closedAt = p.Stages[4], "won", expected, day
			case 7:
				stage, status, closedOn, closedAt = p.Stages[5], "lost", expected, day
			default:
				stage = p.Stages[(i/3)%4]
			}
			currency := "EUR"
			if i%10 == 0 {
				currency = "USD"
			}
			rows = append(rows, []any{"default", core.NewID(), fmt.Sprint("Deal ", i), int64(1000+i%50_000) * 10_000, currency,
				fmt.Sprint("rep-", i%20), p.ID, stage.ID, status, expected, closedOn, closedAt, i%5 == 0, 0, "{}", now, now, now, 1})
			if len(rows) == cap(rows) || i == benchDeals-1 {
				if err := sc.Tx().InsertRows(ctx, "crm_deals", cols, rows); err != nil {
					return err
				}
				rows = rows[:0]
			}
		}
		return nil
	})
	require.NoError(b, err)
	// Fresh statistics; on PostgreSQL also the visibility map and hint bits,
	// so that neither side pays for the first scans after the load.
	maintain := "ANALYZE"
	if bd.rt.Dialect.Kind == dialect.Postgres {
		maintain = "VACUUM ANALYZE"
	}
	_, err = db.DB.ExecContext(ctx, maintain)
	require.NoError(b, err)
	return bd, ps
}

func benchDBs(b *testing.B, fn func(b *testing.B, db *bun.DB, rebind func(string) string)) {
	b.Run("sqlite", func(b *testing.B) { fn(b, dbtest.SQLite(b), func(q string) string { return q }) })
	b.Run("postgres", func(b *testing.B) { fn(b, dbtest.Postgres(b), rebindDollar) })
}

func rebindDollar(q string) string {
	var sb strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			fmt.Fprintf(&sb, "$%d", n)
			continue
		}
		sb.WriteRune(c)
	}
	return sb.String()
}

// The board of the first pipeline: 50k open deals counted and summed per
// stage and currency.
func BenchmarkBoard(b *testing.B) {
	benchDBs(b, func(b *testing.B, db *bun.DB, rebind func(string) string) {
		bd, ps := salesData(b, db)
		ctx := context.Background()
		b.Run("crmkit", func(b *testing.B) {
			for b.Loop() {
				board, err := bd.deals.Board(ctx, ps[0].ID, pipeline.BoardOptions{})
				if err != nil || board.Columns[0].Count == 0 {
					b.Fatal(err)
				}
			}
		})
		b.Run("raw", func(b *testing.B) {
			st, err := db.DB.PrepareContext(ctx, rebind(`SELECT stage_id, currency, count(*), CAST(SUM(amount) AS BIGINT) FROM crm_deals
				WHERE tenant_id = ? AND pipeline_id = ? AND status = 'open' GROUP BY stage_id, currency`))
			require.NoError(b, err)
			id := any(ps[0].ID.String())
			for b.Loop() {
				n := scanAll(b, st, []any{"default", id}, 4)
				if n == 0 {
					b.Fatal("no rows")
				}
			}
		})
	})
}

// A year's forecast by month over all 200k deals.
func BenchmarkForecast(b *testing.B) {
	benchDBs(b, func(b *testing.B, db *bun.DB, rebind func(string) string) {
		bd, _ := salesData(b, db)
		ctx := context.Background()
		b.Run("crmkit", func(b *testing.B) {
			for b.Loop() {
				rows, err := bd.deals.Forecast(ctx, pipeline.ForecastOptions{From: core.MustDate("2026-01-01"), To: core.MustDate("2027-01-01")})
				if err != nil || len(rows) != 24 {
					b.Fatal(err, len(rows))
				}
			}
		})
		b.Run("raw", func(b *testing.B) {
			// One scan of the year's deals, grouped by month of the
			// relevant day.
			st, err := db.DB.PrepareContext(ctx, rebind(`SELECT substr(CASE WHEN d.status = 'won' THEN d.closed_on ELSE d.expected_close END, 1, 7) AS period, d.currency,
				CAST(SUM(CASE WHEN d.status = 'won' THEN d.amount ELSE 0 END) AS BIGINT),
				SUM(CASE WHEN d.status = 'won' THEN 1 ELSE 0 END),
				CAST(SUM(CASE WHEN d.status = 'open' THEN d.amount * s.probability ELSE 0 END) AS BIGINT),
				CAST(SUM(CASE WHEN d.status = 'open' THEN d.amount ELSE 0 END) AS BIGINT),
				SUM(CASE WHEN d.status = 'open' THEN 1 ELSE 0 END),
				CAST(SUM(CASE WHEN d.status = 'open' AND d.forecast_commit THEN d.amount ELSE 0 END) AS BIGINT),
				SUM(CASE WHEN d.status = 'open' AND d.forecast_commit THEN 1 ELSE 0 END)
				FROM crm_deals d JOIN crm_stages s ON s.tenant_id = d.tenant_id AND s.id = d.stage_id
				WHERE d.tenant_id = ? AND ((d.status = 'won' AND d.closed_on >= ? AND d.closed_on < ?)
					OR (d.status = 'open' AND d.expected_close >= ? AND d.expected_close < ?))
				GROUP BY 1, 2 ORDER BY 1, 2`))
			require.NoError(b, err)
			for b.Loop() {
				if n := scanAll(b, st, []any{"default", "2026-01-01", "2027-01-01", "2026-01-01", "2027-01-01"}, 9); n != 24 {
					b.Fatal(n)
				}
			}
		})
	})
}

// scanAll runs st and scans every row of cols columns; it returns the rows.
func scanAll(b *testing.B, st *sql.Stmt, args []any, cols int) int {
	rows, err := st.Query(args...)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	dest := make([]any, cols)
	vals := make([]sql.RawBytes, cols)
	for i := range dest {
		dest[i] = &vals[i]
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			b.Fatal(err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return n
}
