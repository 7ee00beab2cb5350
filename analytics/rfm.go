package analytics

import (
	"context"
	"time"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// Segment is a named RFM segment.
type Segment string

// RFM segments, by recency score R and frequency score F (1–5 each; the
// monetary score is reported, not used for naming):
//
//	R \ F   1               2                 3                 4            5
//	5       new             potential loyal.  potential loyal.  champions    champions
//	4       promising       potential loyal.  potential loyal.  loyal        loyal
//	3       about to sleep  about to sleep    need attention    loyal        loyal
//	2       hibernating     hibernating       at risk           at risk      can't lose
//	1       lost            hibernating       at risk           at risk      can't lose
const (
	Champions         Segment = "champions"
	Loyal             Segment = "loyal"
	PotentialLoyalist Segment = "potential_loyalist"
	New               Segment = "new"
	Promising         Segment = "promising"
	NeedAttention     Segment = "need_attention"
	AboutToSleep      Segment = "about_to_sleep"
	AtRisk            Segment = "at_risk"
	CantLose          Segment = "cant_lose"
	Hibernating       Segment = "hibernating"
	Lost              Segment = "lost"
)

// segments is the table of SegmentOf: segments[r-1][f-1].
var segments = [5][5]Segment{
	{Lost, Hibernating, AtRisk, AtRisk, CantLose},
	{Hibernating, Hibernating, AtRisk, AtRisk, CantLose},
	{AboutToSleep, AboutToSleep, NeedAttention, Loyal, Loyal},
	{Promising, PotentialLoyalist, PotentialLoyalist, Loyal, Loyal},
	{New, PotentialLoyalist, PotentialLoyalist, Champions, Champions},
}

// SegmentOf returns the segment of recency score r and frequency score f
// (see the table above); "" for scores outside 1–5.
func SegmentOf(r, f int) Segment {
	if r < 1 || r > 5 || f < 1 || f > 5 {
		return ""
	}
	return segments[r-1][f-1]
}

// RFMOptions select the purchases of RFM.
type RFMOptions struct {
	// Period bounds the purchases read, as in CustomerValueOptions.
	Period Period
}

// RFM is every purchasing contact's recency, frequency and monetary scores.
type RFM struct {
	AsOf time.Time `json:"as_of"`
	// Customers has one row per purchasing contact and currency, by
	// currency then contact id.
	Customers []RFMRow `json:"customers"`
}

// RFMRow is one contact's scores.
type RFMRow struct {
	ContactID core.ID `json:"contact_id"`
	// RecencyDays is the time from the last purchase to AsOf; Frequency
	// counts the purchases; Monetary sums them.
	RecencyDays float64    `json:"recency_days"`
	Frequency   int64      `json:"frequency"`
	Monetary    core.Money `json:"monetary"`
	// R, F and M are quintiles, 1 (worst: longest ago, fewest, least) to 5.
	R int `json:"r"`
	F int `json:"f"`
	M int `json:"m"`
	// Segment is the named segment of R and F.
	Segment Segment `json:"segment"`
}

// RFM scores every purchasing contact by quintiles of recency (last
// purchase), frequency (purchases) and monetary value (their sum), in one
// SQL query with NTILE(5) over the contacts of each currency (money of
// different currencies is not ranked together). NTILE splits the ranked
// contacts into five groups whose sizes differ by at most one; contacts
// with equal values are ranked by contact id, so ties at a boundary may
// land in neighbouring quintiles, the same way on both databases.
//
// Scores are computed, not stored on the contact.
func (s *Service) RFM(ctx context.Context, o RFMOptions) (_ *RFM, err error) {
	ctx, span := s.sc.Span(ctx, "analytics.RFM")
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
	o.Period.checkOptional(v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	end := s.asOf(o.Period)
	q := s.sc.Q()
	d := q.D
	where, args := "", []any{end, tenant, end}
	if !o.Period.From.IsZero() {
		where, args = " AND a.occurred_at >= ?", append(args, o.Period.From.Time())
	}
	vis, vargs := g.contactOf("a", "a.contact_id")
	where, args = where+vis, append(args, vargs...)
	rows, err := q.PlanPerCall().Query(ctx, `SELECT s.contact_id, s.currency, s.f, s.m,
		`+d.SecondsBetween("s.last_at", d.TimeParam())+`,
		NTILE(5) OVER (PARTITION BY s.currency ORDER BY s.last_at, s.contact_id),
		NTILE(5) OVER (PARTITION BY s.currency ORDER BY s.f, s.contact_id),
		NTILE(5) OVER (PARTITION BY s.currency ORDER BY s.m, s.contact_id)
		FROM (SELECT a.contact_id, a.currency, COUNT(*) AS f, `+d.SumInt("a.amount")+` AS m, MAX(a.occurred_at) AS last_at
			FROM crm_activities a
			WHERE a.tenant_id = ? AND a.kind = 'purchase' AND a.amount IS NOT NULL AND a.occurred_at < ?`+where+`
			GROUP BY a.contact_id, a.currency) s
		ORDER BY s.currency, s.contact_id`, args...)
	if err != nil {
		return nil, store.Wrap(err, "rfm")
	}
	out := &RFM{AsOf: end, Customers: []RFMRow{}}
	err = store.EachRow(rows, func(r store.Scanner) error {
		var row RFMRow
		var currency string
		var m int64
		var seconds float64
		if err := r.Scan(&row.ContactID, &currency, &row.Frequency, &m, &seconds, &row.R, &row.F, &row.M); err != nil {
			return err
		}
		row.Monetary = store.MoneyFromStorage(m, currency)
		row.RecencyDays = finite(seconds / 86400)
		row.Segment = SegmentOf(row.R, row.F)
		out.Customers = append(out.Customers, row)
		return nil
	})
	if err != nil {
		return nil, store.Wrap(err, "rfm")
	}
	return out, nil
}
