package crmhttp

import (
	"context"
	"html/template"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/crmkit/crmkit/analytics"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/pipeline"
)

// dashboardFuncs are the templates' formatting functions.
var dashboardFuncs = template.FuncMap{
	"count":   formatCount,
	"money":   formatMoney,
	"moneys":  formatMoneys,
	"percent": formatPercent,
	"day":     func(d core.Date) string { return d.String() },
	"lastDay": func(d core.Date) string { return d.AddDays(-1).String() },
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"iso":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"heat": heatClass,
	"ratio": func(a, b int64) string {
		if b == 0 {
			return "—"
		}
		return formatPercent(float64(a) / float64(b))
	},
}

// formatMoneys writes amounts in several currencies, "—" for none.
func formatMoneys(ms []core.Money) string {
	if len(ms) == 0 {
		return "—"
	}
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = formatMoney(m)
	}
	return strings.Join(out, " · ")
}

// heatClass is the class of a retention cell: heat-0 (none) to heat-10
// (everyone), whose colours the stylesheet pairs with a text colour of
// enough contrast.
func heatClass(rate float64) string {
	if math.IsNaN(rate) || rate <= 0 {
		return "heat-0"
	}
	n := int(math.Ceil(rate * 10))
	if n > 10 {
		n = 10
	}
	return "heat-" + strconv.Itoa(n)
}

// overview: the numbers a sales, marketing and service lead look at first.
type overviewData struct {
	D     *analytics.Dashboard
	Chart template.HTML
}

func (d *dashboard) overview(ctx context.Context, r *http.Request, v *view) error {
	v.Page, v.Title = "overview", "Overview"
	p, err := d.usePeriod(r, v, lastDays(30))
	if err != nil {
		return err
	}
	dash, err := crmOf(ctx).Analytics.Dashboard(ctx, analytics.DashboardOptions{Period: p})
	if err != nil {
		return err
	}
	chart, err := d.theme.svg(barChart{ID: "overview-chart", Title: "The period in numbers",
		Desc:       "New contacts, deals won and lost, campaign mails sent and opened and tickets solved in the period.",
		Categories: []string{"New contacts", "Deals won", "Deals lost", "Emails sent", "Emails opened", "Tickets solved"},
		Series: []chartSeries{{Name: "Count", Values: []float64{float64(dash.NewContacts), float64(dash.WonDeals), float64(dash.LostDeals),
			float64(dash.EmailsSent), float64(dash.EmailsOpened), float64(dash.TicketsSolved)}}},
		Horizontal: true, Counts: true})
	if err != nil {
		return err
	}
	v.Data = overviewData{D: dash, Chart: chart}
	return nil
}

// pipeline: a pipeline's board (open deals per stage) and its forecast.
type pipelineData struct {
	// Query is the period's query, for the links to the other pipelines.
	Query      template.URL
	Pipelines  []*pipeline.Pipeline
	Current    *pipeline.Pipeline
	Board      *pipeline.Board
	BoardChart template.HTML
	Forecast   []forecastTable
}

// forecastTable is the forecast of one currency.
type forecastTable struct {
	Currency string
	Rows     []pipeline.ForecastRow
	Chart    template.HTML
}

func (d *dashboard) pipeline(ctx context.Context, r *http.Request, v *view) error {
	v.Page, v.Title = "pipeline", "Pipeline"
	p, err := d.usePeriod(r, v, months(0, 2))
	if err != nil {
		return err
	}
	c := crmOf(ctx)
	var current *pipeline.Pipeline
	if s := r.URL.Query().Get("pipeline"); s != "" {
		id, err := core.ParseID(s)
		if err != nil {
			return core.Invalid("pipeline", "is not an id")
		}
		if current, err = c.Pipelines.Get(ctx, id); err != nil {
			return err
		}
	}
	all, err := c.Pipelines.List(ctx)
	if err != nil {
		return err
	}
	data := pipelineData{Query: v.PeriodQuery, Pipelines: all, Current: current}
	if current == nil {
		for _, pl := range all {
			if !pl.Archived {
				current = pl
				break
			}
		}
	}
	v.Data = &data
	if current == nil {
		return nil
	}
	data.Current = current
	v.Title = "Pipeline: " + current.Name
	v.PeriodQuery += template.URL("&pipeline=" + current.ID.String())
	if data.Board, err = c.Deals.Board(ctx, current.ID, pipeline.BoardOptions{}); err != nil {
		return err
	}
	var cats []string
	var currencies []string
	amounts := map[string][]float64{}
	for i, col := range data.Board.Columns {
		cats = append(cats, col.Stage.Name+" ("+formatCount(col.Count)+")")
		for _, m := range col.Totals {
			if _, ok := amounts[m.Currency]; !ok {
				currencies = append(currencies, m.Currency)
				amounts[m.Currency] = make([]float64, len(data.Board.Columns))
			}
			amounts[m.Currency][i] = moneyFloat(m)
		}
	}
	series := make([]chartSeries, 0, len(currencies))
	for _, cur := range currencies {
		series = append(series, chartSeries{Name: cur, Values: amounts[cur]})
	}
	if len(series) == 0 {
		series = []chartSeries{{Name: "Amount", Values: make([]float64, len(cats))}}
	}
	if data.BoardChart, err = d.theme.svg(barChart{ID: "board-chart", Title: "Open deals per stage: " + current.Name,
		Desc:       "The amount of the open deals in each stage, per currency; the number of deals is in brackets after the stage.",
		Categories: cats, Series: series, Horizontal: true, Legend: true}); err != nil {
		return err
	}
	rows, err := c.Deals.Forecast(ctx, pipeline.ForecastOptions{From: p.From, To: p.To, PipelineID: current.ID})
	if err != nil {
		return err
	}
	index := map[string]int{}
	for _, row := range rows {
		i, ok := index[row.Currency]
		if !ok {
			i = len(data.Forecast)
			index[row.Currency] = i
			data.Forecast = append(data.Forecast, forecastTable{Currency: row.Currency})
		}
		data.Forecast[i].Rows = append(data.Forecast[i].Rows, row)
	}
	for i := range data.Forecast {
		ft := &data.Forecast[i]
		cats := make([]string, len(ft.Rows))
		won, weighted, best, commit := make([]float64, len(ft.Rows)), make([]float64, len(ft.Rows)), make([]float64, len(ft.Rows)), make([]float64, len(ft.Rows))
		for j, row := range ft.Rows {
			cats[j] = row.Period
			won[j], weighted[j], best[j], commit[j] = moneyFloat(row.Won), moneyFloat(row.Weighted), moneyFloat(row.BestCase), moneyFloat(row.Commit)
		}
		if ft.Chart, err = d.theme.svg(barChart{ID: "forecast-" + strings.ToLower(ft.Currency), Title: "Forecast in " + ft.Currency,
			Desc:       "Per month: the amount won, the open amount weighted by stage probability, the whole open amount (best case) and the committed amount.",
			Categories: cats, Series: []chartSeries{{"Won", won}, {"Weighted", weighted}, {"Best case", best}, {"Commit", commit}}}); err != nil {
			return err
		}
	}
	return nil
}

// funnel: the lifecycle funnel, and each pipeline's win rate and stage
// conversion.
type funnelData struct {
	Funnel      *analytics.Funnel
	FunnelChart template.HTML
	Report      *analytics.PipelineReport
	WinChart    template.HTML
}

func (d *dashboard) funnel(ctx context.Context, r *http.Request, v *view) error {
	v.Page, v.Title = "funnel", "Funnel and win rate"
	p, err := d.usePeriod(r, v, lastDays(90))
	if err != nil {
		return err
	}
	c := crmOf(ctx)
	f, err := c.Analytics.Funnel(ctx, analytics.FunnelOptions{Period: p})
	if err != nil {
		return err
	}
	rep, err := c.Analytics.Pipelines(ctx, analytics.PipelineOptions{Period: p})
	if err != nil {
		return err
	}
	data := &funnelData{Funnel: f, Report: rep}
	var stages []string
	entered, moved := make([]float64, len(f.Stages)), make([]float64, len(f.Stages))
	for i, s := range f.Stages {
		stages = append(stages, string(s.Stage))
		entered[i], moved[i] = float64(s.Entered), float64(s.MovedOn)
	}
	if data.FunnelChart, err = d.theme.svg(barChart{ID: "funnel-chart", Title: "Lifecycle funnel",
		Desc:       "Per lifecycle stage: the contacts that entered it in the period and those of them that moved on to a later stage.",
		Categories: stages, Series: []chartSeries{{"Entered", entered}, {"Moved on", moved}}, Horizontal: true, Counts: true}); err != nil {
		return err
	}
	var names []string
	var rates []float64
	for _, pl := range rep.Pipelines {
		names = append(names, pl.Name)
		rates = append(rates, pl.WinRate*100)
	}
	if data.WinChart, err = d.theme.svg(barChart{ID: "winrate-chart", Title: "Win rate per pipeline",
		Desc:       "Won deals as a share of the deals won or lost in the period, per pipeline.",
		Categories: names, Series: []chartSeries{{"Win rate", rates}}, Horizontal: true, Max: 100,
		Label: func(x float64) string { return formatPercent(x / 100) },
		Axis:  func(x float64) string { return strconv.FormatFloat(x, 'f', 0, 64) + " %" }}); err != nil {
		return err
	}
	v.Data = data
	return nil
}

// cohorts: retention of the contacts grouped by their first purchase's
// month, and the revenue of each cohort.
type cohortsData struct {
	Cohorts      *analytics.Cohorts
	TimeZone     string
	Offsets      []int
	Rows         []cohortRow
	RevenueChart template.HTML
}

type cohortRow struct {
	Month   string
	Size    int64
	Cells   []cohortCell
	Revenue []core.Money // per currency, over the period
}

type cohortCell struct {
	Active    int64
	Retention float64
	Present   bool // the month is within the period
}

func (d *dashboard) cohorts(ctx context.Context, r *http.Request, v *view) error {
	v.Page, v.Title = "cohorts", "Cohorts"
	p, err := d.usePeriod(r, v, months(11, 0))
	if err != nil {
		return err
	}
	loc := time.UTC
	if tz := r.URL.Query().Get("tz"); tz != "" {
		if tz == "Local" || len(tz) > 100 {
			return core.Invalid("tz", "is not a time zone (an IANA name such as Europe/Berlin)")
		}
		if loc, err = time.LoadLocation(tz); err != nil {
			return core.Invalid("tz", "is not a time zone (an IANA name such as Europe/Berlin)")
		}
		v.PeriodQuery += template.URL("&tz=" + template.URLQueryEscaper(tz))
	}
	co, err := crmOf(ctx).Analytics.Cohorts(ctx, analytics.CohortOptions{Period: p, Location: loc})
	if err != nil {
		return err
	}
	data := &cohortsData{Cohorts: co, TimeZone: loc.String()}
	v.Zone = loc.String()
	for i := range co.Months {
		data.Offsets = append(data.Offsets, i)
	}
	var currencies []string
	revenue := map[string][]float64{}
	for ci, c := range co.Cohorts {
		row := cohortRow{Month: c.Month, Size: c.Size, Cells: make([]cohortCell, len(co.Months))}
		for n := range row.Cells {
			if n < len(c.Active) {
				row.Cells[n] = cohortCell{Active: c.Active[n], Retention: c.Retention[n], Present: true}
			}
		}
		for _, cr := range c.Revenue {
			total := core.Money{Currency: cr.Currency}
			for _, m := range cr.Months {
				if total, err = total.Add(m); err != nil {
					return err
				}
			}
			row.Revenue = append(row.Revenue, total)
			if _, ok := revenue[cr.Currency]; !ok {
				currencies = append(currencies, cr.Currency)
				revenue[cr.Currency] = make([]float64, len(co.Cohorts))
			}
			revenue[cr.Currency][ci] = moneyFloat(total)
		}
		data.Rows = append(data.Rows, row)
	}
	var months []string
	for _, c := range co.Cohorts {
		months = append(months, c.Month)
	}
	var series []chartSeries
	for _, cur := range currencies {
		series = append(series, chartSeries{Name: cur, Values: revenue[cur]})
	}
	if data.RevenueChart, err = d.theme.svg(barChart{ID: "cohort-revenue", Title: "Revenue per cohort",
		Desc:       "Per cohort (the month of the first purchase): its purchases within the period, per currency.",
		Categories: months, Series: series, Legend: true}); err != nil {
		return err
	}
	v.Data = data
	return nil
}

// campaigns: each campaign's performance, and the service desk's numbers.
type campaignsData struct {
	Report       *analytics.CampaignReport
	Chart        template.HTML
	D            *analytics.Dashboard
	ServiceChart template.HTML
}

func (d *dashboard) campaigns(ctx context.Context, r *http.Request, v *view) error {
	v.Page, v.Title = "campaigns", "Campaigns and service"
	p, err := d.usePeriod(r, v, lastDays(30))
	if err != nil {
		return err
	}
	c := crmOf(ctx)
	rep, err := c.Analytics.Campaigns(ctx, analytics.CampaignOptions{Period: p})
	if err != nil {
		return err
	}
	dash, err := c.Analytics.Dashboard(ctx, analytics.DashboardOptions{Period: p})
	if err != nil {
		return err
	}
	data := &campaignsData{Report: rep, D: dash}
	var names []string
	sent, opened, clicked := []float64{}, []float64{}, []float64{}
	for _, row := range rep.Campaigns {
		names = append(names, row.Name)
		sent, opened, clicked = append(sent, float64(row.Sent)), append(opened, float64(row.Opened)), append(clicked, float64(row.Clicked))
	}
	if data.Chart, err = d.theme.svg(barChart{ID: "campaigns-chart", Title: "Campaigns: sent, opened, clicked",
		Desc:       "Per campaign started in the period: the mails sent and the people who opened and who clicked.",
		Categories: names, Series: []chartSeries{{"Sent", sent}, {"Opened", opened}, {"Clicked", clicked}}, Horizontal: true, Counts: true}); err != nil {
		return err
	}
	if data.ServiceChart, err = d.theme.svg(barChart{ID: "service-chart", Title: "Tickets",
		Desc:       "Tickets open now, those of them past their SLA due time, and tickets solved in the period.",
		Categories: []string{"Open now", "Overdue now", "Solved in the period"},
		Series:     []chartSeries{{"Tickets", []float64{float64(dash.OpenTickets), float64(dash.OverdueTickets), float64(dash.TicketsSolved)}}},
		Horizontal: true, Counts: true}); err != nil {
		return err
	}
	v.Data = data
	return nil
}
