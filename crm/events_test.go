package crm_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/automation"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/pipeline"
)

// The catalogue lists every module's event types with their payload
// fields.
func TestEventCatalogue(t *testing.T) {
	c, err := crm.New(dbtest.SQLite(t), crm.Config{})
	require.NoError(t, err)
	byType := map[string]core.EventType{}
	for _, et := range c.EventTypes() {
		byType[et.Type] = et
	}
	for _, want := range []string{contacts.EventContactCreated, contacts.EventActivityTracked, contacts.EventTaskCompleted,
		pipeline.EventDealStageChanged, "consent.granted", "contact.erased", automation.EventWebhookDisabled} {
		require.Contains(t, byType, want)
	}
	require.Contains(t, byType[contacts.EventContactCreated].Fields(), "email")
	require.Contains(t, byType[contacts.EventActivityTracked].Fields(), "kind")
	require.Contains(t, byType[pipeline.EventDealStageChanged].Fields(), "deal.stage_id")
	require.Equal(t, "deal", byType[pipeline.EventDealWon].Subject)
}

// Misspelt event types are refused wherever they are given: subscribers
// and before hooks (a panic at start-up, as http.ServeMux does), rule
// triggers, webhook subscriptions, and payload paths in rule conditions.
func TestUnknownEventTypesAreRefused(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := newCRM(t, db)
		fn := func(context.Context, core.Event) {}
		require.PanicsWithValue(t, `crm: Subscribe: crm: invalid input: types[1] "contacts.created" is not an event type (see the event catalogue)`,
			func() { c.Subscribe(fn, "contact.*", "contacts.created") })
		require.Panics(t, func() { c.Before(func(context.Context, *crm.CRM, core.Event) error { return nil }, "activty.tracked") })
		require.NotPanics(t, func() { c.Subscribe(fn, "deal.*", "activity.tracked")() })

		task := []automation.Action{{Type: automation.ActionAddTag, Tag: "x"}}
		_, err := c.Automation.Rules.Create(ctx, automation.Rule{Name: "typo", Triggers: []string{"activty.tracked"}, Actions: task})
		require.Equal(t, []string{"triggers[0]"}, problemFields(t, err))
		_, err = c.Automation.Rules.Create(ctx, automation.Rule{Name: "bad path", Triggers: []string{"activity.tracked"},
			Condition: automation.Condition{Event: filter.And(filter.Eq("data.kind", "web"), filter.Eq("data.knd", "web"))}, Actions: task})
		require.Equal(t, []string{"condition.event"}, problemFields(t, err))
		require.ErrorContains(t, err, `"data.knd"`)
		_, err = c.Automation.Webhooks.Create(ctx, automation.WebhookInput{URL: "https://hooks.example.com/x", EventTypes: []string{"deal.*", "deals.*"}})
		require.Contains(t, problemFields(t, err), "event_types[1]")
		require.NotContains(t, problemFields(t, err), "event_types[0]")

		// What is right is accepted: a pattern, a payload path, a map key.
		_, err = c.Automation.Rules.Create(ctx, automation.Rule{Name: "ok", Triggers: []string{"activity.tracked", "deal.*"},
			Condition: automation.Condition{Event: filter.Or(filter.Eq("data.kind", "web"), filter.Eq("data.deal.stage_id", "x"),
				filter.Eq("data.properties.plan", "pro"))}, Actions: task})
		require.NoError(t, err)
	})
}

func problemFields(t *testing.T, err error) []string {
	t.Helper()
	var ve *core.ValidationError
	require.True(t, errors.As(err, &ve), "%v", err)
	var out []string
	for _, f := range ve.Fields {
		out = append(out, f.Field)
	}
	return out
}

// Every event about a person's records names the contact (Event.ContactID),
// and EventQuery.ContactID selects them: the contact's own, its activity's,
// task's, note's, deal's (deleted deal included) and consent's.
func TestEventsNameTheirContact(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := newCRM(t, db)
		ada, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
		require.NoError(t, err)
		other, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "bob@example.com"})
		require.NoError(t, err)
		_, err = c.Contacts.Track(ctx, contacts.ByID(ada.ID), contacts.NewActivity{Kind: contacts.KindWeb, Name: "pricing"})
		require.NoError(t, err)
		_, err = c.Tasks.Create(ctx, contacts.NewTask{Title: "call", ContactID: &ada.ID})
		require.NoError(t, err)
		_, err = c.Notes.Create(ctx, contacts.NewNote{ContactID: ada.ID, Body: "likes tea", AuthorID: "user-1"})
		require.NoError(t, err)
		deal, err := c.Deals.Create(ctx, pipeline.NewDeal{Title: "tea", Amount: core.MustMoney("10", "EUR"), ContactID: &ada.ID})
		require.NoError(t, err)
		require.NoError(t, c.Deals.Delete(ctx, deal.ID))
		_, err = c.Tasks.Create(ctx, contacts.NewTask{Title: "nobody's"})
		require.NoError(t, err)

		evs, err := c.Events(ctx, crm.EventQuery{ContactID: ada.ID, Limit: 100})
		require.NoError(t, err)
		var types []string
		for _, ev := range evs {
			require.NotNil(t, ev.ContactID, ev.Type)
			require.Equal(t, ada.ID, *ev.ContactID, ev.Type)
			types = append(types, ev.Type)
		}
		for _, want := range []string{"contact.created", "activity.tracked", "task.created", "note.created", "deal.created", "deal.deleted"} {
			require.True(t, slices.Contains(types, want), "%s missing from %v", want, types)
		}
		all, err := c.Events(ctx, crm.EventQuery{Limit: 100})
		require.NoError(t, err)
		for _, ev := range all {
			if ev.Type == "contact.created" && ev.SubjectID == other.ID {
				require.Equal(t, other.ID, *ev.ContactID)
			}
			if ev.Type == "pipeline.created" || (ev.Type == "task.created" && ev.ContactID == nil) {
				require.Nil(t, ev.ContactID) // the default pipeline; the task about nobody
				continue
			}
			require.NotNil(t, ev.ContactID, ev.Type)
		}
	})
}
