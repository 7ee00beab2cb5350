package analytics_test

import (
	"context"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/analytics"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/store"
	"github.com/crmkit/crmkit/tickets"
)

// The ticket rows a service test loads, kept in memory for the reference.
type (
	policyRow struct {
		id   core.ID
		name string
	}
	ticketRow struct {
		id                                core.ID
		number                            int64
		status                            tickets.Status
		priority                          tickets.Priority
		channel                           tickets.Channel
		team, assignee                    string
		policy                            *core.ID
		created                           time.Time
		firstResponseAt, firstResponseDue *time.Time
		resolutionDue, solvedAt           *time.Time
		pausedSince                       *time.Time
		mergedInto                        *core.ID
		// reopened are the stretches the ticket was resolved before its
		// latest resolution (or before now, when open): resolved at [0],
		// reopened at [1].
		reopened [][2]time.Time
	}
	surveyRow struct {
		id       core.ID
		ticket   core.ID
		kind     string
		issued   time.Time
		answered *time.Time
		score    *int64
	}
	serviceData struct {
		policies []policyRow
		tickets  []ticketRow
		surveys  []surveyRow
	}
)

var (
	ticketTeams     = []string{"", "red", "blue", "green", "gone"}
	ticketAssignees = []string{"", "u0", "u1", "u2", "u3", "u4", "x"}
)

// updated is the time of t's latest change, as the tickets module stamps
// it.
func (t ticketRow) updated() time.Time {
	at := t.created
	for _, x := range []*time.Time{t.firstResponseAt, t.solvedAt, t.pausedSince} {
		if x != nil && x.After(at) {
			at = *x
		}
	}
	for _, st := range t.reopened {
		if st[1].After(at) {
			at = st[1]
		}
	}
	return at
}

// randomService makes random tickets over the first half of 2026 (up to
// the tests' clock), consistent as the tickets module keeps them: a
// resolved ticket has its resolution time and its clock stopped then, a
// pending or on-hold one a stopped clock, due times and replies after
// creation, merged duplicates closed; and survey answers of resolved
// tickets, some left unanswered.
func randomService(rng *rand.Rand, n int) *serviceData {
	d := &serviceData{}
	for i := range 3 {
		d.policies = append(d.policies, policyRow{id: core.NewID(), name: fmt.Sprintf("policy-%d", 2-i)})
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	span := now.Sub(start)
	after := func(t time.Time, max time.Duration) time.Time {
		return t.Add(time.Duration(rng.Int64N(int64(max)))).Truncate(time.Millisecond)
	}
	for i := range n {
		t := ticketRow{id: core.NewID(), number: int64(i + 1), created: after(start, span),
			priority: tickets.Priorities[rng.IntN(len(tickets.Priorities))], channel: tickets.Channels[rng.IntN(len(tickets.Channels))],
			team: ticketTeams[rng.IntN(len(ticketTeams))], assignee: ticketAssignees[rng.IntN(len(ticketAssignees))]}
		if rng.IntN(5) > 0 {
			t.policy = &d.policies[rng.IntN(len(d.policies))].id
			if rng.IntN(4) > 0 {
				t.firstResponseDue = ptr(after(t.created, 72*time.Hour))
			}
			if rng.IntN(4) > 0 {
				t.resolutionDue = ptr(after(t.created, 10*24*time.Hour))
			}
		}
		if rng.IntN(10) < 7 {
			if at := after(t.created, 5*24*time.Hour); at.Before(now) {
				t.firstResponseAt = &at
			}
		}
		t.status = []tickets.Status{tickets.StatusNew, tickets.StatusOpen, tickets.StatusPending, tickets.StatusOnHold}[rng.IntN(4)]
		if rng.IntN(10) < 6 {
			if at := after(t.created, 20*24*time.Hour); at.Before(now) {
				t.solvedAt, t.pausedSince = &at, &at
				t.status = []tickets.Status{tickets.StatusSolved, tickets.StatusClosed}[rng.IntN(2)]
				if i > 0 && rng.IntN(12) == 0 {
					t.status, t.mergedInto = tickets.StatusClosed, &d.tickets[rng.IntN(i)].id
				}
			}
		}
		if t.status == tickets.StatusPending || t.status == tickets.StatusOnHold {
			t.pausedSince = ptr(after(t.created, now.Sub(t.created)))
		}
		if t.mergedInto == nil && rng.IntN(8) == 0 {
			// Solved and reopened once or twice before.
			end := now
			if t.solvedAt != nil {
				end = *t.solvedAt
			}
			for at := t.created; len(t.reopened) < 1+rng.IntN(2) && end.Sub(at) > 2*time.Millisecond; {
				r := after(at, end.Sub(at)/2)
				o := after(r, end.Sub(r)/2)
				if !r.After(at) || !o.After(r) {
					break
				}
				t.reopened = append(t.reopened, [2]time.Time{r, o})
				at = o
			}
		}
		d.tickets = append(d.tickets, t)
		if t.solvedAt == nil {
			continue
		}
		for _, kind := range []string{"csat", "nps"} {
			for range rng.IntN(3) {
				s := surveyRow{id: core.NewID(), ticket: t.id, kind: kind, issued: *t.solvedAt}
				if rng.IntN(5) > 0 {
					if at := after(*t.solvedAt, 4*24*time.Hour); at.Before(now) {
						s.answered = &at
						if kind == "csat" {
							s.score = ptr(int64(1 + rng.IntN(5)))
						} else {
							s.score = ptr(int64(rng.IntN(11)))
						}
					}
				}
				d.surveys = append(d.surveys, s)
			}
		}
	}
	return d
}

// loadService inserts d's rows into sc's tenant (a calendar for the
// policies included): the tickets that are no duplicates first, so that a
// merge refers to a stored ticket, then the surveys.
func loadService(t testing.TB, sc store.Scope, d *serviceData) {
	t.Helper()
	ctx := context.Background()
	tenant, err := sc.Tenant()
	require.NoError(t, err)
	err = sc.InTx(ctx, func(ctx context.Context, sc store.Scope) error {
		tx := sc.Tx()
		cal := core.NewID()
		if err := tx.InsertRows(ctx, "crm_sla_calendars", []string{"tenant_id", "id", "name", "time_zone", "windows", "holidays", "closures",
			"created_at", "updated_at", "version"}, [][]any{{tenant, cal, "Office", "UTC", "[]", "[]", "[]", now, now, 1}}); err != nil {
			return err
		}
		var rows [][]any
		for i, p := range d.policies {
			rows = append(rows, []any{tenant, p.id, p.name, i, "null", cal, 60, 0, 480, 0, now, now, 1})
		}
		if err := tx.InsertRows(ctx, "crm_sla_policies", []string{"tenant_id", "id", "name", "position", "condition", "calendar_id",
			"first_response_minutes", "next_response_minutes", "resolution_minutes", "warning_minutes", "created_at", "updated_at", "version"}, rows); err != nil {
			return err
		}
		cols := []string{"tenant_id", "id", "number", "subject", "channel", "status", "priority", "tags", "assignee_id", "team", "attributes",
			"merged_into_id", "sla_policy_id", "paused_since", "first_response_at", "first_response_due", "resolution_due", "solved_at",
			"sla_due", "created_at", "updated_at", "version"}
		for _, merged := range []bool{false, true} {
			rows = nil
			for _, tk := range d.tickets {
				if (tk.mergedInto != nil) != merged {
					continue
				}
				rows = append(rows, []any{tenant, tk.id, tk.number, "Help", string(tk.channel), string(tk.status), string(tk.priority), "[]",
					tk.assignee, tk.team, "{}", store.NullID(tk.mergedInto), store.NullID(tk.policy), tk.pausedSince, tk.firstResponseAt,
					tk.firstResponseDue, tk.resolutionDue, tk.solvedAt, time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), tk.created, tk.updated(), 1})
			}
			if err := insertChunks(ctx, tx, "crm_tickets", cols, rows); err != nil {
				return err
			}
		}
		// The status history the tickets module records: each
		// resolution and reopening, with a ticket in the payload as the
		// module writes it.
		rows = nil
		for _, tk := range d.tickets {
			change := func(at time.Time, from, to tickets.Status) {
				data := fmt.Sprintf(`{"ticket":{"id":%q,"number":%d,"subject":"Help","channel":%q,"status":%q,"priority":%q,"tags":[],`+
					`"assignee_id":%q,"team":%q,"attributes":{},"created_at":%q,"updated_at":%q,"version":2},"from":%q,"to":%q}`,
					tk.id, tk.number, tk.channel, to, tk.priority, tk.assignee, tk.team, tk.created.Format(time.RFC3339Nano), at.Format(time.RFC3339Nano), from, to)
				rows = append(rows, []any{tenant, core.NewID(), tickets.EventTicketStatusChanged, "ticket", tk.id, nil, "", at, data})
			}
			for _, st := range tk.reopened {
				change(st[0], tickets.StatusOpen, tickets.StatusSolved)
				change(st[1], tickets.StatusSolved, tickets.StatusOpen)
			}
			if tk.solvedAt != nil {
				change(*tk.solvedAt, tickets.StatusOpen, tk.status)
			}
		}
		return insertChunks(ctx, tx, "crm_events", []string{"tenant_id", "id", "type", "subject_type", "subject_id", "contact_id", "actor_id",
			"occurred_at", "data"}, rows)
	})
	require.NoError(t, err)
	// The planner learns of the tickets before the surveys' references to
	// them are checked (else PostgreSQL may check each by a scan).
	_, err = sc.Q().Exec(ctx, "ANALYZE crm_tickets")
	require.NoError(t, err)
	err = sc.InTx(ctx, func(ctx context.Context, sc store.Scope) error {
		var rows [][]any
		for _, s := range d.surveys {
			var score any
			if s.score != nil {
				score = *s.score
			}
			rows = append(rows, []any{tenant, s.id, s.ticket, s.kind, s.issued, s.issued.Add(14 * 24 * time.Hour), s.answered, score})
		}
		return insertChunks(ctx, sc.Tx(), "crm_ticket_surveys", []string{"tenant_id", "id", "ticket_id", "kind", "issued_at", "expires_at",
			"answered_at", "score"}, rows)
	})
	require.NoError(t, err)
}

// insertChunks inserts rows 50,000 at a time.
func insertChunks(ctx context.Context, tx *store.Tx, table string, cols []string, rows [][]any) error {
	for len(rows) > 0 {
		n := min(len(rows), 50_000)
		if err := tx.InsertRows(ctx, table, cols, rows[:n]); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// serviceReference computes the service report of d in memory, as the
// package doc defines it, for the tickets sees keeps.
func serviceReference(d *serviceData, o analytics.ServiceOptions, team string, at time.Time, sees func(ticketRow) bool) *analytics.ServiceReport {
	loc := o.Location
	if loc == nil {
		loc = time.UTC
	}
	if o.Interval == "" {
		o.Interval = analytics.BacklogDay
	}
	day := func(d core.Date) time.Time { return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc) }
	from, to := day(o.Period.From), day(o.Period.To)
	in := func(t *time.Time) bool { return t != nil && !t.Before(from) && t.Before(to) }
	var points []analytics.BacklogPoint
	for d := o.Period.From; d.Before(o.Period.To) && !day(d).After(at); {
		end := d.AddDays(1)
		for o.Interval == analytics.BacklogWeek && end.Before(o.Period.To) && end.Time().Weekday() != time.Monday {
			end = end.AddDays(1)
		}
		p := analytics.BacklogPoint{Day: end.AddDays(-1), At: day(end).UTC()}
		if p.At.After(at) {
			p.At = at
			points = append(points, p)
			break
		}
		points = append(points, p)
		d = end
	}
	if points == nil {
		points = []analytics.BacklogPoint{}
	}
	keyOf := func(t ticketRow) string {
		switch o.By {
		case analytics.ByTeam:
			return t.team
		case analytics.ByPriority:
			return string(t.priority)
		case analytics.ByChannel:
			return string(t.channel)
		case analytics.ByAssignee:
			return t.assignee
		}
		return ""
	}
	type acc struct {
		st        analytics.ServiceStats
		fr, res   []float64
		sla       map[core.ID]*analytics.PolicyCompliance
		csatSum   int64
		something bool
	}
	total := &acc{sla: map[core.ID]*analytics.PolicyCompliance{}}
	groups := map[string]*acc{}
	byID := map[core.ID]ticketRow{}
	names := map[core.ID]string{}
	for _, p := range d.policies {
		names[p.id] = p.name
	}
	for _, t := range d.tickets {
		byID[t.id] = t
	}
	visible := func(t ticketRow) bool { return sees(t) && (team == "" || t.team == team) }
	accs := func(t ticketRow) []*acc {
		out := []*acc{total}
		if o.By != "" {
			k := keyOf(t)
			if groups[k] == nil {
				groups[k] = &acc{sla: map[core.ID]*analytics.PolicyCompliance{}}
			}
			out = append(out, groups[k])
		}
		return out
	}
	// decided returns whether the target was met or breached in the period.
	decided := func(metAt, due *time.Time, paused *time.Time) (met, breached bool) {
		if due == nil {
			return false, false
		}
		if metAt != nil && !metAt.After(*due) {
			return in(metAt), false
		}
		ref := at
		if metAt != nil {
			ref = *metAt
		} else if paused != nil {
			ref = *paused
		}
		return false, ref.After(*due) && in(due)
	}
	for _, t := range d.tickets {
		if !visible(t) {
			continue
		}
		for _, a := range accs(t) {
			open := make([]int64, len(points))
			for i, p := range points {
				if t.created.Before(p.At) && (t.solvedAt == nil || !t.solvedAt.Before(p.At)) && !slices.ContainsFunc(t.reopened, func(st [2]time.Time) bool {
					return st[0].Before(p.At) && !st[1].Before(p.At)
				}) {
					open[i] = 1
					a.something = true
				}
			}
			if a.st.Backlog == nil {
				a.st.Backlog = make([]int64, len(points))
			}
			for i := range open {
				a.st.Backlog[i] += open[i]
			}
			if !t.created.Before(to) {
				continue
			}
			if in(&t.created) {
				a.st.Created++
				a.something = true
			}
			if t.mergedInto == nil && in(t.solvedAt) {
				a.st.Solved++
				a.res = append(a.res, t.solvedAt.Sub(t.created).Seconds())
				a.something = true
			}
			if in(t.firstResponseAt) {
				a.fr = append(a.fr, t.firstResponseAt.Sub(t.created).Seconds())
				a.something = true
			}
			if t.policy == nil {
				continue
			}
			frMet, frBreached := decided(t.firstResponseAt, t.firstResponseDue, t.pausedSince)
			var resMet, resBreached bool
			if t.mergedInto == nil {
				resMet, resBreached = decided(t.solvedAt, t.resolutionDue, t.pausedSince)
			}
			if !frMet && !frBreached && !resMet && !resBreached {
				continue
			}
			a.something = true
			pc := a.sla[*t.policy]
			if pc == nil {
				pc = &analytics.PolicyCompliance{PolicyID: *t.policy, Name: names[*t.policy]}
				a.sla[*t.policy] = pc
			}
			count := func(c *analytics.Compliance, met, breached bool) {
				if met {
					c.Met++
				}
				if breached {
					c.Breached++
				}
			}
			count(&pc.FirstResponse, frMet, frBreached)
			count(&pc.Resolution, resMet, resBreached)
		}
	}
	for _, s := range d.surveys {
		t := byID[s.ticket]
		if !visible(t) || !in(s.answered) || s.score == nil {
			continue
		}
		for _, a := range accs(t) {
			a.something = true
			if s.kind == "csat" {
				a.st.CSAT.Responses++
				a.csatSum += *s.score
				if *s.score >= 4 {
					a.st.CSAT.Satisfied++
				}
			} else {
				a.st.NPS.Responses++
				switch {
				case *s.score >= 9:
					a.st.NPS.Promoters++
				case *s.score <= 6:
					a.st.NPS.Detractors++
				default:
					a.st.NPS.Passives++
				}
			}
		}
	}
	rate := func(c *analytics.Compliance) {
		if n := c.Met + c.Breached; n > 0 {
			c.Rate = float64(c.Met) / float64(n)
		}
	}
	build := func(a *acc) analytics.ServiceStats {
		st := a.st
		if st.Backlog == nil {
			st.Backlog = make([]int64, len(points))
		}
		times := func(xs []float64) analytics.TimeStats {
			ts := analytics.TimeStats{Count: int64(len(xs))}
			if len(xs) > 0 {
				var sum float64
				for _, x := range xs {
					sum += x
				}
				ts.MeanMinutes = sum / float64(len(xs)) / 60
				ts.P50Minutes, ts.P90Minutes = quantile(xs, 0.5)/60, quantile(xs, 0.9)/60
			}
			return ts
		}
		st.FirstResponse, st.Resolution = times(a.fr), times(a.res)
		st.SLA = []analytics.PolicyCompliance{}
		for _, pc := range a.sla {
			rate(&pc.FirstResponse)
			rate(&pc.Resolution)
			st.SLA = append(st.SLA, *pc)
			st.FirstResponseSLA.Met += pc.FirstResponse.Met
			st.FirstResponseSLA.Breached += pc.FirstResponse.Breached
			st.ResolutionSLA.Met += pc.Resolution.Met
			st.ResolutionSLA.Breached += pc.Resolution.Breached
		}
		rate(&st.FirstResponseSLA)
		rate(&st.ResolutionSLA)
		sort.Slice(st.SLA, func(i, j int) bool { return st.SLA[i].Name < st.SLA[j].Name })
		if st.CSAT.Responses > 0 {
			st.CSAT.Average = float64(a.csatSum) / float64(st.CSAT.Responses)
			st.CSAT.SatisfiedShare = float64(st.CSAT.Satisfied) / float64(st.CSAT.Responses)
		}
		if st.NPS.Responses > 0 {
			st.NPS.Score = 100 * float64(st.NPS.Promoters-st.NPS.Detractors) / float64(st.NPS.Responses)
		}
		return st
	}
	rep := &analytics.ServiceReport{Period: o.Period, Location: loc.String(), Interval: o.Interval, Team: team, By: o.By,
		Backlog: points, Total: build(total)}
	if o.By != "" {
		rep.Groups = []analytics.ServiceGroup{}
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range groups {
				if !yield(k) {
					return
				}
			}
		}) {
			if groups[k].something {
				rep.Groups = append(rep.Groups, analytics.ServiceGroup{Key: k, Stats: build(groups[k])})
			}
		}
	}
	return rep
}

// quantile is the q-quantile of xs by linear interpolation between
// closest ranks.
func quantile(xs []float64, q float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	pos := q * float64(len(s)-1)
	lo := int(pos)
	if lo+1 >= len(s) {
		return s[lo]
	}
	return s[lo] + (s[lo+1]-s[lo])*(pos-float64(lo))
}

// requireServiceEqual compares two service reports, the floating-point
// figures within tolerance (SQLite measures durations in Julian days).
func requireServiceEqual(t *testing.T, want, got *analytics.ServiceReport, why string) {
	t.Helper()
	requireFinite(t, got)
	near := func(a, b float64, what string) {
		require.True(t, math.Abs(a-b) <= 1e-4*math.Max(1, math.Abs(a)), "%s: %s: want %v, got %v", why, what, a, b)
	}
	stats := func(w, g analytics.ServiceStats, where string) {
		for _, x := range []struct {
			name string
			w, g analytics.TimeStats
		}{{"first response", w.FirstResponse, g.FirstResponse}, {"resolution", w.Resolution, g.Resolution}} {
			require.Equal(t, x.w.Count, x.g.Count, "%s: %s %s count", why, where, x.name)
			near(x.w.MeanMinutes, x.g.MeanMinutes, where+" "+x.name+" mean")
			near(x.w.P50Minutes, x.g.P50Minutes, where+" "+x.name+" p50")
			near(x.w.P90Minutes, x.g.P90Minutes, where+" "+x.name+" p90")
		}
		w.FirstResponse, w.Resolution, g.FirstResponse, g.Resolution = analytics.TimeStats{}, analytics.TimeStats{}, analytics.TimeStats{}, analytics.TimeStats{}
		near(w.CSAT.Average, g.CSAT.Average, where+" csat average")
		near(w.NPS.Score, g.NPS.Score, where+" nps")
		w.CSAT.Average, g.CSAT.Average, w.NPS.Score, g.NPS.Score = 0, 0, 0, 0
		require.Equal(t, w, g, "%s: %s", why, where)
	}
	stats(want.Total, got.Total, "total")
	require.Equal(t, len(want.Groups), len(got.Groups), "%s: groups", why)
	for i := range want.Groups {
		require.Equal(t, want.Groups[i].Key, got.Groups[i].Key, "%s: group %d", why, i)
		stats(want.Groups[i].Stats, got.Groups[i].Stats, "group "+want.Groups[i].Key)
	}
	want.Total, got.Total, want.Groups, got.Groups = analytics.ServiceStats{}, analytics.ServiceStats{}, nil, nil
	require.Equal(t, want, got, why)
}

// For random tickets, SLA outcomes, surveys, breakdowns, time zones,
// backlog intervals, team filters and actors with own, team and all
// visibility of tickets, the service report (in SQL) is what an
// in-memory reference computes from the same rows.
func TestServiceLevelsMatchesReference(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		b.clock.Set(now, 0) // the reference's now
		rng := rand.New(rand.NewPCG(41, uint64(len(t.Name()))))
		data := randomService(rng, 400)
		loadService(t, b.sc, data)
		acc := access.Module.Service(b.sc)
		for _, vis := range []access.Visibility{access.VisibilityOwn, access.VisibilityTeam, access.VisibilityAll} {
			_, err := acc.Roles.Create(ctx, access.RoleInput{Name: "desk-" + string(vis), Permissions: access.Permissions{
				"tickets":   {Actions: []access.Action{access.Read}, Visibility: vis},
				"analytics": {Actions: []access.Action{access.Read}, Visibility: access.VisibilityAll}}})
			require.NoError(t, err)
		}
		users := []string{"u0", "u1", "u2", "u3", "u4"}
		for _, u := range users {
			_, err := acc.Users.Create(ctx, access.UserInput{ID: u, DisplayName: u})
			require.NoError(t, err)
		}
		members := map[string][]string{}
		teamIDs := map[string]core.ID{}
		for _, name := range []string{"red", "blue", "green"} {
			team, err := acc.Teams.Create(ctx, access.TeamInput{Name: name})
			require.NoError(t, err)
			teamIDs[name] = team.ID
			for _, u := range users {
				if rng.IntN(3) == 0 {
					team, err = acc.Teams.AddMember(ctx, team.ID, team.Version, access.Member{UserID: u})
					require.NoError(t, err)
					members[name] = append(members[name], u)
				}
			}
		}
		berlin, err := time.LoadLocation("Europe/Berlin")
		require.NoError(t, err)
		ny, err := time.LoadLocation("America/New_York")
		require.NoError(t, err)
		for round := range 24 {
			o := analytics.ServiceOptions{
				By:       []analytics.ServiceBreakdown{"", analytics.ByTeam, analytics.ByPriority, analytics.ByChannel, analytics.ByAssignee}[rng.IntN(5)],
				Interval: []analytics.BacklogInterval{"", analytics.BacklogDay, analytics.BacklogWeek}[rng.IntN(3)],
				Location: []*time.Location{nil, time.UTC, berlin, ny}[rng.IntN(4)],
			}
			start := core.NewDate(2026, 1, 1).AddDays(rng.IntN(200))
			o.Period = analytics.Period{From: start, To: start.AddDays(1 + rng.IntN(90))}
			team := ""
			if rng.IntN(4) == 0 {
				team = []string{"red", "blue", "green"}[rng.IntN(3)]
				o.TeamID = teamIDs[team]
			}
			ctx, sees, who := context.Background(), func(ticketRow) bool { return true }, "host"
			if round%2 == 1 {
				vis := []access.Visibility{access.VisibilityOwn, access.VisibilityTeam, access.VisibilityAll}[rng.IntN(3)]
				var teams []string
				for _, name := range []string{"red", "blue", "green", "gone"} {
					if rng.IntN(2) == 0 {
						teams = append(teams, name)
					}
				}
				seen := map[string]bool{"x": true}
				for _, name := range teams {
					for _, u := range members[name] {
						seen[u] = true
					}
				}
				ctx = contextWithActor(ctx, "desk-"+string(vis), teams)
				who = fmt.Sprintf("actor x, %s visibility, teams %v of %v", vis, teams, members)
				sees = func(tk ticketRow) bool {
					switch vis {
					case access.VisibilityAll:
						return true
					case access.VisibilityTeam:
						// The tickets module's team visibility: assigned to a
						// member (or the actor), or filed under one of the
						// actor's teams that the tenant has.
						return seen[tk.assignee] || (tk.team != "" && tk.team != "gone" && slices.Contains(teams, tk.team))
					}
					return tk.assignee == "x"
				}
			}
			got, err := b.svc.ServiceLevels(ctx, o)
			require.NoError(t, err)
			want := serviceReference(data, o, team, now, sees)
			requireServiceEqual(t, want, got, fmt.Sprintf("round %d: %+v, %s", round, o, who))
		}
	})
}

// A tenant without tickets gets zeros and empty lists (no NaN), whatever
// the breakdown; another tenant's tickets are not counted.
func TestServiceLevelsEmptyTenant(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		loadService(t, b.sc, randomService(rand.New(rand.NewPCG(3, 4)), 50))
		empty := analytics.Module.Service(b.sc.WithTenant("empty"))
		p := analytics.Period{From: core.NewDate(2026, 1, 1), To: core.NewDate(2026, 7, 1)}
		for _, by := range []analytics.ServiceBreakdown{"", analytics.ByTeam} {
			r, err := empty.ServiceLevels(ctx, analytics.ServiceOptions{Period: p, By: by, Interval: analytics.BacklogWeek})
			require.NoError(t, err)
			requireFinite(t, r)
			require.Zero(t, r.Total.Created+r.Total.Solved+r.Total.FirstResponse.Count+r.Total.Resolution.Count+r.Total.CSAT.Responses+r.Total.NPS.Responses)
			require.Empty(t, r.Total.SLA)
			require.Len(t, r.Backlog, 27, "Thursday 1 January to Tuesday 30 June")
			require.Equal(t, make([]int64, 27), r.Total.Backlog)
			require.Empty(t, r.Groups)
			var out strings.Builder
			require.NoError(t, r.WriteCSV(&out))
			require.NotContains(t, out.String(), "NaN")
		}
		full, err := b.svc.ServiceLevels(ctx, analytics.ServiceOptions{Period: p})
		require.NoError(t, err)
		require.Positive(t, full.Total.Created)
	})
}

// Bad options are ErrInvalid with every problem listed; an unknown team
// is ErrNotFound.
func TestServiceLevelsInvalid(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		d := core.NewDate(2026, 3, 1)
		for name, c := range map[string]struct {
			o      analytics.ServiceOptions
			fields []string
		}{
			"no period":       {analytics.ServiceOptions{}, []string{"period.from", "period.to"}},
			"empty period":    {analytics.ServiceOptions{Period: analytics.Period{From: d, To: d}}, []string{"period.to"}},
			"reversed":        {analytics.ServiceOptions{Period: analytics.Period{From: d, To: d.AddDays(-3)}}, []string{"period.to"}},
			"not a day":       {analytics.ServiceOptions{Period: analytics.Period{From: core.Date{Year: 2026, Month: 2, Day: 30}, To: d}}, []string{"period.from"}},
			"too many points": {analytics.ServiceOptions{Period: analytics.Period{From: d.AddDays(-1001), To: d}}, []string{"period"}},
			"bad options": {analytics.ServiceOptions{Period: analytics.Period{From: d, To: d.AddDays(1)}, By: "mood", Interval: "hour"},
				[]string{"interval", "by"}},
		} {
			_, err := b.svc.ServiceLevels(ctx, c.o)
			require.ErrorIs(t, err, core.ErrInvalid, name)
			var ve *core.ValidationError
			require.ErrorAs(t, err, &ve, name)
			var fields []string
			for _, f := range ve.Fields {
				fields = append(fields, f.Field)
			}
			require.Equal(t, c.fields, fields, name)
		}
		// 1,000 weeks are fine by week.
		_, err := b.svc.ServiceLevels(ctx, analytics.ServiceOptions{Period: analytics.Period{From: d.AddDays(-1001), To: d}, Interval: analytics.BacklogWeek})
		require.NoError(t, err)
		_, err = b.svc.ServiceLevels(ctx, analytics.ServiceOptions{Period: analytics.Period{From: d, To: d.AddDays(1)}, TeamID: core.NewID()})
		require.ErrorIs(t, err, core.ErrNotFound)
	})
}

// The backlog of a period that runs past now stops at now: the day not
// over yet is measured now, the days after it are left out.
func TestServiceLevelsBacklogStopsAtNow(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		d := &serviceData{tickets: []ticketRow{
			{id: core.NewID(), number: 1, status: tickets.StatusOpen, priority: tickets.PriorityNormal, channel: tickets.ChannelEmail,
				created: now.Add(-30 * time.Hour)},
			{id: core.NewID(), number: 2, status: tickets.StatusSolved, priority: tickets.PriorityNormal, channel: tickets.ChannelEmail,
				created: now.Add(-26 * time.Hour), solvedAt: ptr(now.Add(-time.Hour)), pausedSince: ptr(now.Add(-time.Hour))},
			{id: core.NewID(), number: 3, status: tickets.StatusNew, priority: tickets.PriorityNormal, channel: tickets.ChannelEmail,
				created: now.Add(-time.Minute)},
		}}
		loadService(t, b.sc, d)
		today := core.DateOf(now)
		r, err := b.svc.ServiceLevels(ctx, analytics.ServiceOptions{Period: analytics.Period{From: today.AddDays(-2), To: today.AddDays(3)}})
		require.NoError(t, err)
		require.Equal(t, []analytics.BacklogPoint{
			{Day: today.AddDays(-2), At: today.AddDays(-1).Time()},
			{Day: today.AddDays(-1), At: today.Time()},
			{Day: today, At: r.Backlog[2].At},
		}, r.Backlog)
		require.False(t, r.Backlog[2].At.Before(now), "today is measured now")
		require.Equal(t, []int64{0, 2, 2}, r.Total.Backlog)

		// A period not begun has no backlog yet.
		r, err = b.svc.ServiceLevels(ctx, analytics.ServiceOptions{Period: analytics.Period{From: today.AddDays(1), To: today.AddDays(8)}})
		require.NoError(t, err)
		require.Empty(t, r.Backlog)
		require.Empty(t, r.Total.Backlog)
	})
}

// An actor without analytics read is refused (and audited where the
// audit log is wired); one without tickets read gets zeros.
func TestServiceLevelsAccess(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		o := newOffice(t, db)
		p := analytics.ServiceOptions{Period: dayPeriod}
		_, err := o.c.Analytics.ServiceLevels(as("dave"), p) // support: no analytics
		require.ErrorIs(t, err, core.ErrForbidden)
		r, err := o.c.Analytics.ServiceLevels(as("alice"), p) // sales + analyst: no tickets
		require.NoError(t, err)
		require.Zero(t, r.Total.Created)
		require.Equal(t, []int64{0}, r.Total.Backlog)
		r, err = o.c.Analytics.ServiceLevels(as("root"), p)
		require.NoError(t, err)
		require.EqualValues(t, 3, r.Total.Created)
		require.Equal(t, []int64{3}, r.Total.Backlog)
		r, err = o.c.Analytics.ServiceLevels(as("carol"), analytics.ServiceOptions{Period: dayPeriod, By: analytics.ByAssignee})
		require.NoError(t, err)
		require.EqualValues(t, 2, r.Total.Created, "team east: alice's and carol's tickets")
		require.Len(t, r.Groups, 2)
		require.Equal(t, "alice", r.Groups[0].Key)
		require.Equal(t, "carol", r.Groups[1].Key)
	})
}

// Tickets driven through the tickets module — replies, pauses, reopened
// and solved tickets, policies chosen by priority on a business-hours
// calendar, survey answers — give a service report whose SLA outcomes per
// policy are those the tickets module shows on each ticket (Ticket.SLA:
// met in time, or breached), and whose counts and scores are the
// tickets' own.
func TestServiceLevelsAgreesWithTickets(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		start := time.Date(2026, 3, 2, 7, 0, 0, 0, time.UTC) // Monday
		clock := dbtest.NewClock(start)
		clock.Set(start, 0)
		c, err := crm.New(db, crm.Config{Clock: clock})
		require.NoError(t, err)
		require.NoError(t, c.Migrate(ctx))
		t.Cleanup(func() { require.NoError(t, c.Close()) })
		var windows []tickets.Window
		for d := time.Monday; d <= time.Friday; d++ {
			windows = append(windows, tickets.Window{Weekday: d, Start: "09:00", End: "17:00"})
		}
		cal, err := c.Calendars.Create(ctx, tickets.NewCalendar{Name: "Office", TimeZone: "Europe/Berlin", Windows: windows})
		require.NoError(t, err)
		_, err = c.SLAPolicies.Create(ctx, tickets.NewPolicy{Name: "urgent", Position: 1, Condition: filter.Eq("priority", "urgent"),
			CalendarID: cal.ID, FirstResponseMinutes: 30, ResolutionMinutes: 240})
		require.NoError(t, err)
		_, err = c.SLAPolicies.Create(ctx, tickets.NewPolicy{Name: "normal", Position: 2, Condition: filter.In("priority", "normal", "high"),
			CalendarID: cal.ID, FirstResponseMinutes: 240, ResolutionMinutes: 960})
		require.NoError(t, err)
		person, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
		require.NoError(t, err)

		rng := rand.New(rand.NewPCG(5, 8))
		var ids []core.ID
		answers := map[string][]int{}
		for range 300 {
			clock.Add(time.Duration(rng.IntN(90)) * time.Minute)
			if len(ids) == 0 || rng.IntN(4) == 0 {
				tk, err := c.Tickets.Create(ctx, tickets.NewTicket{Subject: "Help", ContactID: person.ID,
					Priority: tickets.Priorities[rng.IntN(len(tickets.Priorities))]})
				require.NoError(t, err)
				ids = append(ids, tk.ID)
				continue
			}
			tk, err := c.Tickets.Get(ctx, ids[rng.IntN(len(ids))])
			require.NoError(t, err)
			change := func(s tickets.Status, until *time.Time) {
				if tickets.CanTransition(tk.Status, s) {
					_, err := c.Tickets.SetStatus(ctx, tk.ID, tickets.StatusChange{Version: tk.Version, Status: s, PendingUntil: until})
					require.NoError(t, err)
				}
			}
			switch rng.IntN(6) {
			case 0, 1:
				if tk.Status != tickets.StatusClosed {
					_, err := c.Tickets.AddMessage(ctx, tk.ID, tickets.NewMessage{Public: true, AuthorKind: tickets.AuthorAgent, AuthorID: "agent", Body: "On it"})
					require.NoError(t, err)
				}
			case 2:
				until := clock.Now().Add(48 * time.Hour)
				change(tickets.StatusPending, &until)
			case 3:
				change(tickets.StatusOpen, nil)
			case 4:
				change(tickets.StatusSolved, nil)
			case 5:
				if done(tk.Status) {
					kind := []tickets.SurveyKind{tickets.SurveyCSAT, tickets.SurveyNPS}[rng.IntN(2)]
					link, err := c.Tickets.Survey(ctx, tk.ID, kind)
					require.NoError(t, err)
					score := 1 + rng.IntN(5)
					if kind == tickets.SurveyNPS {
						score = rng.IntN(11)
					}
					_, err = c.Tickets.AnswerSurvey(ctx, link.Token, score)
					require.NoError(t, err)
					answers[string(kind)] = append(answers[string(kind)], score)
				}
			}
		}
		clock.Add(3 * time.Hour)

		// What the tickets module shows, per policy.
		type outcome struct{ frMet, frBreached, resMet, resBreached int64 }
		want := map[core.ID]*outcome{}
		var solved int64
		page, err := c.Tickets.List(ctx, tickets.ListOptions{Limit: 500})
		require.NoError(t, err)
		require.Len(t, page.Items, len(ids))
		for _, tk := range page.Items {
			if done(tk.Status) {
				solved++
			}
			if tk.SLA == nil {
				continue
			}
			o := want[tk.SLA.PolicyID]
			if o == nil {
				o = &outcome{}
				want[tk.SLA.PolicyID] = o
			}
			if x := tk.SLA.FirstResponse; x != nil {
				o.frMet += b2i(x.MetAt != nil && !x.Breached)
				o.frBreached += b2i(x.Breached)
			}
			if x := tk.SLA.Resolution; x != nil {
				o.resMet += b2i(x.MetAt != nil && !x.Breached)
				o.resBreached += b2i(x.Breached)
			}
		}
		r, err := c.Analytics.ServiceLevels(ctx, analytics.ServiceOptions{Period: analytics.Period{From: core.NewDate(2026, 3, 1), To: core.NewDate(2026, 4, 1)}})
		require.NoError(t, err)
		require.EqualValues(t, len(ids), r.Total.Created)
		require.Equal(t, solved, r.Total.Solved)
		require.Len(t, r.Total.SLA, len(want))
		var breaches int64
		for _, pc := range r.Total.SLA {
			o := want[pc.PolicyID]
			require.NotNil(t, o, pc.Name)
			require.Equal(t, *o, outcome{pc.FirstResponse.Met, pc.FirstResponse.Breached, pc.Resolution.Met, pc.Resolution.Breached}, pc.Name)
			breaches += pc.FirstResponse.Breached + pc.Resolution.Breached
		}
		require.Positive(t, breaches, "the scenario breaches targets")
		require.Positive(t, r.Total.FirstResponseSLA.Met, "and meets some")
		require.EqualValues(t, len(answers["csat"]), r.Total.CSAT.Responses)
		require.EqualValues(t, len(answers["nps"]), r.Total.NPS.Responses)
		var sum int
		for _, s := range answers["csat"] {
			sum += s
		}
		require.InDelta(t, float64(sum)/float64(len(answers["csat"])), r.Total.CSAT.Average, 1e-9)
		var open int64
		for _, tk := range page.Items {
			open += b2i(!done(tk.Status))
		}
		require.Equal(t, open, r.Total.Backlog[len(r.Total.Backlog)-1], "the last point is now")
	})
}

func done(s tickets.Status) bool { return s == tickets.StatusSolved || s == tickets.StatusClosed }

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// The backlog follows each ticket's status history: a ticket solved,
// reopened and solved again is open only in the stretches between, across
// the period's days, whatever the breakdown; a closed ticket reopened
// after the period still counts as resolved in it. A ticket whose history
// was emptied (an erasure empties its events' data) counts as open from
// its creation to its latest resolution, as the history no longer says
// more.
func TestServiceLevelsBacklogFollowsReopenings(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		day := func(n int, hour int) time.Time { return time.Date(2026, 3, 1+n, hour, 0, 0, 0, time.UTC) }
		clock := dbtest.NewClock(day(0, 8))
		clock.Set(day(0, 8), 0)
		c, err := crm.New(db, crm.Config{Clock: clock})
		require.NoError(t, err)
		require.NoError(t, c.Migrate(ctx))
		t.Cleanup(func() { require.NoError(t, c.Close()) })
		person, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
		require.NoError(t, err)
		// Each ticket's story: at (day, hour), a status (or a customer's
		// reply, which reopens a solved ticket).
		type step struct {
			day, hour int
			status    tickets.Status
		}
		const reply = tickets.Status("reply")
		stories := map[string][]step{
			// Solved on day 2, reopened on day 3, solved again on day 5.
			"again": {{2, 12, tickets.StatusSolved}, {3, 12, tickets.StatusOpen}, {5, 12, tickets.StatusSolved}},
			// Solved on day 1, closed on day 2, reopened on day 4 and open
			// since.
			"reopened": {{1, 10, tickets.StatusSolved}, {2, 10, tickets.StatusClosed}, {4, 10, tickets.StatusOpen}},
			// Solved and reopened twice before the period, solved on day 3.
			"early": {{0, 9, tickets.StatusSolved}, {0, 10, tickets.StatusOpen}, {0, 11, tickets.StatusClosed}, {0, 12, tickets.StatusOpen},
				{3, 9, tickets.StatusSolved}},
			// Solved on day 4, reopened after the period (day 8).
			"later": {{4, 9, tickets.StatusSolved}, {8, 9, tickets.StatusOpen}},
			// Solved and reopened by a customer's reply within day 2 (no
			// point between), solved on day 6.
			"blink": {{2, 9, tickets.StatusSolved}, {2, 10, reply}, {6, 9, tickets.StatusSolved}},
		}
		type event struct {
			at     time.Time
			ticket string
			status tickets.Status
		}
		var events []event
		ids := map[string]core.ID{}
		for _, name := range slices.Sorted(maps.Keys(stories)) {
			tk, err := c.Tickets.Create(ctx, tickets.NewTicket{Subject: "Help", ContactID: person.ID, AssigneeID: name})
			require.NoError(t, err)
			ids[name] = tk.ID
			for _, s := range stories[name] {
				events = append(events, event{day(s.day, s.hour), name, s.status})
			}
		}
		slices.SortStableFunc(events, func(a, b event) int { return a.at.Compare(b.at) })
		for _, e := range events {
			clock.Set(e.at, 0)
			tk, err := c.Tickets.Get(ctx, ids[e.ticket])
			require.NoError(t, err)
			if e.status == reply {
				_, err = c.Tickets.AddMessage(ctx, tk.ID, tickets.NewMessage{Public: true, AuthorKind: tickets.AuthorCustomer, Body: "Still broken"})
				require.NoError(t, err)
				continue
			}
			_, err = c.Tickets.SetStatus(ctx, tk.ID, tickets.StatusChange{Version: tk.Version, Status: e.status})
			require.NoError(t, err, "%s: %s", e.ticket, e.status)
		}
		clock.Set(day(9, 8), 0)

		// Days 1 to 7 (2 to 8 March), the backlog at the end of each.
		period := analytics.Period{From: core.NewDate(2026, 3, 2), To: core.NewDate(2026, 3, 9)}
		want := map[string][]int64{
			"again":    {1, 0, 1, 1, 0, 0, 0},
			"reopened": {0, 0, 0, 1, 1, 1, 1},
			"early":    {1, 1, 0, 0, 0, 0, 0},
			"later":    {1, 1, 1, 0, 0, 0, 0},
			"blink":    {1, 1, 1, 1, 1, 0, 0},
		}
		total := make([]int64, 7)
		for _, b := range want {
			for i, n := range b {
				total[i] += n
			}
		}
		r, err := c.Analytics.ServiceLevels(ctx, analytics.ServiceOptions{Period: period, By: analytics.ByAssignee})
		require.NoError(t, err)
		require.Len(t, r.Backlog, 7)
		require.Equal(t, total, r.Total.Backlog)
		require.Len(t, r.Groups, len(want))
		for _, g := range r.Groups {
			require.Equal(t, want[g.Key], g.Stats.Backlog, g.Key)
		}
		// By week (Monday 2 March to Sunday 8 March): one point.
		r, err = c.Analytics.ServiceLevels(ctx, analytics.ServiceOptions{Period: period, Interval: analytics.BacklogWeek})
		require.NoError(t, err)
		require.Equal(t, []int64{total[6]}, r.Total.Backlog)

		// Without its history, "again" is open from its creation to its
		// latest resolution.
		_, err = db.NewRaw("UPDATE crm_events SET data = '{}' WHERE tenant_id = ? AND subject_id = ?", "default", ids["again"]).Exec(ctx)
		require.NoError(t, err)
		r, err = c.Analytics.ServiceLevels(ctx, analytics.ServiceOptions{Period: period, By: analytics.ByAssignee})
		require.NoError(t, err)
		for _, g := range r.Groups {
			if g.Key == "again" {
				require.Equal(t, []int64{1, 1, 1, 1, 0, 0, 0}, g.Stats.Backlog)
			} else {
				require.Equal(t, want[g.Key], g.Stats.Backlog, g.Key)
			}
		}
	})
}
