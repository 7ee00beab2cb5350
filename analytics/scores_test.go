package analytics_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/analytics"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/module"
	"github.com/crmkit/crmkit/internal/store"
)

// storedScores reads the stored scores of the tenant's contacts by id
// (nil for a contact without).
func storedScores(t *testing.T, sc store.Scope, d *data) map[core.ID]*contacts.CustomerFacts {
	t.Helper()
	var ids []core.ID
	for _, c := range d.contacts {
		ids = append(ids, c.id)
	}
	cs, err := contacts.Module.GetMany(context.Background(), sc, ids)
	require.NoError(t, err)
	require.Len(t, cs, len(ids))
	out := map[core.ID]*contacts.CustomerFacts{}
	for id, c := range cs {
		out[id] = c.Facts.Customer
	}
	return out
}

// filtered returns the ids of the tenant's contacts that match f, sorted.
func filtered(t *testing.T, sc store.Scope, f filter.Expr) []string {
	t.Helper()
	page, err := contacts.Module.Contacts(sc).List(context.Background(), contacts.ListOptions{Filter: f, Limit: 1000})
	require.NoError(t, err)
	require.Empty(t, page.Next)
	out := []string{}
	for _, c := range page.Items {
		out = append(out, c.ID.String())
	}
	slices.Sort(out)
	return out
}

// The scores StoreScores stores equal what RFM and Churn return for the
// same options and data (the quintiles, segments, P(alive) to the last
// bit, overdue), with the period's start, another overdue factor and a
// sampled fit too; lists filter by them; contacts whose purchases fall
// out of the period lose theirs.
func TestStoreScoresMatchReports(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		d := randomData(t, b, rand.New(rand.NewPCG(61, 62)), 200, 0)
		addHeavyAndLight(d)
		b.load(t, d)
		end := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		var before map[core.ID]*contacts.CustomerFacts
		for round, o := range []analytics.StoreScoresOptions{
			{Period: analytics.Period{To: core.DateOf(end)}},
			{Period: analytics.Period{From: core.NewDate(2025, 9, 1), To: core.DateOf(end)}, OverdueFactor: 3.5, MaxFit: 60},
		} {
			got, err := b.svc.StoreScores(ctx, o)
			require.NoError(t, err)
			rfm, err := b.svc.RFM(ctx, analytics.RFMOptions{Period: o.Period})
			require.NoError(t, err)
			churn, err := b.svc.Churn(ctx, analytics.ChurnOptions{Period: o.Period, OverdueFactor: o.OverdueFactor, MaxFit: o.MaxFit})
			require.NoError(t, err)
			require.True(t, got.AsOf.Equal(end))
			require.NotNil(t, got.Purchases)
			require.Equal(t, churn.Purchases, got.Purchases, "the same fit")
			require.Equal(t, int64(len(rfm.Customers)), got.Customers)
			require.Equal(t, int64(len(churn.Customers)), got.Customers)
			require.Equal(t, got.Customers, got.Stored)

			stored := storedScores(t, b.sc, d)
			scored := map[core.ID]bool{}
			segments := map[analytics.Segment][]string{}
			for _, r := range rfm.Customers {
				s := stored[r.ContactID]
				require.NotNil(t, s, "%s", r.ContactID)
				require.Equal(t, [3]int{r.R, r.F, r.M}, [3]int{s.R, s.F, s.M}, "%s", r.ContactID)
				require.Equal(t, string(r.Segment), s.Segment)
				require.True(t, s.ScoredAt.Equal(end))
				scored[r.ContactID] = true
				segments[r.Segment] = append(segments[r.Segment], r.ContactID.String())
			}
			var overdue []string
			for _, c := range churn.Customers {
				s := stored[c.ContactID]
				require.NotNil(t, s.PAlive)
				require.Equal(t, c.PAlive, *s.PAlive, "%s", c.ContactID)
				require.Equal(t, c.Overdue, s.Overdue, "%s", c.ContactID)
				if c.Overdue {
					overdue = append(overdue, c.ContactID.String())
				}
			}
			require.NotEmpty(t, overdue)
			cleared := int64(0)
			for id, s := range stored {
				if !scored[id] {
					require.Nil(t, s, "%s has no purchase in the period", id)
					if before[id] != nil {
						cleared++
					}
				}
			}
			require.Equal(t, cleared, got.Cleared)
			if round == 1 {
				require.Positive(t, cleared, "some contacts bought only before the period")
			}

			// Lists, counts and segments select by them.
			require.Greater(t, len(segments), 5)
			for seg, ids := range segments {
				slices.Sort(ids)
				require.Equal(t, ids, filtered(t, b.sc, filter.Eq("rfm_segment", string(seg))), "%s", seg)
			}
			slices.Sort(overdue)
			require.Equal(t, overdue, filtered(t, b.sc, filter.Eq("churn_overdue", true)))
			before = stored
		}
	})
}

// Without a BG/NBD fit (one purchasing contact) P(alive) is stored as
// unknown, not as Churn's 0: no "p_alive" condition selects the contact.
func TestStoreScoresWithoutAFit(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		b.clock.Set(now, 0)
		d := &data{}
		one := int64(20_0000)
		id := core.NewID()
		d.contacts = append(d.contacts, contactRow{id: id, created: now.AddDate(0, -1, 0)})
		d.activities = append(d.activities, activityRow{id: core.NewID(), contact: id, kind: "purchase", at: now.AddDate(0, 0, -3), amount: &one, currency: "EUR"})
		b.load(t, d)
		got, err := b.svc.StoreScores(ctx, analytics.StoreScoresOptions{})
		require.NoError(t, err)
		require.Nil(t, got.Purchases)
		require.Equal(t, &analytics.StoredScores{AsOf: now, Customers: 1, Stored: 1}, got)
		churn, err := b.svc.Churn(ctx, analytics.ChurnOptions{})
		require.NoError(t, err)
		require.Zero(t, churn.Customers[0].PAlive)
		s := storedScores(t, b.sc, d)[id]
		require.Equal(t, &contacts.CustomerFacts{R: 1, F: 1, M: 1, Segment: "lost", ScoredAt: now}, s)
		require.Empty(t, filtered(t, b.sc, filter.Lte("p_alive", 1.0)))
		require.Equal(t, []string{id.String()}, filtered(t, b.sc, filter.Eq("rfm_segment", "lost")))
	})
}

// Bad options are listed, and nothing is read or stored.
func TestStoreScoresRefusesBadOptions(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		d := randomData(t, b, rand.New(rand.NewPCG(71, 72)), 30, 0)
		b.load(t, d)
		_, err := b.svc.StoreScores(ctx, analytics.StoreScoresOptions{
			Period:        analytics.Period{From: core.NewDate(2026, 7, 1), To: core.NewDate(2026, 6, 1)},
			OverdueFactor: -1, MaxFit: -1})
		require.ErrorIs(t, err, core.ErrInvalid)
		var v *core.ValidationError
		require.True(t, errors.As(err, &v))
		var fields []string
		for _, f := range v.Fields {
			fields = append(fields, f.Field)
		}
		require.Equal(t, []string{"period.to", "overdue_factor", "max_fit"}, fields)
		for id, s := range storedScores(t, b.sc, d) {
			require.Nil(t, s, "%s", id)
		}
	})
}

// A tenant's scores are computed from its purchases and stored on its
// contacts only: storing another tenant's neither changes nor clears
// them. A restricted contact keeps the scores it had.
func TestStoreScoresStaysInItsTenant(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		d := randomData(t, b, rand.New(rand.NewPCG(81, 82)), 80, 0)
		b.load(t, d)
		// The other tenant: three customers of its own.
		other := b.sc.WithTenant("other")
		od := &data{}
		var rows, acts [][]any
		for i := range 3 {
			id := core.NewID()
			od.contacts = append(od.contacts, contactRow{id: id})
			rows = append(rows, []any{"other", id, "lead", "[]", "{}", now, now, 1})
			for k := range i + 2 {
				acts = append(acts, []any{"other", core.NewID(), id, "purchase", "", now.AddDate(0, -k*(i+1), -1), "{}", int64(10_0000 * (k + 1)), "EUR", now})
			}
		}
		require.NoError(t, other.InTx(ctx, func(ctx context.Context, sc store.Scope) error {
			if err := sc.Tx().InsertRows(ctx, "crm_contacts", []string{"tenant_id", "id", "lifecycle_stage", "tags", "attributes", "created_at", "updated_at", "version"}, rows); err != nil {
				return err
			}
			return sc.Tx().InsertRows(ctx, "crm_activities", []string{"tenant_id", "id", "contact_id", "kind", "name", "occurred_at", "properties", "amount", "currency", "created_at"}, acts)
		}))
		theirs := analytics.Module.Service(other)

		got, err := theirs.StoreScores(ctx, analytics.StoreScoresOptions{})
		require.NoError(t, err)
		require.Equal(t, int64(3), got.Stored)
		for id, s := range storedScores(t, b.sc, d) {
			require.Nil(t, s, "%s: the other tenant's call wrote nothing here", id)
		}
		theirScores := storedScores(t, other, od)

		got, err = b.svc.StoreScores(ctx, analytics.StoreScoresOptions{})
		require.NoError(t, err)
		rfm, err := b.svc.RFM(ctx, analytics.RFMOptions{})
		require.NoError(t, err)
		require.Equal(t, int64(len(rfm.Customers)), got.Stored, "this tenant's customers only")
		require.Equal(t, theirScores, storedScores(t, other, od), "nor this tenant's there")

		// Restricted, a customer keeps its scores while the others move on.
		kept := rfm.Customers[0].ContactID
		require.NoError(t, contacts.Module.Contacts(b.sc).Restrict(ctx, kept, "request"))
		was := storedScores(t, b.sc, d)[kept]
		b.clock.Set(now.AddDate(0, 0, 30), time.Millisecond)
		got, err = b.svc.StoreScores(ctx, analytics.StoreScoresOptions{})
		require.NoError(t, err)
		require.Equal(t, got.Customers-1, got.Stored)
		require.Equal(t, was, storedScores(t, b.sc, d)[kept])
		require.Equal(t, theirScores, storedScores(t, other, od))
	})
}

// The segment names analytics gives are the ones the contacts module
// stores and filters by.
func TestSegmentNamesAreTheContactsModules(t *testing.T) {
	t.Parallel()
	var names []string
	for r := 1; r <= 5; r++ {
		for f := 1; f <= 5; f++ {
			if s := string(analytics.SegmentOf(r, f)); !slices.Contains(names, s) {
				names = append(names, s)
			}
		}
	}
	require.ElementsMatch(t, contacts.RFMSegments, names)
}

// Storing needs "analytics" read to compute and, to write every
// customer's scores, the contacts module's update with every contact in
// view: a sales rep who sees their own contacts (whose quintiles would be
// ranked among those alone) or a read-only user is refused, and the
// refusal is audited by the module that refused.
func TestStoreScoresAccess(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		o := newOffice(t, db)
		for user, want := range map[string]string{"root": "", "erin": "", "carol": "contacts:update", "alice": "contacts:update",
			"rita": "contacts:update", "sam": "analytics:read", "nobody": "analytics:read"} {
			got, err := o.c.Analytics.StoreScores(as(user), analytics.StoreScoresOptions{})
			if want == "" {
				require.NoError(t, err, user)
				require.Equal(t, int64(2), got.Stored, user)
				continue
			}
			require.ErrorIs(t, err, core.ErrForbidden, user)
			require.Contains(t, err.Error(), user)
			entries, err := o.c.Consent.Audit(context.Background(), consent.AuditQuery{Limit: store.MaxLimit})
			require.NoError(t, err)
			var denied []string
			for _, e := range entries {
				if e.Action == analytics.AuditDenied && e.ActorID == user {
					denied = append(denied, e.Detail)
				}
			}
			require.Equal(t, []string{want}, denied, user)
		}
		n, err := o.c.Contacts.Count(context.Background(), filter.Exists("rfm_segment"))
		require.NoError(t, err)
		require.Equal(t, int64(2), n)
	})
}

// The module declares the refresh, off until the host sets an interval,
// for every tenant with contacts; a run stores the scores of the tenant
// it is given.
func TestPeriodicRefreshStoresScores(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		var refresh *module.Periodic
		for _, p := range analytics.Module.Declare().Periodic {
			if p.Name == analytics.PeriodicStoreScores {
				refresh = &p
			}
		}
		require.NotNil(t, refresh)
		require.Zero(t, refresh.Every, "off unless configured")
		require.Equal(t, "crm_contacts", refresh.Table)
		d := randomData(t, b, rand.New(rand.NewPCG(91, 92)), 40, 0)
		b.load(t, d)
		require.NoError(t, refresh.Run(context.Background(), b.sc))
		rfm, err := b.svc.RFM(context.Background(), analytics.RFMOptions{})
		require.NoError(t, err)
		require.NotEmpty(t, rfm.Customers)
		stored := storedScores(t, b.sc, d)
		for _, r := range rfm.Customers {
			require.NotNil(t, stored[r.ContactID])
			require.Equal(t, string(r.Segment), stored[r.ContactID].Segment)
		}
	})
}
