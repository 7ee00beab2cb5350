package tickets_test

import (
	"context"
	"fmt"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/tickets"
)

// The classifier learns the categories of the tenant's solved tickets and
// suggests one for a new text; with a threshold set, new tickets without
// a category take the suggestion.
func ExampleClassifier_Train() {
	ctx := context.Background()
	c, _ := crm.Open(ctx, crm.Config{DSN: ":memory:"})
	defer c.Close()
	_ = c.Migrate(ctx)
	ada, _ := c.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
	for _, s := range []struct{ text, category string }{
		{"Invoice charged twice", "billing"}, {"Refund of my payment", "billing"}, {"Rechnung doppelt abgebucht", "billing"},
		{"Wrong invoice amount", "billing"}, {"Zahlung per Kreditkarte fehlgeschlagen", "billing"},
		{"Parcel not delivered", "shipping"}, {"Where is my package", "shipping"}, {"Paket nicht angekommen", "shipping"},
		{"Package delivered to wrong address", "shipping"}, {"Lieferung verspätet, Paket fehlt", "shipping"},
	} {
		t, _ := c.Tickets.Create(ctx, tickets.NewTicket{Subject: s.text, ContactID: ada.ID, Category: s.category,
			Message: &tickets.NewMessage{Public: true, AuthorKind: tickets.AuthorCustomer, Body: s.text}})
		_, _ = c.Tickets.SetStatus(ctx, t.ID, tickets.StatusChange{Version: t.Version, Status: tickets.StatusSolved})
	}
	report, err := c.Classifier.Train(ctx, tickets.TrainOptions{Targets: []tickets.ClassifierTarget{tickets.TargetCategory}})
	if err != nil {
		panic(err)
	}
	m := report.Models[0]
	fmt.Println(m.Target, m.Version, m.Metrics.Documents, len(m.Metrics.Classes))

	sug, _ := c.Classifier.Suggest(ctx, "Mein Paket ist nicht angekommen", "")
	fmt.Println(sug.Category.Label, sug.Category.Confidence > 0.5)

	_, _ = c.Classifier.SetSettings(ctx, 0, tickets.ClassifierSettingsInput{Threshold: 0.6})
	t, _ := c.Tickets.Create(ctx, tickets.NewTicket{Subject: "Invoice wrong", ContactID: ada.ID})
	fmt.Println(t.Category, t.Suggestion.Category.Applied)
	// Output:
	// category 1 10 2
	// shipping true
	// billing true
}
