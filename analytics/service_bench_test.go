package analytics_test

// The service report against hand-written SQL for the same figures, on a
// generated tenant of CRM_BENCH_TICKETS tickets (default 200,000, which
// load in about 15 s per database; 1,000,000 take about 100 s), over the
// first half of 2026, with their survey answers:
//
//	CRM_BENCH_TICKETS=1000000 CRM_TEST_POSTGRES_DSN=… go test -run XXX -bench ServiceLevels -benchtime 3x -count 5 -timeout 60m ./analytics

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/analytics"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dialect"
)

func benchTickets() int {
	if n, err := strconv.Atoi(os.Getenv("CRM_BENCH_TICKETS")); err == nil && n > 0 {
		return n
	}
	return 200_000
}

// serviceBenchData loads the generated tickets into db and tidies up
// after the load.
func serviceBenchData(b *testing.B, db *bun.DB) *bundle {
	bd := setup(b, db)
	bd.clock.Set(now, 0)
	start := time.Now()
	loadService(b, bd.sc, randomService(rand.New(rand.NewPCG(7, 7)), benchTickets()))
	// Statistics for the planner; on SQLite the load's write-ahead log
	// moved into the database file, so that the first benchmark does not
	// read through it.
	maintain := []string{"ANALYZE", "PRAGMA wal_checkpoint(TRUNCATE)"}
	if bd.rt.Dialect.Kind == dialect.Postgres {
		maintain = []string{"VACUUM ANALYZE"}
	}
	for _, m := range maintain {
		_, err := db.DB.ExecContext(context.Background(), m)
		require.NoError(b, err)
	}
	b.Logf("%d tickets loaded in %s", benchTickets(), time.Since(start).Round(time.Second))
	return bd
}

// The service report of May 2026 in UTC, backlog by day, no breakdown:
// crmkit's ServiceLevels, and raw SQL written by hand for each database
// (PostgreSQL's percentile_cont, days by to_char and substr) computing
// the same figures. An eighth of the tickets were solved and reopened
// before (their status history in crm_events, with every resolution).
func BenchmarkServiceLevels(b *testing.B) {
	period := analytics.Period{From: core.NewDate(2026, 5, 1), To: core.NewDate(2026, 6, 1)}
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			db := migrated.SQLite(b)
			if name == "postgres" {
				db = migrated.Postgres(b)
			}
			bd := serviceBenchData(b, db)
			ctx := context.Background()
			// One untimed run of each warms the caches for both.
			want, err := bd.svc.ServiceLevels(ctx, analytics.ServiceOptions{Period: period})
			require.NoError(b, err)
			warm := newRawService(b, bd.db.DB, name == "postgres")
			warm.run(b, period)
			warm.close()
			b.Run("crmkit", func(b *testing.B) {
				for b.Loop() {
					r, err := bd.svc.ServiceLevels(ctx, analytics.ServiceOptions{Period: period})
					if err != nil || r.Total.Created == 0 {
						b.Fatal(err)
					}
					want = r
				}
			})
			b.Run("raw", func(b *testing.B) {
				raw := newRawService(b, bd.db.DB, name == "postgres")
				defer raw.close()
				for b.Loop() {
					got := raw.run(b, period)
					if got.Total.Created != want.Total.Created || !slices.Equal(got.Total.Backlog, want.Total.Backlog) ||
						got.Total.FirstResponse.Count != want.Total.FirstResponse.Count || got.Total.CSAT.Responses != want.Total.CSAT.Responses {
						b.Fatalf("raw and crmkit differ: %+v, %+v", got.Total, want.Total)
					}
				}
			})
		})
	}
}

// rawService is the hand-written baseline: four prepared statements.
type rawService struct {
	pg                                  bool
	outcomes, durations, backlog, votes *sql.Stmt
	names                               *sql.Stmt
}

func newRawService(b *testing.B, db *sql.DB, pg bool) *rawService {
	r := &rawService{pg: pg}
	prep := func(sqlite, postgres string) *sql.Stmt {
		q := sqlite
		if pg {
			q = postgres
		}
		st, err := db.Prepare(q)
		require.NoError(b, err)
		return st
	}
	// $1 tenant, $2 from, $3 to, $4 now.
	r.outcomes = prep(`SELECT sla_policy_id,
			SUM(CASE WHEN created_at >= ?2 AND created_at < ?3 THEN 1 ELSE 0 END),
			SUM(CASE WHEN merged_into_id IS NULL AND solved_at >= ?2 AND solved_at < ?3 THEN 1 ELSE 0 END),
			SUM(CASE WHEN first_response_due IS NOT NULL AND first_response_at <= first_response_due AND first_response_at >= ?2 AND first_response_at < ?3 THEN 1 ELSE 0 END),
			SUM(CASE WHEN first_response_due IS NOT NULL AND COALESCE(first_response_at, paused_since, ?4) > first_response_due AND first_response_due >= ?2 AND first_response_due < ?3 THEN 1 ELSE 0 END),
			SUM(CASE WHEN merged_into_id IS NULL AND resolution_due IS NOT NULL AND solved_at <= resolution_due AND solved_at >= ?2 AND solved_at < ?3 THEN 1 ELSE 0 END),
			SUM(CASE WHEN merged_into_id IS NULL AND resolution_due IS NOT NULL AND COALESCE(solved_at, paused_since, ?4) > resolution_due AND resolution_due >= ?2 AND resolution_due < ?3 THEN 1 ELSE 0 END)
		FROM crm_tickets WHERE tenant_id = ?1 AND created_at < ?3 GROUP BY sla_policy_id`,
		`SELECT sla_policy_id,
			COUNT(*) FILTER (WHERE created_at >= $2 AND created_at < $3),
			COUNT(*) FILTER (WHERE merged_into_id IS NULL AND solved_at >= $2 AND solved_at < $3),
			COUNT(*) FILTER (WHERE first_response_at <= first_response_due AND first_response_at >= $2 AND first_response_at < $3),
			COUNT(*) FILTER (WHERE COALESCE(first_response_at, paused_since, $4) > first_response_due AND first_response_due >= $2 AND first_response_due < $3),
			COUNT(*) FILTER (WHERE merged_into_id IS NULL AND solved_at <= resolution_due AND solved_at >= $2 AND solved_at < $3),
			COUNT(*) FILTER (WHERE merged_into_id IS NULL AND COALESCE(solved_at, paused_since, $4) > resolution_due AND resolution_due >= $2 AND resolution_due < $3)
		FROM crm_tickets WHERE tenant_id = $1 AND created_at < $3 GROUP BY sla_policy_id`)
	r.durations = prep(`WITH x AS (
			SELECT 0 AS m, (julianday(first_response_at) - julianday(created_at)) * 86400.0 AS s FROM crm_tickets
				WHERE tenant_id = ?1 AND created_at < ?3 AND first_response_at >= ?2 AND first_response_at < ?3
			UNION ALL
			SELECT 1, (julianday(solved_at) - julianday(created_at)) * 86400.0 FROM crm_tickets
				WHERE tenant_id = ?1 AND created_at < ?3 AND solved_at >= ?2 AND solved_at < ?3 AND merged_into_id IS NULL
		), r AS (SELECT m, s, ROW_NUMBER() OVER (PARTITION BY m ORDER BY s) - 1 AS i, COUNT(*) OVER (PARTITION BY m) AS n FROM x)
		SELECT m, n, total / n, lo50 + (COALESCE(hi50, lo50) - lo50) * ((n - 1) % 2) / 2.0, lo90 + (COALESCE(hi90, lo90) - lo90) * (9 * (n - 1) % 10) / 10.0
		FROM (SELECT m, MAX(n) AS n, SUM(s) AS total,
			SUM(CASE WHEN i = (n - 1) / 2 THEN s END) AS lo50, SUM(CASE WHEN i = (n - 1) / 2 + 1 THEN s END) AS hi50,
			SUM(CASE WHEN i = 9 * (n - 1) / 10 THEN s END) AS lo90, SUM(CASE WHEN i = 9 * (n - 1) / 10 + 1 THEN s END) AS hi90
			FROM r GROUP BY m) a`,
		`WITH x AS (
			SELECT 0 AS m, EXTRACT(EPOCH FROM first_response_at - created_at)::float8 AS s FROM crm_tickets
				WHERE tenant_id = $1 AND created_at < $3 AND first_response_at >= $2 AND first_response_at < $3
			UNION ALL
			SELECT 1, EXTRACT(EPOCH FROM solved_at - created_at)::float8 FROM crm_tickets
				WHERE tenant_id = $1 AND created_at < $3 AND solved_at >= $2 AND solved_at < $3 AND merged_into_id IS NULL)
		SELECT m, COUNT(*), AVG(s), percentile_cont(0.5) WITHIN GROUP (ORDER BY s), percentile_cont(0.9) WITHIN GROUP (ORDER BY s)
		FROM x GROUP BY m`)
	// Opened and solved (latest) per UTC day up to the period's end, and
	// the stretches resolved before a reopening after its start (begun,
	// ended): the backlog of day d is the running sum up to d.
	r.backlog = prep(`WITH ro AS MATERIALIZED (
			SELECT e.occurred_at AS o, (SELECT MAX(s.occurred_at) FROM crm_events s WHERE s.tenant_id = e.tenant_id AND s.subject_id = e.subject_id
				AND s.type = 'ticket.status_changed' AND (s.occurred_at < e.occurred_at OR (s.occurred_at = e.occurred_at AND s.id < e.id))
				AND json_extract(s.data, '$.to') IN ('solved', 'closed') AND json_extract(s.data, '$.from') NOT IN ('solved', 'closed')) AS r
			FROM crm_tickets t CROSS JOIN crm_events e
			WHERE t.tenant_id = ?1 AND t.created_at < ?2 AND ((t.solved_at IS NULL AND t.updated_at >= ?3) OR t.solved_at >= ?3)
				AND e.tenant_id = t.tenant_id AND e.subject_id = t.id AND e.type = 'ticket.status_changed' AND e.occurred_at >= ?3
				AND (t.solved_at IS NULL OR e.occurred_at < t.solved_at)
				AND json_extract(e.data, '$.from') IN ('solved', 'closed') AND json_extract(e.data, '$.to') NOT IN ('solved', 'closed'))
		SELECT substr(created_at, 1, 10) AS d, COUNT(*) FROM crm_tickets WHERE tenant_id = ?1 AND created_at < ?2 GROUP BY d
		UNION ALL SELECT substr(solved_at, 1, 10) AS d, -COUNT(*) FROM crm_tickets WHERE tenant_id = ?1 AND solved_at < ?2 GROUP BY d
		UNION ALL SELECT substr(r, 1, 10) AS d, -COUNT(*) FROM ro WHERE r < ?2 GROUP BY d
		UNION ALL SELECT substr(o, 1, 10) AS d, COUNT(*) FROM ro WHERE r IS NOT NULL AND o < ?2 GROUP BY d`,
		`WITH ro AS MATERIALIZED (
			SELECT e.occurred_at AS o, (SELECT MAX(s.occurred_at) FROM crm_events s WHERE s.tenant_id = e.tenant_id AND s.subject_id = e.subject_id
				AND s.type = 'ticket.status_changed' AND (s.occurred_at, s.id) < (e.occurred_at, e.id)
				AND s.data->>'to' IN ('solved', 'closed') AND s.data->>'from' NOT IN ('solved', 'closed')) AS r
			FROM crm_tickets t JOIN crm_events e ON e.tenant_id = t.tenant_id AND e.subject_id = t.id
			WHERE t.tenant_id = $1 AND t.created_at < $2 AND ((t.solved_at IS NULL AND t.updated_at >= $3) OR t.solved_at >= $3)
				AND e.type = 'ticket.status_changed' AND e.occurred_at >= $3 AND (t.solved_at IS NULL OR e.occurred_at < t.solved_at)
				AND e.data->>'from' IN ('solved', 'closed') AND e.data->>'to' NOT IN ('solved', 'closed'))
		SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS d, COUNT(*) FROM crm_tickets WHERE tenant_id = $1 AND created_at < $2 GROUP BY d
		UNION ALL SELECT to_char(solved_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS d, -COUNT(*) FROM crm_tickets WHERE tenant_id = $1 AND solved_at < $2 GROUP BY d
		UNION ALL SELECT to_char(r AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS d, -COUNT(*) FROM ro WHERE r < $2 GROUP BY d
		UNION ALL SELECT to_char(o AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS d, COUNT(*) FROM ro WHERE r IS NOT NULL AND o < $2 GROUP BY d`)
	r.votes = prep(`SELECT kind, COUNT(*), SUM(score), SUM(CASE WHEN score >= 4 THEN 1 ELSE 0 END), SUM(CASE WHEN score >= 9 THEN 1 ELSE 0 END),
			SUM(CASE WHEN score <= 6 THEN 1 ELSE 0 END)
		FROM crm_ticket_surveys WHERE tenant_id = ?1 AND answered_at >= ?2 AND answered_at < ?3 AND score IS NOT NULL GROUP BY kind`,
		`SELECT kind, COUNT(*), SUM(score), COUNT(*) FILTER (WHERE score >= 4), COUNT(*) FILTER (WHERE score >= 9), COUNT(*) FILTER (WHERE score <= 6)
		FROM crm_ticket_surveys WHERE tenant_id = $1 AND answered_at >= $2 AND answered_at < $3 AND score IS NOT NULL GROUP BY kind`)
	r.names = prep(`SELECT id, name FROM crm_sla_policies WHERE tenant_id = ?1`, `SELECT id, name FROM crm_sla_policies WHERE tenant_id = $1`)
	return r
}

func (r *rawService) close() {
	for _, st := range []*sql.Stmt{r.outcomes, r.durations, r.backlog, r.votes, r.names} {
		st.Close()
	}
}

// run computes the report of period (UTC days) with the four statements.
func (r *rawService) run(b *testing.B, period analytics.Period) *analytics.ServiceReport {
	from, to := period.From.Time(), period.To.Time()
	var args []any
	if r.pg {
		args = []any{"default", from, to, now}
	} else {
		args = []any{"default", from.Format(dialect.TimeLayout), to.Format(dialect.TimeLayout), now.Format(dialect.TimeLayout)}
	}
	rep := &analytics.ServiceReport{}
	st := &rep.Total
	sla := map[string]*analytics.PolicyCompliance{}
	scanRows(b, r.outcomes, args, func(rows *sql.Rows) error {
		var policy sql.NullString
		var c, s, fm, fb, rm, rb int64
		if err := rows.Scan(&policy, &c, &s, &fm, &fb, &rm, &rb); err != nil {
			return err
		}
		st.Created += c
		st.Solved += s
		if policy.Valid {
			sla[policy.String] = &analytics.PolicyCompliance{FirstResponse: analytics.Compliance{Met: fm, Breached: fb},
				Resolution: analytics.Compliance{Met: rm, Breached: rb}}
		}
		return nil
	})
	scanRows(b, r.names, args[:1], func(rows *sql.Rows) error {
		var id, name string
		err := rows.Scan(&id, &name)
		if pc := sla[id]; pc != nil {
			pc.Name = name
			st.SLA = append(st.SLA, *pc)
		}
		return err
	})
	scanRows(b, r.durations, args[:3], func(rows *sql.Rows) error {
		var m int
		var n int64
		var mean, p50, p90 float64
		if err := rows.Scan(&m, &n, &mean, &p50, &p90); err != nil {
			return err
		}
		ts := analytics.TimeStats{Count: n, MeanMinutes: mean / 60, P50Minutes: p50 / 60, P90Minutes: p90 / 60}
		if m == 0 {
			st.FirstResponse = ts
		} else {
			st.Resolution = ts
		}
		return nil
	})
	days := map[string]int64{}
	scanRows(b, r.backlog, []any{args[0], args[2], args[1]}, func(rows *sql.Rows) error {
		var d string
		var n int64
		err := rows.Scan(&d, &n)
		days[d] += n
		return err
	})
	var open int64
	for d := range days {
		if d < period.From.String() {
			open += days[d]
		}
	}
	for d := period.From; d.Before(period.To); d = d.AddDays(1) {
		open += days[d.String()]
		st.Backlog = append(st.Backlog, open)
	}
	scanRows(b, r.votes, args[:3], func(rows *sql.Rows) error {
		var kind string
		var n, sum, four, nine, six int64
		if err := rows.Scan(&kind, &n, &sum, &four, &nine, &six); err != nil {
			return err
		}
		if kind == "csat" {
			st.CSAT = analytics.CSAT{Responses: n, Average: float64(sum) / float64(n), Satisfied: four, SatisfiedShare: float64(four) / float64(n)}
		} else {
			st.NPS = analytics.NPS{Responses: n, Promoters: nine, Detractors: six, Passives: n - nine - six, Score: 100 * float64(nine-six) / float64(n)}
		}
		return nil
	})
	return rep
}
