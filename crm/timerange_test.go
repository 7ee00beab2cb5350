package crm_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/automation"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
)

// requireField asserts err is ErrInvalid naming field.
func requireField(t *testing.T, err error, field string, what string) {
	t.Helper()
	require.ErrorIs(t, err, core.ErrInvalid, what)
	var ve *core.ValidationError
	require.True(t, errors.As(err, &ve), "%s: %v", what, err)
	require.True(t, ve.Has(field), "%s: %v", what, err)
}

// A time outside years 1-9999 UTC is refused wherever a caller passes one,
// and nothing of it is stored: the tenant reads as before.
func TestTimesOutsideTheSupportedRange(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := core.WithActor(context.Background(), core.Actor{ID: "anna", Roles: []string{access.RoleAdmin}})
		c := newCRM(t, db)
		_, err := c.Access.Roles.InstallBuiltins(context.Background()) // the actor's role
		require.NoError(t, err)
		ada, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
		require.NoError(t, err)
		year10000 := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
		bc5000 := time.Date(-5000, 1, 1, 0, 0, 0, 0, time.UTC)
		// In range in its own zone, year 10000 in UTC.
		lastNY := time.Date(9999, 12, 31, 23, 0, 0, 0, time.FixedZone("UTC-5", -5*3600))

		for _, at := range []time.Time{year10000, bc5000, lastNY} {
			_, err = c.Contacts.Track(ctx, contacts.ByID(ada.ID), contacts.NewActivity{Kind: contacts.KindCall, OccurredAt: at})
			requireField(t, err, "occurred_at", at.String())
			_, err = c.Contacts.Track(ctx, contacts.ByID(ada.ID), contacts.NewActivity{Kind: contacts.KindPurchase, OccurredAt: at,
				Purchase: &contacts.Purchase{OrderID: "o", Total: core.MustMoney("1", "EUR")}})
			requireField(t, err, "occurred_at", at.String())
		}
		_, err = c.Tasks.Create(ctx, contacts.NewTask{Title: "t", AssigneeID: "anna", DueAt: &year10000})
		requireField(t, err, "due_at", "task")
		task, err := c.Tasks.Create(ctx, contacts.NewTask{Title: "t", AssigneeID: "anna"})
		require.NoError(t, err)
		_, err = c.Tasks.Update(ctx, task.ID, contacts.TaskPatch{Version: task.Version, DueAt: &bc5000})
		requireField(t, err, "due_at", "task patch")
		_, err = c.Contacts.InactiveLeads(ctx, year10000, core.NilID, 10)
		requireField(t, err, "cutoff", "inactive leads")
		_, err = c.Contacts.DeleteActivities(ctx, contacts.KindWeb, year10000)
		requireField(t, err, "cutoff", "delete activities")
		_, err = c.Contacts.Count(ctx, filter.Gt("last_activity_at", year10000))
		require.ErrorIs(t, err, core.ErrInvalid, "filter")
		_, err = c.Contacts.Count(ctx, filter.Gt("last_activity_at", "10000-01-01T00:00:00Z"))
		require.ErrorIs(t, err, core.ErrInvalid, "filter text")

		_, err = c.Consent.EraseWithHold(ctx, ada.ID, "request", consent.LegalHold{Sections: []string{"activities"}, Until: year10000})
		requireField(t, err, "hold.until", "hold")
		_, err = c.Consent.ReleaseHolds(ctx, year10000)
		requireField(t, err, "now", "release holds")
		_, err = c.Consent.PurgeOptIns(ctx, bc5000)
		requireField(t, err, "expired_before", "purge opt-ins")
		_, err = c.Consent.Audit(ctx, consent.AuditQuery{From: bc5000})
		requireField(t, err, "from", "audit")
		_, err = c.ApplyRetention(ctx, year10000)
		requireField(t, err, "now", "retention")

		rule, err := automation.ParseRule([]byte(`{"name": "r", "triggers": ["contact.created"],
			"actions": [{"type": "wait", "until": "10000-01-01T00:00:00Z"}]}`))
		if err == nil {
			_, err = c.Automation.Rules.Create(ctx, rule)
		}
		require.ErrorIs(t, err, core.ErrInvalid, "wait until")
		r := automation.Rule{Name: "r", Triggers: []string{"contact.created"}, Actions: []automation.Action{{Type: "wait", Until: &year10000}}}
		_, err = c.Automation.Rules.Create(ctx, r)
		require.ErrorIs(t, err, core.ErrInvalid, "wait until (Go)")

		// The tenant still reads.
		got, err := c.Contacts.Get(ctx, ada.ID)
		require.NoError(t, err)
		require.Nil(t, got.Facts.LastActivityAt)
		_, err = c.Contacts.List(ctx, contacts.ListOptions{})
		require.NoError(t, err)
		_, err = c.Contacts.Timeline(ctx, ada.ID, contacts.TimelineOptions{})
		require.NoError(t, err)
		_, err = c.Consent.Erasure(ctx, ada.ID)
		require.ErrorIs(t, err, core.ErrNotFound, "nothing was erased")

		// The edges of the range are accepted.
		first := time.Date(1, 1, 1, 0, 0, 0, 1000, time.UTC)
		last := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
		for _, at := range []time.Time{first, last} {
			_, err = c.Contacts.Track(ctx, contacts.ByID(ada.ID), contacts.NewActivity{Kind: contacts.KindCall, OccurredAt: at})
			require.NoError(t, err, at.String())
		}
		got, err = c.Contacts.Get(ctx, ada.ID)
		require.NoError(t, err)
		require.Equal(t, last, *got.Facts.LastActivityAt)
		_, err = c.Contacts.Timeline(ctx, ada.ID, contacts.TimelineOptions{})
		require.NoError(t, err)
	})
}
