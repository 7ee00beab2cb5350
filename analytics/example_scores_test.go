package analytics_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/crmkit/crmkit/analytics"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
)

// Store every customer's RFM segment and churn risk on the contact, then
// select contacts by them as any list, segment or rule condition can.
// The workers can do the same on an interval (Config.Periodic
// "customer_scores").
func ExampleService_StoreScores() {
	ctx := context.Background()
	asOf := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	c := openAt(ctx, asOf)
	defer c.Close()
	// 20 customers: customer i buys i%4+1 times, every i%3+2 weeks, the
	// last purchase i*9+2 days before asOf.
	for i := range 20 {
		email := fmt.Sprintf("c%02d@example.com", i)
		n, gap := i%4+1, time.Duration(i%3+2)*7*24*time.Hour
		last := asOf.Add(-time.Duration(i*9+2) * 24 * time.Hour)
		for k := range n {
			_, err := c.Contacts.Track(ctx, contacts.ByEmail(email), contacts.NewActivity{Kind: contacts.KindPurchase,
				OccurredAt:    last.Add(-time.Duration(n-1-k) * gap),
				Purchase:      &contacts.Purchase{OrderID: fmt.Sprint(email, k), Total: core.MustMoney(fmt.Sprint(30+i), "EUR")},
				CreateContact: &contacts.NewContact{Email: email}})
			if err != nil {
				log.Fatal(err)
			}
		}
	}
	if _, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "prospect@example.com"}); err != nil {
		log.Fatal(err)
	}

	res, err := c.Analytics.StoreScores(ctx, analytics.StoreScoresOptions{Period: analytics.Period{To: core.DateOf(asOf)}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("customers:", res.Customers, "stored:", res.Stored, "as of:", res.AsOf.Format(time.DateOnly))

	c01, _ := c.Contacts.GetByEmail(ctx, "c01@example.com")
	s := c01.Facts.Customer
	fmt.Printf("c01: R%d F%d M%d %s, P(alive) %.2f, overdue %v\n", s.R, s.F, s.M, s.Segment, *s.PAlive, s.Overdue)
	prospect, _ := c.Contacts.GetByEmail(ctx, "prospect@example.com")
	fmt.Println("prospect scored:", prospect.Facts.Customer != nil)

	// Win back the overdue customers who were worth the most, least
	// likely to come back first.
	page, err := c.Contacts.List(ctx, contacts.ListOptions{
		Filter: filter.And(filter.Eq("churn_overdue", true), filter.Gte("rfm_m", 3)),
		Sort:   "p_alive", Limit: 3})
	if err != nil {
		log.Fatal(err)
	}
	for _, ct := range page.Items {
		fmt.Printf("%s %s P(alive) %.2f\n", ct.Email, ct.Facts.Customer.Segment, *ct.Facts.Customer.PAlive)
	}
	champions, _ := c.Contacts.Count(ctx, filter.Eq("rfm_segment", "champions"))
	fmt.Println("champions:", champions)
	// Output:
	// customers: 20 stored: 20 as of: 2026-07-01
	// c01: R5 F2 M2 potential_loyalist, P(alive) 0.49, overdue false
	// prospect scored: false
	// c19@example.com cant_lose P(alive) 0.02
	// c18@example.com at_risk P(alive) 0.02
	// c15@example.com cant_lose P(alive) 0.02
	// champions: 1
}
