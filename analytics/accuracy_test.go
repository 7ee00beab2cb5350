package analytics_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/analytics"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/pipeline"
)

// A deal as the accuracy tests keep it in memory, mirroring every change
// they make through the pipeline module.
type modelDeal struct {
	id       core.ID
	version  int64
	pipeline int
	stage    int // index into the pipeline's stages
	owner    string
	currency string
	amount   int64 // stored units
	expected core.Date
	commit   bool
	closedOn core.Date
}

// snapKey is a line of a snapshot kept by the reference.
type snapKey struct {
	day                              core.Date
	month, owner, currency, pipeline string
}

type snapSums struct{ won, weighted, commit, best int64 }

// accuracyWorld drives deals through nine months with a clock that moves
// day by day, snapshots the forecast on some days, and keeps the same
// snapshots in memory.
type accuracyWorld struct {
	b         *bundle
	deals     *pipeline.Deals
	pipes     []*pipeline.Pipeline
	model     []*modelDeal
	snapshots map[core.Date]bool
	lines     map[snapKey]*snapSums
}

func (w *accuracyWorld) status(d *modelDeal) pipeline.StageKind {
	return w.pipes[d.pipeline].Stages[d.stage].Kind
}

// snapshot takes the day's snapshot through the module and in memory.
func (w *accuracyWorld) snapshot(t *testing.T, at time.Time) {
	t.Helper()
	snap, err := w.deals.SnapshotForecast(context.Background(), at)
	require.NoError(t, err)
	day := core.DateOf(at)
	require.Equal(t, day, snap.Day)
	w.snapshots[day] = true
	for k := range w.lines {
		if k.day == day {
			delete(w.lines, k)
		}
	}
	from, to := pipeline.SnapshotRange(day)
	in := func(d core.Date) bool { return !d.IsZero() && !d.Before(from) && d.Before(to) }
	for _, d := range w.model {
		p := w.pipes[d.pipeline]
		k := snapKey{day: day, owner: d.owner, currency: d.currency, pipeline: p.ID.String()}
		var x snapSums
		switch w.status(d) {
		case pipeline.StageWon:
			if !in(d.closedOn) {
				continue
			}
			k.month, x.won = d.closedOn.String()[:7], d.amount
		case pipeline.StageOpen:
			if !in(d.expected) {
				continue
			}
			k.month, x.weighted, x.best = d.expected.String()[:7], d.amount*int64(p.Stages[d.stage].Probability), d.amount
			if d.commit {
				x.commit = d.amount
			}
		default:
			continue
		}
		s := w.lines[k]
		if s == nil {
			s = &snapSums{}
			w.lines[k] = s
		}
		s.won, s.weighted, s.commit, s.best = s.won+x.won, s.weighted+x.weighted, s.commit+x.commit, s.best+x.best
	}
}

// act changes one random deal (or makes one) on day, through the module
// and in the model.
func (w *accuracyWorld) act(t *testing.T, rng *rand.Rand, day core.Date) {
	t.Helper()
	ctx := context.Background()
	owners := []string{"", "ann", "ben", "cat", "x"}
	sync := func(d *pipeline.Deal, err error, m *modelDeal) {
		require.NoError(t, err)
		m.version = d.Version
		m.closedOn = d.ClosedOn
		require.Equal(t, w.pipes[m.pipeline].Stages[m.stage].ID, d.StageID)
	}
	if len(w.model) == 0 || rng.IntN(3) == 0 {
		m := &modelDeal{pipeline: rng.IntN(2), stage: rng.IntN(4), owner: owners[rng.IntN(len(owners))],
			currency: []string{"EUR", "USD"}[rng.IntN(2)], amount: int64(1+rng.IntN(100_000)) * 100, commit: rng.IntN(3) == 0}
		if rng.IntN(10) > 0 {
			m.expected = day.AddDays(rng.IntN(200) - 20)
		}
		p := w.pipes[m.pipeline]
		d, err := w.deals.Create(ctx, pipeline.NewDeal{Title: "d", PipelineID: p.ID, StageID: p.Stages[m.stage].ID,
			Amount: core.Money{Amount: decimal.New(m.amount, -4), Currency: m.currency}, OwnerID: m.owner, ExpectedClose: m.expected, Commit: m.commit})
		sync(d, err, m)
		m.id = d.ID
		w.model = append(w.model, m)
		return
	}
	m := w.model[rng.IntN(len(w.model))]
	p := w.pipes[m.pipeline]
	switch w.status(m) {
	case pipeline.StageOpen:
		switch rng.IntN(6) {
		case 0:
			m.stage = rng.IntN(4)
			d, err := w.deals.MoveStage(ctx, m.id, m.version, p.Stages[m.stage].ID)
			sync(d, err, m)
		case 1, 2:
			m.stage = 4
			d, err := w.deals.Win(ctx, m.id, m.version)
			sync(d, err, m)
		case 3:
			m.stage = 5
			d, err := w.deals.Lose(ctx, m.id, m.version, "price")
			sync(d, err, m)
		case 4:
			m.expected = day.AddDays(rng.IntN(120) - 10)
			d, err := w.deals.Update(ctx, m.id, pipeline.DealPatch{Version: m.version, ExpectedClose: &m.expected})
			sync(d, err, m)
		case 5:
			m.commit, m.owner = !m.commit, owners[rng.IntN(len(owners))]
			d, err := w.deals.Update(ctx, m.id, pipeline.DealPatch{Version: m.version, Commit: &m.commit, OwnerID: &m.owner})
			sync(d, err, m)
		}
	default:
		if rng.IntN(4) == 0 {
			m.stage = rng.IntN(4)
			d, err := w.deals.Reopen(ctx, m.id, m.version, p.Stages[m.stage].ID)
			sync(d, err, m)
		}
	}
}

// accuracyReference compares, in memory, the kept snapshots with the
// model's won deals, as ForecastAccuracy defines it.
func (w *accuracyWorld) reference(o analytics.ForecastAccuracyOptions, today core.Date, sees func(owner string) bool) *analytics.ForecastAccuracy {
	if o.Interval == "" {
		o.Interval = pipeline.Month
	}
	step := time.Month(1)
	if o.Interval == pipeline.Quarter {
		step = 3
	}
	keep := func(owner, pipelineID string) bool {
		return sees(owner) && (o.OwnerID == "" || owner == o.OwnerID) && (o.PipelineID == core.NilID || pipelineID == o.PipelineID.String())
	}
	out := &analytics.ForecastAccuracy{Period: o.Period, Interval: o.Interval, Comparisons: []analytics.ForecastComparison{}, ByLead: []analytics.LeadAccuracy{}}
	type lead struct {
		n, scored     int64
		wAPE, cAPE    float64
		wErr, cErr    decimal.Decimal
		ahead         int
		currency      string
		first, second bool
	}
	leads := map[string]*lead{}
	days := slices.SortedFunc(func(yield func(core.Date) bool) {
		for d := range w.snapshots {
			if !yield(d) {
				return
			}
		}
	}, func(a, b core.Date) int { return a.Compare(b) })
	for start := core.NewDate(2020, 1, 1); start.Before(o.Period.To); start = core.NewDate(start.Year, start.Month+step, 1) {
		end := core.NewDate(start.Year, start.Month+step, 1)
		if start.Before(o.Period.From) || end.After(today) {
			continue
		}
		label := start.String()[:7]
		if o.Interval == pipeline.Quarter {
			label = fmt.Sprintf("%d-Q%d", start.Year, (start.Month+2)/3)
		}
		inPeriod := func(d core.Date) bool { return !d.IsZero() && !d.Before(start) && d.Before(end) }
		actual := map[string][2]int64{}
		for _, d := range w.model {
			if w.status(d) == pipeline.StageWon && inPeriod(d.closedOn) && keep(d.owner, w.pipes[d.pipeline].ID.String()) {
				a := actual[d.currency]
				actual[d.currency] = [2]int64{a[0] + d.amount, a[1] + 1}
			}
		}
		for _, day := range days {
			from, to := pipeline.SnapshotRange(day)
			if !day.Before(end) || start.Before(from) || end.After(to) {
				continue
			}
			forecast := map[string]snapSums{}
			for k, s := range w.lines {
				if k.day == day && keep(k.owner, k.pipeline) && inPeriod(core.MustDate(k.month+"-01")) {
					f := forecast[k.currency]
					forecast[k.currency] = snapSums{f.won + s.won, f.weighted + s.weighted, f.commit + s.commit, f.best + s.best}
				}
			}
			var currencies []string
			for cur := range forecast {
				currencies = append(currencies, cur)
			}
			for cur := range actual {
				if _, ok := forecast[cur]; !ok {
					currencies = append(currencies, cur)
				}
			}
			sort.Strings(currencies)
			for _, cur := range currencies {
				f, a := forecast[cur], actual[cur]
				units := func(n int64, exp int32) decimal.Decimal { return decimal.New(n, exp) }
				round := func(d decimal.Decimal) core.Money {
					return core.Money{Amount: d, Currency: cur}.RoundToMinorUnit()
				}
				c := analytics.ForecastComparison{Period: label, SnapshotDay: day, Currency: cur,
					DaysAhead:   int(start.Time().Sub(day.Time()) / (24 * time.Hour)),
					MonthsAhead: (start.Year-day.Year)*12 + int(start.Month) - int(day.Month),
					Won:         round(units(f.won, -4)), Weighted: round(units(f.won, -4).Add(units(f.weighted, -6))),
					Commit: round(units(f.won+f.commit, -4)), BestCase: round(units(f.won+f.best, -4)),
					Actual: round(units(a[0], -4)), ActualDeals: a[1]}
				c.WeightedError = core.Money{Amount: c.Weighted.Amount.Sub(c.Actual.Amount), Currency: cur}
				c.CommitError = core.Money{Amount: c.Commit.Amount.Sub(c.Actual.Amount), Currency: cur}
				if a[0] != 0 {
					wa := math.Abs(c.WeightedError.Amount.InexactFloat64()) / c.Actual.Amount.InexactFloat64()
					ca := math.Abs(c.CommitError.Amount.InexactFloat64()) / c.Actual.Amount.InexactFloat64()
					c.WeightedAPE, c.CommitAPE = &wa, &ca
				}
				out.Comparisons = append(out.Comparisons, c)
				key := fmt.Sprint(c.MonthsAhead, cur)
				l := leads[key]
				if l == nil {
					l = &lead{ahead: c.MonthsAhead, currency: cur, wErr: decimal.Zero, cErr: decimal.Zero}
					leads[key] = l
				}
				l.n++
				l.wErr, l.cErr = l.wErr.Add(c.WeightedError.Amount), l.cErr.Add(c.CommitError.Amount)
				if c.WeightedAPE != nil {
					l.scored++
					l.wAPE += *c.WeightedAPE
					l.cAPE += *c.CommitAPE
				}
			}
		}
	}
	for _, l := range leads {
		la := analytics.LeadAccuracy{MonthsAhead: l.ahead, Currency: l.currency, Comparisons: l.n, Scored: l.scored,
			WeightedBias: core.Money{Amount: l.wErr.Div(decimal.NewFromInt(l.n)), Currency: l.currency}.RoundToMinorUnit(),
			CommitBias:   core.Money{Amount: l.cErr.Div(decimal.NewFromInt(l.n)), Currency: l.currency}.RoundToMinorUnit()}
		if l.scored > 0 {
			la.WeightedMAPE, la.CommitMAPE = l.wAPE/float64(l.scored), l.cAPE/float64(l.scored)
		}
		out.ByLead = append(out.ByLead, la)
	}
	sort.Slice(out.ByLead, func(i, j int) bool {
		if out.ByLead[i].MonthsAhead != out.ByLead[j].MonthsAhead {
			return out.ByLead[i].MonthsAhead > out.ByLead[j].MonthsAhead
		}
		return out.ByLead[i].Currency < out.ByLead[j].Currency
	})
	return out
}

// requireAccuracyEqual compares two accuracy reports: money exactly (as
// text), percentages within rounding.
func requireAccuracyEqual(t *testing.T, want, got *analytics.ForecastAccuracy, why string) {
	t.Helper()
	requireFinite(t, got)
	require.Equal(t, len(want.Comparisons), len(got.Comparisons), why)
	ape := func(a, b *float64, what string) {
		require.Equal(t, a == nil, b == nil, "%s: %s", why, what)
		if a != nil {
			require.InDelta(t, *a, *b, 1e-9, "%s: %s", why, what)
		}
	}
	text := func(c analytics.ForecastComparison) string {
		return fmt.Sprintf("%s %s %d %d %s won %s weighted %s commit %s best %s actual %s/%d errors %s %s", c.Period, c.SnapshotDay,
			c.DaysAhead, c.MonthsAhead, c.Currency, c.Won, c.Weighted, c.Commit, c.BestCase, c.Actual, c.ActualDeals, c.WeightedError, c.CommitError)
	}
	for i := range want.Comparisons {
		w, g := want.Comparisons[i], got.Comparisons[i]
		require.Equal(t, text(w), text(g), "%s: comparison %d", why, i)
		ape(w.WeightedAPE, g.WeightedAPE, text(w)+" weighted APE")
		ape(w.CommitAPE, g.CommitAPE, text(w)+" commit APE")
	}
	require.Equal(t, len(want.ByLead), len(got.ByLead), why)
	for i := range want.ByLead {
		w, g := want.ByLead[i], got.ByLead[i]
		require.InDelta(t, w.WeightedMAPE, g.WeightedMAPE, 1e-9, why)
		require.InDelta(t, w.CommitMAPE, g.CommitMAPE, 1e-9, why)
		require.Equal(t, fmt.Sprint(w.MonthsAhead, w.Currency, w.Comparisons, w.Scored, w.WeightedBias, w.CommitBias),
			fmt.Sprint(g.MonthsAhead, g.Currency, g.Comparisons, g.Scored, g.WeightedBias, g.CommitBias), "%s: lead %d", why, i)
	}
	require.Equal(t, want.Period, got.Period)
	require.Equal(t, want.Interval, got.Interval)
}

// Deals created, moved, won, lost, reopened, rescheduled and given to
// other owners day by day over nine months, with the forecast snapshot
// taken on some days: forecast accuracy (in SQL) is what an in-memory
// reference computes from the same history, monthly and quarterly, for a
// pipeline, an owner and actors with own, team and all visibility of
// deals.
func TestForecastAccuracyMatchesReference(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		rng := rand.New(rand.NewPCG(11, uint64(len(t.Name()))))
		w := &accuracyWorld{b: b, deals: pipeline.Module.Deals(b.sc), snapshots: map[core.Date]bool{}, lines: map[snapKey]*snapSums{}}
		for i := range 2 {
			p, err := b.pipelines.Create(ctx, pipeline.NewPipeline{Name: fmt.Sprint("P", i)})
			require.NoError(t, err)
			w.pipes = append(w.pipes, p)
		}
		day := core.NewDate(2025, 12, 20)
		for ; day.Before(core.NewDate(2026, 9, 10)); day = day.AddDays(1 + rng.IntN(3)) {
			b.clock.Set(day.Time().Add(time.Duration(8+rng.IntN(10))*time.Hour), 0)
			for range rng.IntN(6) {
				w.act(t, rng, day)
			}
			if rng.IntN(2) == 0 {
				w.snapshot(t, b.clock.Now())
				if rng.IntN(4) == 0 { // again the same day, after more changes
					w.act(t, rng, day)
					w.snapshot(t, b.clock.Now().Add(time.Hour))
				}
			}
		}
		b.clock.Set(day.Time().Add(10*time.Hour), 0)
		today := day
		require.Greater(t, len(w.snapshots), 40)

		acc := access.Module.Service(b.sc)
		for _, vis := range []access.Visibility{access.VisibilityOwn, access.VisibilityTeam, access.VisibilityAll} {
			_, err := acc.Roles.Create(ctx, access.RoleInput{Name: "sales-" + string(vis), Permissions: access.Permissions{
				"pipeline":  {Actions: []access.Action{access.Read}, Visibility: vis},
				"analytics": {Actions: []access.Action{access.Read}, Visibility: access.VisibilityAll}}})
			require.NoError(t, err)
		}
		for _, u := range []string{"ann", "ben", "cat"} {
			_, err := acc.Users.Create(ctx, access.UserInput{ID: u, DisplayName: u})
			require.NoError(t, err)
		}
		team, err := acc.Teams.Create(ctx, access.TeamInput{Name: "north"})
		require.NoError(t, err)
		for _, u := range []string{"ann", "cat"} {
			team, err = acc.Teams.AddMember(ctx, team.ID, team.Version, access.Member{UserID: u})
			require.NoError(t, err)
		}
		var scored int64
		for _, c := range []struct {
			name string
			o    analytics.ForecastAccuracyOptions
			vis  access.Visibility
		}{
			{"monthly", analytics.ForecastAccuracyOptions{Period: analytics.Period{From: core.NewDate(2026, 1, 1), To: core.NewDate(2027, 1, 1)}}, ""},
			{"quarterly", analytics.ForecastAccuracyOptions{Period: analytics.Period{From: core.NewDate(2025, 12, 15), To: core.NewDate(2026, 12, 1)},
				Interval: pipeline.Quarter}, ""},
			{"pipeline", analytics.ForecastAccuracyOptions{Period: analytics.Period{From: core.NewDate(2026, 2, 10), To: core.NewDate(2026, 8, 1)},
				PipelineID: w.pipes[1].ID}, ""},
			{"owner", analytics.ForecastAccuracyOptions{Period: analytics.Period{From: core.NewDate(2026, 1, 1), To: core.NewDate(2026, 10, 1)},
				OwnerID: "ben", Interval: pipeline.Quarter}, ""},
			{"own", analytics.ForecastAccuracyOptions{Period: analytics.Period{From: core.NewDate(2026, 1, 1), To: core.NewDate(2026, 10, 1)}}, access.VisibilityOwn},
			{"team", analytics.ForecastAccuracyOptions{Period: analytics.Period{From: core.NewDate(2026, 1, 1), To: core.NewDate(2026, 10, 1)}}, access.VisibilityTeam},
			{"all", analytics.ForecastAccuracyOptions{Period: analytics.Period{From: core.NewDate(2026, 1, 1), To: core.NewDate(2026, 10, 1)},
				Interval: pipeline.Quarter}, access.VisibilityAll},
		} {
			ctx, sees := context.Background(), func(string) bool { return true }
			switch c.vis {
			case access.VisibilityOwn:
				sees = func(o string) bool { return o == "x" }
			case access.VisibilityTeam:
				sees = func(o string) bool { return o == "x" || o == "ann" || o == "cat" }
			}
			if c.vis != "" {
				ctx = contextWithActor(ctx, "sales-"+string(c.vis), []string{"north"})
			}
			got, err := b.svc.ForecastAccuracy(ctx, c.o)
			require.NoError(t, err, c.name)
			want := w.reference(c.o, today, sees)
			requireAccuracyEqual(t, want, got, c.name)
			require.NotEmpty(t, got.Comparisons, c.name)
			for _, l := range got.ByLead {
				scored += l.Scored
			}
			var out strings.Builder
			require.NoError(t, got.WriteCSV(&out))
			require.Equal(t, 1+len(got.Comparisons)+len(got.ByLead), strings.Count(out.String(), "\n"), c.name)
		}
		require.Positive(t, scored)
	})
}

// Without snapshots, or for periods not over yet, there is nothing to
// compare (no NaN); bad options are ErrInvalid with every problem listed;
// an unknown pipeline is ErrNotFound; an actor without analytics read is
// refused, one without pipeline read gets nothing.
func TestForecastAccuracyEdges(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		deals := pipeline.Module.Deals(b.sc)
		year := analytics.Period{From: core.NewDate(2026, 1, 1), To: core.NewDate(2027, 1, 1)}
		r, err := b.svc.ForecastAccuracy(ctx, analytics.ForecastAccuracyOptions{Period: year})
		require.NoError(t, err)
		require.Empty(t, r.Comparisons)
		require.Empty(t, r.ByLead)

		// A snapshot of May, a deal won in it for less: May is compared
		// once it is over (the tests' clock stands at 1 July).
		b.clock.Set(time.Date(2026, 4, 20, 9, 0, 0, 0, time.UTC), 0)
		d, err := deals.Create(ctx, pipeline.NewDeal{Title: "d", Amount: core.MustMoney("1000", "EUR"), ExpectedClose: core.NewDate(2026, 5, 15), Commit: true})
		require.NoError(t, err)
		_, err = deals.SnapshotForecast(ctx, b.clock.Now())
		require.NoError(t, err)
		b.clock.Set(time.Date(2026, 5, 15, 9, 0, 0, 0, time.UTC), 0)
		_, err = deals.Update(ctx, d.ID, pipeline.DealPatch{Version: d.Version, Amount: ptr(core.MustMoney("800", "EUR"))})
		require.NoError(t, err)
		d, err = deals.Get(ctx, d.ID)
		require.NoError(t, err)
		_, err = deals.Win(ctx, d.ID, d.Version)
		require.NoError(t, err)
		b.clock.Set(now, 0)
		r, err = b.svc.ForecastAccuracy(ctx, analytics.ForecastAccuracyOptions{Period: year})
		require.NoError(t, err)
		require.Len(t, r.Comparisons, 1, "May; June has no forecast nor win")
		c := r.Comparisons[0]
		require.Equal(t, "2026-05", c.Period)
		require.Equal(t, 11, c.DaysAhead)
		require.Equal(t, 1, c.MonthsAhead)
		require.Equal(t, "100 EUR", c.Weighted.String(), "1,000 at 10%")
		require.Equal(t, "1000 EUR", c.Commit.String())
		require.Equal(t, "800 EUR", c.Actual.String())
		require.Equal(t, "-700 EUR", c.WeightedError.String())
		require.InDelta(t, 0.875, *c.WeightedAPE, 1e-12)
		require.InDelta(t, 0.25, *c.CommitAPE, 1e-12)
		require.Equal(t, []analytics.LeadAccuracy{{MonthsAhead: 1, Currency: "EUR", Comparisons: 1, Scored: 1, WeightedMAPE: 0.875, CommitMAPE: 0.25,
			WeightedBias: core.MustMoney("-700", "EUR"), CommitBias: core.MustMoney("200", "EUR")}}, normalise(r.ByLead))

		// By quarter: the second is over on 1 July; the snapshot was taken in
		// its first month.
		r, err = b.svc.ForecastAccuracy(ctx, analytics.ForecastAccuracyOptions{Period: year, Interval: pipeline.Quarter})
		require.NoError(t, err)
		require.Len(t, r.Comparisons, 1)
		c = r.Comparisons[0]
		require.Equal(t, []any{"2026-Q2", -19, 0, "100 EUR", "800 EUR"}, []any{c.Period, c.DaysAhead, c.MonthsAhead, c.Weighted.String(), c.Actual.String()})
		// The third quarter is not over: nothing of it is compared.
		b.clock.Set(time.Date(2026, 7, 2, 9, 0, 0, 0, time.UTC), 0)
		_, err = deals.SnapshotForecast(ctx, b.clock.Now())
		require.NoError(t, err)
		r, err = b.svc.ForecastAccuracy(ctx, analytics.ForecastAccuracyOptions{Period: analytics.Period{From: core.NewDate(2026, 7, 1), To: core.NewDate(2026, 10, 1)}})
		require.NoError(t, err)
		require.Empty(t, r.Comparisons)

		// Bad input, access.
		for name, o := range map[string]analytics.ForecastAccuracyOptions{
			"no period": {}, "reversed": {Period: analytics.Period{From: year.To, To: year.From}}, "interval": {Period: year, Interval: "week"},
		} {
			_, err := b.svc.ForecastAccuracy(ctx, o)
			require.ErrorIs(t, err, core.ErrInvalid, name)
		}
		_, err = b.svc.ForecastAccuracy(ctx, analytics.ForecastAccuracyOptions{Period: year, PipelineID: core.NewID()})
		require.ErrorIs(t, err, core.ErrNotFound)
		acc := access.Module.Service(b.sc)
		_, err = acc.Roles.Create(ctx, access.RoleInput{Name: "analyst", Permissions: access.Permissions{
			"analytics": {Actions: []access.Action{access.Read}, Visibility: access.VisibilityAll}}})
		require.NoError(t, err)
		_, err = acc.Roles.Create(ctx, access.RoleInput{Name: "seller", Permissions: access.Permissions{
			"pipeline": {Actions: []access.Action{access.Read}, Visibility: access.VisibilityAll}}})
		require.NoError(t, err)
		_, err = b.svc.ForecastAccuracy(contextWithActor(ctx, "seller", nil), analytics.ForecastAccuracyOptions{Period: year})
		require.ErrorIs(t, err, core.ErrForbidden)
		r, err = b.svc.ForecastAccuracy(contextWithActor(ctx, "analyst", nil), analytics.ForecastAccuracyOptions{Period: year})
		require.NoError(t, err)
		require.Empty(t, r.Comparisons, "no pipeline read: no deal")
	})
}

// normalise rounds the money of ls to its minor unit for comparison.
func normalise(ls []analytics.LeadAccuracy) []analytics.LeadAccuracy {
	for i := range ls {
		ls[i].WeightedBias = core.MustMoney(ls[i].WeightedBias.Amount.String(), ls[i].WeightedBias.Currency)
		ls[i].CommitBias = core.MustMoney(ls[i].CommitBias.Amount.String(), ls[i].CommitBias.Currency)
	}
	return ls
}
