package crm_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit/automation"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/pipeline"
)

// Open a CRM on SQLite, migrate, and find a contact again.
func ExampleOpen() {
	ctx := context.Background()
	c, err := crm.Open(ctx, crm.Config{DSN: ":memory:"}) // or "file:crm.db", or "postgres://…"
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	if _, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com", FirstName: "Ada"}); err != nil {
		log.Fatal(err)
	}
	ada, err := c.Contacts.GetByEmail(ctx, "ADA@example.com")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ada.FirstName, ada.Email, ada.LifecycleStage)
	// Output: Ada ada@example.com lead
}

// Create validates everything at once and refuses a taken email.
func ExampleCRM_create() {
	ctx := context.Background()
	c, _ := crm.Open(ctx, crm.Config{DSN: ":memory:"})
	defer c.Close()
	_ = c.Migrate(ctx)

	shopper, err := c.Contacts.Create(ctx, contacts.NewContact{
		Email:       "grace@example.com",
		FirstName:   "Grace",
		Tags:        []string{"newsletter"},
		Attributes:  map[string]any{"plan": "pro"},
		ExternalIDs: []contacts.ExternalID{{Source: "shop", ID: "customer-7"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created version", shopper.Version, "linked to", shopper.ExternalIDs[0].Source)

	_, err = c.Contacts.Create(ctx, contacts.NewContact{Email: "grace@example.com"})
	fmt.Println(errors.Is(err, core.ErrConflict))

	_, err = c.Contacts.Create(ctx, contacts.NewContact{Email: "not-an-address", LifecycleStage: "champion"})
	fmt.Println(err)
	// Output:
	// created version 1 linked to shop
	// true
	// crm: invalid input: email is not a valid address; lifecycle_stage "champion" is not one of subscriber, lead, mql, sql, opportunity, customer, evangelist, other
}

// List contacts with a filter, sorted, page by page.
func ExampleCRM_list() {
	ctx := context.Background()
	c, _ := crm.Open(ctx, crm.Config{DSN: ":memory:"})
	defer c.Close()
	_ = c.Migrate(ctx)
	for _, name := range []string{"Hopper", "Lovelace", "Turing", "Liskov", "Knuth"} {
		_, _ = c.Contacts.Create(ctx, contacts.NewContact{LastName: name, Tags: []string{"newsletter"}})
	}
	_, _ = c.Contacts.Create(ctx, contacts.NewContact{LastName: "Ritchie"})

	opts := contacts.ListOptions{
		Filter: filter.And(filter.Contains("tags", "newsletter"), filter.Ne("last_name", "Turing")),
		Sort:   "last_name",
		Limit:  2,
	}
	for {
		page, err := c.Contacts.List(ctx, opts)
		if err != nil {
			log.Fatal(err)
		}
		for _, p := range page.Items {
			fmt.Print(p.LastName, " ")
		}
		fmt.Println("|")
		if page.Next == "" {
			break
		}
		opts.Cursor = page.Next
	}
	// Output:
	// Hopper Knuth |
	// Liskov Lovelace |
}

// Tenants share a database and never see each other's rows.
func ExampleCRM_Tenant() {
	ctx := context.Background()
	c, _ := crm.Open(ctx, crm.Config{DSN: ":memory:"})
	defer c.Close()
	_ = c.Migrate(ctx)
	acme, globex := c.Tenant("acme"), c.Tenant("globex")
	_, _ = acme.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
	_, err := globex.Contacts.GetByEmail(ctx, "ada@example.com")
	fmt.Println(errors.Is(err, core.ErrNotFound))
	// Output: true
}

// Track what a customer does; the timeline shows it newest first, and the
// contact's facts add it up.
func ExampleCRM_track() {
	ctx := context.Background()
	c, _ := crm.Open(ctx, crm.Config{DSN: ":memory:"})
	defer c.Close()
	_ = c.Migrate(ctx)

	shop := contacts.ByExternalID("shop", "customer-7")
	total, _ := core.NewMoney("49.90", "EUR")
	// The first event creates the contact; a retried order is recorded once.
	_, _ = c.Contacts.Track(ctx, shop, contacts.NewActivity{Kind: contacts.KindWeb, Name: "signup",
		CreateContact: &contacts.NewContact{Email: "grace@example.com"}})
	for i := 0; i < 2; i++ {
		_, _ = c.Contacts.Track(ctx, shop, contacts.NewActivity{Kind: contacts.KindPurchase, Name: "checkout", IdempotencyKey: "order-1",
			Purchase: &contacts.Purchase{OrderID: "1", Total: total}})
	}
	grace, _ := c.Contacts.GetByExternalID(ctx, "shop", "customer-7")
	fmt.Println(grace.Email, grace.Facts.PurchaseCount, grace.Facts.PurchaseTotal)

	page, _ := c.Contacts.Timeline(ctx, grace.ID, contacts.TimelineOptions{Types: []string{contacts.ItemActivity}})
	for _, it := range page.Items {
		fmt.Println(it.Activity.Kind, it.Activity.Name)
	}
	// Output:
	// grace@example.com 1 49.9 EUR
	// purchase checkout
	// web signup
}

// Search by word prefixes, for type-ahead.
func ExampleCRM_search() {
	ctx := context.Background()
	c, _ := crm.Open(ctx, crm.Config{DSN: ":memory:"})
	defer c.Close()
	_ = c.Migrate(ctx)
	_, _ = c.Contacts.Create(ctx, contacts.NewContact{FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com"})
	_, _ = c.Contacts.Create(ctx, contacts.NewContact{FirstName: "Alan", LastName: "Turing", Email: "alan@example.com"})

	hits, _ := c.Contacts.Search(ctx, "ada lov", contacts.SearchOptions{})
	for _, h := range hits {
		fmt.Println(h.Entity, h.Title)
	}
	// Output: contact Ada Lovelace
}

// Import a CSV: valid rows are imported, bad rows reported with their line.
func ExampleCRM_importCSV() {
	ctx := context.Background()
	c, _ := crm.Open(ctx, crm.Config{DSN: ":memory:"})
	defer c.Close()
	_ = c.Migrate(ctx)

	file := "E-Mail,Name,Kundennummer\n" +
		"ada@example.com,Ada,1001\n" +
		"not-an-address,Bob,1002\n"
	res, err := c.Contacts.ImportCSV(ctx, strings.NewReader(file), contacts.CSVImportOptions{
		Mapping: map[string]string{"E-Mail": "email", "Name": "first_name", "Kundennummer": "external_id:shop"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created", res.Created, "failed", res.Failed)
	for _, e := range res.Errors {
		fmt.Println(e)
	}
	// Output:
	// created 1 failed 1
	// line 3, email: is not a valid address
}

// Sell: a deal in the default pipeline, moved and won, with line items,
// then the board and the forecast.
func ExampleCRM_deals() {
	ctx := context.Background()
	c, _ := crm.Open(ctx, crm.Config{DSN: ":memory:"})
	defer c.Close()
	_ = c.Migrate(ctx)

	ada, _ := c.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
	deal, err := c.Deals.Create(ctx, pipeline.NewDeal{Title: "Analytical engine", Amount: core.MustMoney("0", "EUR"),
		ContactID: &ada.ID, OwnerID: "rep-1", ExpectedClose: core.MustDate("2026-06-30")})
	if err != nil {
		log.Fatal(err)
	}
	gears, _ := c.Products.Create(ctx, pipeline.NewProduct{SKU: "GEAR", Name: "Gear", UnitPrice: core.MustMoney("19.99", "EUR"),
		TaxRate: decimal.RequireFromString("19")})
	deal, lines, totals, err := c.Deals.SetLineItems(ctx, deal.ID, deal.Version, []pipeline.NewLineItem{
		{ProductID: &gears.ID, Quantity: decimal.NewFromInt(3), DiscountPercent: decimal.NewFromInt(10)},
		{Name: "Installation", Quantity: decimal.RequireFromString("2.5"), UnitPrice: ptr(core.MustMoney("80", "EUR"))},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(lines), "lines: net", totals.Net.Amount.StringFixed(2), "tax", totals.Tax.Amount.StringFixed(2), "deal", deal.Amount)

	p, _ := c.Pipelines.Default(ctx)
	deal, _ = c.Deals.MoveStage(ctx, deal.ID, deal.Version, p.Stages[2].ID) // Proposal, 50%
	_, err = c.Deals.MoveStage(ctx, deal.ID, deal.Version-1, p.Stages[3].ID)
	fmt.Println("stale move refused:", errors.Is(err, core.ErrConflict))

	board, _ := c.Deals.Board(ctx, p.ID, pipeline.BoardOptions{})
	for _, col := range board.Columns {
		if col.Count > 0 {
			fmt.Println("board:", col.Stage.Name, col.Count, col.Totals[0])
		}
	}
	rows, _ := c.Deals.Forecast(ctx, pipeline.ForecastOptions{From: core.MustDate("2026-01-01"), To: core.MustDate("2027-01-01"), Period: pipeline.Quarter})
	for _, r := range rows {
		fmt.Println("forecast:", r.Period, "weighted", r.Weighted, "best case", r.BestCase)
	}
	// Output:
	// 2 lines: net 253.97 tax 10.25 deal 253.97 EUR
	// stale move refused: true
	// board: Proposal 1 253.97 EUR
	// forecast: 2026-Q2 weighted 126.99 EUR best case 253.97 EUR
}

// Consent with proof: a double opt-in, the check every send makes, and an
// unsubscribe link.
func ExampleCRM_consent() {
	ctx := context.Background()
	c, _ := crm.Open(ctx, crm.Config{DSN: ":memory:"})
	defer c.Close()
	_ = c.Migrate(ctx)

	_, err := c.Consent.DefinePurpose(ctx, consent.NewPurpose{Key: "newsletter", Label: "Newsletter",
		LegalBasis: consent.BasisConsent, Channels: []consent.Channel{consent.Email},
		Wording: "Yes, send me the monthly newsletter. I can unsubscribe at any time."})
	if err != nil {
		log.Fatal(err)
	}
	ada, _ := c.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})

	optIn, _ := c.Consent.RequestOptIn(ctx, ada.ID, "newsletter", consent.Email, consent.Proof{Source: "signup_form"})
	fmt.Println("before confirming:", errors.Is(c.Consent.Allowed(ctx, ada.ID, "newsletter", consent.Email), core.ErrNoConsent))
	// The token goes into the confirmation link; the link's handler calls:
	rec, _ := c.Consent.Confirm(ctx, optIn.Token, consent.Proof{Source: "confirmation_link"})
	fmt.Println("confirmed:", rec.State, "under wording version", rec.WordingVersion)
	fmt.Println("allowed:", c.Consent.Allowed(ctx, ada.ID, "newsletter", consent.Email) == nil)
	_, err = c.Consent.Confirm(ctx, optIn.Token, consent.Proof{})
	fmt.Println("second use refused:", errors.Is(err, consent.ErrTokenUsed))

	unsub, _ := c.Consent.UnsubscribeToken(ctx, ada.ID, "newsletter")
	_, _ = c.Consent.Unsubscribe(ctx, unsub, consent.Proof{})
	fmt.Println("after unsubscribing:", c.Consent.Allowed(ctx, ada.ID, "newsletter", consent.Email) != nil)
	// Output:
	// before confirming: true
	// confirmed: granted under wording version 1
	// allowed: true
	// second use refused: true
	// after unsubscribing: true
}

// A rule gives a lead's owner a task when the lead uses the price
// calculator; workers (Start) run it moments after Track commits.
func ExampleCRM_automation() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "crmkit-example")
	defer os.RemoveAll(dir)
	// Workers want a database file (":memory:" has one connection).
	c, _ := crm.Open(ctx, crm.Config{DSN: "file:" + dir + "/crm.db"})
	defer c.Close()
	_ = c.Migrate(ctx)

	rule, err := automation.ParseRule([]byte(`{
		"name": "Follow up price calculator users",
		"enabled": true,
		"triggers": ["activity.tracked"],
		"condition": {"event": {"field": "data.name", "op": "eq", "value": "pricing_calculator_used"}},
		"actions": [{"type": "create_task", "title": "Call {{contact.first_name}} about pricing", "due_in": "1d"}]
	}`))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.Automation.Rules.Create(ctx, rule); err != nil {
		log.Fatal(err)
	}
	if err := c.Start(ctx); err != nil { // workers in this process
		log.Fatal(err)
	}
	lead, _ := c.Contacts.Create(ctx, contacts.NewContact{Email: "lea@example.com", FirstName: "Lea", OwnerID: "anna"})
	_, _ = c.Contacts.Track(ctx, contacts.ByID(lead.ID), contacts.NewActivity{Kind: contacts.KindWeb, Name: "pricing_calculator_used"})

	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		page, _ := c.Tasks.Open(ctx, "anna", contacts.TaskListOptions{})
		if len(page.Items) > 0 {
			fmt.Println(page.Items[0].Title)
			break
		}
	}
	// Output: Call Lea about pricing
}
