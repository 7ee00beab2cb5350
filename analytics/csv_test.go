package analytics_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/analytics"
	"github.com/crmkit/crmkit/core"
)

// readCSV parses what write wrote: the header, then the rows, each of the
// header's width.
func readCSV(t *testing.T, write func(*bytes.Buffer) error) (header []string, rows [][]string) {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, write(&buf))
	recs, err := csv.NewReader(&buf).ReadAll()
	require.NoError(t, err)
	require.NotEmpty(t, recs)
	return recs[0], recs[1:]
}

func column(header []string, name string) int {
	for i, h := range header {
		if h == name {
			return i
		}
	}
	return -1
}

// Every report writes itself as CSV: one row per line of the result, the
// figures as in the result.
func TestReportsWriteCSV(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		d := randomData(t, b, rand.New(rand.NewPCG(71, 72)), 60, 120)
		b.load(t, d)

		at, err := b.svc.Attribution(ctx, analytics.AttributionOptions{Period: period, Model: analytics.TimeDecay})
		require.NoError(t, err)
		h, rows := readCSV(t, func(w *bytes.Buffer) error { return at.WriteCSV(w) })
		require.Len(t, rows, len(at.Channels)+len(at.Campaigns))
		sums := map[string]decimal.Decimal{}
		for _, r := range rows {
			require.Equal(t, "time_decay", r[column(h, "model")])
			if r[column(h, "dimension")] == "channel" {
				a, err := decimal.NewFromString(r[column(h, "amount")])
				require.NoError(t, err)
				cur := r[column(h, "currency")]
				sums[cur] = sums[cur].Add(a)
			}
		}
		for _, rev := range at.Revenue {
			require.True(t, rev.Amount.Equal(sums[rev.Currency]), "%s: %s vs %s", rev.Currency, rev.Amount, sums[rev.Currency])
		}

		pr, err := b.svc.Pipelines(ctx, analytics.PipelineOptions{Period: period})
		require.NoError(t, err)
		_, rows = readCSV(t, func(w *bytes.Buffer) error { return pr.WriteCSV(w) })
		want := 0
		for _, p := range pr.Pipelines {
			want += len(p.Stages) + len(p.Currencies)
		}
		require.Len(t, rows, want)

		end := core.NewDate(2026, 7, 1)
		cv, err := b.svc.CustomerValue(ctx, analytics.CustomerValueOptions{Period: analytics.Period{To: end}, Horizon: 26 * week})
		require.NoError(t, err)
		h, rows = readCSV(t, func(w *bytes.Buffer) error { return cv.WriteCSV(w) })
		require.Len(t, rows, len(cv.Customers))
		for i, r := range rows {
			require.Equal(t, cv.Customers[i].ContactID.String(), r[column(h, "contact_id")])
			require.Equal(t, cv.Customers[i].Total.Amount.String(), r[column(h, "total")])
		}

		rfm, err := b.svc.RFM(ctx, analytics.RFMOptions{Period: analytics.Period{To: end}})
		require.NoError(t, err)
		h, rows = readCSV(t, func(w *bytes.Buffer) error { return rfm.WriteCSV(w) })
		require.Len(t, rows, len(rfm.Customers))
		for i, r := range rows {
			require.Equal(t, string(rfm.Customers[i].Segment), r[column(h, "segment")])
		}

		ch, err := b.svc.Churn(ctx, analytics.ChurnOptions{Period: analytics.Period{To: end}})
		require.NoError(t, err)
		_, rows = readCSV(t, func(w *bytes.Buffer) error { return ch.WriteCSV(w) })
		require.Len(t, rows, len(ch.Customers))

		ny, _ := time.LoadLocation("America/New_York")
		co, err := b.svc.Cohorts(ctx, analytics.CohortOptions{Period: period, Location: ny})
		require.NoError(t, err)
		h, rows = readCSV(t, func(w *bytes.Buffer) error { return co.WriteCSV(w) })
		want = 0
		for _, c := range co.Cohorts {
			want += 2 * len(c.Active)
			for _, r := range c.Revenue {
				want += len(r.Months)
			}
		}
		require.Len(t, rows, want)
		for _, r := range rows {
			if r[column(h, "offset")] == "0" && r[column(h, "metric")] == "retention" {
				require.Equal(t, "1", r[column(h, "value")])
			}
		}
	})
}
