package contacts_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/store"
)

func TestMerge(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := b.as(t, "admin", access.RoleAdmin)
		co, err := b.companies.Create(ctx, contacts.NewCompany{Name: "Acme"})
		require.NoError(t, err)
		winner, err := b.svc.Create(ctx, contacts.NewContact{Email: "ada@example.com", FirstName: "Ada", Tags: []string{"vip"},
			Attributes: map[string]any{"plan": "pro"}, ExternalIDs: []contacts.ExternalID{{Source: "shop", ID: "1"}}})
		require.NoError(t, err)
		dup, err := b.svc.Create(ctx, contacts.NewContact{Email: "ada.lovelace@work.example", FirstName: "Augusta", LastName: "Lovelace",
			Phone: "+44 20 1", CompanyID: &co.ID, LifecycleStage: contacts.StageCustomer, Tags: []string{"newsletter", "vip"},
			Attributes: map[string]any{"plan": "free", "region": "eu"}, ExternalIDs: []contacts.ExternalID{{Source: "erp", ID: "E-7"}}})
		require.NoError(t, err)
		third, err := b.svc.Create(ctx, contacts.NewContact{FirstName: "A.", OwnerID: "rep-9"})
		require.NoError(t, err)
		for _, c := range []*contacts.Contact{winner, dup} {
			_, err := b.svc.Track(ctx, contacts.ByID(c.ID), contacts.NewActivity{Kind: contacts.KindPurchase,
				Purchase: &contacts.Purchase{OrderID: c.Email, Total: core.MoneyFromMinor(100000, "EUR")}})
			require.NoError(t, err)
		}
		note, err := b.notes.Create(ctx, contacts.NewNote{ContactID: dup.ID, Body: "met at the conference"})
		require.NoError(t, err)
		task, err := b.tasks.Create(ctx, contacts.NewTask{Title: "call", ContactID: &third.ID})
		require.NoError(t, err)

		var hooked contacts.Merged
		remove := onMerge(b.rt, func(ctx context.Context, tx *store.Tx, tenant string, m contacts.Merged) error {
			hooked = m
			return nil
		})
		defer remove()

		m, err := b.svc.Merge(ctx, winner.ID, dup.ID, third.ID)
		require.NoError(t, err)
		require.Equal(t, "ada@example.com", m.Email, "the winner's values stay")
		require.Equal(t, "Ada", m.FirstName)
		require.Equal(t, "Lovelace", m.LastName, "empty fields take the losers' values")
		require.Equal(t, "+44 20 1", m.Phone)
		require.Equal(t, "rep-9", m.OwnerID)
		require.Equal(t, co.ID, *m.CompanyID)
		require.Equal(t, contacts.StageCustomer, m.LifecycleStage, "the most advanced stage")
		require.Equal(t, []string{"vip", "newsletter"}, m.Tags)
		require.Equal(t, map[string]any{"plan": "pro", "region": "eu"}, m.Attributes)
		require.ElementsMatch(t, []contacts.ExternalID{{Source: "shop", ID: "1"}, {Source: "erp", ID: "E-7"}}, m.ExternalIDs)
		require.Equal(t, int64(2), m.Facts.PurchaseCount, "facts recomputed")
		require.True(t, m.Facts.PurchaseTotal.Amount.Equal(core.MoneyFromMinor(200000, "EUR").Amount))
		require.Equal(t, winner.ID, hooked.WinnerID)
		require.Equal(t, []core.ID{dup.ID, third.ID}, hooked.LoserIDs)

		for _, id := range []core.ID{dup.ID, third.ID} {
			_, err := b.svc.Get(ctx, id)
			require.ErrorIs(t, err, core.ErrNotFound, "losers are gone")
			into, err := b.svc.MergedInto(ctx, id)
			require.NoError(t, err)
			require.Equal(t, winner.ID, into)
		}
		byErp, err := b.svc.GetByExternalID(ctx, "erp", "E-7")
		require.NoError(t, err)
		require.Equal(t, winner.ID, byErp.ID)
		gotNote, err := b.notes.Get(ctx, note.ID)
		require.NoError(t, err)
		require.Equal(t, winner.ID, gotNote.ContactID)
		gotTask, err := b.tasks.Get(ctx, task.ID)
		require.NoError(t, err)
		require.Equal(t, winner.ID, *gotTask.ContactID)
		n, err := b.svc.Count(ctx, filter.Expr{})
		require.NoError(t, err)
		require.Equal(t, int64(1), n)
		hits, err := b.svc.Search(ctx, "augusta", contacts.SearchOptions{})
		require.NoError(t, err)
		require.Empty(t, hits, "a loser is no longer found")
		hits, err = b.svc.Search(ctx, "lovelace", contacts.SearchOptions{})
		require.NoError(t, err)
		require.Len(t, hits, 1)
		require.Equal(t, winner.ID, hits[0].ID)

		// The winner's timeline holds the losers' history too.
		page, err := b.svc.Timeline(ctx, winner.ID, contacts.TimelineOptions{Limit: 100})
		require.NoError(t, err)
		subjects := map[core.ID]bool{}
		for _, it := range page.Items {
			if it.Event != nil {
				subjects[it.Event.SubjectID] = true
			}
		}
		require.True(t, subjects[dup.ID] && subjects[third.ID] && subjects[winner.ID])
		evs, err := b.sc.Events(ctx, store.EventQuery{Types: []string{"contact.merged", "contact.deleted"}})
		require.NoError(t, err)
		require.Len(t, evs, 3)

		// Merging a merged winner into another keeps MergedInto pointing at
		// the last winner.
		z, err := b.svc.Create(ctx, contacts.NewContact{Email: "z@example.com"})
		require.NoError(t, err)
		_, err = b.svc.Merge(ctx, z.ID, winner.ID)
		require.NoError(t, err)
		into, err := b.svc.MergedInto(ctx, dup.ID)
		require.NoError(t, err)
		require.Equal(t, z.ID, into)
	})
}

func TestMergeRefusals(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		a, err := b.svc.Create(ctx, contacts.NewContact{Email: "a@example.com"})
		require.NoError(t, err)
		c, err := b.svc.Create(ctx, contacts.NewContact{Email: "c@example.com"})
		require.NoError(t, err)
		_, err = b.svc.Merge(ctx, a.ID, a.ID)
		require.ErrorIs(t, err, core.ErrInvalid, "with itself")
		_, err = b.svc.Merge(ctx, a.ID)
		require.ErrorIs(t, err, core.ErrInvalid, "nothing to merge")
		_, err = b.svc.Merge(ctx, a.ID, c.ID, c.ID)
		require.ErrorIs(t, err, core.ErrInvalid, "twice")
		_, err = b.svc.Merge(ctx, a.ID, core.NewID())
		require.ErrorIs(t, err, core.ErrNotFound)

		other, _ := b.forTenant("other")
		foreign, err := other.Create(ctx, contacts.NewContact{Email: "f@example.com"})
		require.NoError(t, err)
		_, err = b.svc.Merge(ctx, a.ID, foreign.ID)
		require.ErrorIs(t, err, core.ErrNotFound, "across tenants")
		_, err = other.Get(ctx, foreign.ID)
		require.NoError(t, err, "the foreign contact is untouched")

		// Purchases in different currencies cannot share one contact.
		for _, x := range []struct {
			id  core.ID
			cur string
		}{{a.ID, "EUR"}, {c.ID, "USD"}} {
			_, err := b.svc.Track(ctx, contacts.ByID(x.id), contacts.NewActivity{Kind: contacts.KindPurchase,
				Purchase: &contacts.Purchase{OrderID: x.cur, Total: core.MoneyFromMinor(100, x.cur)}})
			require.NoError(t, err)
		}
		_, err = b.svc.Merge(ctx, a.ID, c.ID)
		require.ErrorIs(t, err, core.ErrInvalid)

		// A merge hook vetoes: nothing of the merge remains.
		blocked := errors.New("open deals must be moved first")
		remove := onMerge(b.rt, func(context.Context, *store.Tx, string, contacts.Merged) error { return blocked })
		d, err := b.svc.Create(ctx, contacts.NewContact{Email: "d@example.com"})
		require.NoError(t, err)
		_, err = b.svc.Merge(ctx, a.ID, d.ID)
		require.ErrorIs(t, err, blocked)
		remove()
		_, err = b.svc.Get(ctx, d.ID)
		require.NoError(t, err, "the loser survives a vetoed merge")
		_, err = b.svc.MergedInto(ctx, d.ID)
		require.ErrorIs(t, err, core.ErrNotFound)
	})
}

// onMerge runs fn in the transaction of every merge, as a module's
// OnContactMerge does (a before hook on "contact.merged").
func onMerge(rt *store.Runtime, fn func(ctx context.Context, tx *store.Tx, tenant string, m contacts.Merged) error) (remove func()) {
	return rt.Hooks.Before([]string{contacts.EventContactMerged}, func(ctx context.Context, tx *store.Tx, ev core.Event) error {
		var m contacts.Merged
		if err := json.Unmarshal(ev.Data, &m); err != nil {
			return err
		}
		return fn(ctx, tx, ev.TenantID, m)
	})
}
