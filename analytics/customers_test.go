package analytics_test

import (
	"context"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/analytics"
	"github.com/crmkit/crmkit/core"
)

const week = 7 * 24 * time.Hour

// refCustomer is one contact's purchases as the reference sums them.
type refCustomer struct {
	id          core.ID
	currency    string
	count       int64
	total       int64
	first, last time.Time
}

// refCustomers sums the purchases in [from, end) per contact.
func refCustomers(d *data, from, end time.Time) map[core.ID]*refCustomer {
	out := map[core.ID]*refCustomer{}
	for _, a := range d.activities {
		if a.kind != "purchase" || a.amount == nil || !a.at.Before(end) || a.at.Before(from) {
			continue
		}
		c := out[a.contact]
		if c == nil {
			c = &refCustomer{id: a.contact, currency: a.currency, first: a.at, last: a.at}
			out[a.contact] = c
		}
		c.count++
		c.total += *a.amount
		if a.at.Before(c.first) {
			c.first = a.at
		}
		if a.at.After(c.last) {
			c.last = a.at
		}
	}
	return out
}

// addHeavyAndLight adds a contact with one purchase and one with 300, one
// every 36 hours up to the day before 2026-07-01.
func addHeavyAndLight(d *data) (light, heavy core.ID) {
	light, heavy = core.NewID(), core.NewID()
	start := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	d.contacts = append(d.contacts, contactRow{id: light, created: start}, contactRow{id: heavy, created: start})
	one := int64(20_0000)
	d.activities = append(d.activities, activityRow{id: core.NewID(), contact: light, kind: "purchase", at: start.Add(time.Hour), amount: &one, currency: "EUR"})
	for i := range 300 {
		amt := int64(10_0000 + i*100)
		d.activities = append(d.activities, activityRow{id: core.NewID(), contact: heavy, kind: "purchase",
			at: time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC).Add(-time.Duration(300-i) * 36 * time.Hour), amount: &amt, currency: "EUR"})
	}
	return light, heavy
}

// Customer value: the per-contact summary equals the reference's, the
// predictions are finite and sensible, including for a contact with one
// purchase and one with hundreds; purchases outside the period are left
// out.
func TestCustomerValue(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		d := randomData(t, b, rand.New(rand.NewPCG(31, 32)), 150, 0)
		light, heavy := addHeavyAndLight(d)
		b.load(t, d)
		end := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		for _, from := range []core.Date{{}, core.NewDate(2025, 6, 1)} {
			got, err := b.svc.CustomerValue(context.Background(), analytics.CustomerValueOptions{
				Period: analytics.Period{From: from, To: core.DateOf(end)}, Horizon: 52 * week})
			require.NoError(t, err)
			requireFinite(t, got)
			require.True(t, got.AsOf.Equal(end))
			ref := refCustomers(d, from.Time(), end)
			require.Len(t, got.Customers, len(ref))
			require.NotNil(t, got.Purchases, "enough data to fit")
			require.NotEmpty(t, got.Spend)
			byID := map[core.ID]analytics.CustomerValueRow{}
			for i, c := range got.Customers {
				if i > 0 {
					require.Less(t, got.Customers[i-1].ContactID.String(), c.ContactID.String())
				}
				byID[c.ContactID] = c
				r := ref[c.ContactID]
				require.NotNil(t, r)
				require.Equal(t, r.count, c.Purchases)
				require.Equal(t, r.total, units(c.Total))
				require.Equal(t, r.currency, c.Total.Currency)
				require.Equal(t, r.count-1, c.Repeat)
				require.InDelta(t, r.last.Sub(r.first).Hours()/168, c.RecencyWeeks, 1e-6)
				require.InDelta(t, end.Sub(r.first).Hours()/168, c.AgeWeeks, 1e-6)
				require.GreaterOrEqual(t, c.PAlive, 0.0)
				require.LessOrEqual(t, c.PAlive, 1.0)
				require.GreaterOrEqual(t, c.ExpectedPurchases, 0.0)
				require.False(t, c.ExpectedValue.Amount.IsNegative())
				if c.Repeat == 0 {
					require.Equal(t, 1.0, c.PAlive, "no repeat purchase: no chance to drop out yet")
				}
			}
			if from.IsZero() {
				l, h := byID[light], byID[heavy]
				require.EqualValues(t, 1, l.Purchases)
				require.EqualValues(t, 300, h.Purchases)
				// The heavy buyer, still buying, expects far
				// more purchases and value than anyone with one purchase.
				require.Greater(t, h.ExpectedPurchases, 20*l.ExpectedPurchases)
				require.True(t, h.ExpectedValue.Amount.GreaterThan(l.ExpectedValue.Amount))
				// Gamma-Gamma weighs the heavy buyer's own mean (11.50 EUR) far
				// more than the population's.
				require.InDelta(t, 11.5, h.ExpectedSpend.Amount.InexactFloat64(), 0.5)
			}
		}
	})
}

// Churn: days since the last purchase, the mean gap and "overdue" equal
// the reference's; P(alive) comes from the fit.
func TestChurn(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		d := randomData(t, b, rand.New(rand.NewPCG(41, 42)), 120, 0)
		light, _ := addHeavyAndLight(d)
		b.load(t, d)
		end := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		for _, factor := range []float64{0, 1, 3.5} {
			got, err := b.svc.Churn(context.Background(), analytics.ChurnOptions{Period: analytics.Period{To: core.DateOf(end)}, OverdueFactor: factor})
			require.NoError(t, err)
			requireFinite(t, got)
			want := factor
			if want == 0 {
				want = analytics.DefaultOverdueFactor
			}
			require.Equal(t, want, got.OverdueFactor)
			require.NotNil(t, got.Purchases)
			ref := refCustomers(d, time.Time{}, end)
			require.Len(t, got.Customers, len(ref))
			overdue := 0
			for _, c := range got.Customers {
				r := ref[c.ContactID]
				since := end.Sub(r.last).Hours() / 24
				require.InDelta(t, since, c.DaysSinceLast, 1e-6)
				gap := 0.0
				if r.count > 1 {
					gap = r.last.Sub(r.first).Hours() / 24 / float64(r.count-1)
				}
				require.InDelta(t, gap, c.MeanGapDays, 1e-6)
				require.Equal(t, r.count > 1 && since > gap*want, c.Overdue, "%+v", c)
				if c.Overdue {
					overdue++
				}
				if c.ContactID == light {
					require.False(t, c.Overdue)
					require.Equal(t, 1.0, c.PAlive)
				}
			}
			require.Greater(t, overdue, 0)
		}
	})
}

// ntile is SQL's NTILE(5) of row i (0-based) of n.
func ntile(i, n int) int {
	q, r := n/5, n%5
	// the first r buckets hold q+1 rows
	if i < r*(q+1) {
		return i/(q+1) + 1
	}
	return r + (i-r*(q+1))/q + 1
}

// RFM scores equal NTILE computed in memory over the same rows, per
// currency; scores are 1–5 and every contact has its segment.
func TestRFMMatchesReference(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		d := randomData(t, b, rand.New(rand.NewPCG(51, 52)), 200, 0)
		b.load(t, d)
		end := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		got, err := b.svc.RFM(context.Background(), analytics.RFMOptions{Period: analytics.Period{To: core.DateOf(end)}})
		require.NoError(t, err)
		requireFinite(t, got)
		ref := refCustomers(d, time.Time{}, end)
		require.Len(t, got.Customers, len(ref))
		byCur := map[string][]*refCustomer{}
		for _, c := range ref {
			byCur[c.currency] = append(byCur[c.currency], c)
		}
		want := map[core.ID][3]int{}
		for _, cs := range byCur {
			for k, less := range []func(a, b *refCustomer) bool{
				func(a, b *refCustomer) bool { return a.last.Before(b.last) },
				func(a, b *refCustomer) bool { return a.count < b.count },
				func(a, b *refCustomer) bool { return a.total < b.total },
			} {
				sort.Slice(cs, func(i, j int) bool {
					if less(cs[i], cs[j]) != less(cs[j], cs[i]) {
						return less(cs[i], cs[j])
					}
					return cs[i].id.String() < cs[j].id.String()
				})
				for i, c := range cs {
					s := want[c.id]
					s[k] = ntile(i, len(cs))
					want[c.id] = s
				}
			}
		}
		segments := map[analytics.Segment]int{}
		for _, c := range got.Customers {
			r := ref[c.ContactID]
			require.Equal(t, r.count, c.Frequency)
			require.Equal(t, r.total, units(c.Monetary))
			require.InDelta(t, end.Sub(r.last).Hours()/24, c.RecencyDays, 1e-6)
			require.Equal(t, want[c.ContactID], [3]int{c.R, c.F, c.M}, "%s", c.ContactID)
			for _, s := range []int{c.R, c.F, c.M} {
				require.True(t, s >= 1 && s <= 5)
			}
			require.Equal(t, analytics.SegmentOf(c.R, c.F), c.Segment)
			require.NotEmpty(t, c.Segment)
			segments[c.Segment]++
		}
		require.Greater(t, len(segments), 5, "%v", segments)
	})
}

// The segment table covers every pair of scores, with every segment.
func TestSegmentTable(t *testing.T) {
	t.Parallel()
	seen := map[analytics.Segment]bool{}
	for r := 1; r <= 5; r++ {
		for f := 1; f <= 5; f++ {
			s := analytics.SegmentOf(r, f)
			require.NotEmpty(t, s)
			seen[s] = true
		}
	}
	require.Len(t, seen, 11)
	require.Equal(t, analytics.Champions, analytics.SegmentOf(5, 5))
	require.Equal(t, analytics.Lost, analytics.SegmentOf(1, 1))
	require.Equal(t, analytics.CantLose, analytics.SegmentOf(1, 5))
	require.Equal(t, analytics.New, analytics.SegmentOf(5, 1))
	require.Empty(t, analytics.SegmentOf(0, 3))
	require.Empty(t, analytics.SegmentOf(3, 6))
}

// Above MaxFit contacts, the models are fitted to an evenly spaced sample
// and still predict for every contact; at or under it, to all of them.
func TestCustomerValueFitsASample(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		d := randomData(t, b, rand.New(rand.NewPCG(91, 92)), 150, 0)
		b.load(t, d)
		to := analytics.Period{To: core.NewDate(2026, 7, 1)}
		all, err := b.svc.CustomerValue(ctx, analytics.CustomerValueOptions{Period: to, Horizon: 26 * week})
		require.NoError(t, err)
		require.NotNil(t, all.Purchases)
		require.EqualValues(t, len(all.Customers), all.Purchases.Customers)
		same, err := b.svc.CustomerValue(ctx, analytics.CustomerValueOptions{Period: to, Horizon: 26 * week, MaxFit: len(all.Customers)})
		require.NoError(t, err)
		require.Equal(t, all.Purchases, same.Purchases)

		part, err := b.svc.CustomerValue(ctx, analytics.CustomerValueOptions{Period: to, Horizon: 26 * week, MaxFit: 60})
		require.NoError(t, err)
		require.NotNil(t, part.Purchases)
		require.EqualValues(t, 60, part.Purchases.Customers)
		require.NotEqual(t, all.Purchases.R, part.Purchases.R)
		require.Len(t, part.Customers, len(all.Customers))
		requireFinite(t, part)
		churn, err := b.svc.Churn(ctx, analytics.ChurnOptions{Period: to, MaxFit: 60})
		require.NoError(t, err)
		require.Equal(t, part.Purchases, churn.Purchases)

		_, err = b.svc.CustomerValue(ctx, analytics.CustomerValueOptions{Horizon: week, MaxFit: -1})
		require.ErrorIs(t, err, core.ErrInvalid)
		_, err = b.svc.Churn(ctx, analytics.ChurnOptions{MaxFit: -1})
		require.ErrorIs(t, err, core.ErrInvalid)
	})
}
