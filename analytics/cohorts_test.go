package analytics_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/analytics"
	"github.com/crmkit/crmkit/core"
)

// refCohorts computes the cohorts in memory: months in loc (Go's own
// conversion of each purchase's instant), cohort = month of the first
// purchase ever.
func refCohorts(d *data, p analytics.Period, loc *time.Location) (months []string, active map[string]map[int]map[core.ID]bool, revenue map[string]map[int]map[string]int64) {
	first := time.Date(p.From.Year, p.From.Month, 1, 0, 0, 0, 0, loc)
	lastDay := p.To.AddDays(-1)
	last := time.Date(lastDay.Year, lastDay.Month, 1, 0, 0, 0, 0, loc)
	end := last.AddDate(0, 1, 0)
	index := map[string]int{}
	for m := first; !m.After(last); m = m.AddDate(0, 1, 0) {
		index[m.Format("2006-01")] = len(months)
		months = append(months, m.Format("2006-01"))
	}
	firstBuy := map[core.ID]time.Time{}
	for _, a := range d.activities {
		if a.kind == "purchase" && a.at.Before(end) {
			if f, ok := firstBuy[a.contact]; !ok || a.at.Before(f) {
				firstBuy[a.contact] = a.at
			}
		}
	}
	active = map[string]map[int]map[core.ID]bool{}
	revenue = map[string]map[int]map[string]int64{}
	for _, a := range d.activities {
		if a.kind != "purchase" || !a.at.Before(end) {
			continue
		}
		f := firstBuy[a.contact]
		if f.Before(first) {
			continue
		}
		cohort := f.In(loc).Format("2006-01")
		n := index[a.at.In(loc).Format("2006-01")] - index[cohort]
		if active[cohort] == nil {
			active[cohort] = map[int]map[core.ID]bool{}
			revenue[cohort] = map[int]map[string]int64{}
		}
		if active[cohort][n] == nil {
			active[cohort][n] = map[core.ID]bool{}
			revenue[cohort][n] = map[string]int64{}
		}
		active[cohort][n][a.contact] = true
		revenue[cohort][n][a.currency] += *a.amount
	}
	return months, active, revenue
}

// Cohorts equal the in-memory reference in UTC and in zones with daylight
// saving and odd offsets; month 0 is the whole cohort.
func TestCohortsMatchReference(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		d := randomData(t, b, rand.New(rand.NewPCG(61, 62)), 250, 0)
		b.load(t, d)
		p := analytics.Period{From: core.NewDate(2025, 3, 15), To: core.NewDate(2026, 6, 1)}
		for _, name := range []string{"UTC", "America/New_York", "Asia/Kathmandu", "Pacific/Chatham"} {
			loc, err := time.LoadLocation(name)
			require.NoError(t, err)
			opts := analytics.CohortOptions{Period: p, Location: loc}
			if name == "UTC" {
				opts.Location = nil // the default
			}
			got, err := b.svc.Cohorts(context.Background(), opts)
			require.NoError(t, err)
			requireFinite(t, got)
			require.Equal(t, name, got.Location)
			months, active, revenue := refCohorts(d, p, loc)
			require.Equal(t, months, got.Months)
			require.Equal(t, "2025-03", got.Months[0])
			require.Equal(t, "2026-05", got.Months[len(got.Months)-1])
			require.Len(t, got.Cohorts, len(active), name)
			for _, co := range got.Cohorts {
				ref := active[co.Month]
				require.NotNil(t, ref, co.Month)
				require.Equal(t, int64(len(ref[0])), co.Size)
				require.Positive(t, co.Size)
				require.Equal(t, 1.0, co.Retention[0], "month 0 is the whole cohort")
				require.Equal(t, co.Size, co.Active[0])
				for n, a := range co.Active {
					require.Equal(t, int64(len(ref[n])), a, "%s %s +%d", name, co.Month, n)
					require.InDelta(t, float64(a)/float64(co.Size), co.Retention[n], 1e-12)
					require.LessOrEqual(t, co.Retention[n], 1.0)
				}
				for _, r := range co.Revenue {
					require.Len(t, r.Months, len(co.Active))
					for n, m := range r.Months {
						require.Equal(t, revenue[co.Month][n][r.Currency], units(m), "%s %s +%d %s", name, co.Month, n, r.Currency)
						require.Equal(t, r.Currency, m.Currency)
					}
				}
			}
		}
	})
}

// A purchase is counted in the month of its local time: near midnight
// at the turn of a month, on both sides of a daylight-saving change.
func TestCohortsTimeZones(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ny, err := time.LoadLocation("America/New_York")
		require.NoError(t, err)
		kathmandu, err := time.LoadLocation("Asia/Kathmandu") // +05:45
		require.NoError(t, err)
		d := &data{}
		buy := func(at time.Time) core.ID {
			c := core.NewID()
			d.contacts = append(d.contacts, contactRow{id: c, created: at})
			amt := int64(10_0000)
			d.activities = append(d.activities, activityRow{id: core.NewID(), contact: c, kind: "purchase", at: at, amount: &amt, currency: "EUR"})
			return c
		}
		// 2026-03-01 04:30 UTC is 2026-02-28 23:30 EST (before the March
		// change) and 10:15 in Kathmandu.
		buy(time.Date(2026, 3, 1, 4, 30, 0, 0, time.UTC))
		// 2026-11-01 03:30 UTC is 2026-10-31 23:30 EDT (the change back is
		// at 06:00 UTC that day).
		buy(time.Date(2026, 11, 1, 3, 30, 0, 0, time.UTC))
		// 2026-04-30 18:20 UTC is 2026-05-01 00:05 in Kathmandu.
		buy(time.Date(2026, 4, 30, 18, 20, 0, 0, time.UTC))
		// 2026-04-01 04:00 UTC is exactly local midnight, 2026-04-01
		// 00:00 EDT: the first instant of April.
		buy(time.Date(2026, 4, 1, 4, 0, 0, 0, time.UTC))
		b.load(t, d)
		p := analytics.Period{From: core.NewDate(2026, 1, 1), To: core.NewDate(2027, 1, 1)}
		sizes := func(loc *time.Location) map[string]int64 {
			got, err := b.svc.Cohorts(context.Background(), analytics.CohortOptions{Period: p, Location: loc})
			require.NoError(t, err)
			out := map[string]int64{}
			for _, c := range got.Cohorts {
				out[c.Month] = c.Size
			}
			return out
		}
		require.Equal(t, map[string]int64{"2026-03": 1, "2026-11": 1, "2026-04": 2}, sizes(time.UTC))
		require.Equal(t, map[string]int64{"2026-02": 1, "2026-10": 1, "2026-04": 2}, sizes(ny))
		require.Equal(t, map[string]int64{"2026-03": 1, "2026-11": 1, "2026-04": 1, "2026-05": 1}, sizes(kathmandu))
	})
}
