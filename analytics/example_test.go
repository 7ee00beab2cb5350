package analytics_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"sync/atomic"
	"time"

	"github.com/crmkit/crmkit/analytics"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/pipeline"
)

// openAt opens an in-memory CRM whose clock reads at (and moves on a
// millisecond per reading).
func openAt(ctx context.Context, at time.Time) *crm.CRM {
	var ticks atomic.Int64
	clock := core.ClockFunc(func() time.Time { return at.Add(time.Duration(ticks.Add(1)) * time.Millisecond) })
	c, err := crm.Open(ctx, crm.Config{DSN: ":memory:", Clock: clock})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	return c
}

// Share a won deal's revenue among the channels that touched its contact.
// U-shaped: newsletter was the first touch, webinar the touch nearest the
// contact's creation (Track created it at the win); time decay halves a
// touch's weight every 7 days before the win.
func ExampleService_Attribution() {
	ctx := context.Background()
	won := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	c := openAt(ctx, won)
	defer c.Close()

	ada := contacts.ByEmail("ada@example.com")
	touch := func(daysBefore int, props map[string]any) {
		_, err := c.Contacts.Track(ctx, ada, contacts.NewActivity{Kind: contacts.KindWeb, Name: "visit",
			OccurredAt: won.AddDate(0, 0, -daysBefore), Properties: props,
			CreateContact: &contacts.NewContact{Email: "ada@example.com"}})
		if err != nil {
			log.Fatal(err)
		}
	}
	touch(20, map[string]any{"utm_source": "newsletter", "utm_campaign": "spring"})
	touch(7, map[string]any{"channel": "ads", "campaign": "spring"})
	touch(1, map[string]any{"channel": "webinar"})
	contact, _ := c.Contacts.GetByEmail(ctx, "ada@example.com")
	deal, err := c.Deals.Create(ctx, pipeline.NewDeal{Title: "Rollout", Amount: core.MustMoney("1000", "EUR"), ContactID: &contact.ID})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.Deals.Win(ctx, deal.ID, deal.Version); err != nil {
		log.Fatal(err)
	}

	march := analytics.Period{From: core.NewDate(2026, 3, 1), To: core.NewDate(2026, 4, 1)}
	for _, model := range []analytics.Model{analytics.Linear, analytics.UShaped, analytics.TimeDecay} {
		a, err := c.Analytics.Attribution(ctx, analytics.AttributionOptions{Period: march, Model: model})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Print(model, ":")
		for _, ch := range a.Channels {
			fmt.Print(" ", ch.Name, " ", ch.Amount.Amount.StringFixed(2))
		}
		fmt.Println()
	}
	a, _ := c.Analytics.Attribution(ctx, analytics.AttributionOptions{Period: march, Model: analytics.UShaped})
	_ = a.WriteCSV(os.Stdout)
	// Output:
	// linear: ads 333.34 newsletter 333.33 webinar 333.33
	// u_shaped: ads 200.00 newsletter 400.00 webinar 400.00
	// time_decay: ads 323.89 newsletter 89.40 webinar 586.71
	// model,dimension,name,currency,amount,deals,touches
	// u_shaped,channel,ads,EUR,200,1,1
	// u_shaped,channel,newsletter,EUR,400,1,1
	// u_shaped,channel,webinar,EUR,400,1,1
	// u_shaped,campaign,(none),EUR,400,1,1
	// u_shaped,campaign,spring,EUR,600,1,2
}

// Win rate, sales cycle and velocity of a pipeline.
func ExampleService_Pipelines() {
	ctx := context.Background()
	day := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	c := openAt(ctx, day)
	defer c.Close()
	for i, amount := range []string{"1000", "3000", "500", "800"} {
		d, err := c.Deals.Create(ctx, pipeline.NewDeal{Title: fmt.Sprint("Deal ", i), Amount: core.MustMoney(amount, "EUR")})
		if err != nil {
			log.Fatal(err)
		}
		switch i {
		case 0, 1:
			_, err = c.Deals.Win(ctx, d.ID, d.Version)
		case 2:
			_, err = c.Deals.Lose(ctx, d.ID, d.Version, "price")
		}
		if err != nil {
			log.Fatal(err)
		}
	}
	r, err := c.Analytics.Pipelines(ctx, analytics.PipelineOptions{
		Period: analytics.Period{From: core.NewDate(2026, 5, 1), To: core.NewDate(2026, 6, 1)}})
	if err != nil {
		log.Fatal(err)
	}
	p := r.Pipelines[0]
	fmt.Printf("%s: won %d, lost %d, win rate %.2f, open %d\n", p.Name, p.Won, p.Lost, p.WinRate, p.Open)
	for _, m := range p.Currencies {
		fmt.Println(m.Currency, "won", m.WonAmount.Amount.StringFixed(2), "average", m.AverageSize.Amount.StringFixed(2))
	}
	// Output:
	// Sales: won 2, lost 1, win rate 0.67, open 1
	// EUR won 4000.00 average 2000.00
}

// Historical value, RFM segments and cohorts from purchases.
func ExampleService_RFM() {
	ctx := context.Background()
	c := openAt(ctx, time.Date(2026, 6, 30, 12, 0, 0, 0, time.UTC))
	defer c.Close()
	buy := func(email string, at time.Time, amount string) {
		_, err := c.Contacts.Track(ctx, contacts.ByEmail(email), contacts.NewActivity{Kind: contacts.KindPurchase, OccurredAt: at,
			Purchase:      &contacts.Purchase{OrderID: email + at.String(), Total: core.MustMoney(amount, "EUR")},
			CreateContact: &contacts.NewContact{Email: email}})
		if err != nil {
			log.Fatal(err)
		}
	}
	for i := range 6 {
		buy("frequent@example.com", time.Date(2026, 1+time.Month(i), 10, 0, 0, 0, 0, time.UTC), "40")
	}
	buy("once@example.com", time.Date(2026, 1, 20, 0, 0, 0, 0, time.UTC), "500")
	buy("recent@example.com", time.Date(2026, 6, 28, 0, 0, 0, 0, time.UTC), "25")

	// Quintiles of three contacts: NTILE(5) fills groups 1 to 3 only, so
	// scores mean more with more contacts.
	r, err := c.Analytics.RFM(ctx, analytics.RFMOptions{})
	if err != nil {
		log.Fatal(err)
	}
	names := map[core.ID]string{}
	for _, e := range []string{"frequent@example.com", "once@example.com", "recent@example.com"} {
		ct, _ := c.Contacts.GetByEmail(ctx, e)
		names[ct.ID] = e
	}
	for _, row := range r.Customers {
		fmt.Printf("%s R%d F%d M%d %s\n", names[row.ContactID], row.R, row.F, row.M, row.Segment)
	}
	co, err := c.Analytics.Cohorts(ctx, analytics.CohortOptions{
		Period: analytics.Period{From: core.NewDate(2026, 1, 1), To: core.NewDate(2026, 7, 1)}})
	if err != nil {
		log.Fatal(err)
	}
	jan := co.Cohorts[0]
	fmt.Println(jan.Month, "size", jan.Size, "retention", jan.Retention)
	// Output:
	// frequent@example.com R2 F3 M2 at_risk
	// once@example.com R1 F1 M3 lost
	// recent@example.com R3 F2 M1 about_to_sleep
	// 2026-01 size 2 retention [1 0.5 0.5 0.5 0.5 0.5]
}

// Predict each customer's purchases and value over the next year, and who
// is about to churn.
func ExampleService_CustomerValue() {
	ctx := context.Background()
	asOf := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	c := openAt(ctx, asOf)
	defer c.Close()
	// 40 customers: customer i buys i%6+1 times, every i%5+2 weeks, the
	// last purchase i*4+1 days before asOf.
	for i := range 40 {
		email := fmt.Sprintf("c%02d@example.com", i)
		n, gap := i%6+1, time.Duration(i%5+2)*7*24*time.Hour
		last := asOf.Add(-time.Duration(i*4+1) * 24 * time.Hour)
		for k := range n {
			at := last.Add(-time.Duration(n-1-k) * gap)
			_, err := c.Contacts.Track(ctx, contacts.ByEmail(email), contacts.NewActivity{Kind: contacts.KindPurchase, OccurredAt: at,
				Purchase:      &contacts.Purchase{OrderID: fmt.Sprint(email, k), Total: core.MustMoney(fmt.Sprint(20+i), "EUR")},
				CreateContact: &contacts.NewContact{Email: email}})
			if err != nil {
				log.Fatal(err)
			}
		}
	}
	year := 52 * 7 * 24 * time.Hour
	cv, err := c.Analytics.CustomerValue(ctx, analytics.CustomerValueOptions{Period: analytics.Period{To: core.DateOf(asOf)}, Horizon: year})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("customers:", len(cv.Customers), "fitted:", cv.Purchases != nil, "spend models:", len(cv.Spend))
	// c05 bought 6 times, every 2 weeks, 21 days ago; c29 6 times, every
	// 6 weeks, 117 days ago.
	for _, email := range []string{"c05@example.com", "c29@example.com"} {
		ct, _ := c.Contacts.GetByEmail(ctx, email)
		for _, row := range cv.Customers {
			if row.ContactID == ct.ID {
				fmt.Printf("%s: %d purchases, %s in total; P(alive) %.2f, next year %.1f purchases\n",
					email, row.Purchases, row.Total.Amount.StringFixed(2), row.PAlive, row.ExpectedPurchases)
			}
		}
	}

	churn, err := c.Analytics.Churn(ctx, analytics.ChurnOptions{Period: analytics.Period{To: core.DateOf(asOf)}})
	if err != nil {
		log.Fatal(err)
	}
	overdue := 0
	for _, row := range churn.Customers {
		if row.Overdue {
			overdue++
		}
	}
	fmt.Println("overdue:", overdue)
	// Output:
	// customers: 40 fitted: true spend models: 1
	// c05@example.com: 6 purchases, 150.00 in total; P(alive) 0.68, next year 2.7 purchases
	// c29@example.com: 6 purchases, 294.00 in total; P(alive) 0.17, next year 0.7 purchases
	// overdue: 22
}
