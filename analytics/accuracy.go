package analytics

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
	"github.com/crmkit/crmkit/pipeline"
)

// ForecastAccuracyOptions select the forecasts ForecastAccuracy compares.
type ForecastAccuracyOptions struct {
	// Period (both ends required) selects the forecast periods that start
	// in it; of those, the ones over by today (UTC) are compared.
	Period Period
	// Interval is the forecast period: pipeline.Month (default) or
	// pipeline.Quarter.
	Interval pipeline.Period
	// PipelineID and OwnerID narrow the deals, forecast and won.
	PipelineID core.ID
	OwnerID    string
}

// ForecastAccuracy compares the forecasts the pipeline module kept
// (pipeline.Deals.SnapshotForecast) with what was then won.
type ForecastAccuracy struct {
	Period   Period          `json:"period"`
	Interval pipeline.Period `json:"interval"`
	// Comparisons has one entry per forecast period, snapshot that covers
	// it (taken before the period ended) and currency, by period, then
	// snapshot day, then currency.
	Comparisons []ForecastComparison `json:"comparisons"`
	// ByLead sums the comparisons up by how far ahead the snapshot was
	// taken, in months, per currency: by MonthsAhead (furthest first), then
	// currency.
	ByLead []LeadAccuracy `json:"by_lead"`
}

// ForecastComparison is one snapshot's forecast of one period in one
// currency against what was won in it. Errors are forecast − actual
// (positive: the forecast was too high); an APE is |error| / actual, nil
// when nothing was won (a percentage of zero is undefined).
type ForecastComparison struct {
	// Period is "2026-03" or "2026-Q1".
	Period      string    `json:"period"`
	SnapshotDay core.Date `json:"snapshot_day"`
	// DaysAhead counts the days from the snapshot's day to the period's
	// first day (negative: taken during the period); MonthsAhead the
	// calendar months from the snapshot's month to the period's first
	// month (0: in that month; negative: in a later month of a quarter).
	DaysAhead   int    `json:"days_ahead"`
	MonthsAhead int    `json:"months_ahead"`
	Currency    string `json:"currency"`
	// Won is what was already won of the period at the snapshot. The
	// forecasts add the open deals expected to close in the period:
	// Weighted their amounts weighted by stage probability, Commit those
	// of the deals marked commit, BestCase all of them.
	Won      core.Money `json:"won"`
	Weighted core.Money `json:"weighted"`
	Commit   core.Money `json:"commit"`
	BestCase core.Money `json:"best_case"`
	// Actual is what was won in the period (by close day, as of now), in
	// ActualDeals deals.
	Actual        core.Money `json:"actual"`
	ActualDeals   int64      `json:"actual_deals"`
	WeightedError core.Money `json:"weighted_error"`
	WeightedAPE   *float64   `json:"weighted_ape"`
	CommitError   core.Money `json:"commit_error"`
	CommitAPE     *float64   `json:"commit_ape"`
}

// LeadAccuracy is the accuracy of the forecasts taken a number of months
// ahead, in one currency: Comparisons of them, Scored of which had an
// actual to measure a percentage against; the mean APE (MAPE) of those,
// and the mean error (bias) of all, rounded to the minor unit.
type LeadAccuracy struct {
	MonthsAhead  int        `json:"months_ahead"`
	Currency     string     `json:"currency"`
	Comparisons  int64      `json:"comparisons"`
	Scored       int64      `json:"scored"`
	WeightedMAPE float64    `json:"weighted_mape"`
	CommitMAPE   float64    `json:"commit_mape"`
	WeightedBias core.Money `json:"weighted_bias"`
	CommitBias   core.Money `json:"commit_bias"`
}

// forecastPeriod is one period compared: its label, its months and the
// day after it.
type forecastPeriod struct {
	label  string
	start  core.Date
	months []string
	end    core.Date
}

// ForecastAccuracy compares each forecast snapshot with what was won in
// the periods it forecast: per period, snapshot and currency (amounts in
// different currencies are never added), the forecast as it stood
// (won so far plus the weighted, committed and best-case open amounts),
// the actual, the error and the absolute percentage error; and per lead
// time in months and currency, the mean absolute percentage error and the
// bias. Three SQL queries — the snapshots, their lines summed per day,
// month and currency, and the deals won per month and currency — and Go
// puts months together into periods.
//
// A snapshot counts for a period when it covers all of the period's
// months and was taken before the period ended; a snapshot without a line
// for a currency forecast zero in it. Snapshots are kept per owner: an
// actor sees the forecasts of the deals whose owner they see (as
// analytics sees deals), against the deals they see won. A deal given to
// another owner between snapshot and close counts for its owner at each
// time.
func (s *Service) ForecastAccuracy(ctx context.Context, o ForecastAccuracyOptions) (_ *ForecastAccuracy, err error) {
	ctx, span := s.sc.Span(ctx, "analytics.ForecastAccuracy")
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
	switch o.Interval {
	case "":
		o.Interval = pipeline.Month
	case pipeline.Month, pipeline.Quarter:
	default:
		v.Add("interval", "%q is not one of month, quarter", o.Interval)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	out := &ForecastAccuracy{Period: o.Period, Interval: o.Interval, Comparisons: []ForecastComparison{}, ByLead: []LeadAccuracy{}}
	if !g.readsPipeline() {
		return out, nil
	}
	q := s.sc.Q().PlanPerCall()
	if o.PipelineID != core.NilID {
		if err := pipelineExists(ctx, q, tenant, o.PipelineID); err != nil {
			return nil, err
		}
	}
	periods := forecastPeriods(o.Period, o.Interval, core.DateOf(s.sc.Runtime().Now().UTC()))
	if len(periods) == 0 {
		return out, nil
	}
	first, last := periods[0], periods[len(periods)-1]
	firstMonth, lastMonth := first.months[0], last.months[len(last.months)-1]

	// The snapshots that may cover a period.
	type snapshot struct {
		day         core.Date
		first, last string
	}
	var snaps []snapshot
	rows, err := q.Query(ctx, `SELECT h.snapshot_day, h.first_month, h.last_month FROM crm_forecast_snapshots h
		WHERE h.tenant_id = ? AND h.snapshot_day < ? AND h.last_month >= ? ORDER BY h.snapshot_day`, tenant, last.end.String(), firstMonth)
	if err != nil {
		return nil, store.Wrap(err, "forecast accuracy")
	}
	if err := store.EachRow(rows, func(r store.Scanner) error {
		var sn snapshot
		err := r.Scan(&sn.day, &sn.first, &sn.last)
		snaps = append(snaps, sn)
		return err
	}); err != nil {
		return nil, store.Wrap(err, "forecast accuracy")
	}

	// Their lines, summed per day, month and currency.
	type sums struct{ won, weighted, commit, best int64 }
	lines := map[core.Date]map[string]map[string]sums{} // day → month → currency
	where, args := "", []any{tenant, firstMonth, lastMonth, last.end.String()}
	if o.PipelineID != core.NilID {
		where, args = where+" AND f.pipeline_id = ?", append(args, o.PipelineID)
	}
	if o.OwnerID != "" {
		where, args = where+" AND f.owner_id = ?", append(args, o.OwnerID)
	}
	vis, vargs := g.deals("f")
	d := q.D
	rows, err = q.Query(ctx, `SELECT f.snapshot_day, f.month, f.currency, `+d.SumInt("f.won")+`, `+d.SumInt("f.weighted")+`, `+
		d.SumInt("f.commit_amount")+`, `+d.SumInt("f.best_case")+`
		FROM crm_forecast_snapshot_lines f
		WHERE f.tenant_id = ? AND f.month >= ? AND f.month <= ? AND f.snapshot_day < ?`+where+vis+`
		GROUP BY f.snapshot_day, f.month, f.currency`, append(args, vargs...)...)
	if err != nil {
		return nil, store.Wrap(err, "forecast accuracy")
	}
	if err := store.EachRow(rows, func(r store.Scanner) error {
		var day core.Date
		var month, currency string
		var x sums
		if err := r.Scan(&day, &month, &currency, &x.won, &x.weighted, &x.commit, &x.best); err != nil {
			return err
		}
		if lines[day] == nil {
			lines[day] = map[string]map[string]sums{}
		}
		if lines[day][month] == nil {
			lines[day][month] = map[string]sums{}
		}
		lines[day][month][currency] = x
		return nil
	}); err != nil {
		return nil, store.Wrap(err, "forecast accuracy")
	}

	// What was won, per month and currency.
	type actual struct{ amount, deals int64 }
	won := map[string]map[string]*actual{} // month → currency
	where, args = "", []any{tenant, first.start.String(), last.end.String()}
	if o.PipelineID != core.NilID {
		where, args = where+" AND d.pipeline_id = ?", append(args, o.PipelineID)
	}
	if o.OwnerID != "" {
		where, args = where+" AND d.owner_id = ?", append(args, o.OwnerID)
	}
	vis, vargs = g.deals("d")
	rows, err = q.Query(ctx, `SELECT substr(d.closed_on, 1, 7), d.currency, `+d.SumInt("d.amount")+`, COUNT(*) FROM crm_deals d
		WHERE d.tenant_id = ? AND d.status = 'won' AND d.closed_on >= ? AND d.closed_on < ?`+where+vis+`
		GROUP BY substr(d.closed_on, 1, 7), d.currency`, append(args, vargs...)...)
	if err != nil {
		return nil, store.Wrap(err, "forecast accuracy")
	}
	if err := store.EachRow(rows, func(r store.Scanner) error {
		var month, currency string
		var a actual
		if err := r.Scan(&month, &currency, &a.amount, &a.deals); err != nil {
			return err
		}
		if won[month] == nil {
			won[month] = map[string]*actual{}
		}
		won[month][currency] = &a
		return nil
	}); err != nil {
		return nil, store.Wrap(err, "forecast accuracy")
	}

	// Each period against each snapshot that covers it.
	type leadKey struct {
		ahead    int
		currency string
	}
	type leadSums struct {
		n, scored                  int64
		weightedAPE, commitAPE     float64
		weightedError, commitError decimal.Decimal
	}
	leads := map[leadKey]*leadSums{}
	for _, p := range periods {
		wonIn := map[string]actual{}
		for _, m := range p.months {
			for cur, a := range won[m] {
				x := wonIn[cur]
				x.amount += a.amount
				x.deals += a.deals
				wonIn[cur] = x
			}
		}
		for _, sn := range snaps {
			if !sn.day.Before(p.end) || sn.first > p.months[0] || sn.last < p.months[len(p.months)-1] {
				continue
			}
			forecast := map[string]sums{}
			for _, m := range p.months {
				for cur, x := range lines[sn.day][m] {
					f := forecast[cur]
					f.won, f.weighted, f.commit, f.best = f.won+x.won, f.weighted+x.weighted, f.commit+x.commit, f.best+x.best
					forecast[cur] = f
				}
			}
			currencies := map[string]bool{}
			for cur := range forecast {
				currencies[cur] = true
			}
			for cur := range wonIn {
				currencies[cur] = true
			}
			for _, cur := range sortedKeys(currencies) {
				f, a := forecast[cur], wonIn[cur]
				c := compare(p, sn.day, cur, f.won, f.weighted, f.commit, f.best, a.amount, a.deals)
				out.Comparisons = append(out.Comparisons, c)
				k := leadKey{c.MonthsAhead, cur}
				l := leads[k]
				if l == nil {
					l = &leadSums{weightedError: decimal.Zero, commitError: decimal.Zero}
					leads[k] = l
				}
				l.n++
				l.weightedError = l.weightedError.Add(c.WeightedError.Amount)
				l.commitError = l.commitError.Add(c.CommitError.Amount)
				if c.WeightedAPE != nil {
					l.scored++
					l.weightedAPE += *c.WeightedAPE
					l.commitAPE += *c.CommitAPE
				}
			}
		}
	}
	for k, l := range leads {
		la := LeadAccuracy{MonthsAhead: k.ahead, Currency: k.currency, Comparisons: l.n, Scored: l.scored,
			WeightedBias: core.Money{Amount: l.weightedError.Div(decimal.NewFromInt(l.n)), Currency: k.currency}.RoundToMinorUnit(),
			CommitBias:   core.Money{Amount: l.commitError.Div(decimal.NewFromInt(l.n)), Currency: k.currency}.RoundToMinorUnit()}
		if l.scored > 0 {
			la.WeightedMAPE, la.CommitMAPE = finite(l.weightedAPE/float64(l.scored)), finite(l.commitAPE/float64(l.scored))
		}
		out.ByLead = append(out.ByLead, la)
	}
	sort.Slice(out.ByLead, func(i, j int) bool {
		a, b := out.ByLead[i], out.ByLead[j]
		if a.MonthsAhead != b.MonthsAhead {
			return a.MonthsAhead > b.MonthsAhead
		}
		return a.Currency < b.Currency
	})
	return out, nil
}

// compare builds the comparison of one snapshot's forecast of period p in
// currency with what was won (stored units; weighted in millionths).
func compare(p forecastPeriod, day core.Date, currency string, won, weighted, commit, best, actual, deals int64) ForecastComparison {
	money := func(d decimal.Decimal) core.Money {
		return core.Money{Amount: d, Currency: currency}.RoundToMinorUnit()
	}
	wonD := store.DecimalFromStorage(won, 0)
	c := ForecastComparison{Period: p.label, SnapshotDay: day, Currency: currency,
		DaysAhead:   int(p.start.Time().Sub(day.Time()).Hours() / 24),
		MonthsAhead: (p.start.Year*12 + int(p.start.Month)) - (day.Year*12 + int(day.Month)),
		Won:         store.MoneyFromStorage(won, currency),
		Weighted:    money(wonD.Add(store.DecimalFromStorage(weighted, 2))),
		Commit:      store.MoneyFromStorage(won+commit, currency),
		BestCase:    store.MoneyFromStorage(won+best, currency),
		Actual:      store.MoneyFromStorage(actual, currency), ActualDeals: deals}
	c.WeightedError = core.Money{Amount: c.Weighted.Amount.Sub(c.Actual.Amount), Currency: currency}
	c.CommitError = core.Money{Amount: c.Commit.Amount.Sub(c.Actual.Amount), Currency: currency}
	if actual != 0 {
		ape := func(e core.Money) *float64 {
			f := finite(e.Amount.Abs().Div(c.Actual.Amount.Abs()).InexactFloat64())
			return &f
		}
		c.WeightedAPE, c.CommitAPE = ape(c.WeightedError), ape(c.CommitError)
	}
	return c
}

// forecastPeriods are the periods of interval that start in p and end by
// today.
func forecastPeriods(p Period, interval pipeline.Period, today core.Date) []forecastPeriod {
	step := 1
	if interval == pipeline.Quarter {
		step = 3
	}
	start := core.NewDate(p.From.Year, p.From.Month-(p.From.Month-1)%time.Month(step), 1)
	if start.Before(p.From) {
		start = core.NewDate(start.Year, start.Month+time.Month(step), 1)
	}
	var out []forecastPeriod
	for ; start.Before(p.To); start = core.NewDate(start.Year, start.Month+time.Month(step), 1) {
		end := core.NewDate(start.Year, start.Month+time.Month(step), 1)
		if end.After(today) {
			break
		}
		fp := forecastPeriod{start: start, end: end, label: start.String()[:7]}
		if interval == pipeline.Quarter {
			fp.label = fmt.Sprintf("%04d-Q%d", start.Year, (int(start.Month)+2)/3)
		}
		for m := start; m.Before(end); m = core.NewDate(m.Year, m.Month+1, 1) {
			fp.months = append(fp.months, m.String()[:7])
		}
		out = append(out, fp)
	}
	return out
}

// WriteCSV writes one row per comparison (row "comparison"), then one per
// lead time and currency (row "lead"), each with the columns of its kind
// and the others empty.
func (a *ForecastAccuracy) WriteCSV(w io.Writer) error {
	return table(w, []string{"row", "period", "snapshot_day", "days_ahead", "months_ahead", "currency", "won", "weighted", "commit",
		"best_case", "actual", "actual_deals", "weighted_error", "weighted_ape", "commit_error", "commit_ape",
		"comparisons", "scored", "weighted_mape", "commit_mape", "weighted_bias", "commit_bias"}, func(add func(...string) error) error {
		ape := func(f *float64) string {
			if f == nil {
				return ""
			}
			return ftoa(*f)
		}
		for _, c := range a.Comparisons {
			if err := add("comparison", c.Period, c.SnapshotDay.String(), strconv.Itoa(c.DaysAhead), strconv.Itoa(c.MonthsAhead), c.Currency,
				amount(c.Won), amount(c.Weighted), amount(c.Commit), amount(c.BestCase), amount(c.Actual), itoa64(c.ActualDeals),
				amount(c.WeightedError), ape(c.WeightedAPE), amount(c.CommitError), ape(c.CommitAPE), "", "", "", "", "", ""); err != nil {
				return err
			}
		}
		for _, l := range a.ByLead {
			if err := add("lead", "", "", "", strconv.Itoa(l.MonthsAhead), l.Currency, "", "", "", "", "", "", "", "", "", "",
				itoa64(l.Comparisons), itoa64(l.Scored), ftoa(l.WeightedMAPE), ftoa(l.CommitMAPE), amount(l.WeightedBias), amount(l.CommitBias)); err != nil {
				return err
			}
		}
		return nil
	})
}
