package fields_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/filter"
)

// Define a custom field of contacts: writes are checked against it, and
// lists filter on it like on a built-in field.
func ExampleService_Define() {
	ctx := context.Background()
	c, err := crm.Open(ctx, crm.Config{DSN: ":memory:"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	_, err = c.Fields.Define(ctx, fields.Definition{Entity: contacts.EntityContact, Key: "plan", Label: "Plan",
		Type: fields.Enum, Options: []string{"free", "pro"}})
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com", Attributes: map[string]any{"plan": "pro"}})
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.Contacts.Create(ctx, contacts.NewContact{Email: "bob@example.com", Attributes: map[string]any{"plan": "gold"}})
	fmt.Println(errors.Is(err, core.ErrInvalid))
	n, err := c.Contacts.Count(ctx, filter.Eq("attributes.plan", "pro"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n, "on pro")
	// Output:
	// true
	// 1 on pro
}
