package analytics

import (
	"context"
	"strconv"
	"time"

	"github.com/crmkit/crmkit/internal/store"
	"github.com/crmkit/crmkit/tickets"
)

// The backlog of a service report: the tickets open at the end of each
// day (or week) of the period.

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
