package contacts_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
)

func money(t *testing.T, amount string) core.Money {
	m, err := core.NewMoney(amount, "EUR")
	require.NoError(t, err)
	return m
}

func TestTrackKeepsFactsCurrent(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := b.as(t, "shop", access.RoleAdmin)
		c, err := b.svc.Create(ctx, contacts.NewContact{Email: "ada@example.com", ExternalIDs: []contacts.ExternalID{{Source: "shop", ID: "42"}}})
		require.NoError(t, err)
		day := func(d int) time.Time { return time.Date(2026, 2, d, 12, 0, 0, 0, time.UTC) }

		web, err := b.svc.Track(ctx, contacts.ByEmail("ADA@example.com"), contacts.NewActivity{Kind: contacts.KindWeb,
			Name: "pricing_calculator_used", OccurredAt: day(10), Properties: map[string]any{"plan": "pro"}})
		require.NoError(t, err)
		require.Equal(t, c.ID, web.ContactID)
		require.Equal(t, "shop", web.ActorID)

		_, err = b.svc.Track(ctx, contacts.ByExternalID("shop", "42"), contacts.NewActivity{Kind: contacts.KindPurchase, OccurredAt: day(5),
			Purchase: &contacts.Purchase{OrderID: "o-1", Total: money(t, "19.99"),
				Items: []contacts.PurchaseItem{{SKU: "A", Name: "Book", Quantity: 1, Amount: money(t, "19.99")}}}})
		require.NoError(t, err)
		p2, err := b.svc.Track(ctx, contacts.ByID(c.ID), contacts.NewActivity{Kind: contacts.KindPurchase, OccurredAt: day(20),
			Purchase: &contacts.Purchase{OrderID: "o-2", Total: money(t, "0.01")}})
		require.NoError(t, err)

		got, err := b.svc.Get(ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, c.Version, got.Version, "facts do not bump the version")
		require.Equal(t, day(20), *got.Facts.LastActivityAt)
		require.Equal(t, int64(2), got.Facts.PurchaseCount)
		require.True(t, got.Facts.PurchaseTotal.Amount.Equal(money(t, "20.00").Amount), "total %s", got.Facts.PurchaseTotal)
		require.Equal(t, day(5), *got.Facts.FirstPurchaseAt)
		require.Equal(t, day(20), *got.Facts.LastPurchaseAt)

		// An older activity does not move last_activity_at back.
		_, err = b.svc.Track(ctx, contacts.ByID(c.ID), contacts.NewActivity{Kind: contacts.KindCall, OccurredAt: day(1)})
		require.NoError(t, err)
		got, err = b.svc.Get(ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, day(20), *got.Facts.LastActivityAt)

		// Facts are filterable, in SQL and in Match alike.
		for _, f := range []filter.Expr{
			filter.Gte("purchase_count", 2), filter.Gt("purchase_total", 19.99), filter.Eq("purchase_total", 20),
			filter.Exists("last_activity_at"), filter.Lt("first_purchase_at", day(6).Format(time.RFC3339)),
		} {
			n, err := b.svc.Count(ctx, f)
			require.NoError(t, err)
			require.Equal(t, int64(1), n, "%s", f)
			ok, err := contacts.Schema.Match(f, got, b.clock.Now())
			require.NoError(t, err)
			require.True(t, ok, "%s", f)
		}

		act, err := b.svc.GetActivity(ctx, p2.ID)
		require.NoError(t, err)
		require.Equal(t, "o-2", act.Purchase.OrderID)
		require.True(t, act.Purchase.Total.Amount.Equal(money(t, "0.01").Amount))
		first, err := b.svc.GetActivity(ctx, web.ID)
		require.NoError(t, err)
		require.Equal(t, map[string]any{"plan": "pro"}, first.Properties)

		// Another currency for the same contact is refused, nothing written.
		_, err = b.svc.Track(ctx, contacts.ByID(c.ID), contacts.NewActivity{Kind: contacts.KindPurchase,
			Purchase: &contacts.Purchase{OrderID: "o-3", Total: core.MoneyFromMinor(100, "USD")}})
		require.ErrorIs(t, err, core.ErrInvalid)
		got2, err := b.svc.Get(ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, got.Facts, got2.Facts)

		evs, err := b.sc.Events(ctx, eventsOf(web.ID))
		require.NoError(t, err)
		require.Len(t, evs, 1)
		require.Equal(t, "activity.tracked", evs[0].Type)
	})
}

func TestTrackIsIdempotent(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		c, err := b.svc.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
		require.NoError(t, err)
		in := contacts.NewActivity{Kind: contacts.KindPurchase, IdempotencyKey: "order-7",
			Purchase: &contacts.Purchase{OrderID: "7", Total: money(t, "10")}}

		// Concurrent retries of one Track record it once.
		var wg sync.WaitGroup
		got := make([]*contacts.Activity, 6)
		errs := make([]error, 6)
		for i := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i], errs[i] = b.svc.Track(ctx, contacts.ByID(c.ID), in)
			}()
		}
		wg.Wait()
		for i := range got {
			require.NoError(t, errs[i])
			require.Equal(t, got[0].ID, got[i].ID)
		}
		again, err := b.svc.Track(ctx, contacts.ByID(c.ID), in)
		require.NoError(t, err)
		require.Equal(t, got[0].ID, again.ID)

		cur, err := b.svc.Get(ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, int64(1), cur.Facts.PurchaseCount)
		require.True(t, cur.Facts.PurchaseTotal.Amount.Equal(money(t, "10").Amount))
		page, err := b.svc.Timeline(ctx, c.ID, contacts.TimelineOptions{Types: []string{contacts.ItemActivity}})
		require.NoError(t, err)
		require.Len(t, page.Items, 1)
	})
}

func TestTrackCreatesContactWhenAsked(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		_, err := b.svc.Track(ctx, contacts.ByEmail("new@example.com"), contacts.NewActivity{Kind: contacts.KindWeb, Name: "signup"})
		require.ErrorIs(t, err, core.ErrNotFound, "no contact and none to create")

		a, err := b.svc.Track(ctx, contacts.ByExternalID("shop", "c-9"), contacts.NewActivity{Kind: contacts.KindWeb, Name: "signup",
			CreateContact: &contacts.NewContact{Email: "new@example.com", LifecycleStage: contacts.StageSubscriber}})
		require.NoError(t, err)
		c, err := b.svc.GetByExternalID(ctx, "shop", "c-9")
		require.NoError(t, err)
		require.Equal(t, a.ContactID, c.ID)
		require.Equal(t, "new@example.com", c.Email)
		require.Equal(t, contacts.StageSubscriber, c.LifecycleStage)
		require.NotNil(t, c.Facts.LastActivityAt)

		// Concurrent first visits of one person create one contact.
		var wg sync.WaitGroup
		errs := make([]error, 5)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = b.svc.Track(ctx, contacts.ByEmail("burst@example.com"), contacts.NewActivity{Kind: contacts.KindWeb,
					Name: fmt.Sprint("page-", i), CreateContact: &contacts.NewContact{}})
			}()
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		burst, err := b.svc.GetByEmail(ctx, "burst@example.com")
		require.NoError(t, err)
		page, err := b.svc.Timeline(ctx, burst.ID, contacts.TimelineOptions{Types: []string{contacts.ItemActivity}})
		require.NoError(t, err)
		require.Len(t, page.Items, 5)
	})
}

func TestTrackRejectsBadInput(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		c, err := b.svc.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
		require.NoError(t, err)
		for name, tc := range map[string]struct {
			ref contacts.ContactRef
			in  contacts.NewActivity
		}{
			"unknown kind":             {contacts.ByID(c.ID), contacts.NewActivity{Kind: "fax"}},
			"purchase without order":   {contacts.ByID(c.ID), contacts.NewActivity{Kind: contacts.KindPurchase}},
			"order on a call":          {contacts.ByID(c.ID), contacts.NewActivity{Kind: contacts.KindCall, Purchase: &contacts.Purchase{Total: money(t, "1")}}},
			"too precise":              {contacts.ByID(c.ID), contacts.NewActivity{Kind: contacts.KindPurchase, Purchase: &contacts.Purchase{Total: core.Money{Amount: money(t, "1").Amount.Div(money(t, "3").Amount), Currency: "EUR"}}}},
			"item in another currency": {contacts.ByID(c.ID), contacts.NewActivity{Kind: contacts.KindPurchase, Purchase: &contacts.Purchase{Total: money(t, "1"), Items: []contacts.PurchaseItem{{Name: "x", Amount: core.MoneyFromMinor(1, "USD")}}}}},
			"no reference":             {contacts.ContactRef{}, contacts.NewActivity{Kind: contacts.KindCall}},
			"bad properties":           {contacts.ByID(c.ID), contacts.NewActivity{Kind: contacts.KindWeb, Properties: map[string]any{"x": "\x00"}}},
		} {
			_, err := b.svc.Track(ctx, tc.ref, tc.in)
			require.ErrorIs(t, err, core.ErrInvalid, name)
		}
		_, err = b.svc.Track(ctx, contacts.ByID(core.NewID()), contacts.NewActivity{Kind: contacts.KindCall})
		require.ErrorIs(t, err, core.ErrNotFound)
		got, err := b.svc.Get(ctx, c.ID)
		require.NoError(t, err)
		require.Nil(t, got.Facts.LastActivityAt, "nothing was recorded")
	})
}

func TestTimelineMergesAndPages(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := b.as(t, "user-1", access.RoleAdmin)
		c, err := b.svc.Create(ctx, contacts.NewContact{Email: "ada@example.com"}) // event 1
		require.NoError(t, err)
		for i := 0; i < 30; i++ {
			kind := []contacts.ActivityKind{contacts.KindCall, contacts.KindWeb, contacts.KindEmail}[i%3]
			// Activities happened in the past, interleaved with the notes and
			// events below by when they occurred.
			_, err := b.svc.Track(ctx, contacts.ByID(c.ID), contacts.NewActivity{Kind: kind, Name: fmt.Sprint("a", i),
				OccurredAt: b.clock.Now().Add(-time.Duration(30-i) * time.Minute)})
			require.NoError(t, err)
		}
		for i := 0; i < 7; i++ {
			_, err := b.notes.Create(ctx, contacts.NewNote{ContactID: c.ID, Body: fmt.Sprint("note ", i)})
			require.NoError(t, err)
		}
		_, err = b.svc.Update(ctx, c.ID, contacts.ContactPatch{Version: c.Version, FirstName: ptr("Ada")}) // event 2
		require.NoError(t, err)
		// Another contact's activity stays out.
		other, err := b.svc.Create(ctx, contacts.NewContact{Email: "other@example.com"})
		require.NoError(t, err)
		_, err = b.svc.Track(ctx, contacts.ByID(other.ID), contacts.NewActivity{Kind: contacts.KindCall})
		require.NoError(t, err)

		var all []contacts.TimelineItem
		cursor := ""
		for pages := 0; ; pages++ {
			require.Less(t, pages, 10)
			page, err := b.svc.Timeline(ctx, c.ID, contacts.TimelineOptions{Limit: 8, Cursor: cursor})
			require.NoError(t, err)
			all = append(all, page.Items...)
			if page.Next == "" {
				break
			}
			cursor = page.Next
		}
		require.Len(t, all, 30+7+2)
		counts := map[string]int{}
		for i, it := range all {
			counts[it.Type]++
			if i > 0 {
				require.False(t, it.At.After(all[i-1].At), "newest first")
			}
			if it.Activity != nil {
				require.Equal(t, c.ID, it.Activity.ContactID)
			}
		}
		require.Equal(t, map[string]int{"activity": 30, "note": 7, "event": 2}, counts)

		calls, err := b.svc.Timeline(ctx, c.ID, contacts.TimelineOptions{Types: []string{contacts.ItemActivity}, Kinds: []contacts.ActivityKind{contacts.KindCall}})
		require.NoError(t, err)
		require.Len(t, calls.Items, 10)
		for _, it := range calls.Items {
			require.Equal(t, contacts.KindCall, it.Activity.Kind)
		}

		_, err = b.svc.Timeline(ctx, c.ID, contacts.TimelineOptions{Types: []string{"sms"}})
		require.ErrorIs(t, err, core.ErrInvalid)
		_, err = b.svc.Timeline(ctx, other.ID, contacts.TimelineOptions{Limit: 8, Cursor: cursor})
		require.ErrorIs(t, err, core.ErrInvalid, "a cursor of another contact's timeline")
		_, err = b.svc.Timeline(ctx, core.NewID(), contacts.TimelineOptions{})
		require.ErrorIs(t, err, core.ErrNotFound)

		// Deleting the contact removes its activities and notes.
		act, note := calls.Items[0].Activity, (*contacts.Note)(nil)
		for _, it := range all {
			if it.Note != nil {
				note = it.Note
			}
		}
		require.NoError(t, b.svc.Delete(ctx, c.ID))
		_, err = b.svc.GetActivity(ctx, act.ID)
		require.ErrorIs(t, err, core.ErrNotFound)
		_, err = b.notes.Get(ctx, note.ID)
		require.ErrorIs(t, err, core.ErrNotFound)
	})
}

func TestNotes(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := b.as(t, "user-1", access.RoleAdmin)
		c, err := b.svc.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
		require.NoError(t, err)
		n, err := b.notes.Create(ctx, contacts.NewNote{ContactID: c.ID, Body: "Prefers email.", Pinned: true})
		require.NoError(t, err)
		require.Equal(t, "user-1", n.AuthorID)

		_, err = b.notes.Create(context.Background(), contacts.NewNote{ContactID: c.ID, Body: "no author"})
		require.ErrorIs(t, err, core.ErrInvalid)
		_, err = b.notes.Create(ctx, contacts.NewNote{ContactID: core.NewID(), Body: " "})
		require.ErrorIs(t, err, core.ErrInvalid)
		require.Contains(t, err.Error(), "body is required")

		u, err := b.notes.Update(ctx, n.ID, contacts.NotePatch{Version: n.Version, Body: ptr("Prefers email, never calls.")})
		require.NoError(t, err)
		require.Equal(t, int64(2), u.Version)
		require.True(t, u.Pinned)
		_, err = b.notes.Update(ctx, n.ID, contacts.NotePatch{Version: n.Version, Pinned: ptr(false)})
		require.ErrorIs(t, err, core.ErrConflict)

		for i := 0; i < 3; i++ {
			_, err := b.notes.Create(ctx, contacts.NewNote{ContactID: c.ID, Body: fmt.Sprint("n", i)})
			require.NoError(t, err)
		}
		pinned, err := b.notes.Pinned(ctx, c.ID)
		require.NoError(t, err)
		require.Len(t, pinned, 1)
		require.Equal(t, n.ID, pinned[0].ID)
		page, err := b.notes.List(ctx, contacts.NoteListOptions{ContactID: c.ID, Limit: 3})
		require.NoError(t, err)
		require.Len(t, page.Items, 3)
		rest, err := b.notes.List(ctx, contacts.NoteListOptions{ContactID: c.ID, Limit: 3, Cursor: page.Next})
		require.NoError(t, err)
		require.Len(t, rest.Items, 1)
		require.Equal(t, n.ID, rest.Items[0].ID, "oldest last")

		require.NoError(t, b.notes.Delete(ctx, n.ID))
		_, err = b.notes.Get(ctx, n.ID)
		require.ErrorIs(t, err, core.ErrNotFound)
		evs, err := b.sc.Events(ctx, eventsOf(n.ID))
		require.NoError(t, err)
		require.Equal(t, []string{"note.created", "note.updated", "note.deleted"}, types(evs))
	})
}

// A shop passes cents: MoneyFromMinor(4990, "EUR") is 49.90 EUR, stored and
// filtered in whole units.
func TestTrackPurchaseInMinorUnits(t *testing.T) {
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		c, err := b.svc.Create(ctx, contacts.NewContact{Email: "cents@example.com"})
		require.NoError(t, err)
		_, err = b.svc.Track(ctx, contacts.ByID(c.ID), contacts.NewActivity{Kind: contacts.KindPurchase,
			Purchase: &contacts.Purchase{OrderID: "o-1", Total: core.MoneyFromMinor(4990, "EUR")}})
		require.NoError(t, err)

		got, err := b.svc.Get(ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, "49.9", got.Facts.PurchaseTotal.Amount.String())
		cents, err := got.Facts.PurchaseTotal.Minor()
		require.NoError(t, err)
		require.Equal(t, int64(4990), cents)
		for _, f := range []filter.Expr{filter.Eq("purchase_total", 49.90), filter.Gte("purchase_total", 49), filter.Lt("purchase_total", 50)} {
			n, err := b.svc.Count(ctx, f)
			require.NoError(t, err)
			require.Equal(t, int64(1), n, "%s", f)
		}
	})
}
