package pipeline_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
	"github.com/crmkit/crmkit/pipeline"
)

// snapLine is a stored line of a forecast snapshot.
type snapLine struct {
	Month, Owner, Currency                   string
	Pipeline                                 core.ID
	Won, WonN, Weighted, Best, OpenN, Commit int64
	CommitN                                  int64
}

// lines reads the lines of the snapshot of day, in key order.
func (b *bundle) lines(t *testing.T, day core.Date) []snapLine {
	t.Helper()
	tenant, err := b.sc.Tenant()
	require.NoError(t, err)
	rows, err := b.sc.Q().Query(context.Background(), `SELECT month, owner_id, currency, pipeline_id, won, won_count, weighted, best_case,
		open_count, commit_amount, commit_count FROM crm_forecast_snapshot_lines WHERE tenant_id = ? AND snapshot_day = ?
		ORDER BY month, owner_id, pipeline_id, currency`, tenant, day.String())
	require.NoError(t, err)
	out := []snapLine{}
	require.NoError(t, store.EachRow(rows, func(r store.Scanner) error {
		var l snapLine
		err := r.Scan(&l.Month, &l.Owner, &l.Currency, &l.Pipeline, &l.Won, &l.WonN, &l.Weighted, &l.Best, &l.OpenN, &l.Commit, &l.CommitN)
		out = append(out, l)
		return err
	}))
	return out
}

// snapshots reads the snapshot days of the tenant with when each was
// taken.
func (b *bundle) snapshots(t *testing.T) map[string]time.Time {
	t.Helper()
	tenant, err := b.sc.Tenant()
	require.NoError(t, err)
	rows, err := b.sc.Q().Query(context.Background(), `SELECT snapshot_day, taken_at FROM crm_forecast_snapshots WHERE tenant_id = ?`, tenant)
	require.NoError(t, err)
	out := map[string]time.Time{}
	require.NoError(t, store.EachRow(rows, func(r store.Scanner) error {
		var day string
		var at time.Time
		err := r.Scan(&day, &at)
		out[day] = at.UTC()
		return err
	}))
	return out
}

// randomDeals makes deals in two pipelines, three currencies and four
// owners, expected to close over two years around the clock's day, some
// committed, won or lost.
func randomDeals(t *testing.T, b *bundle, rng *rand.Rand, n int) {
	t.Helper()
	ctx := context.Background()
	var pipes []*pipeline.Pipeline
	for i := range 2 {
		p, err := b.pipelines.Create(ctx, pipeline.NewPipeline{Name: fmt.Sprint("P", i)})
		require.NoError(t, err)
		pipes = append(pipes, p)
	}
	for range n {
		p := pipes[rng.IntN(2)]
		in := pipeline.NewDeal{Title: "d", PipelineID: p.ID, StageID: p.Stages[rng.IntN(4)].ID,
			Amount:        core.Money{Amount: core.MustMoney(fmt.Sprintf("%d.%02d", 1+rng.IntN(5000), rng.IntN(100)), "EUR").Amount, Currency: []string{"EUR", "USD", "JPY"}[rng.IntN(3)]},
			OwnerID:       []string{"", "ann", "ben", "cat"}[rng.IntN(4)],
			ExpectedClose: core.NewDate(2025, 9, 1).AddDays(rng.IntN(730)), Commit: rng.IntN(3) == 0}
		if in.Amount.Currency == "JPY" {
			in.Amount = core.MustMoney(fmt.Sprint(1+rng.IntN(500000)), "JPY")
		}
		if rng.IntN(8) == 0 {
			in.ExpectedClose = core.Date{}
		}
		d, err := b.deals.Create(ctx, in)
		require.NoError(t, err)
		switch rng.IntN(6) {
		case 0:
			_, err = b.deals.Win(ctx, d.ID, d.Version)
		case 1:
			_, err = b.deals.Lose(ctx, d.ID, d.Version, "price")
		}
		require.NoError(t, err)
	}
}

// A snapshot holds, for every month of its range, what Forecast reports
// by owner and pipeline on that day — weighted amounts unrounded, so they
// add up — and nothing outside its range.
func TestSnapshotForecastMatchesForecast(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		randomDeals(t, b, rand.New(rand.NewPCG(1, 2)), 150)
		at := b.clock.Now() // Sunday 1 March 2026
		snap, err := b.deals.SnapshotForecast(ctx, at)
		require.NoError(t, err)
		require.Equal(t, core.NewDate(2026, 3, 1), snap.Day)
		require.Equal(t, "2026-01", snap.FirstMonth, "the quarter of the day first")
		require.Equal(t, "2026-12", snap.LastMonth)
		from, to := pipeline.SnapshotRange(snap.Day)
		require.Equal(t, core.NewDate(2026, 1, 1), from)
		require.Equal(t, core.NewDate(2027, 1, 1), to)

		rows, err := b.deals.Forecast(ctx, pipeline.ForecastOptions{From: from, To: to, ByOwner: true, ByPipeline: true})
		require.NoError(t, err)
		lines := b.lines(t, snap.Day)
		require.EqualValues(t, len(lines), snap.Lines)
		require.Len(t, lines, len(rows))
		sort.Slice(rows, func(i, j int) bool {
			a, c := rows[i], rows[j]
			if a.Period != c.Period {
				return a.Period < c.Period
			}
			if a.OwnerID != c.OwnerID {
				return a.OwnerID < c.OwnerID
			}
			if *a.PipelineID != *c.PipelineID {
				return a.PipelineID.String() < c.PipelineID.String()
			}
			return a.Currency < c.Currency
		})
		for i, r := range rows {
			l := lines[i]
			require.Equal(t, []any{r.Period, r.OwnerID, *r.PipelineID, r.Currency}, []any{l.Month, l.Owner, l.Pipeline, l.Currency}, "line %d", i)
			require.Equal(t, r.Won.String(), store.MoneyFromStorage(l.Won, l.Currency).String())
			require.Equal(t, r.BestCase.String(), store.MoneyFromStorage(l.Best, l.Currency).String())
			require.Equal(t, r.Commit.String(), store.MoneyFromStorage(l.Commit, l.Currency).String())
			weighted := core.Money{Amount: store.DecimalFromStorage(l.Weighted, 2), Currency: l.Currency}.RoundToMinorUnit()
			require.Equal(t, r.Weighted.String(), weighted.String())
			require.Equal(t, []int64{r.WonCount, r.OpenCount, r.CommitCount}, []int64{l.WonN, l.OpenN, l.CommitN})
		}
		require.NotEmpty(t, lines)
		require.Equal(t, "2026-01", lines[0].Month)
	})
}

// Taking the day's snapshot again replaces it (the deals as they stand
// then); another day's snapshot is kept beside it; a tenant sees only its
// own.
func TestSnapshotForecastReplacesTheDay(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		b.clock.Set(time.Date(2026, 5, 12, 8, 0, 0, 0, time.UTC), 0)
		d, err := b.deals.Create(ctx, pipeline.NewDeal{Title: "d", Amount: eur("1000"), OwnerID: "ann", ExpectedClose: core.NewDate(2026, 6, 30)})
		require.NoError(t, err)
		first, err := b.deals.SnapshotForecast(ctx, b.clock.Now())
		require.NoError(t, err)
		require.EqualValues(t, 1, first.Lines)
		require.Equal(t, "2026-04", first.FirstMonth)
		before := b.lines(t, first.Day)
		require.Equal(t, int64(1000_0000*10), before[0].Weighted, "1,000 EUR at 10%, in millionths")

		// The same snapshot again, unchanged.
		b.clock.Set(time.Date(2026, 5, 12, 20, 0, 0, 0, time.UTC), 0)
		again, err := b.deals.SnapshotForecast(ctx, b.clock.Now())
		require.NoError(t, err)
		require.Equal(t, before, b.lines(t, first.Day))
		require.Equal(t, map[string]time.Time{"2026-05-12": again.TakenAt}, b.snapshots(t))

		// Won the same day: the day's snapshot is the deals as they stand.
		_, err = b.deals.Win(ctx, d.ID, d.Version)
		require.NoError(t, err)
		_, err = b.deals.SnapshotForecast(ctx, b.clock.Now())
		require.NoError(t, err)
		after := b.lines(t, first.Day)
		require.Len(t, after, 1)
		require.Equal(t, "2026-05", after[0].Month, "won deals count in the month they closed")
		require.Equal(t, int64(1000_0000), after[0].Won)
		require.Zero(t, after[0].OpenN)

		// The next day is a snapshot of its own.
		b.clock.Set(time.Date(2026, 5, 13, 6, 0, 0, 0, time.UTC), 0)
		_, err = b.deals.SnapshotForecast(ctx, b.clock.Now())
		require.NoError(t, err)
		require.Len(t, b.snapshots(t), 2)
		require.Equal(t, after, b.lines(t, first.Day))
		require.Equal(t, after, b.lines(t, core.NewDate(2026, 5, 13)))
		require.Empty(t, b.tenant("other").snapshots(t))

		// A tenant without deals gets an empty snapshot: its forecast was
		// zero that day.
		snap, err := b.tenant("other").deals.SnapshotForecast(ctx, b.clock.Now())
		require.NoError(t, err)
		require.Zero(t, snap.Lines)
		require.Len(t, b.tenant("other").snapshots(t), 1)
	})
}

// Processes taking the same day's snapshot at once take turns: each
// succeeds and the day has one snapshot.
func TestSnapshotForecastConcurrent(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		randomDeals(t, b, rand.New(rand.NewPCG(3, 4)), 40)
		at := b.clock.Now()
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() { _, errs[i] = b.deals.SnapshotForecast(ctx, at) })
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		require.Len(t, b.snapshots(t), 1)
		snap, err := b.deals.SnapshotForecast(ctx, at)
		require.NoError(t, err)
		require.Len(t, b.lines(t, snap.Day), int(snap.Lines))
	})
}

// The module declares the daily snapshot as periodic work over the
// tenants with deals; it snapshots the clock's day.
func TestSnapshotForecastPeriodic(t *testing.T) {
	t.Parallel()
	var p *struct {
		every time.Duration
		table string
		run   func(context.Context, store.Scope) error
	}
	for _, x := range pipeline.Module.Declare().Periodic {
		if x.Name == "forecast_snapshot" {
			p = &struct {
				every time.Duration
				table string
				run   func(context.Context, store.Scope) error
			}{x.Every, x.Table, x.Run}
		}
	}
	require.NotNil(t, p, "declared")
	require.Equal(t, 24*time.Hour, p.every)
	require.Equal(t, "crm_deals", p.table)
	each(t, func(t *testing.T, b *bundle) {
		b.clock.Set(time.Date(2026, 8, 3, 1, 0, 0, 0, time.UTC), 0)
		_, err := b.deals.Create(context.Background(), pipeline.NewDeal{Title: "d", Amount: eur("5"), ExpectedClose: core.NewDate(2026, 9, 1)})
		require.NoError(t, err)
		require.NoError(t, p.run(context.Background(), b.sc))
		require.Contains(t, b.snapshots(t), "2026-08-03")
		require.Len(t, b.lines(t, core.NewDate(2026, 8, 3)), 1)
	})
}

// Snapshots hold every deal: an actor needs pipeline manage; a missing or
// unsupported time is ErrInvalid.
func TestSnapshotForecastAccess(t *testing.T) {
	t.Parallel()
	wired(t, func(t *testing.T, w *world) {
		at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		for _, user := range []string{"alice", "carol", "rita", "nobody"} {
			_, err := w.deals.SnapshotForecast(as(user), at)
			require.ErrorIs(t, err, core.ErrForbidden, user)
		}
		snap, err := w.deals.SnapshotForecast(as("root"), at)
		require.NoError(t, err)
		require.EqualValues(t, 5, snap.Lines, "every owner's deals by month, lost ones left out")
		_, err = w.deals.SnapshotForecast(context.Background(), time.Time{})
		require.ErrorIs(t, err, core.ErrInvalid)
		_, err = w.deals.SnapshotForecast(context.Background(), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))
		require.ErrorIs(t, err, core.ErrInvalid)
	})
}
