package crm_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
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
