package crm_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/pipeline"
	"github.com/crmkit/crmkit/tickets"
)

// A contact's timeline holds the events of the person's other records —
// their deals, tickets and tasks — and, for an actor, only those of the
// modules whose records the actor sees all of.
func TestTimelineHoldsTheRecordsOfOtherModules(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := newCRM(t, db)
		_, err := c.Access.Roles.InstallBuiltins(ctx)
		require.NoError(t, err)
		ada, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com", FirstName: "Ada"})
		require.NoError(t, err)
		other, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "grace@example.com"})
		require.NoError(t, err)
		_, err = c.Deals.Create(ctx, pipeline.NewDeal{Title: "Tea for the office", Amount: core.MustMoney("120", "EUR"), ContactID: &ada.ID})
		require.NoError(t, err)
		_, err = c.Tickets.Create(ctx, tickets.NewTicket{Subject: "Where is my order?", ContactID: ada.ID})
		require.NoError(t, err)
		_, err = c.Tasks.Create(ctx, contacts.NewTask{Title: "Call back", ContactID: &ada.ID})
		require.NoError(t, err)
		_, err = c.Tickets.Create(ctx, tickets.NewTicket{Subject: "Another person's", ContactID: other.ID})
		require.NoError(t, err)

		types := func(ctx context.Context) (out []string) {
			page, err := c.Contacts.Timeline(ctx, ada.ID, contacts.TimelineOptions{Types: []string{contacts.ItemEvent}})
			require.NoError(t, err)
			for _, it := range page.Items {
				out = append(out, it.Event.Type)
				if ev := it.Event; ev.SubjectType != "contact" {
					require.NotNil(t, ev.ContactID)
					require.Equal(t, ada.ID, *ev.ContactID, "%s is about another person", ev.Type)
				}
			}
			return out
		}
		require.ElementsMatch(t, []string{contacts.EventContactCreated, pipeline.EventDealCreated, tickets.EventTicketCreated, contacts.EventTaskCreated},
			types(ctx), "the host's own code sees every record of the person")
		as := func(role string) context.Context {
			return core.WithActor(ctx, core.Actor{ID: "u-" + role, Roles: []string{role}})
		}
		require.ElementsMatch(t, []string{contacts.EventContactCreated, pipeline.EventDealCreated, tickets.EventTicketCreated, contacts.EventTaskCreated},
			types(as(access.RoleReadOnly)), "read-only reads all of every module")
		require.ElementsMatch(t, []string{contacts.EventContactCreated, contacts.EventTaskCreated},
			types(as(access.RoleMarketing)), "marketing sees no deal and no ticket")

		// Paging through the merged sources keeps every item once.
		var seen []core.ID
		opts := contacts.TimelineOptions{Limit: 1}
		for {
			page, err := c.Contacts.Timeline(ctx, ada.ID, opts)
			require.NoError(t, err)
			for _, it := range page.Items {
				seen = append(seen, it.ID)
			}
			if page.Next == "" {
				break
			}
			opts.Cursor = page.Next
		}
		all, err := c.Contacts.Timeline(ctx, ada.ID, contacts.TimelineOptions{})
		require.NoError(t, err)
		require.Len(t, seen, len(all.Items))
		for i, it := range all.Items {
			require.Equal(t, it.ID, seen[i])
		}
	})
}
