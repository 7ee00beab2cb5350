package analytics

import (
	"context"
	"sort"

	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// PipelineOptions select the deals of Pipelines.
type PipelineOptions struct {
	// Period (both ends required) selects the deals closed in it (win
	// rate, deal size, sales cycle) and the stage entries made in it
	// (conversion).
	Period Period
	// PipelineID narrows the report to one pipeline; zero: every pipeline.
	PipelineID core.ID
}

// PipelineReport is the sales report of a period, one entry per pipeline.
type PipelineReport struct {
	Period    Period          `json:"period"`
	Pipelines []PipelineStats `json:"pipelines"`
}

// PipelineStats are one pipeline's rates over the period.
type PipelineStats struct {
	PipelineID core.ID `json:"pipeline_id"`
	Name       string  `json:"name"`
	// Stages are the pipeline's stages by position, with their conversion.
	Stages []StageConversion `json:"stages"`
	// Won and Lost count the deals closed in the period; WinRate is
	// Won / (Won + Lost), 0 without closed deals.
	Won     int64   `json:"won"`
	Lost    int64   `json:"lost"`
	WinRate float64 `json:"win_rate"`
	// AverageCycleDays is the average time from creating to winning of
	// the deals won in the period, in days.
	AverageCycleDays float64 `json:"average_cycle_days"`
	// Open counts the deals open now (whatever the period).
	Open int64 `json:"open"`
	// Currencies holds the money figures, one entry per currency: amounts
	// in different currencies are never added.
	Currencies []PipelineMoney `json:"currencies"`
}

// StageConversion is how many deals entered a stage in the period and how
// many of them moved on.
type StageConversion struct {
	StageID  core.ID `json:"stage_id"`
	Name     string  `json:"name"`
	Position int64   `json:"position"`
	Kind     string  `json:"kind"`
	// Entered counts the deals that entered the stage in the period.
	Entered int64 `json:"entered"`
	// Advanced counts those of them that entered, afterwards (up to now;
	// later in entry time, or at the same time with a greater entry id),
	// a stage of the same pipeline of a higher position that is not a
	// lost stage.
	Advanced int64 `json:"advanced"`
	// Rate is Advanced / Entered, 0 when none entered.
	Rate float64 `json:"rate"`
}

// PipelineMoney are a pipeline's money figures in one currency.
type PipelineMoney struct {
	Currency string `json:"currency"`
	// Won counts the deals won in the period in this currency, WonAmount
	// sums them, AverageSize is their average (rounded to the minor unit).
	Won         int64      `json:"won"`
	WonAmount   core.Money `json:"won_amount"`
	AverageSize core.Money `json:"average_size"`
	// Open counts the deals open now in this currency, OpenAmount sums them.
	Open       int64      `json:"open"`
	OpenAmount core.Money `json:"open_amount"`
	// Velocity is the sales velocity, money per day: Open × WinRate ×
	// AverageSize ÷ AverageCycleDays (the pipeline's rate and cycle, this
	// currency's deals), rounded to the minor unit; zero when the period
	// won nothing in the currency or the average cycle is zero.
	Velocity core.Money `json:"velocity"`
}

// Pipelines computes, per pipeline, stage-to-stage conversion, win rate,
// average won deal size, average sales cycle and sales velocity over the
// period: two SQL queries (the deals, the stage history), exact integer
// sums, money per currency.
func (s *Service) Pipelines(ctx context.Context, o PipelineOptions) (_ *PipelineReport, err error) {
	ctx, span := s.sc.Span(ctx, "analytics.Pipelines")
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
	if err := v.Err(); err != nil {
		return nil, err
	}
	report := &PipelineReport{Period: o.Period, Pipelines: []PipelineStats{}}
	if !g.readsPipeline() {
		return report, nil // not even the pipelines' names
	}
	q := s.sc.Q()
	if o.PipelineID != core.NilID {
		if err := pipelineExists(ctx, q, tenant, o.PipelineID); err != nil {
			return nil, err
		}
	}
	byID := map[core.ID]*PipelineStats{}
	var order []core.ID

	// The pipelines and their stages, with the entries of the period.
	from, to := o.Period.start(), o.Period.end()
	vis, vargs := g.dealOf("h", "h.deal_id")
	where, args := "", append(append([]any{tenant, from}, vargs...), from, to, tenant)
	if o.PipelineID != core.NilID {
		where = " AND s.pipeline_id = ?"
		args = append(append([]any{tenant, from, o.PipelineID}, vargs...), from, to, tenant, o.PipelineID)
	}
	rows, err := q.PlanPerCall().Query(ctx, stagesSQL(where, vis), args...)
	if err != nil {
		return nil, store.Wrap(err, "pipeline report")
	}
	err = store.EachRow(rows, func(r store.Scanner) error {
		var pid core.ID
		var name string
		var st StageConversion
		if err := r.Scan(&pid, &name, &st.StageID, &st.Name, &st.Position, &st.Kind, &st.Entered, &st.Advanced); err != nil {
			return err
		}
		if st.Entered > 0 {
			st.Rate = float64(st.Advanced) / float64(st.Entered)
		}
		p := byID[pid]
		if p == nil {
			p = &PipelineStats{PipelineID: pid, Name: name, Stages: []StageConversion{}, Currencies: []PipelineMoney{}}
			byID[pid] = p
			order = append(order, pid)
		}
		p.Stages = append(p.Stages, st)
		return nil
	})
	if err != nil {
		return nil, store.Wrap(err, "pipeline report")
	}

	// The deals: closed in the period, and open now.
	where, args = "", []any{tenant, o.Period.From.String(), o.Period.To.String()}
	if o.PipelineID != core.NilID {
		where, args = " AND d.pipeline_id = ?", append(args, o.PipelineID)
	}
	dvis, dargs := g.deals("d")
	where, args = where+dvis, append(args, dargs...)
	rows, err = q.PlanPerCall().Query(ctx, `SELECT d.pipeline_id, d.currency,
		`+q.D.SumInt("CASE WHEN d.status = 'won' THEN 1 ELSE 0 END")+`,
		`+q.D.SumInt("CASE WHEN d.status = 'lost' THEN 1 ELSE 0 END")+`,
		`+q.D.SumInt("CASE WHEN d.status = 'won' THEN d.amount ELSE 0 END")+`,
		COALESCE(SUM(CASE WHEN d.status = 'won' THEN `+q.D.SecondsBetween("d.created_at", "d.closed_at")+` END), 0),
		`+q.D.SumInt("CASE WHEN d.status = 'open' THEN 1 ELSE 0 END")+`,
		`+q.D.SumInt("CASE WHEN d.status = 'open' THEN d.amount ELSE 0 END")+`
		FROM crm_deals d
		WHERE d.tenant_id = ? AND (d.status = 'open' OR (d.status IN ('won', 'lost') AND d.closed_on >= ? AND d.closed_on < ?))`+where+`
		GROUP BY d.pipeline_id, d.currency ORDER BY d.pipeline_id, d.currency`, args...)
	if err != nil {
		return nil, store.Wrap(err, "pipeline report")
	}
	cycle := map[core.ID]float64{}
	err = store.EachRow(rows, func(r store.Scanner) error {
		var pid core.ID
		var m PipelineMoney
		var lost, won, open int64
		var seconds float64
		if err := r.Scan(&pid, &m.Currency, &m.Won, &lost, &won, &seconds, &m.Open, &open); err != nil {
			return err
		}
		p := byID[pid]
		if p == nil { // a pipeline without stages cannot hold deals
			return nil
		}
		p.Won += m.Won
		p.Lost += lost
		p.Open += m.Open
		cycle[pid] += seconds
		m.WonAmount = store.MoneyFromStorage(won, m.Currency)
		m.OpenAmount = store.MoneyFromStorage(open, m.Currency)
		m.AverageSize = core.Money{Currency: m.Currency, Amount: decimal.Zero}
		if m.Won > 0 {
			m.AverageSize = core.Money{Amount: m.WonAmount.Amount.Div(decimal.NewFromInt(m.Won)), Currency: m.Currency}.RoundToMinorUnit()
		}
		p.Currencies = append(p.Currencies, m)
		return nil
	})
	if err != nil {
		return nil, store.Wrap(err, "pipeline report")
	}
	for _, pid := range order {
		p := byID[pid]
		if p.Won+p.Lost > 0 {
			p.WinRate = float64(p.Won) / float64(p.Won+p.Lost)
		}
		if p.Won > 0 {
			p.AverageCycleDays = finite(cycle[pid] / float64(p.Won) / 86400)
		}
		for i := range p.Currencies {
			m := &p.Currencies[i]
			m.Velocity = velocity(m.Open, p.WinRate, m.AverageSize, p.AverageCycleDays)
		}
		sort.Slice(p.Currencies, func(i, j int) bool { return p.Currencies[i].Currency < p.Currencies[j].Currency })
		report.Pipelines = append(report.Pipelines, *p)
	}
	return report, nil
}

// stagesSQL is the query of the stages with their conversion: of the
// deals that entered a stage in the period, those that entered a stage of
// a higher position that is not a lost stage afterwards (later in the
// order of the history: entry time, then id). One window over each deal's
// history gives, for every entry, the highest such position entered after
// it: one sort of the history instead of a lookup per entry. Entries
// before the period are left out of the window: they are neither counted
// nor after a counted one. Stages of one pipeline only are compared (a
// deal moved to another pipeline advanced in neither by the move), so
// where (on stages s) narrows both the window and the stages; vis (on
// the history h) narrows the window to the deals the actor sees.
func stagesSQL(where, vis string) string {
	return `WITH h AS (
			SELECT h.tenant_id, h.deal_id, h.stage_id, h.entered_at,
				MAX(CASE WHEN s.kind <> 'lost' THEN s.position END) OVER (PARTITION BY h.deal_id, s.pipeline_id ORDER BY h.entered_at, h.id
					ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS later
			FROM crm_deal_stage_history h JOIN crm_stages s ON s.tenant_id = h.tenant_id AND s.id = h.stage_id
			WHERE h.tenant_id = ? AND h.entered_at >= ?` + where + vis + `
		)
		SELECT s.pipeline_id, p.name, s.id, s.name, s.position, s.kind,
			COUNT(DISTINCT h.deal_id), COUNT(DISTINCT CASE WHEN h.later > s.position THEN h.deal_id END)
		FROM crm_stages s
		JOIN crm_pipelines p ON p.tenant_id = s.tenant_id AND p.id = s.pipeline_id
		LEFT JOIN h ON h.tenant_id = s.tenant_id AND h.stage_id = s.id AND h.entered_at >= ? AND h.entered_at < ?
		WHERE s.tenant_id = ?` + where + `
		GROUP BY s.pipeline_id, p.name, p.position, s.id, s.name, s.position, s.kind
		ORDER BY p.position, s.pipeline_id, s.position, s.id`
}

// velocity is open × winRate × avg ÷ cycleDays, rounded to the minor unit;
// zero when avg is zero or cycleDays is not positive.
func velocity(open int64, winRate float64, avg core.Money, cycleDays float64) core.Money {
	out := core.Money{Amount: decimal.Zero, Currency: avg.Currency}
	if cycleDays <= 0 || avg.Amount.IsZero() || open == 0 {
		return out
	}
	v := avg.Amount.Mul(decimal.NewFromInt(open)).Mul(decimal.NewFromFloat(winRate)).Div(decimal.NewFromFloat(cycleDays))
	out.Amount = v
	return out.RoundToMinorUnit()
}
