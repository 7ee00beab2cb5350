package analytics

import (
	"context"
	"maps"
	"slices"
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
// boundaries are local midnight of each 1st, computed with time.Date, so
// exact across daylight-saving changes and any offset. One query streams
// the purchases before the period's end in contact order, from the
// purchases index alone; each contact's purchases are placed among the
// boundaries here. The same in SQL — each purchase's month by a CASE over
// the bounds, the first month per contact joined back — took SQLite 17 s
// at 1M contacts and 1.4M purchases, and PostgreSQL 3.5 s.
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
	placed := newBounds(bounds)
	active := make([][]int64, len(months))             // [cohort][n]
	revenue := make([]map[string][]int64, len(months)) // [cohort][currency][n]
	type purchase struct {
		month    int
		currency string
		amount   int64
	}
	var (
		cur      core.ID
		bought   []purchase
		seen     = make([]bool, len(months))
		firstAll = -2 // the contact's first month; -1: before the period
	)
	flush := func() {
		c, ps := firstAll, bought
		bought, firstAll = bought[:0], -2
		if c < 0 {
			return
		}
		if active[c] == nil {
			active[c] = make([]int64, len(months)-c)
			revenue[c] = map[string][]int64{}
		}
		clear(seen)
		for _, p := range ps {
			n := p.month - c
			if !seen[n] {
				seen[n] = true
				active[c][n]++
			}
			rev := revenue[c][p.currency]
			if rev == nil {
				rev = make([]int64, len(months)-c)
				revenue[c][p.currency] = rev
			}
			rev[n] += p.amount
		}
	}
	q := s.sc.Q()
	vis, vargs := g.contactOf("a", "a.contact_id")
	rows, err := q.PlanPerCall().Query(ctx, `SELECT a.contact_id, a.currency, `+q.D.StoredTime("a.occurred_at")+`, a.amount
		FROM crm_activities a
		WHERE a.tenant_id = ? AND a.kind = 'purchase' AND a.amount IS NOT NULL AND a.occurred_at < ?`+vis+`
		ORDER BY a.contact_id`, append([]any{tenant, bounds[len(bounds)-1]}, vargs...)...)
	if err != nil {
		return nil, store.Wrap(err, "cohorts")
	}
	err = store.EachRow(rows, func(r store.Scanner) error {
		var id core.ID
		var p purchase
		var at stamp
		if err := r.Scan(&id, &p.currency, &at, &p.amount); err != nil {
			return err
		}
		if id != cur {
			flush()
			cur = id
		}
		p.month = placed.before(at) - 1 // -1: before the period
		if firstAll == -2 || p.month < firstAll {
			firstAll = p.month
		}
		if p.month >= 0 {
			bought = append(bought, p)
		}
		return nil
	})
	if err != nil {
		return nil, store.Wrap(err, "cohorts")
	}
	flush()
	out := &Cohorts{Period: o.Period, Location: loc.String(), Months: months, Cohorts: []Cohort{}}
	for c, act := range active {
		if act == nil {
			continue
		}
		co := Cohort{Month: months[c], Size: act[0], Active: act, Retention: make([]float64, len(act)), Revenue: []CohortRevenue{}}
		for n, a := range act {
			co.Retention[n] = float64(a) / float64(co.Size)
		}
		for _, currency := range slices.Sorted(maps.Keys(revenue[c])) {
			r := CohortRevenue{Currency: currency, Months: make([]core.Money, len(act))}
			for n, units := range revenue[c][currency] {
				r.Months[n] = store.MoneyFromStorage(units, currency)
			}
			co.Revenue = append(co.Revenue, r)
		}
		out.Cohorts = append(out.Cohorts, co)
	}
	return out, nil
}
