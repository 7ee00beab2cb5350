package analytics

import (
	"context"
	"io"
	"sort"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// The service desk's report (ServiceLevels): its options, its figures,
// and its CSV.

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
