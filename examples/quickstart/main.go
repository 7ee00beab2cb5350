// Command quickstart embeds crmkit on an SQLite file: it creates a company
// and contacts, finds them by email and by the shop's customer id, lists the
// leads, tracks an order and a web event, adds a follow-up task, shows the
// contact's timeline, searches, sells (a deal with line items, the board,
// the forecast), runs an automation rule, and prints what it did.
//
//	go run ./examples/quickstart            # uses ./quickstart.db, removed afterwards
//	go run ./examples/quickstart -db my.db  # keeps my.db
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit/automation"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/pipeline"
)

func main() {
	path := flag.String("db", "", "SQLite file to use (default: a fresh quickstart.db, removed at the end)")
	flag.Parse()
	if err := run(*path); err != nil {
		log.Fatal(err)
	}
}

func run(path string) error {
	ctx := context.Background()
	if path == "" {
		path = "quickstart.db"
		for _, f := range []string{path, path + "-wal", path + "-shm"} {
			_ = os.Remove(f)
			defer os.Remove(f)
		}
	}

	c, err := crm.Open(ctx, crm.Config{DSN: "file:" + path})
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Migrate(ctx); err != nil {
		return err
	}
	fmt.Printf("opened %s and migrated\n", path)

	c.Subscribe(func(ctx context.Context, ev core.Event) {
		fmt.Printf("  event %s about %s\n", ev.Type, ev.SubjectType)
	})

	acme, err := c.Companies.Create(ctx, contacts.NewCompany{Name: "Acme GmbH", Domain: "https://www.acme.example"})
	if err != nil {
		return err
	}
	fmt.Printf("created company %q (domain %s)\n", acme.Name, acme.Domain)

	ada, err := c.Contacts.Create(ctx, contacts.NewContact{
		Email: "  Ada@Acme.Example ", FirstName: "Ada", LastName: "Lovelace",
		CompanyID: &acme.ID, Tags: []string{"newsletter", "vip"},
		Attributes:  map[string]any{"plan": "pro", "seats": 12},
		ExternalIDs: []contacts.ExternalID{{Source: "shop", ID: "customer-1042"}},
	})
	if err != nil {
		return err
	}
	fmt.Printf("created contact %s <%s>, stage %s\n", ada.Name(), ada.Email, ada.LifecycleStage)

	for _, in := range []contacts.NewContact{
		{Email: "grace@navy.example", FirstName: "Grace", LastName: "Hopper", LifecycleStage: contacts.StageCustomer},
		{Email: "linus@kernel.example", FirstName: "Linus", Tags: []string{"newsletter"}},
	} {
		if _, err := c.Contacts.Create(ctx, in); err != nil {
			return err
		}
	}

	byEmail, err := c.Contacts.GetByEmail(ctx, "ADA@acme.example")
	if err != nil {
		return err
	}
	byShop, err := c.Contacts.GetByExternalID(ctx, "shop", "customer-1042")
	if err != nil {
		return err
	}
	fmt.Printf("found by email: %s; by shop id: %s\n", byEmail.Name(), byShop.Name())

	// The shop reports the same customer again: Upsert finds and updates it.
	up, created, err := c.Contacts.Upsert(ctx, contacts.NewContact{
		Phone: "+49 30 1234567", ExternalIDs: []contacts.ExternalID{{Source: "shop", ID: "customer-1042"}},
	})
	if err != nil {
		return err
	}
	fmt.Printf("upserted %s: created=%v, phone %s, version %d\n", up.Name(), created, up.Phone, up.Version)

	// A stale write is refused instead of silently overwriting.
	stage := contacts.StageCustomer
	if _, err := c.Contacts.Update(ctx, ada.ID, contacts.ContactPatch{Version: ada.Version, LifecycleStage: &stage}); errors.Is(err, core.ErrConflict) {
		fmt.Println("update with a stale version refused:", err)
	}

	leads, err := c.Contacts.List(ctx, contacts.ListOptions{
		Filter: filter.And(filter.Eq("lifecycle_stage", "lead"), filter.Contains("tags", "newsletter")),
		Sort:   "last_name",
	})
	if err != nil {
		return err
	}
	fmt.Printf("leads on the newsletter: %d\n", len(leads.Items))
	for _, l := range leads.Items {
		fmt.Printf("  %s <%s>\n", l.Name(), l.Email)
	}
	n, err := c.Contacts.Count(ctx, filter.Expr{})
	if err != nil {
		return err
	}
	fmt.Printf("contacts in all: %d\n", n)

	// The shop reports an order and a visit to the price calculator; a
	// retried delivery of the same order is recorded once.
	total, err := core.NewMoney("499.00", "EUR")
	if err != nil {
		return err
	}
	order := contacts.NewActivity{Kind: contacts.KindPurchase, IdempotencyKey: "order-5001",
		Purchase: &contacts.Purchase{OrderID: "5001", Total: total}}
	for i := 0; i < 2; i++ {
		if _, err := c.Contacts.Track(ctx, contacts.ByExternalID("shop", "customer-1042"), order); err != nil {
			return err
		}
	}
	if _, err := c.Contacts.Track(ctx, contacts.ByEmail("ada@acme.example"), contacts.NewActivity{
		Kind: contacts.KindWeb, Name: "pricing_calculator_used", Properties: map[string]any{"plan": "team"}}); err != nil {
		return err
	}
	ada, err = c.Contacts.Get(ctx, ada.ID)
	if err != nil {
		return err
	}
	fmt.Printf("%s: %d purchase(s), %s in all\n", ada.Name(), ada.Facts.PurchaseCount, ada.Facts.PurchaseTotal)

	due := time.Now().Add(24 * time.Hour)
	if _, err := c.Tasks.Create(ctx, contacts.NewTask{Title: "Follow up on the team plan", AssigneeID: "rep-1", ContactID: &ada.ID, DueAt: &due}); err != nil {
		return err
	}
	open, err := c.Tasks.Open(ctx, "rep-1", contacts.TaskListOptions{})
	if err != nil {
		return err
	}
	fmt.Printf("rep-1 has %d open task(s): %q\n", len(open.Items), open.Items[0].Title)

	timeline, err := c.Contacts.Timeline(ctx, ada.ID, contacts.TimelineOptions{Limit: 10})
	if err != nil {
		return err
	}
	fmt.Printf("timeline of %s, newest first:\n", ada.Name())
	for _, it := range timeline.Items {
		switch {
		case it.Activity != nil:
			fmt.Printf("  activity %s %s\n", it.Activity.Kind, it.Activity.Name)
		case it.Event != nil:
			fmt.Printf("  event %s\n", it.Event.Type)
		}
	}

	hits, err := c.Contacts.Search(ctx, "lov", contacts.SearchOptions{})
	if err != nil {
		return err
	}
	for _, h := range hits {
		fmt.Printf("search \"lov\" found %s %q\n", h.Entity, h.Title)
	}

	_, err = c.Contacts.Create(ctx, contacts.NewContact{Email: "not-an-address", FirstName: strings.Repeat("x", 300)})
	fmt.Println("invalid input refused:", err)

	if err := sell(ctx, c, ada.ID); err != nil {
		return err
	}
	return automate(ctx, c)
}

// automate stores a rule, runs the workers, and lets a lead's visit to the
// price calculator give its owner a task.
func automate(ctx context.Context, c *crm.CRM) error {
	_, err := c.Automation.Rules.Create(ctx, automation.Rule{
		Name: "Follow up price calculator users", Enabled: true,
		Triggers:  []string{"activity.tracked"},
		Condition: automation.Condition{Event: filter.Eq("data.name", "pricing_calculator_used")},
		Actions: []automation.Action{{Type: automation.ActionCreateTask, Title: "Call {{contact.first_name}} about pricing",
			DueIn: "1d", Priority: "high"}},
	})
	if err != nil {
		return err
	}
	if err := c.Start(ctx); err != nil { // River workers in this process
		return err
	}
	lead, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "lea@shop.example", FirstName: "Lea", OwnerID: "rep-2"})
	if err != nil {
		return err
	}
	tracked := time.Now()
	if _, err := c.Contacts.Track(ctx, contacts.ByID(lead.ID), contacts.NewActivity{Kind: contacts.KindWeb, Name: "pricing_calculator_used"}); err != nil {
		return err
	}
	for time.Since(tracked) < 10*time.Second {
		page, err := c.Tasks.Open(ctx, "rep-2", contacts.TaskListOptions{})
		if err != nil {
			return err
		}
		if len(page.Items) > 0 {
			fmt.Printf("rule: task %q for rep-2, %v after Track\n", page.Items[0].Title, time.Since(tracked).Round(time.Millisecond))
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return errors.New("the rule's task did not appear")
}

// sell opens a deal for the contact in the default pipeline, prices it with
// line items, moves it, and prints the board and the forecast.
func sell(ctx context.Context, c *crm.CRM, contactID core.ID) error {
	deal, err := c.Deals.Create(ctx, pipeline.NewDeal{Title: "Acme rollout", Amount: core.MustMoney("0", "EUR"),
		ContactID: &contactID, OwnerID: "rep-1", ExpectedClose: core.DateOf(time.Now().AddDate(0, 1, 0))})
	if err != nil {
		return err
	}
	licence, err := c.Products.Create(ctx, pipeline.NewProduct{SKU: "LIC-PRO", Name: "Pro licence",
		UnitPrice: core.MustMoney("49.90", "EUR"), TaxRate: decimal.RequireFromString("19")})
	if err != nil {
		return err
	}
	deal, _, totals, err := c.Deals.SetLineItems(ctx, deal.ID, deal.Version, []pipeline.NewLineItem{
		{ProductID: &licence.ID, Quantity: decimal.NewFromInt(25), DiscountPercent: decimal.NewFromInt(15)},
	})
	if err != nil {
		return err
	}
	fmt.Printf("deal %q: net %s, tax %s\n", deal.Title, totals.Net, totals.Tax)
	p, err := c.Pipelines.Default(ctx)
	if err != nil {
		return err
	}
	if deal, err = c.Deals.MoveStage(ctx, deal.ID, deal.Version, p.Stages[2].ID); err != nil {
		return err
	}
	board, err := c.Deals.Board(ctx, p.ID, pipeline.BoardOptions{})
	if err != nil {
		return err
	}
	for _, col := range board.Columns {
		fmt.Printf("board %-13s %d deals %v\n", col.Stage.Name, col.Count, col.Totals)
	}
	today := core.DateOf(time.Now())
	from := core.NewDate(today.Year, today.Month, 1)
	rows, err := c.Deals.Forecast(ctx, pipeline.ForecastOptions{From: from, To: from.AddDays(365)})
	if err != nil {
		return err
	}
	for _, r := range rows {
		fmt.Printf("forecast %s: weighted %s of %s open\n", r.Period, r.Weighted, r.BestCase)
	}
	return nil
}
