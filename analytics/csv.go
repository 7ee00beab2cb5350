package analytics

import (
	"encoding/csv"
	"io"
	"strconv"

	"github.com/crmkit/crmkit/core"
)

// CSV: every report writes itself as CSV with WriteCSV: a header row, then
// one row per line of the report. Money is two columns, amount (exact
// decimal) and currency; ratios are decimals (0.25, not 25%); ids are
// canonical UUIDs.

// table writes header and rows to w as CSV.
func table(w io.Writer, header []string, rows func(add func(...string) error) error) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(header); err != nil {
		return err
	}
	if err := rows(func(rec ...string) error { return cw.Write(rec) }); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

func ftoa(f float64) string { return strconv.FormatFloat(finite(f), 'g', -1, 64) }
func itoa64(i int64) string { return strconv.FormatInt(i, 10) }
func amount(m core.Money) string {
	return m.Amount.String()
}

// WriteCSV writes one row per pipeline, currency and stage: the
// pipeline's rates, the currency's money and the stage's conversion
// (stage columns empty on the rows of the money, money columns empty on
// the rows of the stages).
func (r *PipelineReport) WriteCSV(w io.Writer) error {
	return table(w, []string{"pipeline_id", "pipeline", "won", "lost", "win_rate", "average_cycle_days", "open",
		"currency", "currency_won", "won_amount", "average_size", "currency_open", "open_amount", "velocity_per_day",
		"stage_id", "stage", "position", "kind", "entered", "advanced", "conversion"}, func(add func(...string) error) error {
		for _, p := range r.Pipelines {
			head := []string{p.PipelineID.String(), p.Name, itoa64(p.Won), itoa64(p.Lost), ftoa(p.WinRate), ftoa(p.AverageCycleDays), itoa64(p.Open)}
			for _, m := range p.Currencies {
				rec := append(append([]string{}, head...), m.Currency, itoa64(m.Won), amount(m.WonAmount), amount(m.AverageSize),
					itoa64(m.Open), amount(m.OpenAmount), amount(m.Velocity), "", "", "", "", "", "", "")
				if err := add(rec...); err != nil {
					return err
				}
			}
			for _, st := range p.Stages {
				rec := append(append([]string{}, head...), "", "", "", "", "", "", "",
					st.StageID.String(), st.Name, itoa64(st.Position), st.Kind, itoa64(st.Entered), itoa64(st.Advanced), ftoa(st.Rate))
				if err := add(rec...); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// WriteCSV writes one row per channel and one per campaign: dimension
// ("channel" or "campaign"), name, currency, amount, deals, touches.
func (a *Attribution) WriteCSV(w io.Writer) error {
	return table(w, []string{"model", "dimension", "name", "currency", "amount", "deals", "touches"}, func(add func(...string) error) error {
		for _, x := range []struct {
			dim     string
			credits []Credit
		}{{"channel", a.Channels}, {"campaign", a.Campaigns}} {
			for _, c := range x.credits {
				if err := add(string(a.Model), x.dim, c.Name, c.Amount.Currency, amount(c.Amount), itoa64(c.Deals), itoa64(c.Touches)); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// WriteCSV writes one row per contact.
func (c *CustomerValue) WriteCSV(w io.Writer) error {
	return table(w, []string{"contact_id", "currency", "purchases", "total", "repeat", "recency_weeks", "age_weeks",
		"p_alive", "expected_purchases", "expected_spend", "expected_value"}, func(add func(...string) error) error {
		for _, r := range c.Customers {
			if err := add(r.ContactID.String(), r.Total.Currency, itoa64(r.Purchases), amount(r.Total), itoa64(r.Repeat),
				ftoa(r.RecencyWeeks), ftoa(r.AgeWeeks), ftoa(r.PAlive), ftoa(r.ExpectedPurchases),
				amount(r.ExpectedSpend), amount(r.ExpectedValue)); err != nil {
				return err
			}
		}
		return nil
	})
}

// WriteCSV writes one row per contact.
func (c *Churn) WriteCSV(w io.Writer) error {
	return table(w, []string{"contact_id", "purchases", "p_alive", "days_since_last", "mean_gap_days", "overdue"}, func(add func(...string) error) error {
		for _, r := range c.Customers {
			if err := add(r.ContactID.String(), itoa64(r.Purchases), ftoa(r.PAlive), ftoa(r.DaysSinceLast), ftoa(r.MeanGapDays),
				strconv.FormatBool(r.Overdue)); err != nil {
				return err
			}
		}
		return nil
	})
}

// WriteCSV writes one row per contact and currency.
func (r *RFM) WriteCSV(w io.Writer) error {
	return table(w, []string{"contact_id", "currency", "recency_days", "frequency", "monetary", "r", "f", "m", "segment"}, func(add func(...string) error) error {
		for _, c := range r.Customers {
			if err := add(c.ContactID.String(), c.Monetary.Currency, ftoa(c.RecencyDays), itoa64(c.Frequency), amount(c.Monetary),
				strconv.Itoa(c.R), strconv.Itoa(c.F), strconv.Itoa(c.M), string(c.Segment)); err != nil {
				return err
			}
		}
		return nil
	})
}

// WriteCSV writes the retention matrix, then the revenue: one row per
// cohort and month offset ("0" is the cohort's own month) with the
// cohort's size, the active contacts and the retention, and one row per
// cohort, month offset and currency with the revenue (metric "revenue").
func (c *Cohorts) WriteCSV(w io.Writer) error {
	return table(w, []string{"cohort", "month", "offset", "metric", "currency", "size", "value"}, func(add func(...string) error) error {
		for _, co := range c.Cohorts {
			start := indexOf(c.Months, co.Month)
			for n := range co.Active {
				m := c.Months[start+n]
				if err := add(co.Month, m, strconv.Itoa(n), "active", "", itoa64(co.Size), itoa64(co.Active[n])); err != nil {
					return err
				}
				if err := add(co.Month, m, strconv.Itoa(n), "retention", "", itoa64(co.Size), ftoa(co.Retention[n])); err != nil {
					return err
				}
			}
		}
		for _, co := range c.Cohorts {
			start := indexOf(c.Months, co.Month)
			for _, r := range co.Revenue {
				for n, m := range r.Months {
					if err := add(co.Month, c.Months[start+n], strconv.Itoa(n), "revenue", r.Currency, itoa64(co.Size), amount(m)); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
}

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return 0
}
