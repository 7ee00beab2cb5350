package analytics

import (
	"context"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
	"github.com/crmkit/crmkit/tickets"
)

// MaxBacklogPoints bounds the backlog points of a service report: a
// period of more days (or weeks, by week) is core.ErrInvalid.
const MaxBacklogPoints = 1000

// BacklogInterval is how a service report samples its backlog.
type BacklogInterval string

// Backlog intervals.
const (
	// BacklogDay measures the backlog at the end of each day.
	BacklogDay BacklogInterval = "day"
	// BacklogWeek measures it at the end of each week (Monday to Sunday;
	// the period's first and last weeks may be shorter).
	BacklogWeek BacklogInterval = "week"
)

// ServiceBreakdown names the ticket field a service report is broken
// down by.
type ServiceBreakdown string

// Service report breakdowns: each group is the tickets with one value of
// the field, as the ticket holds it now.
const (
	ByTeam     ServiceBreakdown = "team"
	ByPriority ServiceBreakdown = "priority"
	ByChannel  ServiceBreakdown = "channel"
	ByAssignee ServiceBreakdown = "assignee"
)

// breakdownColumns are the columns of crm_tickets (aliased t) behind the
// breakdowns.
var breakdownColumns = map[ServiceBreakdown]string{ByTeam: "t.team", ByPriority: "t.priority", ByChannel: "t.channel", ByAssignee: "t.assignee_id"}

// ServiceOptions select the tickets of ServiceLevels.
type ServiceOptions struct {
	// Period (both ends required) is days in Location: local midnight of
	// From to local midnight of To.
	Period Period
	// Location is the time zone of the period's days and of the backlog's
	// days and weeks; default UTC.
	Location *time.Location
	// TeamID narrows the report to the tickets of one access team (the
	// tickets module keeps a ticket's team by name: those filed under the
	// team's current name). Zero: every ticket.
	TeamID core.ID
	// By breaks the report down by a ticket field as well (its Groups);
	// empty: the totals only.
	By ServiceBreakdown
	// Interval samples the backlog: BacklogDay (default) or BacklogWeek.
	Interval BacklogInterval
}

// ServiceReport is the service desk's KPIs over a period: SLA compliance,
// response and resolution times, backlog, CSAT and NPS.
type ServiceReport struct {
	Period   Period          `json:"period"`
	Location string          `json:"location"`
	Interval BacklogInterval `json:"interval"`
	// Team is the name of the team the report is narrowed to, if any.
	Team string `json:"team,omitempty"`
	// By is the breakdown of Groups, if any.
	By ServiceBreakdown `json:"by,omitempty"`
	// Backlog lists the instants the backlog is measured at, one per day
	// or week of the period (see ServiceStats.Backlog).
	Backlog []BacklogPoint `json:"backlog"`
	// Total are the figures of every ticket the report covers.
	Total ServiceStats `json:"total"`
	// Groups has the figures per value of the breakdown field, by value
	// (nil without a breakdown; values without any figure are left out).
	Groups []ServiceGroup `json:"groups,omitempty"`
}

// BacklogPoint is when a backlog figure is measured: the end of Day (the
// last day of its week, by week), local midnight in the report's time
// zone, or now for a day or week not over yet (the points after it, and
// all of a period that has not begun, are left out).
type BacklogPoint struct {
	Day core.Date `json:"day"`
	At  time.Time `json:"at"`
}

// ServiceGroup is the figures of one value of the breakdown field ("" for
// tickets without one: no team, no assignee).
type ServiceGroup struct {
	Key   string       `json:"key"`
	Stats ServiceStats `json:"stats"`
}

// ServiceStats are the service figures of a set of tickets.
type ServiceStats struct {
	// Created counts the tickets created in the period; Solved those
	// solved (or closed) in it, by the time of their latest resolution,
	// duplicates closed by a merge left out.
	Created int64 `json:"created"`
	Solved  int64 `json:"solved"`
	// FirstResponse is the time from creation to the first public agent
	// reply of the tickets first answered in the period; Resolution the
	// time from creation to resolution of those Solved. Wall-clock time:
	// see the package doc.
	FirstResponse TimeStats `json:"first_response"`
	Resolution    TimeStats `json:"resolution"`
	// FirstResponseSLA and ResolutionSLA are the compliance over every
	// policy; SLA has it per policy (by name, then id).
	FirstResponseSLA Compliance         `json:"first_response_sla"`
	ResolutionSLA    Compliance         `json:"resolution_sla"`
	SLA              []PolicyCompliance `json:"sla"`
	// CSAT and NPS summarise the survey answers given in the period.
	CSAT CSAT `json:"csat"`
	NPS  NPS  `json:"nps"`
	// Backlog[i] counts the tickets open (not solved or closed; pending
	// and on hold included) at ServiceReport.Backlog[i].At.
	Backlog []int64 `json:"backlog"`
}

// TimeStats summarise durations: how many, their mean and their 50th and
// 90th percentiles (linear interpolation between closest ranks), in
// minutes; zeros when there are none.
type TimeStats struct {
	Count       int64   `json:"count"`
	MeanMinutes float64 `json:"mean_minutes"`
	P50Minutes  float64 `json:"p50_minutes"`
	P90Minutes  float64 `json:"p90_minutes"`
}

// PolicyCompliance is the SLA compliance of the tickets under one policy.
type PolicyCompliance struct {
	PolicyID core.ID `json:"policy_id"`
	// Name is the policy's name ("" when it was deleted since).
	Name          string     `json:"name"`
	FirstResponse Compliance `json:"first_response"`
	Resolution    Compliance `json:"resolution"`
}

// Compliance counts the SLA targets decided in the period: met (at the
// time they were met) and breached (at their due time); Rate is
// Met / (Met + Breached), 0 when none was decided.
type Compliance struct {
	Met      int64   `json:"met"`
	Breached int64   `json:"breached"`
	Rate     float64 `json:"rate"`
}

// CSAT summarises the CSAT answers (1–5): their average, and how many
// (and which share) were satisfied, 4 or 5.
type CSAT struct {
	Responses      int64   `json:"responses"`
	Average        float64 `json:"average"`
	Satisfied      int64   `json:"satisfied"`
	SatisfiedShare float64 `json:"satisfied_share"`
}

// NPS summarises the NPS answers (0–10): promoters 9–10, passives 7–8,
// detractors 0–6; Score is the share of promoters minus that of
// detractors, in points (−100 to 100).
type NPS struct {
	Responses  int64   `json:"responses"`
	Promoters  int64   `json:"promoters"`
	Passives   int64   `json:"passives"`
	Detractors int64   `json:"detractors"`
	Score      float64 `json:"score"`
}

// ServiceLevels computes the service desk's KPIs over the period from the
// tickets module's tables, on both databases, in four SQL queries: the
// counts and SLA outcomes per policy; the response and resolution times
// with their percentiles; the backlog; the survey scores (and one for the
// policies' names). Go adds the groups up and divides. The package doc
// ("Service levels") defines each figure.
func (s *Service) ServiceLevels(ctx context.Context, o ServiceOptions) (_ *ServiceReport, err error) {
	ctx, span := s.sc.Span(ctx, "analytics.ServiceLevels")
	defer span.End(&err)

	g, err := s.guard(ctx)
	if err != nil {
		return nil, err
	}
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	v := &core.ValidationError{}
	o.Period.checkRequired(v)
	loc := o.Location
	if loc == nil {
		loc = time.UTC
	}
	switch o.Interval {
	case "":
		o.Interval = BacklogDay
	case BacklogDay, BacklogWeek:
	default:
		v.Add("interval", "%q is not one of day, week", o.Interval)
	}
	key := "''"
	if o.By != "" {
		col, ok := breakdownColumns[o.By]
		if !ok {
			v.Add("by", "%q is not one of team, priority, channel, assignee", o.By)
		}
		key = col
	}
	now := s.sc.Runtime().Now()
	var points []BacklogPoint
	if len(v.Fields) == 0 {
		if points = backlogPoints(o.Period, loc, o.Interval, now); len(points) > MaxBacklogPoints {
			v.Add("period", "has more than %d backlog points (%ss)", MaxBacklogPoints, o.Interval)
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	q := s.sc.Q().PlanPerCall()
	rep := &ServiceReport{Period: o.Period, Location: loc.String(), Interval: o.Interval, By: o.By, Backlog: points}
	filter, fargs, err := s.ticketsSeen(ctx, g, "t")
	if err != nil {
		return nil, err
	}
	if o.TeamID != core.NilID {
		team, err := access.Module.Team(ctx, q, tenant, o.TeamID)
		if err != nil {
			return nil, err
		}
		rep.Team = team.Name
		filter, fargs = " AND t.team = ?"+filter, append([]any{team.Name}, fargs...)
	}
	k := &serviceQuery{q: q, tenant: tenant, key: key, filter: filter, fargs: fargs,
		from: time.Date(o.Period.From.Year, o.Period.From.Month, o.Period.From.Day, 0, 0, 0, 0, loc),
		to:   time.Date(o.Period.To.Year, o.Period.To.Month, o.Period.To.Day, 0, 0, 0, 0, loc),
		now:  now, groups: map[string]*ServiceStats{}, points: len(points)}
	for _, step := range []func(context.Context) error{k.outcomes, k.durations, k.surveys} {
		if err := step(ctx); err != nil {
			return nil, store.Wrap(err, "service report")
		}
	}
	if len(points) > 0 {
		if err := k.backlog(ctx, points); err != nil {
			return nil, store.Wrap(err, "service report")
		}
	}
	rep.Total = k.total()
	if o.By != "" {
		rep.Groups = []ServiceGroup{}
		for _, key := range sortedKeys(k.groups) {
			st := k.groups[key]
			st.finish()
			rep.Groups = append(rep.Groups, ServiceGroup{Key: key, Stats: *st})
		}
	}
	if err := k.policyNames(ctx, rep); err != nil {
		return nil, store.Wrap(err, "service report")
	}
	return rep, nil
}

// backlogPoints are the ends of the period's days (or weeks) in loc, each
// local midnight built with time.Date (exact across daylight-saving
// changes); the first end after now is measured at now, and the rest (the
// days not begun) are left out.
func backlogPoints(p Period, loc *time.Location, interval BacklogInterval, now time.Time) []BacklogPoint {
	out := []BacklogPoint{}
	for d := p.From; d.Before(p.To) && !time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc).After(now); {
		end := d.AddDays(1)
		if interval == BacklogWeek {
			for end.Before(p.To) && end.Time().Weekday() != time.Monday {
				end = end.AddDays(1)
			}
		}
		at := time.Date(end.Year, end.Month, end.Day, 0, 0, 0, 0, loc)
		last := at.After(now)
		if last {
			at = now
		}
		out = append(out, BacklogPoint{Day: end.AddDays(-1), At: at.UTC()})
		if last || len(out) > MaxBacklogPoints {
			break
		}
		d = end
	}
	return out
}

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

// backlog counts the tickets open at each point: created before it, and
// not resolved at it by the ticket's status history. The tickets module
// keeps a ticket's latest resolution (solved_at; none while it is open)
// and records every change of status as a "ticket.status_changed" event
// (from, to) in crm_events. A ticket is open from its creation to its
// latest resolution, less the stretches it was resolved before: each
// reopening (an event from solved or closed to another status) ends one,
// which began at the latest resolution before it (an event to solved or
// closed from another status). So the tickets open at a point are those
// created before it, less those resolved (latest) before it, less the
// stretches begun before it, plus those ended before it. One query
// counts each of these per point interval (each time before the first
// point by one comparison, each later one placed among the points by a
// CASE that halves them at each level: log₂ comparisons), and Go adds
// them up. A reopening before the first point changes no count, so only
// the tickets resolved after it, or not resolved and changed after it,
// are looked up among the events, by the index on (tenant_id,
// subject_id, occurred_at). A reopening whose resolution the history
// lacks (events emptied by an erasure, or tickets written without their
// history) leaves the ticket open through that stretch, as without
// history.
func (k *serviceQuery) backlog(ctx context.Context, points []BacklogPoint) error {
	d := k.q.D
	tp := d.TimeParam()
	var args []any
	var bucket func(col string, lo, hi int) string
	bucket = func(col string, lo, hi int) string {
		if lo == hi {
			return strconv.Itoa(lo)
		}
		mid := (lo + hi) / 2
		args = append(args, points[mid].At)
		left := bucket(col, lo, mid)
		return "CASE WHEN " + col + " < " + tp + " THEN " + left + " ELSE " + bucket(col, mid+1, hi) + " END"
	}
	first, last := points[0].At, points[len(points)-1].At
	// place is the bucket of the time col: most times lie before the
	// first point (the history before the period), which one comparison
	// settles.
	place := func(col string) string {
		if len(points) == 1 {
			return "0"
		}
		args = append(args, first)
		return "CASE WHEN " + col + " < " + tp + " THEN 0 ELSE " + bucket(col, 1, len(points)-1) + " END"
	}
	resolved := func(e, key string) string { return d.JSONText(e+".data", key) + " IN ('solved', 'closed')" }
	unresolved := func(e, key string) string { return d.JSONText(e+".data", key) + " NOT IN ('solved', 'closed')" }
	// The reopenings after the first point of the tickets seen, each with
	// the resolution it ends (r) and its own time (o), from the tickets
	// that may have one: those not resolved and changed since the first
	// point (the tickets module stamps updated_at with every change of a
	// ticket, its events with the same time), and those resolved since,
	// whose reopenings lie before their latest resolution. Both are ranges
	// of crm_tickets_solved, and each ticket's events from the first point
	// to its latest resolution a range of crm_events_subject_time: the
	// event rows read are those of the tickets changed in that time, not
	// the tenant's every status event (CROSS JOIN keeps SQLite's join in
	// this order; the CTE is MATERIALIZED, else SQLite computes it, and r,
	// anew at each use).
	candidates := func(cond string) string {
		args = append(append(args, k.tenant, last), k.fargs...)
		args = append(args, first)
		return `SELECT ` + k.key + ` AS k, t.tenant_id, t.id, t.solved_at FROM crm_tickets t
				WHERE t.tenant_id = ? AND t.created_at < ` + tp + k.filter + ` AND ` + cond
	}
	reopened := `WITH ro AS MATERIALIZED (
		SELECT c.k, e.occurred_at AS o, (SELECT MAX(s.occurred_at) FROM crm_events s
				WHERE s.tenant_id = e.tenant_id AND s.subject_id = e.subject_id AND s.occurred_at <= e.occurred_at
					AND (s.occurred_at < e.occurred_at OR s.id < e.id) AND s.type = '` + tickets.EventTicketStatusChanged + `'
					AND ` + resolved("s", "to") + ` AND ` + unresolved("s", "from") + `) AS r
		FROM (` + candidates("t.solved_at IS NULL AND t.updated_at >= "+tp) + `
			UNION ALL ` + candidates("t.solved_at >= "+tp) + `) c
		CROSS JOIN crm_events e
		WHERE e.tenant_id = c.tenant_id AND e.subject_id = c.id AND e.occurred_at >= ` + tp + ` AND e.occurred_at < COALESCE(c.solved_at, ` + tp + `)
			AND e.type = '` + tickets.EventTicketStatusChanged + `' AND ` + resolved("e", "from") + ` AND ` + unresolved("e", "to") + `
	) `
	args = append(args, first, endOfTime)
	// part counts the times col before the first point in one group per
	// key (no CASE, no sort: most tickets lie there), and places the rest
	// up to the last point among the points.
	part := func(col, sign string) string {
		args = append(append(args, k.tenant, first), k.fargs...)
		q := `SELECT ` + k.key + ` AS k, 0 AS b, ` + sign + `COUNT(*) FROM crm_tickets t
			WHERE t.tenant_id = ? AND ` + col + ` < ` + tp + k.filter
		if k.key != "''" {
			q += ` GROUP BY ` + k.key
		}
		if len(points) == 1 {
			return q
		}
		b := bucket(col, 1, len(points)-1)
		args = append(append(args, k.tenant, first, last), k.fargs...)
		return q + ` UNION ALL SELECT ` + k.key + ` AS k, ` + b + ` AS b, ` + sign + `COUNT(*) FROM crm_tickets t
			WHERE t.tenant_id = ? AND ` + col + ` >= ` + tp + ` AND ` + col + ` < ` + tp + k.filter + ` GROUP BY ` + k.groupBy("b")
	}
	stretch := func(col, sign string) string {
		b := place(col)
		args = append(args, last)
		return `SELECT k, ` + b + ` AS b, ` + sign + `COUNT(*) FROM ro WHERE r IS NOT NULL AND ` + col + ` < ` + tp + ` GROUP BY k, b`
	}
	query := reopened + part("t.created_at", "") + ` UNION ALL ` + part("t.solved_at", "-") +
		` UNION ALL ` + stretch("r", "-") + ` UNION ALL ` + stretch("o", "")
	rows, err := k.q.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	deltas := map[string][]int64{}
	if err := store.EachRow(rows, func(r store.Scanner) error {
		var key string
		var b, n int64
		if err := r.Scan(&key, &b, &n); err != nil {
			return err
		}
		if deltas[key] == nil {
			deltas[key] = make([]int64, len(points))
		}
		deltas[key][b] += n
		return nil
	}); err != nil {
		return err
	}
	for key, ds := range deltas {
		var open int64
		var st *ServiceStats
		for i, n := range ds {
			if open += n; open != 0 && st == nil {
				st = k.group(key)
			}
			if st != nil {
				st.Backlog[i] = open
			}
		}
	}
	return nil
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

// finish computes the rates and averages of st from its counts and sums.
func (st *ServiceStats) finish() {
	st.FirstResponseSLA, st.ResolutionSLA = Compliance{}, Compliance{}
	for i := range st.SLA {
		pc := &st.SLA[i]
		pc.FirstResponse.rate()
		pc.Resolution.rate()
		st.FirstResponseSLA.Met += pc.FirstResponse.Met
		st.FirstResponseSLA.Breached += pc.FirstResponse.Breached
		st.ResolutionSLA.Met += pc.Resolution.Met
		st.ResolutionSLA.Breached += pc.Resolution.Breached
	}
	st.FirstResponseSLA.rate()
	st.ResolutionSLA.rate()
	if c := &st.CSAT; c.Responses > 0 {
		c.Average = finite(c.Average / float64(c.Responses))
		c.SatisfiedShare = finite(float64(c.Satisfied) / float64(c.Responses))
	} else {
		c.Average = 0
	}
	if n := &st.NPS; n.Responses > 0 {
		n.Passives = n.Responses - n.Promoters - n.Detractors
		n.Score = finite(100 * float64(n.Promoters-n.Detractors) / float64(n.Responses))
	}
}

func (c *Compliance) rate() {
	c.Rate = 0
	if n := c.Met + c.Breached; n > 0 {
		c.Rate = finite(float64(c.Met) / float64(n))
	}
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

// ticketsSeen narrows a query over crm_tickets aliased alias to the
// tickets the actor sees, by the tickets module's own condition
// (tickets.Module.Narrow): assigned to the actor (own); assigned to a
// member of one of the actor's teams, or filed under one of those teams
// by name (team); all; none without "tickets" read. It is " AND …" with
// its arguments, or "".
func (s *Service) ticketsSeen(ctx context.Context, g *guard, alias string) (string, []any, error) {
	cond, args, err := tickets.Module.Narrow(ctx, s.sc, g.eff, alias)
	if err != nil {
		return "", nil, err
	}
	cond, args = and(cond, args)
	return cond, args, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// WriteCSV writes one row per figure: group ("(all)" for the total, then
// each group's key), metric, day (backlog rows: the last day of the
// point), policy_id and policy (SLA rows of one policy; empty on the
// rows over every policy) and value. Metrics: created, solved,
// first_response_{count,mean_minutes,p50_minutes,p90_minutes}, the same
// for resolution, sla_first_response_{met,breached,rate}, the same for
// sla_resolution, csat_{responses,average,satisfied,satisfied_share},
// nps_{responses,promoters,passives,detractors,score}, backlog.
func (r *ServiceReport) WriteCSV(w io.Writer) error {
	return table(w, []string{"group", "metric", "day", "policy_id", "policy", "value"}, func(add func(...string) error) error {
		write := func(group string, st *ServiceStats) error {
			var err error
			put := func(metric, day, policyID, policy, value string) {
				if err == nil {
					err = add(group, metric, day, policyID, policy, value)
				}
			}
			put("created", "", "", "", itoa64(st.Created))
			put("solved", "", "", "", itoa64(st.Solved))
			for _, x := range []struct {
				name string
				t    TimeStats
			}{{"first_response", st.FirstResponse}, {"resolution", st.Resolution}} {
				put(x.name+"_count", "", "", "", itoa64(x.t.Count))
				put(x.name+"_mean_minutes", "", "", "", ftoa(x.t.MeanMinutes))
				put(x.name+"_p50_minutes", "", "", "", ftoa(x.t.P50Minutes))
				put(x.name+"_p90_minutes", "", "", "", ftoa(x.t.P90Minutes))
			}
			compliance := func(target, id, name string, c Compliance) {
				put("sla_"+target+"_met", "", id, name, itoa64(c.Met))
				put("sla_"+target+"_breached", "", id, name, itoa64(c.Breached))
				put("sla_"+target+"_rate", "", id, name, ftoa(c.Rate))
			}
			compliance("first_response", "", "", st.FirstResponseSLA)
			compliance("resolution", "", "", st.ResolutionSLA)
			for _, pc := range st.SLA {
				compliance("first_response", pc.PolicyID.String(), pc.Name, pc.FirstResponse)
				compliance("resolution", pc.PolicyID.String(), pc.Name, pc.Resolution)
			}
			put("csat_responses", "", "", "", itoa64(st.CSAT.Responses))
			put("csat_average", "", "", "", ftoa(st.CSAT.Average))
			put("csat_satisfied", "", "", "", itoa64(st.CSAT.Satisfied))
			put("csat_satisfied_share", "", "", "", ftoa(st.CSAT.SatisfiedShare))
			put("nps_responses", "", "", "", itoa64(st.NPS.Responses))
			put("nps_promoters", "", "", "", itoa64(st.NPS.Promoters))
			put("nps_passives", "", "", "", itoa64(st.NPS.Passives))
			put("nps_detractors", "", "", "", itoa64(st.NPS.Detractors))
			put("nps_score", "", "", "", ftoa(st.NPS.Score))
			for i, n := range st.Backlog {
				put("backlog", r.Backlog[i].Day.String(), "", "", itoa64(n))
			}
			return err
		}
		if err := write("(all)", &r.Total); err != nil {
			return err
		}
		for i := range r.Groups {
			if err := write(r.Groups[i].Key, &r.Groups[i].Stats); err != nil {
				return err
			}
		}
		return nil
	})
}
