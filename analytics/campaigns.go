package analytics

import (
	"context"
	"io"
	"slices"
	"time"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// CampaignOptions select the campaigns of CampaignReport.
type CampaignOptions struct {
	// Period selects the campaigns started in it (optional ends).
	Period Period
	// RevenueWindow is how long after a person's first click their
	// purchases count as the campaign's revenue (default 7 days).
	RevenueWindow time.Duration
}

// DefaultRevenueWindow is CampaignOptions.RevenueWindow's default.
const DefaultRevenueWindow = 7 * 24 * time.Hour

// CampaignReport is the performance of campaigns.
type CampaignReport struct {
	Campaigns []CampaignRow `json:"campaigns"`
}

// CampaignRow is one campaign's numbers. Opened and Clicked count people
// (machine opens and clicks left out), each recipient once; a click counts
// as an opening; ClickThroughRate is Clicked / Sent. Unsubscribed counts recipients who withdrew from the
// campaign's purpose through an unsubscribe link within RevenueWindow of
// their message. Revenue sums, per currency, the purchases of recipients
// made after their first click and within RevenueWindow of it.
type CampaignRow struct {
	CampaignID       core.ID      `json:"campaign_id"`
	Name             string       `json:"name"`
	Kind             string       `json:"kind"`
	Status           string       `json:"status"`
	StartedAt        *time.Time   `json:"started_at,omitempty"`
	Recipients       int64        `json:"recipients"`
	Sent             int64        `json:"sent"`
	Failed           int64        `json:"failed"`
	Skipped          int64        `json:"skipped"`
	Bounced          int64        `json:"bounced"`
	Complained       int64        `json:"complained"`
	Opened           int64        `json:"opened"`
	Clicked          int64        `json:"clicked"`
	ClickThroughRate float64      `json:"click_through_rate"`
	Unsubscribed     int64        `json:"unsubscribed"`
	Purchases        int64        `json:"purchases"`
	Revenue          []core.Money `json:"revenue"`
}

// Campaigns reports every campaign started in the period (or drafted and
// never started, when the period has no start), newest first.
func (s *Service) Campaigns(ctx context.Context, o CampaignOptions) (_ *CampaignReport, err error) {
	ctx, span := s.sc.Span(ctx, "analytics.Campaigns")
	defer span.End(&err)

	g, err := s.guard(ctx)
	if err != nil {
		return nil, err
	}
	v := &core.ValidationError{}
	o.Period.checkOptional(v)
	if o.RevenueWindow < 0 {
		v.Add("revenue_window", "must not be negative")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if o.RevenueWindow == 0 {
		o.RevenueWindow = DefaultRevenueWindow
	}
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	q := s.sc.Q()
	where, args := "c.tenant_id = ?"+g.campaigns(), []any{tenant}
	if !o.Period.From.IsZero() {
		where += " AND c.started_at >= ?"
		args = append(args, o.Period.start())
	}
	if !o.Period.To.IsZero() {
		where += " AND c.started_at < ?"
		args = append(args, o.Period.end())
	}
	rows, err := q.Query(ctx, `SELECT c.id, c.name, c.kind, c.status, c.started_at FROM crm_campaigns c WHERE `+where+`
		ORDER BY c.created_at DESC, c.id DESC`, args...)
	if err != nil {
		return nil, store.Wrap(err, "campaign report")
	}
	out := &CampaignReport{Campaigns: []CampaignRow{}}
	index := map[core.ID]*CampaignRow{}
	if err := store.EachRow(rows, func(r store.Scanner) error {
		var row CampaignRow
		var started *time.Time
		if err := r.Scan(&row.CampaignID, &row.Name, &row.Kind, &row.Status, &started); err != nil {
			return err
		}
		if started != nil {
			t := started.UTC()
			row.StartedAt = &t
		}
		row.Revenue = []core.Money{}
		out.Campaigns = append(out.Campaigns, row)
		return nil
	}); err != nil {
		return nil, store.Wrap(err, "campaign report")
	}
	if len(out.Campaigns) == 0 {
		return out, nil
	}
	ids := make([]core.ID, len(out.Campaigns))
	for i := range out.Campaigns {
		ids[i] = out.Campaigns[i].CampaignID
		index[ids[i]] = &out.Campaigns[i]
	}
	in := q.D.InList("campaign_id", "uuid")
	list := q.D.IDsArg(ids)
	// Recipients by state.
	if err := s.eachRow(ctx, `SELECT campaign_id, state, count(*) FROM crm_campaign_recipients WHERE tenant_id = ? AND `+in+`
		GROUP BY campaign_id, state`, []any{tenant, list}, func(r store.Scanner) error {
		var id core.ID
		var state string
		var n int64
		if err := r.Scan(&id, &state, &n); err != nil {
			return err
		}
		row := index[id]
		row.Recipients += n
		switch state {
		case "sent":
			row.Sent = n
		case "failed":
			row.Failed = n
		case "skipped":
			row.Skipped = n
		}
		return nil
	}); err != nil {
		return nil, err
	}
	// People who opened and clicked.
	if err := s.eachRow(ctx, `SELECT campaign_id, count(DISTINCT recipient_id), count(DISTINCT CASE WHEN kind = 'click' THEN recipient_id END)
		FROM crm_campaign_interactions WHERE tenant_id = ? AND machine = '' AND `+in+` GROUP BY campaign_id`, []any{tenant, list},
		func(r store.Scanner) error {
			var id core.ID
			var opened, clicked int64
			if err := r.Scan(&id, &opened, &clicked); err != nil {
				return err
			}
			index[id].Opened, index[id].Clicked = opened, clicked
			return nil
		}); err != nil {
		return nil, err
	}
	// Bounces and complaints.
	if err := s.eachRow(ctx, `SELECT campaign_id, count(DISTINCT CASE WHEN kind <> 'complaint' THEN recipient_id END),
		count(DISTINCT CASE WHEN kind = 'complaint' THEN recipient_id END)
		FROM crm_campaign_bounces WHERE tenant_id = ? AND `+in+` GROUP BY campaign_id`, []any{tenant, list}, func(r store.Scanner) error {
		var id core.ID
		var bounced, complained int64
		if err := r.Scan(&id, &bounced, &complained); err != nil {
			return err
		}
		index[id].Bounced, index[id].Complained = bounced, complained
		return nil
	}); err != nil {
		return nil, err
	}
	// Unsubscribes through a link after the message, within the window.
	window := o.RevenueWindow.Seconds()
	if err := s.eachRow(ctx, `SELECT r.campaign_id, count(DISTINCT r.contact_id)
		FROM crm_campaign_recipients r
		JOIN crm_campaigns c ON c.tenant_id = r.tenant_id AND c.id = r.campaign_id
		JOIN crm_consents k ON k.tenant_id = r.tenant_id AND k.contact_id = r.contact_id AND k.purpose_key = c.purpose_key
		WHERE r.tenant_id = ? AND r.state = 'sent' AND k.status = 'withdrawn' AND k.source = 'unsubscribe_link'
		AND k.recorded_at >= r.sent_at AND `+q.D.SecondsBetween("r.sent_at", "k.recorded_at")+` < ? AND `+q.D.InList("r.campaign_id", "uuid")+`
		GROUP BY r.campaign_id`, []any{tenant, window, list}, func(r store.Scanner) error {
		var campaign core.ID
		var n int64
		if err := r.Scan(&campaign, &n); err != nil {
			return err
		}
		index[campaign].Unsubscribed = n
		return nil
	}); err != nil {
		return nil, err
	}
	// Revenue: purchases after a person's first click, within the window,
	// of the contacts the actor sees.
	avis, aargs := g.contactOf("a", "a.contact_id")
	if err := s.eachRow(ctx, `SELECT f.campaign_id, a.currency, `+q.D.SumInt("a.amount")+`, count(*)
		FROM (SELECT i.tenant_id, i.campaign_id, r.contact_id, min(i.at) AS first_click
			FROM crm_campaign_interactions i JOIN crm_campaign_recipients r ON r.tenant_id = i.tenant_id AND r.id = i.recipient_id
			WHERE i.tenant_id = ? AND i.kind = 'click' AND i.machine = '' AND r.contact_id IS NOT NULL AND `+q.D.InList("i.campaign_id", "uuid")+`
			GROUP BY i.tenant_id, i.campaign_id, r.contact_id) f
		JOIN crm_activities a ON a.tenant_id = ? AND a.tenant_id = f.tenant_id AND a.contact_id = f.contact_id AND a.kind = 'purchase' AND a.occurred_at >= f.first_click
		WHERE `+q.D.SecondsBetween("f.first_click", "a.occurred_at")+` < ?`+avis+`
		GROUP BY f.campaign_id, a.currency
		ORDER BY f.campaign_id, a.currency`,
		append([]any{tenant, list, tenant, window}, aargs...), func(r store.Scanner) error {
			var campaign core.ID
			var currency string
			var amount, n int64
			if err := r.Scan(&campaign, &currency, &amount, &n); err != nil {
				return err
			}
			row := index[campaign]
			row.Revenue = append(row.Revenue, store.MoneyFromStorage(amount, currency))
			row.Purchases += n
			return nil
		}); err != nil {
		return nil, err
	}
	for i := range out.Campaigns {
		row := &out.Campaigns[i]
		if row.Sent > 0 {
			row.ClickThroughRate = finite(float64(row.Clicked) / float64(row.Sent))
		}
	}
	return out, nil
}

// eachRow runs query and calls fn for each row.
func (s *Service) eachRow(ctx context.Context, query string, args []any, fn func(store.Scanner) error) error {
	rows, err := s.sc.Q().Query(ctx, query, args...)
	if err != nil {
		return store.Wrap(err, "campaign report")
	}
	return store.Wrap(store.EachRow(rows, fn), "campaign report")
}

// WriteCSV writes one row per campaign and revenue currency (a campaign
// without revenue has one row with empty revenue columns).
func (r *CampaignReport) WriteCSV(w io.Writer) error {
	return table(w, []string{"campaign_id", "name", "kind", "status", "recipients", "sent", "failed", "skipped", "bounced",
		"complained", "opened", "clicked", "click_through_rate", "unsubscribed", "purchases", "revenue", "currency"},
		func(add func(...string) error) error {
			for _, c := range r.Campaigns {
				head := []string{c.CampaignID.String(), c.Name, c.Kind, c.Status, itoa64(c.Recipients), itoa64(c.Sent), itoa64(c.Failed),
					itoa64(c.Skipped), itoa64(c.Bounced), itoa64(c.Complained), itoa64(c.Opened), itoa64(c.Clicked),
					ftoa(c.ClickThroughRate), itoa64(c.Unsubscribed), itoa64(c.Purchases)}
				if len(c.Revenue) == 0 {
					if err := add(append(head, "", "")...); err != nil {
						return err
					}
				}
				for _, m := range c.Revenue {
					if err := add(append(slices.Clone(head), amount(m), m.Currency)...); err != nil {
						return err
					}
				}
			}
			return nil
		})
}
