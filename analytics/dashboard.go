package analytics

import (
	"context"
	"io"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// DashboardOptions select the dashboard's period.
type DashboardOptions struct {
	// Period is what "new", "won", "sent" and "solved" count (both ends
	// required); the open pipeline and the open tickets are as of now.
	Period Period
}

// Dashboard holds the numbers a sales, marketing and service lead look at
// first, each from one SQL query.
type Dashboard struct {
	// NewContacts were created in the period.
	NewContacts int64 `json:"new_contacts"`
	// OpenDeals and OpenPipeline are the deals open now and their value,
	// per currency.
	OpenDeals    int64        `json:"open_deals"`
	OpenPipeline []core.Money `json:"open_pipeline"`
	// WonDeals and WonRevenue were won in the period; LostDeals lost.
	WonDeals   int64        `json:"won_deals"`
	LostDeals  int64        `json:"lost_deals"`
	WonRevenue []core.Money `json:"won_revenue"`
	// WinRate is won / (won + lost) in the period.
	WinRate float64 `json:"win_rate"`
	// EmailsSent were sent by campaigns in the period; EmailsOpened of
	// them were opened by people (a click counts).
	EmailsSent   int64 `json:"emails_sent"`
	EmailsOpened int64 `json:"emails_opened"`
	// OpenTickets are open now (new, open, pending, on hold), of which
	// OverdueTickets are past their SLA due time; TicketsSolved were
	// solved in the period.
	OpenTickets    int64 `json:"open_tickets"`
	OverdueTickets int64 `json:"overdue_tickets"`
	TicketsSolved  int64 `json:"tickets_solved"`
}

// Dashboard computes the dashboard of the period.
func (s *Service) Dashboard(ctx context.Context, o DashboardOptions) (_ *Dashboard, err error) {
	ctx, span := s.sc.Span(ctx, "analytics.Dashboard")
	defer span.End(&err)

	g, err := s.guard(ctx)
	if err != nil {
		return nil, err
	}
	v := &core.ValidationError{}
	o.Period.checkRequired(v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	q := s.sc.Q()
	from, to, now := o.Period.start(), o.Period.end(), s.sc.Runtime().Now()
	d := &Dashboard{OpenPipeline: []core.Money{}, WonRevenue: []core.Money{}}
	one := func(query string, args []any, dest ...any) error {
		return store.Wrap(q.QueryRow(ctx, query, args...).Scan(dest...), "dashboard")
	}
	cvis, cargs := g.contacts("c")
	if err := one(`SELECT count(*) FROM crm_contacts c WHERE c.tenant_id = ? AND c.created_at >= ? AND c.created_at < ?`+cvis,
		append([]any{tenant, from, to}, cargs...), &d.NewContacts); err != nil {
		return nil, err
	}
	money := func(query string, args []any, count *int64, sums *[]core.Money) error {
		rows, err := q.Query(ctx, query, args...)
		if err != nil {
			return store.Wrap(err, "dashboard")
		}
		return store.Wrap(store.EachRow(rows, func(r store.Scanner) error {
			var currency string
			var n, amount int64
			if err := r.Scan(&currency, &n, &amount); err != nil {
				return err
			}
			*count += n
			*sums = append(*sums, store.MoneyFromStorage(amount, currency))
			return nil
		}), "dashboard")
	}
	sum := q.D.SumInt("d.amount")
	dvis, dargs := g.deals("d")
	if err := money(`SELECT d.currency, count(*), `+sum+` FROM crm_deals d WHERE d.tenant_id = ? AND d.status = 'open'`+dvis+`
		GROUP BY d.currency ORDER BY d.currency`, append([]any{tenant}, dargs...), &d.OpenDeals, &d.OpenPipeline); err != nil {
		return nil, err
	}
	if err := money(`SELECT d.currency, count(*), `+sum+` FROM crm_deals d WHERE d.tenant_id = ? AND d.status = 'won'
		AND d.closed_at >= ? AND d.closed_at < ?`+dvis+` GROUP BY d.currency ORDER BY d.currency`, append([]any{tenant, from, to}, dargs...),
		&d.WonDeals, &d.WonRevenue); err != nil {
		return nil, err
	}
	if err := one(`SELECT count(*) FROM crm_deals d WHERE d.tenant_id = ? AND d.status = 'lost' AND d.closed_at >= ? AND d.closed_at < ?`+dvis,
		append([]any{tenant, from, to}, dargs...), &d.LostDeals); err != nil {
		return nil, err
	}
	if closed := d.WonDeals + d.LostDeals; closed > 0 {
		d.WinRate = finite(float64(d.WonDeals) / float64(closed))
	}
	if err := one(`SELECT count(*), count(DISTINCT i.recipient_id) FROM crm_campaign_recipients r
		LEFT JOIN crm_campaign_interactions i ON i.tenant_id = r.tenant_id AND i.recipient_id = r.id AND i.machine = ''
		WHERE r.tenant_id = ? AND r.state = 'sent' AND r.sent_at >= ? AND r.sent_at < ?`+g.campaigns(), []any{tenant, from, to},
		new(int64), &d.EmailsOpened); err != nil {
		return nil, err
	}
	if err := one(`SELECT count(*) FROM crm_campaign_recipients WHERE tenant_id = ? AND state = 'sent' AND sent_at >= ? AND sent_at < ?`+g.campaigns(),
		[]any{tenant, from, to}, &d.EmailsSent); err != nil {
		return nil, err
	}
	tvis, targs, err := s.ticketsSeen(ctx, g, "t")
	if err != nil {
		return nil, err
	}
	if err := one(`SELECT count(*), count(CASE WHEN t.sla_due < ? THEN 1 END) FROM crm_tickets t
		WHERE t.tenant_id = ? AND t.status IN ('new', 'open', 'pending', 'on_hold')`+tvis, append([]any{now, tenant}, targs...),
		&d.OpenTickets, &d.OverdueTickets); err != nil {
		return nil, err
	}
	if err := one(`SELECT count(*) FROM crm_tickets t WHERE t.tenant_id = ? AND t.solved_at >= ? AND t.solved_at < ?`+tvis,
		append([]any{tenant, from, to}, targs...), &d.TicketsSolved); err != nil {
		return nil, err
	}
	return d, nil
}

// WriteCSV writes the dashboard as metric,value[,currency] rows.
func (d *Dashboard) WriteCSV(w io.Writer) error {
	return table(w, []string{"metric", "value", "currency"}, func(add func(...string) error) error {
		for _, m := range []struct {
			name string
			n    int64
		}{{"new_contacts", d.NewContacts}, {"open_deals", d.OpenDeals}, {"won_deals", d.WonDeals}, {"lost_deals", d.LostDeals},
			{"emails_sent", d.EmailsSent}, {"emails_opened", d.EmailsOpened}, {"open_tickets", d.OpenTickets},
			{"overdue_tickets", d.OverdueTickets}, {"tickets_solved", d.TicketsSolved}} {
			if err := add(m.name, itoa64(m.n), ""); err != nil {
				return err
			}
		}
		if err := add("win_rate", ftoa(d.WinRate), ""); err != nil {
			return err
		}
		for _, x := range []struct {
			name string
			ms   []core.Money
		}{{"open_pipeline", d.OpenPipeline}, {"won_revenue", d.WonRevenue}} {
			for _, m := range x.ms {
				if err := add(x.name, amount(m), m.Currency); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
