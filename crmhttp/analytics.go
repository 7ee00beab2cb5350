package crmhttp

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/crmkit/crmkit/analytics"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/pipeline"
)

func registerAnalytics(api huma.API) {
	huma.Register(api, common(huma.Operation{OperationID: "dashboard", Method: http.MethodGet, Path: "/analytics/dashboard",
		Tags: []string{"analytics"}, Summary: "The dashboard's numbers",
		Description: "New contacts, won and lost deals and revenue, emails sent and opened, tickets solved in the period; the open pipeline and open tickets now.",
		Errors:      []int{http.StatusUnprocessableEntity}}),
		func(ctx context.Context, in *struct {
			From string `query:"from" doc:"First day (YYYY-MM-DD)."`
			To   string `query:"to" doc:"The day after the last (YYYY-MM-DD)."`
		}) (*struct{ Body *analytics.Dashboard }, error) {
			var p analytics.Period
			v := &core.ValidationError{}
			for _, x := range []struct {
				field string
				s     string
				d     *core.Date
			}{{"from", in.From, &p.From}, {"to", in.To, &p.To}} {
				d, err := core.ParseDate(x.s)
				if err != nil {
					v.Add(x.field, "is not a date (YYYY-MM-DD)")
				}
				*x.d = d
			}
			if err := v.Err(); err != nil {
				return nil, problem(err, false)
			}
			d, err := crmOf(ctx).Analytics.Dashboard(ctx, analytics.DashboardOptions{Period: p})
			if err != nil {
				return nil, problem(err, false)
			}
			return &struct{ Body *analytics.Dashboard }{Body: d}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "funnel", Method: http.MethodGet, Path: "/analytics/funnel",
		Tags: []string{"analytics"}, Summary: "The lifecycle funnel",
		Description: "Contacts that entered each stage in the period, how many moved on, and the hours it took.",
		Errors:      []int{http.StatusUnprocessableEntity}}),
		func(ctx context.Context, in *struct {
			From string `query:"from" doc:"First day (YYYY-MM-DD)."`
			To   string `query:"to" doc:"The day after the last (YYYY-MM-DD)."`
		}) (*struct{ Body *analytics.Funnel }, error) {
			from, err1 := core.ParseDate(in.From)
			to, err2 := core.ParseDate(in.To)
			if err1 != nil || err2 != nil {
				return nil, problem(core.Invalid("from", "from and to are dates (YYYY-MM-DD)"), false)
			}
			f, err := crmOf(ctx).Analytics.Funnel(ctx, analytics.FunnelOptions{Period: analytics.Period{From: from, To: to}})
			if err != nil {
				return nil, problem(err, false)
			}
			return &struct{ Body *analytics.Funnel }{Body: f}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "service-levels", Method: http.MethodGet, Path: "/analytics/service",
		Tags: []string{"analytics"}, Summary: "The service desk's KPIs",
		Description: "SLA compliance per policy, first response and resolution times (mean, p50, p90), the backlog by day or week, CSAT and NPS over the period.",
		Errors:      []int{http.StatusNotFound, http.StatusUnprocessableEntity}}),
		func(ctx context.Context, in *struct {
			From     string `query:"from" doc:"First day (YYYY-MM-DD), in the time zone."`
			To       string `query:"to" doc:"The day after the last (YYYY-MM-DD)."`
			Location string `query:"location" doc:"IANA time zone of the days and weeks (default UTC)."`
			TeamID   string `query:"team_id" doc:"Narrows to the tickets of this team."`
			By       string `query:"by" enum:"team,priority,channel,assignee" doc:"Breaks the report down by this ticket field."`
			Interval string `query:"interval" enum:"day,week" doc:"Samples the backlog by day (default) or week."`
		}) (*struct{ Body *analytics.ServiceReport }, error) {
			o := analytics.ServiceOptions{By: analytics.ServiceBreakdown(in.By), Interval: analytics.BacklogInterval(in.Interval)}
			v := &core.ValidationError{}
			o.Period = periodOf(v, in.From, in.To)
			if in.Location != "" {
				loc, err := time.LoadLocation(in.Location)
				if err != nil || in.Location == "Local" {
					v.Add("location", "is not an IANA time zone")
				}
				o.Location = loc
			}
			if in.TeamID != "" {
				id, err := uuid.Parse(in.TeamID)
				if err != nil {
					v.Add("team_id", "is not a UUID")
				}
				o.TeamID = id
			}
			if err := v.Err(); err != nil {
				return nil, problem(err, false)
			}
			r, err := crmOf(ctx).Analytics.ServiceLevels(ctx, o)
			if err != nil {
				return nil, problem(err, false)
			}
			return &struct{ Body *analytics.ServiceReport }{Body: r}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "forecast-accuracy", Method: http.MethodGet, Path: "/analytics/forecast-accuracy",
		Tags: []string{"analytics"}, Summary: "How accurate the kept forecasts were",
		Description: "Each forecast snapshot against what was won in the months or quarters it forecast (those that start in the period and are over), per currency, and the accuracy by months ahead.",
		Errors:      []int{http.StatusNotFound, http.StatusUnprocessableEntity}}),
		func(ctx context.Context, in *struct {
			From       string `query:"from" doc:"First day (YYYY-MM-DD): the periods that start from it."`
			To         string `query:"to" doc:"The day after the last."`
			Interval   string `query:"interval" enum:"month,quarter" doc:"The forecast period (default month)."`
			PipelineID string `query:"pipeline_id" doc:"Narrows to one pipeline."`
			OwnerID    string `query:"owner_id" doc:"Narrows to one owner's deals."`
		}) (*struct{ Body *analytics.ForecastAccuracy }, error) {
			o := analytics.ForecastAccuracyOptions{Interval: pipeline.Period(in.Interval), OwnerID: in.OwnerID}
			v := &core.ValidationError{}
			o.Period = periodOf(v, in.From, in.To)
			if in.PipelineID != "" {
				id, err := uuid.Parse(in.PipelineID)
				if err != nil {
					v.Add("pipeline_id", "is not a UUID")
				}
				o.PipelineID = id
			}
			if err := v.Err(); err != nil {
				return nil, problem(err, false)
			}
			a, err := crmOf(ctx).Analytics.ForecastAccuracy(ctx, o)
			if err != nil {
				return nil, problem(err, false)
			}
			return &struct{ Body *analytics.ForecastAccuracy }{Body: a}, nil
		})
}

// periodOf parses a report's from and to days, adding what is wrong to v.
func periodOf(v *core.ValidationError, from, to string) analytics.Period {
	var p analytics.Period
	for _, x := range []struct {
		field string
		s     string
		d     *core.Date
	}{{"from", from, &p.From}, {"to", to, &p.To}} {
		d, err := core.ParseDate(x.s)
		if err != nil {
			v.Add(x.field, "is not a date (YYYY-MM-DD)")
		}
		*x.d = d
	}
	return p
}
