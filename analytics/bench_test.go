package analytics_test

// Benchmarks of reports against hand-written SQL for the same result, on
// a generated tenant of CRM_BENCH_ANALYTICS_CONTACTS contacts (default
// 5,000; the scale is 1,000,000), with about 5.5 activities each
// (a quarter of them purchases), a lifecycle stage history each, and a
// deal per five contacts with its stage history:
//
//	CRM_TEST_POSTGRES_DSN=… go test -run XXX -bench . -count 5 ./analytics
//
// The tenant is built once per size and database and kept (see
// benchdata.Cached): about 6 and 5 minutes for SQLite and PostgreSQL at
// 1M contacts.

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/analytics"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/benchdata"
	"github.com/crmkit/crmkit/internal/dialect"
)

func benchContacts() int {
	if n, err := strconv.Atoi(os.Getenv("CRM_BENCH_ANALYTICS_CONTACTS")); err == nil && n > 0 {
		return n
	}
	return 5000
}

// benchVersion names the generator in the cached datasets' names: change
// it when randomData changes.
const benchVersion = 2

// benchChunk is how many contacts (and their rows) are generated and
// loaded per transaction.
const benchChunk = 20_000

// benchData is the benchmarks' tenant on SQLite or PostgreSQL.
func benchData(b *testing.B, pg bool) *bundle {
	n := benchContacts()
	db := benchdata.Cached(b, pg, fmt.Sprintf("analytics_v%d_%d", benchVersion, n), func(ctx context.Context, db *bun.DB) error {
		bd := setup(b, db)
		rng := rand.New(rand.NewPCG(1, 1))
		pipelines := newPipelines(b, bd)
		for done := 0; done < n; done += benchChunk {
			chunk := min(benchChunk, n-done)
			bd.load(b, generate(rng, pipelines, chunk, chunk/5))
		}
		return nil
	})
	return setup(b, db)
}

func benchDBs(b *testing.B, fn func(b *testing.B, bd *bundle, pg bool)) {
	b.Run("sqlite", func(b *testing.B) { fn(b, benchData(b, false), false) })
	b.Run("postgres", func(b *testing.B) { fn(b, benchData(b, true), true) })
}

var benchEnd = time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)

// rfmRow is the raw baseline's result row.
type rfmRow struct {
	contact, currency string
	f, m              int64
	recency           float64
	r, fs, ms         int
}

// RFM scores of every purchasing contact.
func BenchmarkRFM(b *testing.B) {
	benchDBs(b, func(b *testing.B, bd *bundle, pg bool) {
		ctx := context.Background()
		b.Run("crmkit", func(b *testing.B) {
			cpu := benchdata.StartCPU()
			for b.Loop() {
				r, err := bd.svc.RFM(ctx, analytics.RFMOptions{Period: analytics.Period{To: core.DateOf(benchEnd)}})
				if err != nil || len(r.Customers) == 0 {
					b.Fatal(err)
				}
			}
			cpu.Report(b)
		})
		// The same work by hand: each contact's purchases summed in SQL,
		// ranked in Go.
		b.Run("raw", func(b *testing.B) {
			query := `SELECT contact_id, currency, COUNT(*), SUM(amount), MAX(occurred_at)
				FROM crm_activities WHERE tenant_id = ? AND kind = 'purchase' AND amount IS NOT NULL AND occurred_at < ?
				GROUP BY contact_id, currency ORDER BY contact_id, currency`
			var end any = benchEnd.Format(dialect.TimeLayout)
			if pg {
				query = strings.Replace(rebindDollar(query), "SUM(amount)", "SUM(amount)::bigint", 1)
				end = benchEnd
			}
			st := prepare(b, bd, query)
			cpu := benchdata.StartCPU()
			for b.Loop() {
				rows, err := st.QueryContext(ctx, "default", end)
				if err != nil {
					b.Fatal(err)
				}
				type rec struct {
					contact    string
					f, m, last int64
					r, fs, ms  int
				}
				byCurrency := map[string][]rec{}
				for rows.Next() {
					var r rec
					var currency string
					var last any
					if err := rows.Scan(&r.contact, &currency, &r.f, &r.m, &last); err != nil {
						b.Fatal(err)
					}
					t, ok := last.(time.Time)
					if !ok {
						if t, err = time.Parse(dialect.TimeLayout, last.(string)); err != nil {
							b.Fatal(err)
						}
					}
					r.last = t.UnixMicro()
					byCurrency[currency] = append(byCurrency[currency], r)
				}
				if err := rows.Err(); err != nil || len(byCurrency) == 0 {
					b.Fatal(err)
				}
				rows.Close()
				var out []rfmRow
				for currency, cs := range byCurrency {
					type key struct{ v, i int64 }
					keys := make([]key, len(cs))
					for _, field := range []func(*rec) (int64, *int){
						func(r *rec) (int64, *int) { return r.last, &r.r },
						func(r *rec) (int64, *int) { return r.f, &r.fs },
						func(r *rec) (int64, *int) { return r.m, &r.ms },
					} {
						for i := range cs {
							v, _ := field(&cs[i])
							keys[i] = key{v, int64(i)} // rows come in contact id order: ties by id
						}
						slices.SortFunc(keys, func(a, b key) int {
							if a.v != b.v {
								return cmp.Compare(a.v, b.v)
							}
							return cmp.Compare(a.i, b.i)
						})
						for rank, x := range keys {
							_, score := field(&cs[x.i])
							*score = ntile(rank, len(cs))
						}
					}
					for _, c := range cs {
						out = append(out, rfmRow{contact: c.contact, currency: currency, f: c.f, m: c.m,
							recency: benchEnd.Sub(time.UnixMicro(c.last)).Hours() / 24, r: c.r, fs: c.fs, ms: c.ms})
					}
				}
				if len(out) == 0 {
					b.Fatal("no rows")
				}
			}
			cpu.Report(b)
		})
		// What one writes first: NTILE windows in SQL.
		b.Run("raw-ntile", func(b *testing.B) {
			query := `SELECT s.contact_id, s.currency, s.f, s.m, (julianday(?1) - julianday(s.last_at)) * 86400.0,
				NTILE(5) OVER (PARTITION BY s.currency ORDER BY s.last_at, s.contact_id),
				NTILE(5) OVER (PARTITION BY s.currency ORDER BY s.f, s.contact_id),
				NTILE(5) OVER (PARTITION BY s.currency ORDER BY s.m, s.contact_id)
				FROM (SELECT contact_id, currency, COUNT(*) AS f, SUM(amount) AS m, MAX(occurred_at) AS last_at
					FROM crm_activities WHERE tenant_id = ?2 AND kind = 'purchase' AND amount IS NOT NULL AND occurred_at < ?1
					GROUP BY contact_id, currency) s
				ORDER BY s.currency, s.contact_id`
			var end any = benchEnd.Format(dialect.TimeLayout)
			if pg {
				query = `SELECT s.contact_id, s.currency, s.f, s.m, EXTRACT(EPOCH FROM ($1::timestamptz - s.last_at))::double precision,
				NTILE(5) OVER (PARTITION BY s.currency ORDER BY s.last_at, s.contact_id),
				NTILE(5) OVER (PARTITION BY s.currency ORDER BY s.f, s.contact_id),
				NTILE(5) OVER (PARTITION BY s.currency ORDER BY s.m, s.contact_id)
				FROM (SELECT contact_id, currency, COUNT(*) AS f, SUM(amount)::bigint AS m, MAX(occurred_at) AS last_at
					FROM crm_activities WHERE tenant_id = $2 AND kind = 'purchase' AND amount IS NOT NULL AND occurred_at < $1
					GROUP BY contact_id, currency) s
				ORDER BY s.currency, s.contact_id`
				end = benchEnd
			}
			st := prepare(b, bd, query)
			cpu := benchdata.StartCPU()
			for b.Loop() {
				rows, err := st.QueryContext(ctx, end, "default")
				if err != nil {
					b.Fatal(err)
				}
				var out []rfmRow
				for rows.Next() {
					var r rfmRow
					if err := rows.Scan(&r.contact, &r.currency, &r.f, &r.m, &r.recency, &r.r, &r.fs, &r.ms); err != nil {
						b.Fatal(err)
					}
					out = append(out, r)
				}
				if rows.Err() != nil || len(out) == 0 {
					b.Fatal(rows.Err())
				}
				rows.Close()
			}
			cpu.Report(b)
		})
	})
}

// winRow is the raw baseline's result row of the deals' query.
type winRow struct {
	pipeline, currency               string
	won, lost, amount, open, openSum int64
	seconds                          float64
}

// The pipeline report: win rate, deal size, cycle and open deals per
// pipeline and currency, and the stage conversion.
func BenchmarkWinRate(b *testing.B) {
	benchDBs(b, func(b *testing.B, bd *bundle, pg bool) {
		ctx := context.Background()
		b.Run("crmkit", func(b *testing.B) {
			cpu := benchdata.StartCPU()
			for b.Loop() {
				r, err := bd.svc.Pipelines(ctx, analytics.PipelineOptions{Period: period})
				if err != nil || len(r.Pipelines) == 0 || r.Pipelines[0].Won == 0 {
					b.Fatal(err)
				}
			}
			cpu.Report(b)
		})
		// The same work by hand: the stages, each deal's history since the
		// period's start streamed in deal order and walked from its last
		// entry, and the deals' query.
		b.Run("raw", func(b *testing.B) {
			stagesQ := `SELECT s.id, s.pipeline_id, s.position, s.kind FROM crm_stages s
				JOIN crm_pipelines p ON p.tenant_id = s.tenant_id AND p.id = s.pipeline_id WHERE s.tenant_id = ?
				ORDER BY p.position, s.pipeline_id, s.position, s.id`
			historyQ := `SELECT deal_id, stage_id, entered_at || '' FROM crm_deal_stage_history
				WHERE tenant_id = ? AND entered_at >= ? ORDER BY deal_id, entered_at, id`
			deals := `SELECT pipeline_id, currency,
				SUM(CASE WHEN status = 'won' THEN 1 ELSE 0 END), SUM(CASE WHEN status = 'lost' THEN 1 ELSE 0 END),
				COALESCE(SUM(CASE WHEN status = 'won' THEN amount ELSE 0 END), 0),
				COALESCE(SUM(CASE WHEN status = 'won' THEN (julianday(closed_at) - julianday(created_at)) * 86400.0 END), 0),
				SUM(CASE WHEN status = 'open' THEN 1 ELSE 0 END), COALESCE(SUM(CASE WHEN status = 'open' THEN amount ELSE 0 END), 0)
				FROM crm_deals WHERE tenant_id = ? AND (status = 'open' OR (status IN ('won', 'lost') AND closed_on >= ? AND closed_on < ?))
				GROUP BY pipeline_id, currency ORDER BY pipeline_id, currency`
			var from any = period.From.Time().Format(dialect.TimeLayout)
			to := period.To.Time().Format(dialect.TimeLayout)
			if pg {
				stagesQ = rebindDollar(stagesQ)
				historyQ = strings.Replace(rebindDollar(historyQ), "entered_at || ''", "entered_at", 1)
				deals = `SELECT pipeline_id, currency,
				SUM(CASE WHEN status = 'won' THEN 1 ELSE 0 END), SUM(CASE WHEN status = 'lost' THEN 1 ELSE 0 END),
				COALESCE(SUM(CASE WHEN status = 'won' THEN amount ELSE 0 END), 0)::bigint,
				COALESCE(SUM(CASE WHEN status = 'won' THEN EXTRACT(EPOCH FROM (closed_at - created_at))::double precision END), 0),
				SUM(CASE WHEN status = 'open' THEN 1 ELSE 0 END), COALESCE(SUM(CASE WHEN status = 'open' THEN amount ELSE 0 END), 0)::bigint
				FROM crm_deals WHERE tenant_id = $1 AND (status = 'open' OR (status IN ('won', 'lost') AND closed_on >= $2 AND closed_on < $3))
				GROUP BY pipeline_id, currency ORDER BY pipeline_id, currency`
				from = period.From.Time()
			}
			var sts [3]*sql.Stmt
			for i, q := range []string{stagesQ, historyQ, deals} {
				sts[i] = prepare(b, bd, q)
			}
			type stage struct {
				pipeline               string
				position               int64
				lost                   bool
				entered, advanced      int64
				seenDeal, advancedDeal int
			}
			cpu := benchdata.StartCPU()
			for b.Loop() {
				stages := map[string]*stage{}
				scanRows(b, sts[0], []any{"default"}, func(rows *sql.Rows) error {
					st := &stage{seenDeal: -1, advancedDeal: -1}
					var id, kind string
					err := rows.Scan(&id, &st.pipeline, &st.position, &kind)
					st.lost = kind == "lost"
					stages[id] = st
					return err
				})
				type entry struct {
					st       *stage
					inPeriod bool
				}
				var entries []entry
				var cur string
				number := 0
				highest := map[string]int64{}
				flush := func() {
					clear(highest)
					for i := len(entries) - 1; i >= 0; i-- {
						e := entries[i]
						h, ok := highest[e.st.pipeline]
						if e.inPeriod {
							if e.st.seenDeal != number {
								e.st.seenDeal = number
								e.st.entered++
							}
							if ok && h > e.st.position && e.st.advancedDeal != number {
								e.st.advancedDeal = number
								e.st.advanced++
							}
						}
						if !e.st.lost && (!ok || e.st.position > h) {
							highest[e.st.pipeline] = e.st.position
						}
					}
					entries = entries[:0]
					number++
				}
				scanRows(b, sts[1], []any{"default", from}, func(rows *sql.Rows) error {
					var deal, stageID string
					var at any
					if err := rows.Scan(&deal, &stageID, &at); err != nil {
						return err
					}
					if deal != cur {
						flush()
						cur = deal
					}
					var in bool
					if t, ok := at.(time.Time); ok {
						in = t.Before(period.To.Time())
					} else {
						in = at.(string) < to
					}
					entries = append(entries, entry{stages[stageID], in})
					return nil
				})
				flush()
				var out []winRow
				n := scanRows(b, sts[2], []any{"default", period.From.String(), period.To.String()}, func(rows *sql.Rows) error {
					var r winRow
					err := rows.Scan(&r.pipeline, &r.currency, &r.won, &r.lost, &r.amount, &r.seconds, &r.open, &r.openSum)
					out = append(out, r)
					return err
				})
				if n == 0 || len(stages) == 0 {
					b.Fatal("no rows")
				}
			}
			cpu.Report(b)
		})
		// What one writes first: the conversion by a window over each
		// deal's history in SQL.
		b.Run("raw-sql", func(b *testing.B) {
			deals := `SELECT pipeline_id, currency,
				SUM(CASE WHEN status = 'won' THEN 1 ELSE 0 END), SUM(CASE WHEN status = 'lost' THEN 1 ELSE 0 END),
				COALESCE(SUM(CASE WHEN status = 'won' THEN amount ELSE 0 END), 0),
				COALESCE(SUM(CASE WHEN status = 'won' THEN (julianday(closed_at) - julianday(created_at)) * 86400.0 END), 0),
				SUM(CASE WHEN status = 'open' THEN 1 ELSE 0 END), COALESCE(SUM(CASE WHEN status = 'open' THEN amount ELSE 0 END), 0)
				FROM crm_deals WHERE tenant_id = ? AND (status = 'open' OR (status IN ('won', 'lost') AND closed_on >= ? AND closed_on < ?))
				GROUP BY pipeline_id, currency ORDER BY pipeline_id, currency`
			stages := `WITH h AS (
					SELECT h.deal_id, h.stage_id, h.entered_at,
						MAX(CASE WHEN s.kind <> 'lost' THEN s.position END) OVER (PARTITION BY h.deal_id, s.pipeline_id ORDER BY h.entered_at, h.id
							ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS later
					FROM crm_deal_stage_history h JOIN crm_stages s ON s.tenant_id = h.tenant_id AND s.id = h.stage_id
					WHERE h.tenant_id = ? AND h.entered_at >= ?
				)
				SELECT s.pipeline_id, p.name, s.id, s.name, s.position, s.kind,
					COUNT(DISTINCT h.deal_id), COUNT(DISTINCT CASE WHEN h.later > s.position THEN h.deal_id END)
				FROM crm_stages s JOIN crm_pipelines p ON p.tenant_id = s.tenant_id AND p.id = s.pipeline_id
				LEFT JOIN h ON h.stage_id = s.id AND h.entered_at >= ? AND h.entered_at < ?
				WHERE s.tenant_id = ?
				GROUP BY s.pipeline_id, p.name, p.position, s.id, s.name, s.position, s.kind
				ORDER BY p.position, s.pipeline_id, s.position, s.id`
			var from, to any = period.From.Time().Format(dialect.TimeLayout), period.To.Time().Format(dialect.TimeLayout)
			if pg {
				deals = `SELECT pipeline_id, currency,
				SUM(CASE WHEN status = 'won' THEN 1 ELSE 0 END), SUM(CASE WHEN status = 'lost' THEN 1 ELSE 0 END),
				COALESCE(SUM(CASE WHEN status = 'won' THEN amount ELSE 0 END), 0)::bigint,
				COALESCE(SUM(CASE WHEN status = 'won' THEN EXTRACT(EPOCH FROM (closed_at - created_at))::double precision END), 0),
				SUM(CASE WHEN status = 'open' THEN 1 ELSE 0 END), COALESCE(SUM(CASE WHEN status = 'open' THEN amount ELSE 0 END), 0)::bigint
				FROM crm_deals WHERE tenant_id = $1 AND (status = 'open' OR (status IN ('won', 'lost') AND closed_on >= $2 AND closed_on < $3))
				GROUP BY pipeline_id, currency ORDER BY pipeline_id, currency`
				stages = rebindDollar(stages)
				from, to = period.From.Time(), period.To.Time()
			}
			dst := prepare(b, bd, deals)
			sst := prepare(b, bd, stages)
			cpu := benchdata.StartCPU()
			for b.Loop() {
				n := scanRows(b, sst, []any{"default", from, from, to, "default"}, func(rows *sql.Rows) error {
					var pid, pname, sid, sname, kind string
					var pos, entered, advanced int64
					return rows.Scan(&pid, &pname, &sid, &sname, &pos, &kind, &entered, &advanced)
				})
				var out []winRow
				n += scanRows(b, dst, []any{"default", period.From.String(), period.To.String()}, func(rows *sql.Rows) error {
					var r winRow
					err := rows.Scan(&r.pipeline, &r.currency, &r.won, &r.lost, &r.amount, &r.seconds, &r.open, &r.openSum)
					out = append(out, r)
					return err
				})
				if n == 0 || len(out) == 0 {
					b.Fatal("no rows")
				}
			}
			cpu.Report(b)
		})
	})
}

func scanRows(b *testing.B, st *sql.Stmt, args []any, scan func(*sql.Rows) error) int {
	rows, err := st.Query(args...)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		if err := scan(rows); err != nil {
			b.Fatal(err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return n
}

func rebindDollar(q string) string {
	out := make([]byte, 0, len(q)+16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			out = append(out, '$')
			out = strconv.AppendInt(out, int64(n), 10)
			continue
		}
		out = append(out, q[i])
	}
	return string(out)
}

// Monthly cohorts of two years in New York time: retention and revenue.
func BenchmarkCohorts(b *testing.B) {
	benchDBs(b, func(b *testing.B, bd *bundle, pg bool) {
		ctx := context.Background()
		ny, err := time.LoadLocation("America/New_York")
		require.NoError(b, err)
		p := analytics.Period{From: core.NewDate(2024, 7, 1), To: core.NewDate(2026, 7, 1)}
		b.Run("crmkit", func(b *testing.B) {
			cpu := benchdata.StartCPU()
			for b.Loop() {
				c, err := bd.svc.Cohorts(ctx, analytics.CohortOptions{Period: p, Location: ny})
				if err != nil || len(c.Cohorts) == 0 {
					b.Fatal(err)
				}
			}
			cpu.Report(b)
		})
		// The same work by hand: the purchases streamed in contact order,
		// placed among the month bounds in Go.
		b.Run("raw", func(b *testing.B) {
			var bounds []time.Time
			for m := time.Date(2024, 7, 1, 0, 0, 0, 0, ny); !m.After(time.Date(2026, 7, 1, 0, 0, 0, 0, ny)); m = m.AddDate(0, 1, 0) {
				bounds = append(bounds, m)
			}
			// SQLite's times compared as the stored text, unparsed.
			query := `SELECT contact_id, currency, occurred_at || '', amount FROM crm_activities
				WHERE tenant_id = ? AND kind = 'purchase' AND amount IS NOT NULL AND occurred_at < ? ORDER BY contact_id`
			var texts []string
			for _, t := range bounds {
				texts = append(texts, t.UTC().Format(dialect.TimeLayout))
			}
			var end any = texts[len(texts)-1]
			if pg {
				query = strings.Replace(rebindDollar(query), "occurred_at || ''", "occurred_at", 1)
				end = bounds[len(bounds)-1]
			}
			st := prepare(b, bd, query)
			months := len(bounds) - 1
			type purchase struct {
				month    int
				currency string
				amount   int64
			}
			cpu := benchdata.StartCPU()
			for b.Loop() {
				active := make([][]int64, months)
				revenue := make([]map[string][]int64, months)
				var cur string
				var bought []purchase
				first := -2
				flush := func() {
					if first >= 0 {
						if active[first] == nil {
							active[first], revenue[first] = make([]int64, months-first), map[string][]int64{}
						}
						seen := map[int]bool{}
						for _, p := range bought {
							n := p.month - first
							if !seen[n] {
								seen[n] = true
								active[first][n]++
							}
							if revenue[first][p.currency] == nil {
								revenue[first][p.currency] = make([]int64, months-first)
							}
							revenue[first][p.currency][n] += p.amount
						}
					}
					bought, first = bought[:0], -2
				}
				rows, err := st.QueryContext(ctx, "default", end)
				if err != nil {
					b.Fatal(err)
				}
				for rows.Next() {
					var id string
					var p purchase
					var at any
					if err := rows.Scan(&id, &p.currency, &at, &p.amount); err != nil {
						b.Fatal(err)
					}
					if id != cur {
						flush()
						cur = id
					}
					if t, ok := at.(time.Time); ok {
						p.month = sort.Search(len(bounds), func(i int) bool { return t.Before(bounds[i]) }) - 1
					} else {
						text := at.(string)
						p.month = sort.Search(len(texts), func(i int) bool { return text < texts[i] }) - 1
					}
					if first == -2 || p.month < first {
						first = p.month
					}
					if p.month >= 0 {
						bought = append(bought, p)
					}
				}
				if err := rows.Err(); err != nil {
					b.Fatal(err)
				}
				rows.Close()
				flush()
				if active[0] == nil {
					b.Fatal("no cohort")
				}
			}
			cpu.Report(b)
		})
		// What one writes first: the months by a CASE in SQL, the first
		// month per contact joined back.
		b.Run("raw-sql", func(b *testing.B) {
			// The month bounds in New York, as UTC instants.
			var bounds []any
			for m := time.Date(2024, 7, 1, 0, 0, 0, 0, ny); !m.After(time.Date(2026, 7, 1, 0, 0, 0, 0, ny)); m = m.AddDate(0, 1, 0) {
				if pg {
					bounds = append(bounds, m.UTC())
				} else {
					bounds = append(bounds, m.UTC().Format(dialect.TimeLayout))
				}
			}
			month := "CASE"
			for i := range bounds {
				month += " WHEN occurred_at < ? THEN " + strconv.Itoa(i-1)
			}
			month += " END"
			query := `WITH p AS (SELECT contact_id, currency, amount, ` + month + ` AS m FROM crm_activities
					WHERE tenant_id = ? AND kind = 'purchase' AND amount IS NOT NULL AND occurred_at < ?),
				f AS (SELECT contact_id, MIN(m) AS c FROM p GROUP BY contact_id)
				SELECT f.c, p.m - f.c, '', COUNT(DISTINCT p.contact_id), 0 FROM p JOIN f ON f.contact_id = p.contact_id
					WHERE f.c >= 0 GROUP BY f.c, p.m - f.c
				UNION ALL
				SELECT f.c, p.m - f.c, p.currency, 0, SUM(p.amount) FROM p JOIN f ON f.contact_id = p.contact_id
					WHERE f.c >= 0 GROUP BY f.c, p.m - f.c, p.currency`
			if pg {
				query = strings.ReplaceAll(query, "occurred_at < ?", "occurred_at < ?::timestamptz")
				query = strings.Replace(query, "SUM(p.amount)", "SUM(p.amount)::bigint", 1)
				query = rebindDollar(query)
			}
			st := prepare(b, bd, query)
			args := append(append(bounds, "default"), bounds[len(bounds)-1])
			type cell struct {
				c, n, active, amount int64
				currency             string
			}
			cpu := benchdata.StartCPU()
			for b.Loop() {
				var out []cell
				n := scanRows(b, st, args, func(rows *sql.Rows) error {
					var x cell
					err := rows.Scan(&x.c, &x.n, &x.currency, &x.active, &x.amount)
					out = append(out, x)
					return err
				})
				if n == 0 {
					b.Fatal("no rows")
				}
			}
			cpu.Report(b)
		})
	})
}

// The dashboard of a quarter: crmkit's Dashboard against its seven
// counts as prepared statements (the campaign and ticket tables of the
// tenant are empty: their counts are index probes).
func BenchmarkDashboard(b *testing.B) {
	benchDBs(b, func(b *testing.B, bd *bundle, pg bool) {
		ctx := context.Background()
		opts := analytics.DashboardOptions{Period: benchQuarter}
		b.Run("crmkit", func(b *testing.B) {
			cpu := benchdata.StartCPU()
			for b.Loop() {
				d, err := bd.svc.Dashboard(ctx, opts)
				if err != nil || d.NewContacts == 0 {
					b.Fatal(err)
				}
			}
			cpu.Report(b)
		})
		b.Run("raw", func(b *testing.B) {
			queries := []string{
				`SELECT count(*) FROM crm_contacts WHERE tenant_id = ? AND created_at >= ? AND created_at < ?`,
				`SELECT currency, count(*), COALESCE(SUM(amount), 0) FROM crm_deals WHERE tenant_id = ? AND status = 'open' GROUP BY currency ORDER BY currency`,
				`SELECT currency, count(*), COALESCE(SUM(amount), 0) FROM crm_deals WHERE tenant_id = ? AND status = 'won' AND closed_at >= ? AND closed_at < ? GROUP BY currency ORDER BY currency`,
				`SELECT count(*) FROM crm_deals WHERE tenant_id = ? AND status = 'lost' AND closed_at >= ? AND closed_at < ?`,
				`SELECT count(*), count(DISTINCT i.recipient_id) FROM crm_campaign_recipients r
					LEFT JOIN crm_campaign_interactions i ON i.tenant_id = r.tenant_id AND i.recipient_id = r.id AND i.machine = ''
					WHERE r.tenant_id = ? AND r.state = 'sent' AND r.sent_at >= ? AND r.sent_at < ?`,
				`SELECT count(*), count(CASE WHEN sla_due < ? THEN 1 END) FROM crm_tickets WHERE tenant_id = ? AND status IN ('new', 'open', 'pending', 'on_hold')`,
				`SELECT count(*) FROM crm_tickets WHERE tenant_id = ? AND solved_at >= ? AND solved_at < ?`,
			}
			from, to, now := timeArg(pg, benchQuarter.From.Time()), timeArg(pg, benchQuarter.To.Time()), timeArg(pg, benchEnd)
			args := [][]any{{"default", from, to}, {"default"}, {"default", from, to}, {"default", from, to}, {"default", from, to}, {now, "default"}, {"default", from, to}}
			var sts []*sql.Stmt
			for _, q := range queries {
				if pg {
					q = strings.ReplaceAll(rebindDollar(q), "SUM(amount), 0)", "SUM(amount), 0)::bigint")
				}
				sts = append(sts, prepare(b, bd, q))
			}
			cpu := benchdata.StartCPU()
			for b.Loop() {
				var newContacts int64
				if err := sts[0].QueryRowContext(ctx, args[0]...).Scan(&newContacts); err != nil || newContacts == 0 {
					b.Fatal(err)
				}
				for _, i := range []int{1, 2} {
					scanRows(b, sts[i], args[i], func(rows *sql.Rows) error {
						var currency string
						var n, amount int64
						return rows.Scan(&currency, &n, &amount)
					})
				}
				var lost, sent, opened, open, overdue, solved int64
				for i, dest := range [][]any{3: {&lost}, 4: {&sent, &opened}, 5: {&open, &overdue}, 6: {&solved}} {
					if i < 3 {
						continue
					}
					if err := sts[i].QueryRowContext(ctx, args[i]...).Scan(dest...); err != nil {
						b.Fatal(err)
					}
				}
			}
			cpu.Report(b)
		})
	})
}
