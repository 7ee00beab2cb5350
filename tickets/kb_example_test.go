package tickets_test

import (
	"context"
	"fmt"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/tickets"
)

// Published articles are found by their words, whatever the spelling of
// umlauts, and suggested for a ticket's text.
func ExampleKnowledgeBase_Search() {
	ctx := context.Background()
	c, _ := crm.Open(ctx, crm.Config{DSN: ":memory:"})
	defer c.Close()
	_ = c.Migrate(ctx)
	a, _ := c.KnowledgeBase.Create(ctx, tickets.NewArticle{Title: "Rückerstattung beantragen", Locale: "de",
		Body: "Öffnen Sie *Meine Bestellungen* und wählen Sie **Erstattung**."})
	a, _ = c.KnowledgeBase.Publish(ctx, a.ID, a.Version)

	hits, err := c.KnowledgeBase.Search(ctx, "Rueckerstattung", "de")
	if err != nil {
		panic(err)
	}
	fmt.Println(len(hits), hits[0].Article.Title)
	hits, _ = c.KnowledgeBase.SuggestArticles(ctx, "Geld zurück?", "Ich möchte eine Erstattung für meine Bestellung.", 3)
	fmt.Println(len(hits), hits[0].Article.ID == a.ID)
	// Output:
	// 1 Rückerstattung beantragen
	// 1 true
}
