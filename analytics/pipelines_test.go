package analytics_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/analytics"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/pipeline"
)

var period = analytics.Period{From: core.NewDate(2025, time.July, 1), To: core.NewDate(2026, time.April, 1)}

// inPeriod reports whether a deal closed in p (its UTC day).
func inPeriod(p analytics.Period, d dealRow) bool {
	return d.closedAt != nil && d.closedOn() >= p.From.String() && d.closedOn() < p.To.String()
}

// The pipeline report equals one computed in memory from the same random
// rows: counts, win rate, cycle, money per currency, stage conversion.
func TestPipelinesMatchReference(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		d := randomData(t, b, rand.New(rand.NewPCG(11, 12)), 80, 300)
		b.load(t, d)
		got, err := b.svc.Pipelines(context.Background(), analytics.PipelineOptions{Period: period})
		require.NoError(t, err)
		requireFinite(t, got)
		require.Len(t, got.Pipelines, 2)
		for i, p := range d.pipelines {
			ps := got.Pipelines[i]
			require.Equal(t, p.ID, ps.PipelineID)
			require.Equal(t, p.Name, ps.Name)
			pos := map[core.ID]pipeline.Stage{}
			for _, s := range p.Stages {
				pos[s.ID] = s
			}
			var won, lost, open int64
			var cycle float64
			type money struct{ won, wonSum, open, openSum int64 }
			byCur := map[string]*money{}
			for _, dl := range d.deals {
				if dl.pipeline != p.ID {
					continue
				}
				m := byCur[dl.currency]
				if m == nil {
					m = &money{}
					byCur[dl.currency] = m
				}
				switch {
				case dl.status == "open":
					open++
					m.open++
					m.openSum += dl.amount
				case dl.status == "won" && inPeriod(period, dl):
					won++
					m.won++
					m.wonSum += dl.amount
					cycle += dl.closedAt.Sub(dl.created).Seconds()
				case dl.status == "lost" && inPeriod(period, dl):
					lost++
				}
			}
			require.Equal(t, won, ps.Won)
			require.Equal(t, lost, ps.Lost)
			require.Equal(t, open, ps.Open)
			require.Greater(t, won*lost, int64(0), "the data should exercise both")
			rate := float64(won) / float64(won+lost)
			require.InDelta(t, rate, ps.WinRate, 1e-12)
			cycleDays := cycle / float64(won) / 86400
			require.InDelta(t, cycleDays, ps.AverageCycleDays, 1e-6)
			for _, m := range ps.Currencies {
				ref := byCur[m.Currency]
				require.NotNil(t, ref, m.Currency)
				require.Equal(t, ref.won, m.Won)
				require.Equal(t, ref.open, m.Open)
				require.True(t, decimal.New(ref.wonSum, -4).Equal(m.WonAmount.Amount), "%s: %s", m.Currency, m.WonAmount)
				require.True(t, decimal.New(ref.openSum, -4).Equal(m.OpenAmount.Amount))
				avg := decimal.Zero
				if ref.won > 0 {
					avg = decimal.New(ref.wonSum, -4).Div(decimal.NewFromInt(ref.won)).Round(2)
				}
				require.True(t, avg.Equal(m.AverageSize.Amount), "%s vs %s", avg, m.AverageSize)
				vel := avg.Mul(decimal.NewFromInt(ref.open)).Mul(decimal.NewFromFloat(rate)).Div(decimal.NewFromFloat(cycleDays))
				require.InDelta(t, vel.InexactFloat64(), m.Velocity.Amount.InexactFloat64(), 0.011, m.Currency)
			}
			// Stage conversion from the history.
			require.Len(t, ps.Stages, len(p.Stages))
			for k, st := range ps.Stages {
				require.Equal(t, p.Stages[k].ID, st.StageID)
				entered, advanced := map[core.ID]bool{}, map[core.ID]bool{}
				for _, h := range d.history {
					if h.stage != st.StageID || h.entered.Before(period.From.Time()) || !h.entered.Before(period.To.Time()) {
						continue
					}
					entered[h.deal] = true
					for _, h2 := range d.history {
						s2 := pos[h2.stage]
						later := h2.entered.After(h.entered) || h2.entered.Equal(h.entered) && h2.id.String() > h.id.String()
						if h2.deal == h.deal && later && s2.Position > p.Stages[k].Position && s2.Kind != pipeline.StageLost {
							advanced[h.deal] = true
						}
					}
				}
				require.Equal(t, int64(len(entered)), st.Entered, st.Name)
				require.Equal(t, int64(len(advanced)), st.Advanced, st.Name)
				if st.Entered > 0 {
					require.InDelta(t, float64(len(advanced))/float64(len(entered)), st.Rate, 1e-12)
				}
			}
			require.Greater(t, ps.Stages[0].Entered, int64(0))
		}

		// One pipeline: the same figures as in the whole report.
		one, err := b.svc.Pipelines(context.Background(), analytics.PipelineOptions{Period: period, PipelineID: d.pipelines[1].ID})
		require.NoError(t, err)
		require.Len(t, one.Pipelines, 1)
		require.Equal(t, got.Pipelines[1], one.Pipelines[0])
	})
}

// Bad input is refused with every problem listed; an unknown pipeline is
// not found, and the message names its id.
func TestReportsValidateInput(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		reversed := analytics.Period{From: core.NewDate(2026, 3, 1), To: core.NewDate(2026, 1, 1)}
		var ve *core.ValidationError

		_, err := b.svc.Pipelines(ctx, analytics.PipelineOptions{Period: reversed})
		require.ErrorIs(t, err, core.ErrInvalid)
		require.True(t, errors.As(err, &ve) && ve.Has("period.to"))
		_, err = b.svc.Pipelines(ctx, analytics.PipelineOptions{})
		require.True(t, errors.As(err, &ve) && ve.Has("period.from") && ve.Has("period.to"), "%v", err)

		missing := core.NewID()
		_, err = b.svc.Pipelines(ctx, analytics.PipelineOptions{Period: period, PipelineID: missing})
		require.ErrorIs(t, err, core.ErrNotFound)
		require.Contains(t, err.Error(), missing.String())
		_, err = b.svc.Attribution(ctx, analytics.AttributionOptions{Period: period, PipelineID: missing})
		require.ErrorIs(t, err, core.ErrNotFound)

		_, err = b.svc.Attribution(ctx, analytics.AttributionOptions{Period: reversed, Model: "bogus", HalfLife: -time.Hour})
		require.True(t, errors.As(err, &ve), "%v", err)
		require.True(t, ve.Has("period.to") && ve.Has("model") && ve.Has("half_life"), "%v", err)

		_, err = b.svc.CustomerValue(ctx, analytics.CustomerValueOptions{Period: reversed})
		require.True(t, errors.As(err, &ve) && ve.Has("period.to") && ve.Has("horizon"), "%v", err)
		_, err = b.svc.CustomerValue(ctx, analytics.CustomerValueOptions{Horizon: -time.Hour})
		require.True(t, errors.As(err, &ve) && ve.Has("horizon"), "%v", err)

		_, err = b.svc.Churn(ctx, analytics.ChurnOptions{Period: reversed, OverdueFactor: -1})
		require.True(t, errors.As(err, &ve) && ve.Has("period.to") && ve.Has("overdue_factor"), "%v", err)
		_, err = b.svc.RFM(ctx, analytics.RFMOptions{Period: reversed})
		require.True(t, errors.As(err, &ve) && ve.Has("period.to"), "%v", err)
		_, err = b.svc.Cohorts(ctx, analytics.CohortOptions{Period: reversed})
		require.True(t, errors.As(err, &ve) && ve.Has("period.to"), "%v", err)
		_, err = b.svc.Cohorts(ctx, analytics.CohortOptions{Period: analytics.Period{From: core.NewDate(2000, 1, 1), To: core.NewDate(2030, 1, 1)}})
		require.True(t, errors.As(err, &ve) && ve.Has("period"), "%v", err)

		// An invalid tenant fails every report.
		bad := analytics.Module.Service(b.sc.WithTenant("no spaces"))
		_, err = bad.RFM(ctx, analytics.RFMOptions{})
		require.ErrorIs(t, err, core.ErrInvalid)
	})
}

// A tenant without deals or purchases gets empty reports: no rows, no NaN.
func TestEmptyTenant(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		pr, err := b.svc.Pipelines(ctx, analytics.PipelineOptions{Period: period})
		require.NoError(t, err)
		require.Empty(t, pr.Pipelines)
		at, err := b.svc.Attribution(ctx, analytics.AttributionOptions{Period: period, Model: analytics.UShaped})
		require.NoError(t, err)
		require.Empty(t, at.Channels)
		require.Empty(t, at.Revenue)
		cv, err := b.svc.CustomerValue(ctx, analytics.CustomerValueOptions{Horizon: 52 * 7 * 24 * time.Hour})
		require.NoError(t, err)
		require.Nil(t, cv.Purchases)
		require.Empty(t, cv.Customers)
		rfm, err := b.svc.RFM(ctx, analytics.RFMOptions{})
		require.NoError(t, err)
		require.Empty(t, rfm.Customers)
		co, err := b.svc.Cohorts(ctx, analytics.CohortOptions{Period: period})
		require.NoError(t, err)
		require.Empty(t, co.Cohorts)
		require.Len(t, co.Months, 9)
		ch, err := b.svc.Churn(ctx, analytics.ChurnOptions{})
		require.NoError(t, err)
		require.Empty(t, ch.Customers)
		for _, r := range []any{pr, at, cv, rfm, co, ch} {
			requireFinite(t, r)
		}

		// A pipeline without deals: its stages, zero rates.
		p, err := b.pipelines.Create(ctx, pipeline.NewPipeline{Name: "Empty"})
		require.NoError(t, err)
		pr, err = b.svc.Pipelines(ctx, analytics.PipelineOptions{Period: period, PipelineID: p.ID})
		require.NoError(t, err)
		require.Len(t, pr.Pipelines, 1)
		require.Len(t, pr.Pipelines[0].Stages, len(p.Stages))
		require.Zero(t, pr.Pipelines[0].WinRate)
		require.Empty(t, pr.Pipelines[0].Currencies)
		requireFinite(t, pr)
	})
}

// Reports read their own tenant only: another tenant of the same database
// sees nothing of the default tenant's deals and purchases, and its
// pipeline ids are not found there.
func TestReportsStayInTheirTenant(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		d := randomData(t, b, rand.New(rand.NewPCG(81, 82)), 40, 60)
		b.load(t, d)
		mine, err := b.svc.RFM(ctx, analytics.RFMOptions{})
		require.NoError(t, err)
		require.NotEmpty(t, mine.Customers)

		other := analytics.Module.Service(b.sc.WithTenant("other"))
		pr, err := other.Pipelines(ctx, analytics.PipelineOptions{Period: period})
		require.NoError(t, err)
		require.Empty(t, pr.Pipelines)
		_, err = other.Pipelines(ctx, analytics.PipelineOptions{Period: period, PipelineID: d.pipelines[0].ID})
		require.ErrorIs(t, err, core.ErrNotFound)
		at, err := other.Attribution(ctx, analytics.AttributionOptions{Period: period})
		require.NoError(t, err)
		require.Zero(t, at.Deals)
		cv, err := other.CustomerValue(ctx, analytics.CustomerValueOptions{Horizon: week})
		require.NoError(t, err)
		require.Empty(t, cv.Customers)
		rfm, err := other.RFM(ctx, analytics.RFMOptions{})
		require.NoError(t, err)
		require.Empty(t, rfm.Customers)
		co, err := other.Cohorts(ctx, analytics.CohortOptions{Period: period})
		require.NoError(t, err)
		require.Empty(t, co.Cohorts)
		ch, err := other.Churn(ctx, analytics.ChurnOptions{})
		require.NoError(t, err)
		require.Empty(t, ch.Customers)
	})
}

// Stage conversion on hand-made histories: skipped stages, a lost deal
// reopened, a deal moved to another pipeline, an entry before the period.
func TestStageConversion(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		p, err := b.pipelines.Create(ctx, pipeline.NewPipeline{Name: "P"})
		require.NoError(t, err)
		q, err := b.pipelines.Create(ctx, pipeline.NewPipeline{Name: "Q"})
		require.NoError(t, err)
		day := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 10, 0, 0, 0, time.UTC) }
		d := &data{}
		deal := func(pl *pipeline.Pipeline, entries ...any) {
			dl := dealRow{id: core.NewID(), pipeline: pl.ID, stage: pl.Stages[0].ID, status: "open", amount: 10000, currency: "EUR", created: day(1, 1)}
			d.deals = append(d.deals, dl)
			for i := 0; i < len(entries); i += 2 {
				d.history = append(d.history, historyRow{id: core.NewID(), deal: dl.id, stage: entries[i].(pipeline.Stage).ID, entered: entries[i+1].(time.Time)})
			}
		}
		P, Q := p.Stages, q.Stages
		deal(p, P[0], day(1, 5), P[1], day(1, 10), P[3], day(1, 20), P[4], day(1, 25)) // A: skips 2, won
		deal(p, P[0], day(1, 6), P[5], day(1, 8), P[0], day(1, 12), P[1], day(1, 15))  // B: lost, reopened
		deal(p, P[0], day(1, 7), Q[0], day(1, 9), Q[1], day(1, 11))                    // C: moved to Q
		deal(p, P[0], time.Date(2025, 12, 20, 0, 0, 0, 0, time.UTC), P[1], day(1, 3))  // D: entered P0 before
		b.load(t, d)
		jan := analytics.Period{From: core.NewDate(2026, 1, 1), To: core.NewDate(2026, 2, 1)}
		got, err := b.svc.Pipelines(ctx, analytics.PipelineOptions{Period: jan})
		require.NoError(t, err)
		conv := func(ps analytics.PipelineStats) [][2]int64 {
			var out [][2]int64
			for _, s := range ps.Stages {
				out = append(out, [2]int64{s.Entered, s.Advanced})
			}
			return out
		}
		require.Len(t, got.Pipelines, 2)
		// Qualification, Demo, Proposal, Negotiation, Won, Lost.
		require.Equal(t, [][2]int64{{3, 2}, {3, 1}, {0, 0}, {1, 1}, {1, 0}, {1, 0}}, conv(got.Pipelines[0]))
		require.Equal(t, [][2]int64{{1, 1}, {1, 0}, {0, 0}, {0, 0}, {0, 0}, {0, 0}}, conv(got.Pipelines[1]))
		require.InDelta(t, 2.0/3, got.Pipelines[0].Stages[0].Rate, 1e-12)
		for i, pl := range []*pipeline.Pipeline{p, q} {
			one, err := b.svc.Pipelines(ctx, analytics.PipelineOptions{Period: jan, PipelineID: pl.ID})
			require.NoError(t, err)
			require.Equal(t, got.Pipelines[i], one.Pipelines[0])
		}
	})
}
