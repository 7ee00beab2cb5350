package analytics

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// MaxCohortMonths is the longest period Cohorts accepts, in months.
const MaxCohortMonths = 240

// CohortOptions select the months of Cohorts.
type CohortOptions struct {
	// Period (both ends required) selects the months: from the month of
	// From to the month of the day before To, as calendar months in
	// Location.
	Period Period
	// Location is the time zone months are counted in; default UTC.
	Location *time.Location
}

// Cohorts is the retention and revenue of the contacts grouped by the
// month of their first purchase.
type Cohorts struct {
	Period   Period `json:"period"`
	Location string `json:"location"`
	// Months are the months of the period, "2026-03".
	Months []string `json:"months"`
	// Cohorts has one entry per month of Months whose first purchases
	// were made in it (months without new customers are left out).
	Cohorts []Cohort `json:"cohorts"`
}

// Cohort is the contacts whose first purchase was in one month.
type Cohort struct {
	Month string `json:"month"`
	// Size counts the contacts.
	Size int64 `json:"size"`
	// Active[n] counts those who purchased in month n after Month (n = 0
	// is Month itself, so Active[0] = Size), up to the period's last
	// month; Retention[n] = Active[n] / Size (Retention[0] = 1).
	Active    []int64   `json:"active"`
	Retention []float64 `json:"retention"`
	// Revenue has one entry per currency: the cohort's purchases in each
	// month after Month.
	Revenue []CohortRevenue `json:"revenue"`
}

// CohortRevenue is a cohort's revenue in one currency, month by month
// (Months[n]: n months after the cohort's month).
type CohortRevenue struct {
	Currency string       `json:"currency"`
	Months   []core.Money `json:"months"`
}

// Cohorts groups the purchasing contacts by the month of their first
// purchase (ever, so a contact whose first purchase precedes the period is
// in no cohort) and counts, for each later month of the period, how many
// of them purchased and how much, per currency.
//
// Months are calendar months in o.Location, on both databases: the
// boundaries — local midnight of each 1st, computed here with time.Date,
// so exact across daylight-saving changes and any offset — are bound to
// the query as UTC instants, and SQL assigns each purchase the month whose
// bounds hold it with a CASE over them (stored times are UTC: text in
// SQLite, which has no time zones, TIMESTAMPTZ in PostgreSQL; both compare
// them as instants). The aggregation is one SQL query.
func (s *Service) Cohorts(ctx context.Context, o CohortOptions) (_ *Cohorts, err error) {
	ctx, span := s.sc.Span(ctx, "analytics.Cohorts")
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
	loc := o.Location
	if loc == nil {
		loc = time.UTC
	}
	var bounds []time.Time // bounds[i] starts month i; the last ends the period
	var months []string
	if len(v.Fields) == 0 {
		first := time.Date(o.Period.From.Year, o.Period.From.Month, 1, 0, 0, 0, 0, loc)
		lastDay := o.Period.To.AddDays(-1)
		last := time.Date(lastDay.Year, lastDay.Month, 1, 0, 0, 0, 0, loc)
		for m := first; !m.After(last); m = m.AddDate(0, 1, 0) {
			bounds = append(bounds, m)
			months = append(months, m.Format("2006-01"))
			if len(months) > MaxCohortMonths {
				v.Add("period", "spans more than %d months", MaxCohortMonths)
				break
			}
		}
		bounds = append(bounds, last.AddDate(0, 1, 0))
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	q := s.sc.Q()
	d := q.D
	// month: -1 before the period, i in month i.
	var cases strings.Builder
	args := []any{}
	cases.WriteString("CASE")
	for i, b := range bounds {
		cases.WriteString(" WHEN a.occurred_at < " + d.TimeParam() + " THEN ")
		cases.WriteString(strconv.Itoa(i - 1))
		args = append(args, b)
	}
	cases.WriteString(" END")
	vis, vargs := g.contactOf("a", "a.contact_id")
	args = append(append(args, tenant, bounds[len(bounds)-1]), vargs...)
	rows, err := q.PlanPerCall().Query(ctx, `WITH p AS (
			SELECT a.contact_id, a.currency, a.amount, `+cases.String()+` AS m
			FROM crm_activities a
			WHERE a.tenant_id = ? AND a.kind = 'purchase' AND a.amount IS NOT NULL AND a.occurred_at < `+d.TimeParam()+vis+`
		), f AS (
			SELECT contact_id, MIN(m) AS c FROM p GROUP BY contact_id
		)
		SELECT f.c, p.m - f.c, '', COUNT(DISTINCT p.contact_id), 0
			FROM p JOIN f ON f.contact_id = p.contact_id WHERE f.c >= 0 GROUP BY f.c, p.m - f.c
		UNION ALL
		SELECT f.c, p.m - f.c, p.currency, 0, `+d.SumInt("p.amount")+`
			FROM p JOIN f ON f.contact_id = p.contact_id WHERE f.c >= 0 GROUP BY f.c, p.m - f.c, p.currency`, args...)
	if err != nil {
		return nil, store.Wrap(err, "cohorts")
	}
	byMonth := map[int]*Cohort{}
	revenue := map[int]map[string][]int64{}
	err = store.EachRow(rows, func(r store.Scanner) error {
		var c, n, active, amount int64
		var currency string
		if err := r.Scan(&c, &n, &currency, &active, &amount); err != nil {
			return err
		}
		span := len(months) - int(c)
		co := byMonth[int(c)]
		if co == nil {
			co = &Cohort{Month: months[c], Active: make([]int64, span), Retention: make([]float64, span), Revenue: []CohortRevenue{}}
			byMonth[int(c)] = co
			revenue[int(c)] = map[string][]int64{}
		}
		if currency == "" {
			co.Active[n] = active
			return nil
		}
		rev := revenue[int(c)][currency]
		if rev == nil {
			rev = make([]int64, span)
			revenue[int(c)][currency] = rev
		}
		rev[n] = amount
		return nil
	})
	if err != nil {
		return nil, store.Wrap(err, "cohorts")
	}
	out := &Cohorts{Period: o.Period, Location: loc.String(), Months: months, Cohorts: []Cohort{}}
	keys := make([]int, 0, len(byMonth))
	for c := range byMonth {
		keys = append(keys, c)
	}
	sort.Ints(keys)
	for _, c := range keys {
		co := byMonth[c]
		co.Size = co.Active[0]
		for n, a := range co.Active {
			if co.Size > 0 {
				co.Retention[n] = float64(a) / float64(co.Size)
			}
		}
		currencies := make([]string, 0, len(revenue[c]))
		for cur := range revenue[c] {
			currencies = append(currencies, cur)
		}
		sort.Strings(currencies)
		for _, cur := range currencies {
			r := CohortRevenue{Currency: cur, Months: make([]core.Money, len(co.Active))}
			for n, units := range revenue[c][cur] {
				r.Months[n] = store.MoneyFromStorage(units, cur)
			}
			co.Revenue = append(co.Revenue, r)
		}
		out.Cohorts = append(out.Cohorts, *co)
	}
	return out, nil
}
