package pipeline

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
)

// Period is how a forecast groups days.
type Period string

// Forecast periods.
const (
	Month   Period = "month"   // "2026-03"
	Quarter Period = "quarter" // "2026-Q1"
)

// Rates converts money between currencies for reports. Hosts implement it
// with their own rates; crmkit ships none.
type Rates interface {
	// Rate returns how many units of to one unit of from is worth.
	Rate(ctx context.Context, from, to string) (decimal.Decimal, error)
}

// ForecastOptions select and group a forecast.
type ForecastOptions struct {
	// From (inclusive) and To (exclusive) bound the days; both required.
	From, To core.Date
	// Period groups the days: Month (default) or Quarter.
	Period Period
	// PipelineID and OwnerID narrow the deals.
	PipelineID core.ID
	OwnerID    string
	// ByOwner and ByPipeline add those groupings.
	ByOwner, ByPipeline bool
	// Currency and Rates, both set, convert every amount into Currency;
	// otherwise each currency has rows of its own.
	Currency string
	Rates    Rates
}

// ForecastRow is one group of a forecast. Won deals count in the period
// they closed; open deals in the period of their expected close date (open
// deals without one are in no period); lost deals not at all.
type ForecastRow struct {
	Period     string   `json:"period"`
	OwnerID    string   `json:"owner_id,omitempty"`
	PipelineID *core.ID `json:"pipeline_id,omitempty"`
	Currency   string   `json:"currency"`
	// Won is the amount of the deals won.
	Won      core.Money `json:"won"`
	WonCount int64      `json:"won_count"`
	// Weighted is the open amount weighted by stage probability.
	Weighted core.Money `json:"weighted"`
	// BestCase is the whole open amount.
	BestCase  core.Money `json:"best_case"`
	OpenCount int64      `json:"open_count"`
	// Commit is the open amount of deals marked Commit.
	Commit      core.Money `json:"commit"`
	CommitCount int64      `json:"commit_count"`
}

// checkRange checks the days [from, to) of a report: both required, in the
// supported range, to after from.
func checkRange(v *core.ValidationError, from, to core.Date) {
	n := len(v.Fields)
	for _, x := range []struct {
		field string
		d     core.Date
	}{{"from", from}, {"to", to}} {
		if x.d.IsZero() {
			v.Add(x.field, "is required")
		} else {
			v.CheckDate(x.field, x.d)
		}
	}
	if len(v.Fields) == n && !from.Before(to) {
		v.Add("to", "must be after from")
	}
}

// periodSQL is the SQL of the period of a 'YYYY-MM-DD' column.
func periodSQL(p Period, day string) string {
	if p == Quarter {
		return "substr(" + day + ", 1, 4) || '-Q' || CAST((CAST(substr(" + day + ", 6, 2) AS INTEGER) + 2) / 3 AS TEXT)"
	}
	return "substr(" + day + ", 1, 7)"
}

// forecastSQL returns the query of a forecast and its arguments: one scan
// of the deals whose day (close date of won deals, expected close date of
// open ones) is in range, so the planner picks the expected/closed indexes
// for a narrow range and a table scan for a wide one.
//
// visible (" AND " and a condition on "d", or "") narrows the deals to
// those the actor sees, with vargs.
func forecastSQL(d *dialect.Dialect, tenant string, o ForecastOptions, visible string, vargs []any) (string, []any) {
	from, to := o.From.String(), o.To.String()
	args := []any{tenant, from, to, from, to}
	where := ""
	if o.PipelineID != core.NilID {
		where += " AND d.pipeline_id = ?"
		args = append(args, o.PipelineID)
	}
	if o.OwnerID != "" {
		where += " AND d.owner_id = ?"
		args = append(args, o.OwnerID)
	}
	where += visible
	args = append(args, vargs...)
	group := "period"
	if o.ByOwner {
		group += ", d.owner_id"
	}
	if o.ByPipeline {
		group += ", d.pipeline_id"
	}
	group += ", d.currency"
	query := `SELECT ` + periodSQL(o.Period, "CASE WHEN d.status = 'won' THEN d.closed_on ELSE d.expected_close END") + ` AS period, ` +
		strings.TrimPrefix(group, "period, ") + `,
		` + d.SumInt("CASE WHEN d.status = 'won' THEN d.amount ELSE 0 END") + `,
		` + d.SumInt("CASE WHEN d.status = 'won' THEN 1 ELSE 0 END") + `,
		` + d.SumInt("CASE WHEN d.status = 'open' THEN d.amount * s.probability ELSE 0 END") + `,
		` + d.SumInt("CASE WHEN d.status = 'open' THEN d.amount ELSE 0 END") + `,
		` + d.SumInt("CASE WHEN d.status = 'open' THEN 1 ELSE 0 END") + `,
		` + d.SumInt("CASE WHEN d.status = 'open' AND d.forecast_commit THEN d.amount ELSE 0 END") + `,
		` + d.SumInt("CASE WHEN d.status = 'open' AND d.forecast_commit THEN 1 ELSE 0 END") + `
		FROM crm_deals d JOIN crm_stages s ON s.tenant_id = d.tenant_id AND s.id = d.stage_id
		WHERE d.tenant_id = ? AND ((d.status = 'won' AND d.closed_on >= ? AND d.closed_on < ?)
			OR (d.status = 'open' AND d.expected_close >= ? AND d.expected_close < ?))` + where + `
		GROUP BY ` + group + ` ORDER BY ` + group
	return query, args
}

// Forecast sums won, weighted, best-case and commit amounts per period (and
// owner, pipeline, currency as asked), in one SQL query with exact integer
// sums. The weighted amount is rounded to the currency's minor unit once per
// row, after summing. With an actor, only the deals they see count.
func (s *Deals) Forecast(ctx context.Context, o ForecastOptions) (_ []ForecastRow, err error) {
	ctx, span := s.sc.Span(ctx, "pipeline.Deals.Forecast")
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	g, err := check(ctx, s.sc, "deal", core.NilID, access.Read)
	if err != nil {
		return nil, err
	}
	v := &core.ValidationError{}
	checkRange(v, o.From, o.To)
	switch o.Period {
	case "":
		o.Period = Month
	case Month, Quarter:
	default:
		v.Add("period", "%q is not one of month, quarter", o.Period)
	}
	if (o.Currency == "") != (o.Rates == nil) {
		v.Add("currency", "converting needs both Currency and Rates")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	q := s.sc.Q()
	visible, vargs := g.where("d")
	query, args := forecastSQL(q.D, tenant, o, visible, vargs)
	rows, err := q.PlanPerCall().Query(ctx, query, args...)
	if err != nil {
		return nil, store.Wrap(err, "forecast")
	}
	out := []ForecastRow{}
	err = store.EachRow(rows, func(r store.Scanner) error {
		var row ForecastRow
		var pipeline core.ID
		dest := []any{&row.Period}
		if o.ByOwner {
			dest = append(dest, &row.OwnerID)
		}
		if o.ByPipeline {
			dest = append(dest, &pipeline)
		}
		var won, weighted, best, commit int64
		dest = append(dest, &row.Currency, &won, &row.WonCount, &weighted, &best, &row.OpenCount, &commit, &row.CommitCount)
		if err := r.Scan(dest...); err != nil {
			return err
		}
		if o.ByPipeline {
			row.PipelineID = &pipeline
		}
		row.Won = store.MoneyFromStorage(won, row.Currency)
		row.Weighted = core.Money{Amount: store.DecimalFromStorage(weighted, 2), Currency: row.Currency}.RoundToMinorUnit()
		row.BestCase = store.MoneyFromStorage(best, row.Currency)
		row.Commit = store.MoneyFromStorage(commit, row.Currency)
		out = append(out, row)
		return nil
	})
	if err != nil {
		return nil, store.Wrap(err, "forecast")
	}
	if o.Rates != nil {
		return convertForecast(ctx, out, o.Currency, o.Rates)
	}
	return out, nil
}

// convertForecast converts rows into currency and merges the rows that
// then share a group.
func convertForecast(ctx context.Context, rows []ForecastRow, currency string, rates Rates) ([]ForecastRow, error) {
	rate := map[string]decimal.Decimal{currency: decimal.NewFromInt(1)}
	conv := func(m core.Money) (core.Money, error) {
		r, ok := rate[m.Currency]
		if !ok {
			var err error
			if r, err = rates.Rate(ctx, m.Currency, currency); err != nil {
				return core.Money{}, fmt.Errorf("crm: forecast: rate %s→%s: %w", m.Currency, currency, err)
			}
			rate[m.Currency] = r
		}
		return core.Money{Amount: m.Amount.Mul(r), Currency: currency}.RoundToMinorUnit(), nil
	}
	type key struct {
		period, owner string
		pipeline      core.ID
	}
	merged := map[key]*ForecastRow{}
	var order []key
	for _, r := range rows {
		k := key{period: r.Period, owner: r.OwnerID}
		if r.PipelineID != nil {
			k.pipeline = *r.PipelineID
		}
		m := merged[k]
		if m == nil {
			m = &ForecastRow{Period: r.Period, OwnerID: r.OwnerID, PipelineID: r.PipelineID, Currency: currency,
				Won: core.Money{Currency: currency}, Weighted: core.Money{Currency: currency}, BestCase: core.Money{Currency: currency}, Commit: core.Money{Currency: currency}}
			merged[k] = m
			order = append(order, k)
		}
		for _, x := range []struct{ dst, src *core.Money }{{&m.Won, &r.Won}, {&m.Weighted, &r.Weighted}, {&m.BestCase, &r.BestCase}, {&m.Commit, &r.Commit}} {
			c, err := conv(*x.src)
			if err != nil {
				return nil, err
			}
			x.dst.Amount = x.dst.Amount.Add(c.Amount)
		}
		m.WonCount += r.WonCount
		m.OpenCount += r.OpenCount
		m.CommitCount += r.CommitCount
	}
	out := make([]ForecastRow, len(order))
	for i, k := range order {
		out[i] = *merged[k]
	}
	return out, nil
}

// StatsOptions select the deals of Stats: those closed (won or lost) in
// [From, To) (days, both required).
type StatsOptions struct {
	From, To   core.Date
	PipelineID core.ID
	OwnerID    string
}

// Stats are a sales team's rates over a period.
type Stats struct {
	Won  int64 `json:"won"`
	Lost int64 `json:"lost"`
	// WinRate is Won / (Won + Lost); 0 without closed deals.
	WinRate float64 `json:"win_rate"`
	// AverageDealSize is the average amount of the won deals, per currency,
	// rounded to the minor unit.
	AverageDealSize []core.Money `json:"average_deal_size"`
	// AverageCycle is the average time from creating to winning a deal.
	AverageCycle time.Duration `json:"average_cycle"`
}

// Stats computes win rate, average deal size and average sales cycle of
// the deals closed in the period, in one SQL query. With an actor, only
// the deals they see count.
func (s *Deals) Stats(ctx context.Context, o StatsOptions) (_ *Stats, err error) {
	ctx, span := s.sc.Span(ctx, "pipeline.Deals.Stats")
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	g, err := check(ctx, s.sc, "deal", core.NilID, access.Read)
	if err != nil {
		return nil, err
	}
	v := &core.ValidationError{}
	checkRange(v, o.From, o.To)
	if err := v.Err(); err != nil {
		return nil, err
	}
	q := s.sc.Q()
	where := ""
	args := []any{tenant, o.From.String(), o.To.String()}
	if o.PipelineID != core.NilID {
		where += " AND d.pipeline_id = ?"
		args = append(args, o.PipelineID)
	}
	if o.OwnerID != "" {
		where += " AND d.owner_id = ?"
		args = append(args, o.OwnerID)
	}
	visible, vargs := g.where("d")
	where += visible
	args = append(args, vargs...)
	rows, err := q.PlanPerCall().Query(ctx, `SELECT d.currency,
		`+q.D.SumInt("CASE WHEN d.status = 'won' THEN 1 ELSE 0 END")+`,
		`+q.D.SumInt("CASE WHEN d.status = 'lost' THEN 1 ELSE 0 END")+`,
		`+q.D.SumInt("CASE WHEN d.status = 'won' THEN d.amount ELSE 0 END")+`,
		COALESCE(SUM(CASE WHEN d.status = 'won' THEN `+q.D.SecondsBetween("d.created_at", "d.closed_at")+` ELSE 0 END), 0)
		FROM crm_deals d WHERE d.tenant_id = ? AND d.status IN ('won', 'lost') AND d.closed_on >= ? AND d.closed_on < ?`+where+`
		GROUP BY d.currency ORDER BY d.currency`, args...)
	if err != nil {
		return nil, store.Wrap(err, "stats")
	}
	st := &Stats{AverageDealSize: []core.Money{}}
	var cycle float64
	err = store.EachRow(rows, func(r store.Scanner) error {
		var currency string
		var won, lost, amount int64
		var seconds float64
		if err := r.Scan(&currency, &won, &lost, &amount, &seconds); err != nil {
			return err
		}
		st.Won += won
		st.Lost += lost
		cycle += seconds
		if won > 0 {
			avg := store.DecimalFromStorage(amount, 0).Div(decimal.NewFromInt(won))
			st.AverageDealSize = append(st.AverageDealSize, core.Money{Amount: avg, Currency: currency}.RoundToMinorUnit())
		}
		return nil
	})
	if err != nil {
		return nil, store.Wrap(err, "stats")
	}
	if st.Won+st.Lost > 0 {
		st.WinRate = float64(st.Won) / float64(st.Won+st.Lost)
	}
	if st.Won > 0 {
		st.AverageCycle = time.Duration(math.Round(cycle/float64(st.Won)*1000)) * time.Millisecond
	}
	sort.Slice(st.AverageDealSize, func(i, j int) bool { return st.AverageDealSize[i].Currency < st.AverageDealSize[j].Currency })
	return st, nil
}
