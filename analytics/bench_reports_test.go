package analytics_test

// Benchmarks of the funnel, attribution and customer value reports
// against hand-written SQL (and the Go a developer would write around it)
// for the same result, on the generated tenant of bench_test.go:
//
//	CRM_TEST_POSTGRES_DSN=… go test -run XXX -bench 'Funnel|Attribution|CustomerValue' -benchmem -count 5 ./analytics
//
// Each benchmark first runs crmkit and the baseline once and fails when
// their results differ.

import (
	"context"
	"database/sql"
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/analytics"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/benchdata"
	"github.com/crmkit/crmkit/internal/dialect"
)

// benchQuarter is the period of the funnel and attribution benchmarks: the
// last quarter of the generated data.
var benchQuarter = analytics.Period{From: core.NewDate(2026, 4, 1), To: core.DateOf(benchEnd)}

// prepareFor prepares the SQLite or the PostgreSQL text of a statement.
func prepareFor(b *testing.B, bd *bundle, pg bool, sqlite, postgres string) *sql.Stmt {
	b.Helper()
	if pg {
		return prepare(b, bd, postgres)
	}
	return prepare(b, bd, sqlite)
}

// prepare prepares query on the benchmark's database until b ends.
func prepare(b *testing.B, bd *bundle, query string) *sql.Stmt {
	b.Helper()
	st, err := bd.db.DB.Prepare(query)
	require.NoError(b, err)
	b.Cleanup(func() { st.Close() })
	return st
}

// timeArg is t as the database's driver takes it: TimeLayout text on
// SQLite, where times are stored so.
func timeArg(pg bool, t time.Time) any {
	if pg {
		return t
	}
	return t.UTC().Format(dialect.TimeLayout)
}

// The lifecycle funnel of a quarter (the default stages, no breakdown by
// owner): crmkit's Funnel against one hand-written query streaming the
// stage history of the contacts with an entry in the period, in contact
// and time order, and Go that counts, per stage, each contact's first
// entry in the period and whether (and how many hours later) the contact
// next entered a later stage of the funnel, then takes the median and
// 90th percentile of those hours. crmkit's query also joins each row's
// contact, for the owner (ByOwner) and record access; without either,
// the hand-written query has no need of it. (A query returning each
// counted entry with the time to the next later stage from a correlated
// subquery was the other candidate: at 5,000 contacts about 1.35×
// (SQLite) and 1.15× (PostgreSQL) this one's time, on a par at 50,000.)
func BenchmarkFunnel(b *testing.B) {
	benchDBs(b, func(b *testing.B, bd *bundle, pg bool) {
		ctx := context.Background()
		raw := newRawFunnel(b, bd, pg)
		want, err := bd.svc.Funnel(ctx, analytics.FunnelOptions{Period: benchQuarter})
		require.NoError(b, err)
		checkFunnel(b, want.Stages, raw.run(b))
		b.Run("crmkit", func(b *testing.B) {
			cpu := benchdata.StartCPU()
			for b.Loop() {
				f, err := bd.svc.Funnel(ctx, analytics.FunnelOptions{Period: benchQuarter})
				if err != nil || f.Stages[0].Entered+f.Stages[1].Entered == 0 {
					b.Fatal(err)
				}
			}
			cpu.Report(b)
		})
		b.Run("raw", func(b *testing.B) {
			cpu := benchdata.StartCPU()
			for b.Loop() {
				if f := raw.run(b); f[0].Entered+f[1].Entered == 0 {
					b.Fatal("no entries")
				}
			}
			cpu.Report(b)
		})
	})
}

// rawFunnel is the funnel's baseline: one prepared statement.
type rawFunnel struct {
	st                 *sql.Stmt
	args               []any
	start, end         time.Time
	startText, endText string         // as SQLite stores them
	pos                map[string]int // a funnel stage's position
}

func newRawFunnel(b *testing.B, bd *bundle, pg bool) *rawFunnel {
	start, end := benchQuarter.From.Time(), benchQuarter.To.Time()
	r := &rawFunnel{args: []any{"default", timeArg(pg, start), timeArg(pg, end)}, start: start, end: end, pos: map[string]int{}}
	for i, s := range analytics.DefaultFunnel {
		r.pos[string(s)] = i
	}
	// Entries from the period's start only (an earlier one is neither
	// counted nor the next stage of one), of the contacts with an entry
	// of a funnel stage in the period; SQLite's times as the stored text,
	// parsed only for the durations.
	q := `SELECT contact_id, stage, entered_at || '' FROM crm_contact_stages
		WHERE tenant_id = ?1 AND entered_at >= ?2 AND contact_id IN (SELECT contact_id FROM crm_contact_stages
			WHERE tenant_id = ?1 AND stage IN ('subscriber', 'lead', 'mql', 'sql', 'opportunity', 'customer') AND entered_at >= ?2 AND entered_at < ?3)
		ORDER BY contact_id, entered_at, id`
	r.st = prepareFor(b, bd, pg, q, strings.Replace(strings.ReplaceAll(q, "?", "$"), "entered_at || ''", "entered_at", 1))
	r.startText, r.endText = start.UTC().Format(dialect.TimeLayout), end.UTC().Format(dialect.TimeLayout)
	return r
}

// funnelEntry is one row of a contact's stage history: the stage's
// position in the funnel (-1 for a stage outside it) and when it was
// entered.
type funnelEntry struct {
	p    int
	at   time.Time // PostgreSQL
	text string    // SQLite
}

// in reports whether e was entered in [start, end).
func (r *rawFunnel) in(e funnelEntry) bool {
	if e.text != "" {
		return e.text >= r.startText && e.text < r.endText
	}
	return !e.at.Before(r.start) && e.at.Before(r.end)
}

func (e funnelEntry) time(b *testing.B) time.Time {
	if e.text == "" {
		return e.at
	}
	t, err := time.Parse(dialect.TimeLayout, e.text)
	if err != nil {
		b.Fatal(err)
	}
	return t
}

// run computes the funnel: per stage, the contacts that entered it,
// those that moved on, and the median and 90th percentile of the hours
// that took.
func (r *rawFunnel) run(b *testing.B) []analytics.FunnelStage {
	n := len(analytics.DefaultFunnel)
	out := make([]analytics.FunnelStage, n)
	hours := make([][]float64, n)
	var hist []funnelEntry
	counted := make([]bool, n)
	flush := func() {
		clear(counted)
		for i, e := range hist {
			if e.p < 0 || !r.in(e) || counted[e.p] {
				continue
			}
			counted[e.p] = true
			out[e.p].Entered++
			for _, x := range hist[i+1:] {
				if x.p > e.p {
					out[e.p].MovedOn++
					hours[e.p] = append(hours[e.p], x.time(b).Sub(e.time(b)).Hours())
					break
				}
			}
		}
		hist = hist[:0]
	}
	var cur string
	scanRows(b, r.st, r.args, func(rows *sql.Rows) error {
		var id, stage string
		var at any
		if err := rows.Scan(&id, &stage, &at); err != nil {
			return err
		}
		e := funnelEntry{}
		switch v := at.(type) {
		case time.Time:
			e.at = v
		case string:
			e.text = v
		}
		if id != cur {
			flush()
			cur = id
		}
		p, ok := r.pos[stage]
		if !ok {
			p = -1
		}
		e.p = p
		hist = append(hist, e)
		return nil
	})
	flush()
	for i := range out {
		f := &out[i]
		f.Stage = analytics.DefaultFunnel[i]
		if f.Entered > 0 {
			f.Conversion = float64(f.MovedOn) / float64(f.Entered)
		}
		slices.Sort(hours[i])
		f.MedianHours, f.P90Hours = sortedQuantile(hours[i], 0.5), sortedQuantile(hours[i], 0.9)
	}
	return out
}

// sortedQuantile is the q-quantile of sorted xs, interpolating linearly between
// the closest ranks; 0 for none.
func sortedQuantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	pos := q * float64(len(xs)-1)
	i := int(pos)
	if i+1 >= len(xs) {
		return xs[i]
	}
	return xs[i] + (xs[i+1]-xs[i])*(pos-float64(i))
}

// checkFunnel fails unless crmkit's funnel and the baseline's agree.
func checkFunnel(b *testing.B, want, got []analytics.FunnelStage) {
	b.Helper()
	require.Len(b, got, len(want))
	var entered int64
	for i, w := range want {
		g := got[i]
		entered += w.Entered
		if w.Stage != g.Stage || w.Entered != g.Entered || w.MovedOn != g.MovedOn || math.Abs(w.Conversion-g.Conversion) > 1e-12 ||
			math.Abs(w.MedianHours-g.MedianHours) > 1e-6 || math.Abs(w.P90Hours-g.P90Hours) > 1e-6 {
			b.Fatalf("funnel: crmkit and raw differ at %s: %+v, %+v", w.Stage, w, g)
		}
	}
	if entered == 0 {
		b.Fatal("funnel: no stage entries in the period")
	}
}

// Attribution of the revenue of a quarter's won deals by the linear model
// (Attribution's default): crmkit against one hand-written query that
// streams the won deals with their touchpoints (activities at or before
// the win with a channel: properties.channel, else utm_source; campaign,
// else utm_campaign, else "(none)"; non-string values ignored) in deal
// order, and Go that shares each deal's amount equally among its
// touchpoints by channel and by campaign, in the currency's minor unit by
// largest remainder (ties to the name first in byte order), and sums the
// credits per currency. crmkit's query also reads each deal's creation
// and close times and its contact's creation time (a join to
// crm_contacts), which U- and W-shaped and time decay weigh by, and
// orders each deal's touchpoints by time; the linear model needs none of
// that, so the hand-written query leaves it out.
func BenchmarkAttribution(b *testing.B) {
	benchDBs(b, func(b *testing.B, bd *bundle, pg bool) {
		ctx := context.Background()
		opts := analytics.AttributionOptions{Period: benchQuarter, Model: analytics.Linear}
		raw := newRawAttribution(b, bd, pg)
		want, err := bd.svc.Attribution(ctx, opts)
		require.NoError(b, err)
		checkAttribution(b, want, raw.run(b))
		b.Run("crmkit", func(b *testing.B) {
			cpu := benchdata.StartCPU()
			for b.Loop() {
				a, err := bd.svc.Attribution(ctx, opts)
				if err != nil || a.Deals == 0 {
					b.Fatal(err)
				}
			}
			cpu.Report(b)
		})
		b.Run("raw", func(b *testing.B) {
			cpu := benchdata.StartCPU()
			for b.Loop() {
				if a := raw.run(b); a.deals == 0 {
					b.Fatal("no deals")
				}
			}
			cpu.Report(b)
		})
	})
}

type rawAttribution struct {
	st   *sql.Stmt
	args []any
}

// rawCredit is one channel's or campaign's credit in one currency.
type rawCredit struct {
	units          int64 // storage units (1/10,000)
	deals, touches int64
}

type rawCreditKey struct{ currency, name string }

type rawAttributionResult struct {
	deals     int64
	revenue   map[string]int64
	channels  map[rawCreditKey]*rawCredit
	campaigns map[rawCreditKey]*rawCredit
}

func newRawAttribution(b *testing.B, bd *bundle, pg bool) *rawAttribution {
	r := &rawAttribution{args: []any{"default", benchQuarter.From.String(), benchQuarter.To.String()}}
	text := func(key string) string {
		if pg {
			return "CASE WHEN jsonb_typeof(properties->'" + key + "') = 'string' THEN properties->>'" + key + "' END"
		}
		return "CASE WHEN json_type(properties, '$." + key + "') = 'text' THEN json_extract(properties, '$." + key + "') END"
	}
	either := func(a, b string) string {
		return "COALESCE(NULLIF(" + text(a) + ", ''), NULLIF(" + text(b) + ", ''))"
	}
	// The touchpoints' channel is worked out once per activity, in the
	// derived table. The linear model needs no order among a deal's
	// touchpoints, so the rows come in deal order only.
	q := `SELECT d.id, d.amount, d.currency, t.channel, t.campaign
		FROM crm_deals d
		LEFT JOIN (SELECT contact_id, occurred_at, channel, campaign FROM (
				SELECT contact_id, occurred_at, ` + either("channel", "utm_source") + ` AS channel, ` + either("campaign", "utm_campaign") + ` AS campaign
				FROM crm_activities WHERE tenant_id = ?1) x WHERE channel IS NOT NULL) t
			ON t.contact_id = d.contact_id AND t.occurred_at <= d.closed_at
		WHERE d.tenant_id = ?1 AND d.status = 'won' AND d.closed_on >= ?2 AND d.closed_on < ?3
		ORDER BY d.id`
	r.st = prepareFor(b, bd, pg, q, strings.ReplaceAll(q, "?", "$"))
	return r
}

func (r *rawAttribution) run(b *testing.B) *rawAttributionResult {
	res := &rawAttributionResult{revenue: map[string]int64{}, channels: map[rawCreditKey]*rawCredit{}, campaigns: map[rawCreditKey]*rawCredit{}}
	var cur string
	var amount int64
	var currency string
	var channels, campaigns []string
	flush := func() {
		if cur == "" {
			return
		}
		res.deals++
		res.revenue[currency] += amount
		creditLinear(res.channels, amount, currency, channels)
		creditLinear(res.campaigns, amount, currency, campaigns)
		channels, campaigns = channels[:0], campaigns[:0]
	}
	scanRows(b, r.st, r.args, func(rows *sql.Rows) error {
		var id, cur2 string
		var amt int64
		var channel, campaign sql.NullString
		if err := rows.Scan(&id, &amt, &cur2, &channel, &campaign); err != nil {
			return err
		}
		if id != cur {
			flush()
			cur, amount, currency = id, amt, cur2
		}
		if channel.Valid {
			channels = append(channels, channel.String)
			if campaign.Valid {
				campaigns = append(campaigns, campaign.String)
			} else {
				campaigns = append(campaigns, analytics.None)
			}
		}
		return nil
	})
	flush()
	return res
}

// creditLinear shares amount (storage units) equally among the touches
// (one name each; none: everything to "(none)") and adds the shares to
// into.
func creditLinear(into map[rawCreditKey]*rawCredit, amount int64, currency string, touches []string) {
	add := func(name string, units, touches int64) {
		k := rawCreditKey{currency, name}
		c := into[k]
		if c == nil {
			c = &rawCredit{}
			into[k] = c
		}
		c.units += units
		c.touches += touches
		if units != 0 {
			c.deals++
		}
	}
	if len(touches) == 0 {
		add(analytics.None, amount, 0)
		return
	}
	// Touches per name, names in byte order.
	sort.Strings(touches)
	var names []string
	var counts []int64
	for i, t := range touches {
		if i == 0 || t != touches[i-1] {
			names, counts = append(names, t), append(counts, 0)
		}
		counts[len(counts)-1]++
	}
	if len(names) == 1 {
		add(names[0], amount, counts[0])
		return
	}
	// Whole minor units when the amount is a whole number of them, else
	// storage units; each name gets its share rounded down, and the units
	// left over go one each to the largest remainders, the earlier name
	// first on a tie.
	unit := int64(1)
	if minor := int64(math.Pow10(int(4 - core.CurrencyDecimals(currency)))); minor >= 1 && amount%minor == 0 {
		unit = minor
	}
	total, sign := amount/unit, int64(1)
	if total < 0 {
		total, sign = -total, -1
	}
	n := int64(len(touches))
	shares := make([]int64, len(names))
	order := make([]int, len(names))
	left := total
	for i, c := range counts {
		shares[i] = total * c / n
		left -= shares[i]
		order[i] = i
	}
	sort.SliceStable(order, func(x, y int) bool { return total*counts[order[x]]%n > total*counts[order[y]]%n })
	for i := range left {
		shares[order[i]]++
	}
	for i, name := range names {
		add(name, shares[i]*unit*sign, counts[i])
	}
}

// checkAttribution fails unless crmkit's attribution and the baseline's
// agree exactly: deals, revenue, and every credit.
func checkAttribution(b *testing.B, want *analytics.Attribution, got *rawAttributionResult) {
	b.Helper()
	if want.Deals == 0 || want.Deals != got.deals || len(want.Revenue) != len(got.revenue) {
		b.Fatalf("attribution: crmkit has %d deals in %d currencies, raw %d in %d", want.Deals, len(want.Revenue), got.deals, len(got.revenue))
	}
	for _, m := range want.Revenue {
		if u := storageUnits(m); u != got.revenue[m.Currency] {
			b.Fatalf("attribution: revenue in %s: crmkit %d, raw %d", m.Currency, u, got.revenue[m.Currency])
		}
	}
	for _, x := range []struct {
		what string
		want []analytics.Credit
		got  map[rawCreditKey]*rawCredit
	}{{"channel", want.Channels, got.channels}, {"campaign", want.Campaigns, got.campaigns}} {
		if len(x.want) != len(x.got) {
			b.Fatalf("attribution: crmkit credits %d %ss, raw %d", len(x.want), x.what, len(x.got))
		}
		for _, c := range x.want {
			g := x.got[rawCreditKey{c.Amount.Currency, c.Name}]
			if g == nil || g.units != storageUnits(c.Amount) || g.deals != c.Deals || g.touches != c.Touches {
				b.Fatalf("attribution: %s %q in %s: crmkit %+v, raw %+v", x.what, c.Name, c.Amount.Currency, c, g)
			}
		}
	}
}

// storageUnits is m in storage units (1/10,000).
func storageUnits(m core.Money) int64 { return m.Amount.Shift(4).IntPart() }

// Customer value over all purchases up to the end of the data, a year
// ahead, with MaxFit at 100,000 (the budget: a fit over 100k
// customers under 5 s, memory flat in the number of activities; the
// default tenant has fewer customers, so all of them are fitted).
// crmkit's CustomerValue is the summary query, the BG/NBD and
// Gamma-Gamma fits and the predictions; the baseline is the summary query
// alone, written by hand (per contact and currency: purchases, first to
// last, first to the end, last to the end, their sum and the sum of all
// but the first) and scanned into a slice: the fits have no hand-written
// counterpart. So raw's time is the summary part and crmkit's minus raw's
// the fit and predictions; crmkit also reports sql-first-row-ms/op, the
// time until its summary query returned its first row (QueryHook: the
// rows are read afterwards, within the fit's share), and both report
// peak-heap-MB, the largest live heap sampled during the loop (the
// generated data are garbage by then).
func BenchmarkCustomerValue(b *testing.B) {
	benchDBs(b, func(b *testing.B, bd *bundle, pg bool) {
		ctx := context.Background()
		opts := analytics.CustomerValueOptions{Period: analytics.Period{To: core.DateOf(benchEnd)}, Horizon: 365 * 24 * time.Hour, MaxFit: 100_000}
		// The purchases in the order of the purchases index, summed per
		// contact and currency in Go (a FIRST_VALUE window for the first
		// purchase's amount took SQLite 8–10 s at 1M contacts); SQLite's
		// times parsed only for each contact's first and last.
		raw := prepareFor(b, bd, pg, `SELECT contact_id, currency, occurred_at || '', amount FROM crm_activities
			WHERE tenant_id = ?2 AND kind = 'purchase' AND amount IS NOT NULL AND occurred_at < ?1
			ORDER BY contact_id, currency, occurred_at, id`,
			`SELECT contact_id, currency, occurred_at, amount FROM crm_activities
			WHERE tenant_id = $2 AND kind = 'purchase' AND amount IS NOT NULL AND occurred_at < $1
			ORDER BY contact_id, currency, occurred_at, id`)
		args := []any{timeArg(pg, benchEnd), "default"}
		want, err := bd.svc.CustomerValue(ctx, opts)
		require.NoError(b, err)
		require.NotNil(b, want.Purchases, "no BG/NBD fit")
		checkCustomers(b, want, rawCustomers(b, raw, args))
		b.Run("crmkit", func(b *testing.B) {
			var inSQL time.Duration // until the first row
			bd.rt.QueryHook = core.QueryHookFunc(func(_ context.Context, q core.QueryInfo) { inSQL += q.Duration })
			defer func() { bd.rt.QueryHook = nil }()
			runtime.GC()
			peak := benchdata.WatchHeap()
			cpu := benchdata.StartCPU()
			for b.Loop() {
				cv, err := bd.svc.CustomerValue(ctx, opts)
				if err != nil || cv.Purchases == nil || len(cv.Customers) == 0 {
					b.Fatal(err)
				}
			}
			cpu.Report(b)
			b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MB")
			b.ReportMetric(inSQL.Seconds()*1000/float64(b.N), "sql-first-row-ms/op")
			b.ReportMetric(float64(len(want.Customers)), "customers")
			b.ReportMetric(float64(want.Purchases.Customers), "fitted")
		})
		b.Run("raw", func(b *testing.B) {
			runtime.GC()
			peak := benchdata.WatchHeap()
			cpu := benchdata.StartCPU()
			for b.Loop() {
				if len(rawCustomers(b, raw, args)) == 0 {
					b.Fatal("no customers")
				}
			}
			cpu.Report(b)
			b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MB")
		})
	})
}

// rawCustomer is one row of the customer value baseline's summary.
type rawCustomer struct {
	contact, currency     string
	count                 int64
	span, age, since      float64 // seconds
	total, repeatedAmount int64   // storage units
}

func rawCustomers(b *testing.B, st *sql.Stmt, args []any) []rawCustomer {
	var out []rawCustomer
	var cur rawCustomer
	var first, last any
	var firstAmount int64
	instant := func(v any) time.Time {
		if t, ok := v.(time.Time); ok {
			return t
		}
		t, err := time.Parse(dialect.TimeLayout, v.(string))
		if err != nil {
			b.Fatal(err)
		}
		return t
	}
	flush := func() {
		if cur.count == 0 {
			return
		}
		f, l := instant(first), instant(last)
		cur.span, cur.age, cur.since = l.Sub(f).Seconds(), benchEnd.Sub(f).Seconds(), benchEnd.Sub(l).Seconds()
		cur.repeatedAmount = cur.total - firstAmount
		out = append(out, cur)
	}
	scanRows(b, st, args, func(rows *sql.Rows) error {
		var contact, currency string
		var at any
		var amount int64
		if err := rows.Scan(&contact, &currency, &at, &amount); err != nil {
			return err
		}
		if contact != cur.contact || currency != cur.currency || cur.count == 0 {
			flush()
			cur = rawCustomer{contact: contact, currency: currency}
			first, firstAmount = at, amount
		}
		cur.count++
		cur.total += amount
		last = at
		return nil
	})
	flush()
	return out
}

// checkCustomers fails unless the baseline's summary has crmkit's
// customers with the same purchases, totals and times.
func checkCustomers(b *testing.B, want *analytics.CustomerValue, got []rawCustomer) {
	b.Helper()
	if len(want.Customers) == 0 || len(want.Customers) != len(got) {
		b.Fatalf("customer value: crmkit has %d customers, raw %d", len(want.Customers), len(got))
	}
	for i, w := range want.Customers {
		g := got[i]
		if w.ContactID.String() != g.contact || w.Purchases != g.count || storageUnits(w.Total) != g.total || w.Total.Currency != g.currency ||
			math.Abs(w.RecencyWeeks-g.span/(7*86400)) > 1e-6 || math.Abs(w.AgeWeeks-g.age/(7*86400)) > 1e-6 {
			b.Fatalf("customer value: crmkit and raw differ at %d: %+v, %+v", i, w, g)
		}
	}
}
