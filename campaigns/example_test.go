package campaigns_test

import (
	"context"
	"fmt"

	"github.com/crmkit/crmkit/campaigns"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
)

// A template is checked when it is saved and previewed for a contact.
func ExampleTemplates_Preview() {
	ctx := context.Background()
	c, _ := crm.Open(ctx, crm.Config{DSN: ":memory:"})
	defer c.Close()
	_ = c.Migrate(ctx)

	ada, _ := c.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com", FirstName: "Ada"})
	_, err := c.Templates.Create(ctx, campaigns.NewTemplate{Name: "Broken", Subject: "Hi {{.Contact.Nickname}}", HTML: "<p>x</p>"})
	fmt.Println(err)

	t, _ := c.Templates.Create(ctx, campaigns.NewTemplate{Name: "Welcome", Subject: "Welcome, {{.Contact.FirstName | default \"friend\"}}",
		HTML: `<style>p { color: #333 }</style><p>Hello {{.Contact.FirstName | default "there"}}</p>`})
	out, _ := c.Templates.Preview(ctx, t.ID, ada.ID)
	fmt.Println(out.Subject)
	fmt.Println(out.Text)
	// Output:
	// crm: invalid input: subject subject:1:13: executing "subject" at <.Contact.Nickname>: can't evaluate field Nickname in type campaigns.ContactData
	// Welcome, Ada
	// Hello Ada
}

// A segment is a saved filter over contacts, counted in SQL.
func ExampleSegments_Count() {
	ctx := context.Background()
	c, _ := crm.Open(ctx, crm.Config{DSN: ":memory:"})
	defer c.Close()
	_ = c.Migrate(ctx)

	for _, email := range []string{"a@example.com", "b@example.com"} {
		_, _ = c.Contacts.Create(ctx, contacts.NewContact{Email: email, Tags: []string{"vip"}})
	}
	seg, _ := c.Segments.Create(ctx, campaigns.NewSegment{Name: "VIPs", Filter: filter.Contains("tags", "vip")})
	n, _ := c.Segments.Count(ctx, seg.ID)
	fmt.Println(n)
	// Output: 2
}
