package analytics

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// The queries of a service report: the counts and SLA outcomes per
// policy, the response and resolution times with their percentiles, the
// survey scores, and the policies' names; then the groups added up.

// serviceQuery runs the queries of one service report and gathers their
// figures per group.
type serviceQuery struct {
	q      store.Q
	tenant string
	// key is the SQL of the group of a ticket t ("''" without breakdown);
	// filter (" AND …" on t) and fargs narrow the tickets.
	key      string
	filter   string
	fargs    []any
	from, to time.Time
	now      time.Time
	points   int
	groups   map[string]*ServiceStats
	// sla holds the compliance per group and policy until total and
	// finish turn it into lists; times holds the totals' durations.
	sla   map[string]map[core.ID]*PolicyCompliance
	times [2]TimeStats
}

// groupBy is the GROUP BY list of the group and cols (PostgreSQL refuses
// the constant group of a report without breakdown in it).
func (k *serviceQuery) groupBy(cols ...string) string {
	if k.key != "''" {
		cols = append([]string{k.key}, cols...)
	}
	return strings.Join(cols, ", ")
}

func (k *serviceQuery) group(key string) *ServiceStats {
	st := k.groups[key]
	if st == nil {
		st = &ServiceStats{SLA: []PolicyCompliance{}, Backlog: make([]int64, k.points)}
		k.groups[key] = st
	}
	return st
}

// outcomes counts per group and policy the tickets created and solved in
// the period, and the SLA targets met and breached in it. A target is
// decided when it is met (its met time, at or before its due time) or
// breached: as the tickets module has it (Ticket.SLA), met late, or not
// met and past due at the reference time — now, or the start of the
// clock's current stop — and a breach is dated at the due time. Targets
// not yet decided count in neither.
func (k *serviceQuery) outcomes(ctx context.Context) error {
	d := k.q.D
	tp := d.TimeParam()
	in := func(col string) string { return col + " >= " + tp + " AND " + col + " < " + tp }
	// count counts the rows where cond holds (a BIGINT on both databases,
	// unlike a SUM).
	count := func(cond string) string { return "COUNT(CASE WHEN " + cond + " THEN 1 END)" }
	met := func(at, due string) string {
		return count(due + " IS NOT NULL AND " + at + " <= " + due + " AND " + in(at))
	}
	breached := func(at, due string) string {
		return count(due + " IS NOT NULL AND COALESCE(" + at + ", t.paused_since, " + tp + ") > " + due + " AND " + in(due))
	}
	merged := "t.merged_into_id IS NULL AND "
	query := `SELECT ` + k.key + `, t.sla_policy_id,
		` + count(in("t.created_at")) + `,
		` + count(merged+in("t.solved_at")) + `,
		` + met("t.first_response_at", "t.first_response_due") + `,
		` + breached("t.first_response_at", "t.first_response_due") + `,
		` + count(merged+"t.resolution_due IS NOT NULL AND t.solved_at <= t.resolution_due AND "+in("t.solved_at")) + `,
		` + count(merged+"t.resolution_due IS NOT NULL AND COALESCE(t.solved_at, t.paused_since, "+tp+") > t.resolution_due AND "+in("t.resolution_due")) + `
		FROM crm_tickets t WHERE t.tenant_id = ? AND t.created_at < ` + tp + k.filter + `
		GROUP BY ` + k.groupBy("t.sla_policy_id")
	f, to, now := k.from, k.to, k.now
	args := []any{f, to, f, to, f, to, now, f, to, f, to, now, f, to, k.tenant, to}
	rows, err := k.q.Query(ctx, query, append(args, k.fargs...)...)
	if err != nil {
		return err
	}
	k.sla = map[string]map[core.ID]*PolicyCompliance{}
	return store.EachRow(rows, func(r store.Scanner) error {
		var key string
		var policy uuid.NullUUID
		var created, solved, frMet, frBreached, resMet, resBreached int64
		if err := r.Scan(&key, &policy, &created, &solved, &frMet, &frBreached, &resMet, &resBreached); err != nil {
			return err
		}
		decided := frMet + frBreached + resMet + resBreached
		if created+solved+decided == 0 {
			return nil // groups without figures are left out
		}
		st := k.group(key)
		st.Created += created
		st.Solved += solved
		if !policy.Valid || decided == 0 {
			return nil
		}
		if k.sla[key] == nil {
			k.sla[key] = map[core.ID]*PolicyCompliance{}
		}
		pc := k.sla[key][policy.UUID]
		if pc == nil {
			pc = &PolicyCompliance{PolicyID: policy.UUID}
			k.sla[key][policy.UUID] = pc
		}
		pc.FirstResponse.Met += frMet
		pc.FirstResponse.Breached += frBreached
		pc.Resolution.Met += resMet
		pc.Resolution.Breached += resBreached
		return nil
	})
}

// endOfTime is later than any time a ticket holds.
var endOfTime = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// notMerged keeps the tickets that are no duplicates closed by a merge,
// written so that no index serves it: SQLite's statistics count each NULL
// of crm_tickets_merged as a value of its own, so it would take
// "merged_into_id IS NULL" for a rare value and read nearly every ticket
// through that index, rather than a period's through crm_tickets_solved.
const notMerged = " AND (t.merged_into_id IS NULL) = TRUE"

// durations computes the first response and resolution times, per group
// and for all, with their percentiles in SQL: PostgreSQL's percentile_cont
// where the database has it (dialect.PercentileCont); elsewhere each
// duration's rank in its group (ROW_NUMBER) and the group's size (COUNT)
// as windows, then the two ranks around q·(n−1) picked with integer
// arithmetic and interpolated — the same quantile.
func (k *serviceQuery) durations(ctx context.Context) error {
	d := k.q.D
	tp := d.TimeParam()
	sel := func(m, at, extra string) string {
		return `SELECT ` + k.key + ` AS k, ` + m + ` AS m, ` + d.SecondsBetween("t.created_at", at) + ` AS s FROM crm_tickets t
			WHERE t.tenant_id = ? AND t.created_at < ` + tp + ` AND ` + at + ` >= ` + tp + ` AND ` + at + ` < ` + tp + extra + k.filter
	}
	// percentiles aggregates the ranks i within groups of size n.
	percentiles := func(i, n string) string {
		return `MAX(` + n + `) AS n, SUM(s) AS sum_s,
			SUM(CASE WHEN ` + i + ` = (` + n + ` - 1) / 2 THEN s END) AS lo50,
			SUM(CASE WHEN ` + i + ` = (` + n + ` - 1) / 2 + 1 THEN s END) AS hi50,
			SUM(CASE WHEN ` + i + ` = 9 * (` + n + ` - 1) / 10 THEN s END) AS lo90,
			SUM(CASE WHEN ` + i + ` = 9 * (` + n + ` - 1) / 10 + 1 THEN s END) AS hi90`
	}
	groups, ranks := "", ""
	if k.key != "''" {
		groups = ` UNION ALL SELECT 0, k, m, ` + percentiles("gi", "gn") + ` FROM r GROUP BY k, m`
		ranks = `,
			ROW_NUMBER() OVER (PARTITION BY k, m ORDER BY s) - 1 AS gi, COUNT(*) OVER (PARTITION BY k, m) AS gn`
	}
	query := `WITH x AS (` + sel("0", "t.first_response_at", "") + `
		UNION ALL ` + sel("1", "t.solved_at", notMerged) + `
	), r AS (
		SELECT k, m, s,
			ROW_NUMBER() OVER (PARTITION BY m ORDER BY s) - 1 AS i, COUNT(*) OVER (PARTITION BY m) AS n` + ranks + `
		FROM x
	), a AS (
		SELECT 1 AS every, '' AS k, m, ` + percentiles("i", "n") + ` FROM r GROUP BY m` + groups + `
	)
	SELECT every, k, m, n, sum_s / n,
		lo50 + (COALESCE(hi50, lo50) - lo50) * CAST((n - 1) % 2 AS DOUBLE PRECISION) / 2,
		lo90 + (COALESCE(hi90, lo90) - lo90) * CAST(9 * (n - 1) % 10 AS DOUBLE PRECISION) / 10
	FROM a`
	if p50, ok := d.PercentileCont(0.5, "s"); ok {
		// The database's own percentile aggregate, where it has one.
		p90, _ := d.PercentileCont(0.9, "s")
		agg := `COUNT(*), AVG(s), ` + p50 + `, ` + p90
		groups := ""
		if k.key != "''" {
			groups = ` UNION ALL SELECT 0, k, m, ` + agg + ` FROM x GROUP BY k, m`
		}
		query = `WITH x AS (` + sel("0", "t.first_response_at", "") + `
			UNION ALL ` + sel("1", "t.solved_at", notMerged) + `
		) SELECT 1, '', m, ` + agg + ` FROM x GROUP BY m` + groups
	}
	args := []any{}
	for range 2 {
		args = append(append(args, k.tenant, k.to, k.from, k.to), k.fargs...)
	}
	rows, err := k.q.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	return store.EachRow(rows, func(r store.Scanner) error {
		var all, m, n int64
		var key string
		var mean, p50, p90 float64
		if err := r.Scan(&all, &key, &m, &n, &mean, &p50, &p90); err != nil {
			return err
		}
		ts := TimeStats{Count: n, MeanMinutes: finite(mean / 60), P50Minutes: finite(p50 / 60), P90Minutes: finite(p90 / 60)}
		if all == 1 {
			k.times[m] = ts
			return nil
		}
		st := k.group(key)
		if m == 0 {
			st.FirstResponse = ts
		} else {
			st.Resolution = ts
		}
		return nil
	})
}

// surveys sums the survey answers given in the period, per group and
// kind.
func (k *serviceQuery) surveys(ctx context.Context) error {
	d := k.q.D
	tp := d.TimeParam()
	count := func(cond string) string { return "COUNT(CASE WHEN " + cond + " THEN 1 END)" }
	// The ticket of an answer is read only to narrow or group by it.
	join := ""
	if k.filter != "" || k.key != "''" {
		join = " JOIN crm_tickets t ON t.tenant_id = s.tenant_id AND t.id = s.ticket_id"
	}
	query := `SELECT ` + k.key + `, s.kind, COUNT(*), ` + d.SumInt("s.score") + `, ` + count("s.score >= 4") + `, ` +
		count("s.score >= 9") + `, ` + count("s.score <= 6") + `
		FROM crm_ticket_surveys s` + join + `
		WHERE s.tenant_id = ? AND s.answered_at >= ` + tp + ` AND s.answered_at < ` + tp + ` AND s.score IS NOT NULL` + k.filter + `
		GROUP BY ` + k.groupBy("s.kind")
	rows, err := k.q.Query(ctx, query, append([]any{k.tenant, k.from, k.to}, k.fargs...)...)
	if err != nil {
		return err
	}
	return store.EachRow(rows, func(r store.Scanner) error {
		var key, kind string
		var n, sum, four, nine, six int64
		if err := r.Scan(&key, &kind, &n, &sum, &four, &nine, &six); err != nil {
			return err
		}
		st := k.group(key)
		switch kind {
		case "csat":
			st.CSAT.Responses += n
			st.CSAT.Satisfied += four
			st.CSAT.Average += float64(sum) // divided in finish
		case "nps":
			st.NPS.Responses += n
			st.NPS.Promoters += nine
			st.NPS.Detractors += six
		}
		return nil
	})
}

// total adds the groups up into the report's total (the durations, which
// do not add, come from their own rows) and gives each group its SLA
// list.
func (k *serviceQuery) total() ServiceStats {
	t := ServiceStats{SLA: []PolicyCompliance{}, Backlog: make([]int64, k.points)}
	all := map[core.ID]*PolicyCompliance{}
	for _, key := range sortedKeys(k.groups) {
		st := k.groups[key]
		t.Created += st.Created
		t.Solved += st.Solved
		t.CSAT.Responses += st.CSAT.Responses
		t.CSAT.Satisfied += st.CSAT.Satisfied
		t.CSAT.Average += st.CSAT.Average
		t.NPS.Responses += st.NPS.Responses
		t.NPS.Promoters += st.NPS.Promoters
		t.NPS.Detractors += st.NPS.Detractors
		for i, n := range st.Backlog {
			t.Backlog[i] += n
		}
		for id, pc := range k.sla[key] {
			st.SLA = append(st.SLA, *pc)
			a := all[id]
			if a == nil {
				a = &PolicyCompliance{PolicyID: id}
				all[id] = a
			}
			a.FirstResponse.Met += pc.FirstResponse.Met
			a.FirstResponse.Breached += pc.FirstResponse.Breached
			a.Resolution.Met += pc.Resolution.Met
			a.Resolution.Breached += pc.Resolution.Breached
		}
	}
	for _, pc := range all {
		t.SLA = append(t.SLA, *pc)
	}
	t.FirstResponse, t.Resolution = k.times[0], k.times[1]
	t.finish()
	return t
}

// policyNames names the policies of the report's SLA lists and sorts
// them by name, then id.
func (k *serviceQuery) policyNames(ctx context.Context, rep *ServiceReport) error {
	lists := []*[]PolicyCompliance{&rep.Total.SLA}
	for i := range rep.Groups {
		lists = append(lists, &rep.Groups[i].Stats.SLA)
	}
	if len(rep.Total.SLA) > 0 {
		rows, err := k.q.Query(ctx, `SELECT p.id, p.name FROM crm_sla_policies p WHERE p.tenant_id = ?`, k.tenant)
		if err != nil {
			return err
		}
		names := map[core.ID]string{}
		if err := store.EachRow(rows, func(r store.Scanner) error {
			var id core.ID
			var name string
			err := r.Scan(&id, &name)
			names[id] = name
			return err
		}); err != nil {
			return err
		}
		for _, l := range lists {
			for i := range *l {
				(*l)[i].Name = names[(*l)[i].PolicyID]
			}
		}
	}
	for _, l := range lists {
		sort.Slice(*l, func(i, j int) bool {
			a, b := (*l)[i], (*l)[j]
			if a.Name != b.Name {
				return a.Name < b.Name
			}
			return a.PolicyID.String() < b.PolicyID.String()
		})
	}
	return nil
}
