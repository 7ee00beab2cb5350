package fields_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/crmkit/crmkit/access"
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

// A field marked Personal is masked, like email and phone, for actors
// who do not see the contacts module's personal data.
func ExampleDefinition_personal() {
	ctx := context.Background()
	c, err := crm.Open(ctx, crm.Config{DSN: ":memory:"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	if _, err := c.Access.Roles.InstallBuiltins(ctx); err != nil {
		log.Fatal(err)
	}
	_, err = c.Fields.Define(ctx, fields.Definition{Entity: contacts.EntityContact, Key: "birthday", Label: "Birthday",
		Type: fields.Date, Personal: true})
	if err != nil {
		log.Fatal(err)
	}
	ada, err := c.Contacts.Create(ctx, contacts.NewContact{FirstName: "Ada", Attributes: map[string]any{"birthday": "1815-12-10"}})
	if err != nil {
		log.Fatal(err)
	}
	for _, role := range []string{access.RoleAdmin, access.RoleReadOnly} {
		as := core.WithActor(ctx, core.Actor{ID: "user-1", Roles: []string{role}})
		got, err := c.Contacts.Get(as, ada.ID)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %v\n", role, got.Attributes["birthday"])
	}
	_, err = c.Contacts.List(core.WithActor(ctx, core.Actor{ID: "user-1", Roles: []string{access.RoleReadOnly}}),
		contacts.ListOptions{Filter: filter.Eq("attributes.birthday", "1815-12-10")})
	fmt.Println(errors.Is(err, core.ErrForbidden))
	// Output:
	// admin: 1815-12-10
	// read-only: <nil>
	// true
}
