package analytics_test

import (
	"context"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/analytics"
	"github.com/crmkit/crmkit/core"
)

// refTouch is a touchpoint as the reference finds it.
type refTouch struct {
	at                time.Time
	id                core.ID
	channel, campaign string
}

func str(props map[string]any, key string) string {
	s, _ := props[key].(string)
	return s
}

// refTouches are the touchpoints of deal dl: its contact's activities at
// or before the win with a channel, oldest first.
func refTouches(d *data, dl dealRow) []refTouch {
	var out []refTouch
	if dl.contact == nil {
		return nil
	}
	for _, a := range d.activities {
		if a.contact != *dl.contact || a.at.After(*dl.closedAt) {
			continue
		}
		ch := str(a.props, "channel")
		if ch == "" {
			ch = str(a.props, "utm_source")
		}
		if ch == "" {
			continue
		}
		camp := str(a.props, "campaign")
		if camp == "" {
			camp = str(a.props, "utm_campaign")
		}
		if camp == "" {
			camp = analytics.None
		}
		out = append(out, refTouch{at: a.at, id: a.id, channel: ch, campaign: camp})
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].at.Equal(out[j].at) {
			return out[i].at.Before(out[j].at)
		}
		return out[i].id.String() < out[j].id.String()
	})
	return out
}

// refWeights is the reference weighting of the models (written apart from
// the package's): shares that add up to 1.
func refWeights(model analytics.Model, halfLife time.Duration, ts []refTouch, contactCreated, dealCreated, won time.Time) []float64 {
	n := len(ts)
	w := make([]float64, n)
	closest := func(t time.Time) int {
		best := 0
		for i := range ts {
			if math.Abs(ts[i].at.Sub(t).Seconds()) < math.Abs(ts[best].at.Sub(t).Seconds()) {
				best = i
			}
		}
		return best
	}
	shaped := func(roleIdx []int, share, rest float64) {
		role := map[int]bool{}
		for _, i := range roleIdx {
			w[i] += share
			role[i] = true
		}
		if others := n - len(role); others > 0 {
			for i := range w {
				if !role[i] {
					w[i] = rest / float64(others)
				}
			}
		}
	}
	switch model {
	case analytics.FirstTouch:
		w[0] = 1
	case analytics.LastTouch:
		w[n-1] = 1
	case analytics.Linear:
		for i := range w {
			w[i] = 1
		}
	case analytics.UShaped:
		shaped([]int{0, closest(contactCreated)}, 0.4, 0.2)
	case analytics.WShaped:
		shaped([]int{0, closest(contactCreated), closest(dealCreated)}, 0.3, 0.1)
	case analytics.TimeDecay:
		for i, t := range ts {
			w[i] = math.Pow(2, -won.Sub(t.at).Hours()/halfLife.Hours())
		}
	}
	total := 0.0
	for _, x := range w {
		total += x
	}
	for i := range w {
		w[i] /= total
	}
	return w
}

// For every model, the credits per channel and per campaign add up to the
// won revenue to the last unit in each currency, and each is within the
// rounding of the reference's exact share (at most a cent per deal); first
// and last touch, which share nothing, match exactly.
func TestAttributionAddsUpAndMatchesReference(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		d := randomData(t, b, rand.New(rand.NewPCG(21, 22)), 60, 250)
		b.load(t, d)
		created := map[core.ID]time.Time{}
		for _, c := range d.contacts {
			created[c.id] = c.created
		}
		for _, model := range analytics.Models {
			got, err := b.svc.Attribution(context.Background(), analytics.AttributionOptions{Period: period, Model: model})
			require.NoError(t, err)
			requireFinite(t, got)
			require.Equal(t, model, got.Model)

			revenue := map[string]int64{}
			type key struct{ cur, name string }
			exactCh, exactCamp := map[key]float64{}, map[key]float64{}
			var deals int64
			var touched int
			for _, dl := range d.deals {
				if dl.status != "won" || !inPeriod(period, dl) {
					continue
				}
				deals++
				revenue[dl.currency] += dl.amount
				ts := refTouches(d, dl)
				if len(ts) == 0 {
					exactCh[key{dl.currency, analytics.None}] += float64(dl.amount)
					exactCamp[key{dl.currency, analytics.None}] += float64(dl.amount)
					continue
				}
				touched++
				w := refWeights(model, analytics.DefaultHalfLife, ts, created[*dl.contact], dl.created, *dl.closedAt)
				for i, tc := range ts {
					exactCh[key{dl.currency, tc.channel}] += w[i] * float64(dl.amount)
					exactCamp[key{dl.currency, tc.campaign}] += w[i] * float64(dl.amount)
				}
			}
			require.Greater(t, touched, 10, "the data should have deals with touchpoints")
			require.Equal(t, deals, got.Deals)
			require.Len(t, got.Revenue, len(revenue))
			for _, r := range got.Revenue {
				require.Equal(t, revenue[r.Currency], units(r), r.Currency)
			}
			for _, x := range []struct {
				credits []analytics.Credit
				exact   map[key]float64
			}{{got.Channels, exactCh}, {got.Campaigns, exactCamp}} {
				sums := map[string]int64{}
				seen := 0
				for _, c := range x.credits {
					sums[c.Amount.Currency] += units(c.Amount)
					exact, ok := x.exact[key{c.Amount.Currency, c.Name}]
					if !ok {
						require.Zero(t, units(c.Amount), "%s %s", model, c.Name)
						continue
					}
					seen++
					tol := float64(deals) * 100 // a cent per deal
					if model == analytics.FirstTouch || model == analytics.LastTouch {
						tol = 0
					}
					require.InDelta(t, exact, float64(units(c.Amount)), tol+1e-6, "%s %s %s", model, c.Amount.Currency, c.Name)
				}
				require.Equal(t, len(x.exact), seen, "%s: every reference channel credited", model)
				require.Equal(t, revenue, sums, "%s: credits add up to the revenue", model)
			}
		}
	})
}

// units is m in storage units (1/10,000).
func units(m core.Money) int64 { return m.Amount.Shift(4).IntPart() }

// The shaped models' edge cases, on hand-made deals.
func TestAttributionEdgeCases(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		p, err := b.pipelines.Default(ctx)
		require.NoError(t, err)
		t0 := time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC)
		d := &data{}
		touch := func(c core.ID, at time.Time, channel string) {
			d.activities = append(d.activities, activityRow{id: core.NewID(), contact: c, kind: "web", at: at, props: map[string]any{"utm_source": channel}})
		}
		deal := func(c core.ID, created, won time.Time, amount int64) core.ID {
			dl := dealRow{id: core.NewID(), contact: &c, pipeline: p.ID, stage: p.Stages[4].ID, status: "won", amount: amount, currency: "EUR", created: created, closedAt: &won}
			d.deals = append(d.deals, dl)
			return dl.id
		}
		// Three touches: b first (a day before the contact was created),
		// a nearest the contact's creation, c nearest the deal's.
		c3 := core.NewID()
		d.contacts = append(d.contacts, contactRow{id: c3, created: t0})
		touch(c3, t0.Add(-24*time.Hour), "b")
		touch(c3, t0.Add(time.Hour), "a")
		touch(c3, t0.Add(5*24*time.Hour), "c")
		touch(c3, t0.Add(30*24*time.Hour), "late") // after the win: not a touchpoint
		deal(c3, t0.Add(4*24*time.Hour), t0.Add(12*24*time.Hour), 100_0000)
		b.load(t, d)
		p2 := analytics.Period{From: core.NewDate(2026, 2, 1), To: core.NewDate(2026, 3, 1)}
		credit := func(model analytics.Model, halfLife time.Duration) map[string]string {
			got, err := b.svc.Attribution(ctx, analytics.AttributionOptions{Period: p2, Model: model, HalfLife: halfLife})
			require.NoError(t, err)
			out := map[string]string{}
			for _, c := range got.Channels {
				if !c.Amount.Amount.IsZero() { // touched, credited nothing
					out[c.Name] = c.Amount.Amount.StringFixed(2)
				}
			}
			return out
		}
		require.Equal(t, map[string]string{"b": "100.00"}, credit(analytics.FirstTouch, 0))
		require.Equal(t, map[string]string{"c": "100.00"}, credit(analytics.LastTouch, 0))
		// 100/3: the odd cent goes to the first name.
		require.Equal(t, map[string]string{"a": "33.34", "b": "33.33", "c": "33.33"}, credit(analytics.Linear, 0))
		require.Equal(t, map[string]string{"a": "40.00", "b": "40.00", "c": "20.00"}, credit(analytics.UShaped, 0))
		// W-shaped with three touches, each holding a role: no rest, the
		// roles share everything.
		require.Equal(t, map[string]string{"a": "33.34", "b": "33.33", "c": "33.33"}, credit(analytics.WShaped, 0))
		// Time decay, half-life 7 days: ages 13, 11 days 23 hours, 7 days.
		w := []float64{math.Pow(2, -13.0/7), math.Pow(2, -(11+23.0/24)/7), math.Pow(2, -1)}
		sum := w[0] + w[1] + w[2]
		td := credit(analytics.TimeDecay, 0)
		for i, name := range []string{"b", "a", "c"} {
			require.InDelta(t, 100*w[i]/sum, mustFloat(t, td[name]), 0.01, name)
		}
		// A longer half-life flattens it.
		flat := credit(analytics.TimeDecay, 700*24*time.Hour)
		require.InDelta(t, 33.33, mustFloat(t, flat["b"]), 0.2)

		// Two touches: U-shaped gives 40/40 and scales it up to 50/50;
		// when the first touch is also the one nearest the contact's
		// creation it holds both roles: 80/20. One touch: 100%. None:
		// "(none)". Amounts finer than a cent are shared in 1/10,000 units.
		d = &data{}
		t1 := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
		c2, c4, c1, c0 := core.NewID(), core.NewID(), core.NewID(), core.NewID()
		d.contacts = append(d.contacts, contactRow{id: c2, created: t1.Add(47 * time.Hour)}, contactRow{id: c4, created: t1},
			contactRow{id: c1, created: t1}, contactRow{id: c0, created: t1})
		touch(c2, t1, "x")
		touch(c2, t1.Add(48*time.Hour), "y")
		touch(c4, t1, "p")
		touch(c4, t1.Add(48*time.Hour), "q")
		touch(c1, t1.Add(time.Hour), "z")
		deal(c2, t1, t1.Add(72*time.Hour), 10_0001)
		deal(c4, t1, t1.Add(72*time.Hour), 10_0000)
		deal(c1, t1, t1.Add(72*time.Hour), 7_0000)
		deal(c0, t1, t1.Add(72*time.Hour), 3_0000)
		b.load(t, d)
		p2 = analytics.Period{From: core.NewDate(2026, 3, 1), To: core.NewDate(2026, 4, 1)}
		for model, want := range map[analytics.Model]map[string]string{
			// x first, y lead creation; 10.0001 in 1/10,000 units: the odd
			// unit to x (equal remainders, first name).
			analytics.UShaped: {"x": "5.0001", "y": "5", "p": "8", "q": "2", "z": "7", analytics.None: "3"},
			// W-shaped: the deal was created nearest x, which holds two
			// roles (0.6) against y's one (0.3): 2/3 and 1/3. For c4's deal
			// p holds all three roles (0.9), q the rest (0.1).
			analytics.WShaped: {"x": "6.6667", "y": "3.3334", "p": "9", "q": "1", "z": "7", analytics.None: "3"},
		} {
			got, err := b.svc.Attribution(ctx, analytics.AttributionOptions{Period: p2, Model: model})
			require.NoError(t, err)
			out := map[string]string{}
			for _, c := range got.Channels {
				out[c.Name] = c.Amount.Amount.String()
			}
			require.Equal(t, want, out, model)
			require.Equal(t, "30.0001", got.Revenue[0].Amount.String())
			require.EqualValues(t, 4, got.Deals)
		}
	})
}

func mustFloat(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err)
	return f
}
