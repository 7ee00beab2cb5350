// Package contacts manages the people and companies a CRM knows: contacts
// with email, phone, names, company, lifecycle stage, owner, tags, custom
// attributes and external ids (how a shop links its own customer record),
// and companies with name, domain and attributes.
//
// Hosts reach it through the crm facade:
//
//	c, _ := crm.Open(ctx, crm.Config{DSN: "file:crm.db"})
//	defer c.Close()
//	_ = c.Migrate(ctx)
//	ada, _ := c.Contacts.Create(ctx, contacts.NewContact{
//		Email:       "ada@example.com",
//		FirstName:   "Ada",
//		ExternalIDs: []contacts.ExternalID{{Source: "shop", ID: "customer-1042"}},
//	})
//	same, _ := c.Contacts.GetByExternalID(ctx, "shop", "customer-1042")
//	page, _ := c.Contacts.List(ctx, contacts.ListOptions{
//		Filter: filter.Eq("lifecycle_stage", "lead"),
//	})
//
// Every method is scoped to the tenant of the facade it was reached through.
// Writes validate all input first and report every problem at once
// (core.ErrInvalid); an update names the version it read, and a stale
// version fails with core.ErrConflict instead of overwriting a concurrent
// change. Each change appends an event ("contact.created",
// "contact.updated", "contact.deleted", "company.created", …) in its
// transaction.
//
// Emails are stored trimmed and lower-case and are unique per tenant when
// given; (source, external id) pairs are unique per tenant. Upsert finds a
// contact by external id, then by email, and is idempotent: repeating it
// changes nothing and emits nothing.
package contacts
