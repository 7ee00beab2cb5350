package contacts_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/store"
)

// customer is the stored scores a test expects of a contact.
func customer(r, f, m int, segment string, pAlive *float64, overdue bool, at time.Time) *contacts.CustomerFacts {
	return &contacts.CustomerFacts{R: r, F: f, M: m, Segment: segment, PAlive: pAlive, Overdue: overdue, ScoredAt: at}
}

// listIDs returns the ids List gives for f (and checks that Count and the
// in-memory Match agree), sorted.
func listIDs(t *testing.T, b *bundle, f filter.Expr) []core.ID {
	t.Helper()
	all := listAll(t, b, filter.Expr{})
	got := ids(listAll(t, b, f))
	n, err := b.svc.Count(context.Background(), f)
	require.NoError(t, err)
	require.Equal(t, int64(len(got)), n, "count %v", f)
	var want []core.ID
	for _, c := range all {
		ok, err := contacts.Schema.Match(f, c, b.clock.Now())
		require.NoError(t, err)
		if ok {
			want = append(want, c.ID)
		}
	}
	slices.SortFunc(got, compareID)
	slices.SortFunc(want, compareID)
	require.Equal(t, sortedOrEmpty(want), got, "SQL and Match disagree on %v", f)
	return got
}

func sortedOrEmpty(ids []core.ID) []core.ID {
	if ids == nil {
		return []core.ID{}
	}
	return ids
}

func idsOf(cs ...*contacts.Contact) []core.ID {
	out := []core.ID{}
	for _, c := range cs {
		out = append(out, c.ID)
	}
	slices.SortFunc(out, compareID)
	return out
}

// Stored customer scores show in the contact's facts, filter and sort
// like the other facts (SQL and Match agreeing), replace the scores
// stored before (clearing those left out), skip restricted and deleted
// contacts, change no version and emit no event, and stay in their
// tenant.
func TestCustomerScoresStoredAndFiltered(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		scoring := contacts.Module.Scoring(b.sc)
		var cs []*contacts.Contact
		for _, name := range []string{"ada", "bob", "cyd", "dan", "rex", "gone"} {
			c, err := b.svc.Create(ctx, contacts.NewContact{Email: name + "@example.com"})
			require.NoError(t, err)
			cs = append(cs, c)
		}
		ada, bob, cyd, dan, rex, gone := cs[0], cs[1], cs[2], cs[3], cs[4], cs[5]
		require.NoError(t, b.svc.Delete(ctx, gone.ID))
		before := len(b.events(t))

		asOf := time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC)
		res, err := scoring.SetCustomerScores(ctx, asOf, []contacts.CustomerScore{
			{ContactID: bob.ID, R: 1, F: 3, M: 2, Segment: "at_risk", PAlive: ptr(0.2), Overdue: true},
			{ContactID: ada.ID, R: 5, F: 5, M: 4, Segment: "champions", PAlive: ptr(0.9)},
			{ContactID: cyd.ID, R: 2, F: 1, M: 1, Segment: "hibernating"},
			{ContactID: rex.ID, R: 4, F: 4, M: 4, Segment: "loyal", PAlive: ptr(0.5)},
			{ContactID: gone.ID, R: 4, F: 4, M: 4, Segment: "loyal", PAlive: ptr(0.5)},
		})
		require.NoError(t, err)
		require.Equal(t, contacts.CustomerScoresResult{Stored: 4}, res, "the deleted contact is skipped")
		require.Len(t, b.events(t), before, "no event")

		got, err := b.svc.Get(ctx, ada.ID)
		require.NoError(t, err)
		require.Equal(t, customer(5, 5, 4, "champions", ptr(0.9), false, asOf), got.Facts.Customer)
		require.Equal(t, ada.Version, got.Version, "facts do not change the version")
		require.Equal(t, ada.UpdatedAt, got.UpdatedAt)
		got, err = b.svc.Get(ctx, cyd.ID)
		require.NoError(t, err)
		require.Equal(t, customer(2, 1, 1, "hibernating", nil, false, asOf), got.Facts.Customer, "P(alive) unknown")
		got, err = b.svc.Get(ctx, dan.ID)
		require.NoError(t, err)
		require.Nil(t, got.Facts.Customer)

		// Filters over the scores, list and count, as Match decides them.
		for _, tc := range []struct {
			f    filter.Expr
			want []core.ID
		}{
			{filter.Eq("rfm_segment", "at_risk"), idsOf(bob)},
			{filter.In("rfm_segment", "champions", "loyal"), idsOf(ada, rex)},
			{filter.Exists("rfm_segment"), idsOf(ada, bob, cyd, rex)},
			{filter.Not(filter.Exists("rfm_segment")), idsOf(dan)},
			{filter.Eq("churn_overdue", true), idsOf(bob)},
			{filter.Eq("churn_overdue", false), idsOf(ada, cyd, rex)},
			{filter.Lt("p_alive", 0.5), idsOf(bob)},
			{filter.Gte("p_alive", 0.5), idsOf(ada, rex)},
			{filter.Not(filter.Gte("p_alive", 0.5)), idsOf(bob, cyd, dan)},
			{filter.Gte("rfm_r", 4), idsOf(ada, rex)},
			{filter.And(filter.Eq("rfm_f", 5), filter.Eq("rfm_m", 4)), idsOf(ada)},
			{filter.Lte("customer_scored_at", asOf.Format(time.RFC3339)), idsOf(ada, bob, cyd, rex)},
		} {
			require.Equal(t, tc.want, listIDs(t, b, tc.f), "%v", tc.f)
		}
		page, err := b.svc.List(ctx, contacts.ListOptions{Sort: "-p_alive", Limit: 3})
		require.NoError(t, err)
		require.Equal(t, []core.ID{ada.ID, rex.ID, bob.ID}, ids(page.Items))
		_, err = b.svc.List(ctx, contacts.ListOptions{Filter: filter.Eq("rfm_segment", "vip")})
		require.ErrorIs(t, err, core.ErrInvalid, "not a segment")

		// Another tenant's call neither writes nor clears this tenant's
		// contacts; this tenant's leaves the other's alone.
		otherSvc, _ := b.forTenant("other")
		otherScoring := contacts.Module.Scoring(b.sc.WithTenant("other"))
		theirs, err := otherSvc.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
		require.NoError(t, err)
		res, err = otherScoring.SetCustomerScores(ctx, asOf, []contacts.CustomerScore{
			{ContactID: theirs.ID, R: 3, F: 3, M: 3, Segment: "need_attention"},
			{ContactID: bob.ID, R: 5, F: 5, M: 5, Segment: "champions"},
		})
		require.NoError(t, err)
		require.Equal(t, contacts.CustomerScoresResult{Stored: 1}, res)
		got, err = b.svc.Get(ctx, bob.ID)
		require.NoError(t, err)
		require.Equal(t, "at_risk", got.Facts.Customer.Segment)

		// A restricted contact keeps its scores; the others are replaced,
		// and those left out lose theirs.
		require.NoError(t, b.svc.Restrict(ctx, rex.ID, "request"))
		later := asOf.AddDate(0, 0, 1)
		res, err = scoring.SetCustomerScores(ctx, later, []contacts.CustomerScore{
			{ContactID: dan.ID, R: 3, F: 3, M: 3, Segment: "need_attention", PAlive: ptr(0.4)},
			{ContactID: rex.ID, R: 1, F: 1, M: 1, Segment: "lost", PAlive: ptr(0.01)},
			{ContactID: bob.ID, R: 2, F: 2, M: 2, Segment: "hibernating", PAlive: ptr(0.1)},
		})
		require.NoError(t, err)
		require.Equal(t, contacts.CustomerScoresResult{Stored: 2, Cleared: 2}, res)
		for _, c := range []struct {
			id   core.ID
			want *contacts.CustomerFacts
		}{
			{ada.ID, nil}, {cyd.ID, nil},
			{bob.ID, customer(2, 2, 2, "hibernating", ptr(0.1), false, later)},
			{dan.ID, customer(3, 3, 3, "need_attention", ptr(0.4), false, later)},
			{rex.ID, customer(4, 4, 4, "loyal", ptr(0.5), false, asOf)},
		} {
			got, err := b.svc.Get(ctx, c.id)
			require.NoError(t, err)
			require.Equal(t, c.want, got.Facts.Customer, "%s", c.id)
		}
		require.Equal(t, idsOf(dan), listIDs(t, b, filter.Eq("rfm_segment", "need_attention")))

		// No scores clear every unrestricted contact's, in this tenant.
		res, err = scoring.SetCustomerScores(ctx, later, nil)
		require.NoError(t, err)
		require.Equal(t, contacts.CustomerScoresResult{Cleared: 2}, res)
		require.Equal(t, idsOf(rex), listIDs(t, b, filter.Exists("customer_scored_at")))
		got, err = otherSvc.Get(ctx, theirs.ID)
		require.NoError(t, err)
		require.Equal(t, customer(3, 3, 3, "need_attention", nil, false, asOf), got.Facts.Customer)
		require.Len(t, b.events(t), before+1, "only the restriction's event")
	})
}

// Bad input lists its problems and writes nothing.
func TestCustomerScoresRefuseBadInput(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		scoring := contacts.Module.Scoring(b.sc)
		ada, err := b.svc.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
		require.NoError(t, err)
		bob, err := b.svc.Create(ctx, contacts.NewContact{Email: "bob@example.com"})
		require.NoError(t, err)
		asOf := time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC)
		_, err = scoring.SetCustomerScores(ctx, asOf, []contacts.CustomerScore{{ContactID: ada.ID, R: 1, F: 1, M: 1, Segment: "lost"}})
		require.NoError(t, err)

		_, err = scoring.SetCustomerScores(ctx, time.Time{}, []contacts.CustomerScore{
			{ContactID: core.NilID, R: 1, F: 1, M: 1, Segment: "lost"},
			{ContactID: bob.ID, R: 0, F: 6, M: -1, Segment: "vip", PAlive: ptr(math.NaN())},
			{ContactID: ada.ID, R: 5, F: 5, M: 5, Segment: "champions", PAlive: ptr(1.5)},
			{ContactID: bob.ID, R: 2, F: 2, M: 2, Segment: "hibernating"},
		})
		require.ErrorIs(t, err, core.ErrInvalid)
		var v *core.ValidationError
		require.True(t, errors.As(err, &v))
		var fields []string
		for _, f := range v.Fields {
			fields = append(fields, f.Field)
		}
		require.ElementsMatch(t, []string{"as_of", "scores[0].contact_id", "scores[1].r", "scores[1].f", "scores[1].m",
			"scores[1].segment", "scores[1].p_alive", "scores[2].p_alive", "scores[3].contact_id"}, fields)
		require.Contains(t, err.Error(), "repeats the contact of scores[1]")
		require.Contains(t, err.Error(), bob.ID.String())
		require.NotContains(t, err.Error(), "@")
		require.True(t, len(err.Error()) > 4 && err.Error()[:4] == "crm:", err.Error())

		_, err = scoring.SetCustomerScores(ctx, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), nil)
		require.ErrorIs(t, err, core.ErrInvalid)
		require.Contains(t, err.Error(), "as_of")

		// Many bad rows: the first 100 problems, then how many more.
		many := make([]contacts.CustomerScore, 150)
		for i := range many {
			many[i] = contacts.CustomerScore{ContactID: core.NewID(), R: 0, F: 1, M: 1, Segment: "new"}
		}
		_, err = scoring.SetCustomerScores(ctx, asOf, many)
		require.True(t, errors.As(err, &v))
		require.Len(t, v.Fields, 101)
		require.Equal(t, core.FieldError{Field: "scores", Message: "have 50 more problems"}, v.Fields[100])

		// Nothing was written.
		got, err := b.svc.Get(ctx, ada.ID)
		require.NoError(t, err)
		require.Equal(t, customer(1, 1, 1, "lost", nil, false, asOf), got.Facts.Customer)
		got, err = b.svc.Get(ctx, bob.ID)
		require.NoError(t, err)
		require.Nil(t, got.Facts.Customer)
	})
}

// Across statements (512 contacts each) every contact listed gets its own
// scores and every other loses the ones it had, whatever the input's
// order; a caller's transaction that fails takes them back.
func TestCustomerScoresInChunks(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		scoring := contacts.Module.Scoring(b.sc)
		const n = 1100
		ids := make([]core.ID, n)
		var rows [][]any
		for i := range ids {
			ids[i] = core.NewID()
			rows = append(rows, []any{"default", ids[i], "lead", "[]", "{}", b.clock.Now(), b.clock.Now(), 1})
		}
		require.NoError(t, b.sc.InTx(ctx, func(ctx context.Context, sc store.Scope) error {
			return sc.Tx().InsertRows(ctx, "crm_contacts", []string{"tenant_id", "id", "lifecycle_stage", "tags", "attributes", "created_at", "updated_at", "version"}, rows)
		}))
		rng := rand.New(rand.NewPCG(3, 4))
		scoreOf := func(i, round int) contacts.CustomerScore {
			k := i + round
			return contacts.CustomerScore{ContactID: ids[i], R: 1 + k%5, F: 1 + (k/5)%5, M: 1 + (k/25)%5,
				Segment: contacts.RFMSegments[k%len(contacts.RFMSegments)], PAlive: ptr(float64(k%1000) / 999), Overdue: k%2 == 0}
		}
		check := func(round int, in func(i int) bool, at time.Time) {
			t.Helper()
			all := listAll(t, b, filter.Expr{})
			require.Len(t, all, n)
			index := map[core.ID]int{}
			for i, id := range ids {
				index[id] = i
			}
			for _, c := range all {
				i := index[c.ID]
				if !in(i) {
					require.Nil(t, c.Facts.Customer, "contact %d", i)
					continue
				}
				s := scoreOf(i, round)
				require.Equal(t, customer(s.R, s.F, s.M, s.Segment, s.PAlive, s.Overdue, at), c.Facts.Customer, "contact %d", i)
			}
		}
		set := func(round int, in func(i int) bool, at time.Time) contacts.CustomerScoresResult {
			t.Helper()
			var scores []contacts.CustomerScore
			for i := range ids {
				if in(i) {
					scores = append(scores, scoreOf(i, round))
				}
			}
			rng.Shuffle(len(scores), func(i, j int) { scores[i], scores[j] = scores[j], scores[i] })
			res, err := scoring.SetCustomerScores(ctx, at, scores)
			require.NoError(t, err)
			return res
		}
		first := func(i int) bool { return i%3 != 0 }
		second := func(i int) bool { return i%2 == 0 || i >= n-5 }
		at1, at2 := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 2, 0, 0, 0, 0, time.UTC)
		count := func(f func(i int) bool) (k int64) {
			for i := range n {
				if f(i) {
					k++
				}
			}
			return k
		}
		require.Equal(t, contacts.CustomerScoresResult{Stored: count(first)}, set(0, first, at1))
		check(0, first, at1)
		res := set(1, second, at2)
		require.Equal(t, contacts.CustomerScoresResult{Stored: count(second),
			Cleared: count(func(i int) bool { return first(i) && !second(i) })}, res)
		check(1, second, at2)

		// In a transaction that then fails, nothing stays.
		boom := fmt.Errorf("boom")
		err := b.sc.InTx(ctx, func(ctx context.Context, sc store.Scope) error {
			if _, err := contacts.Module.Scoring(sc).SetCustomerScores(ctx, at1, nil); err != nil {
				return err
			}
			return boom
		})
		require.ErrorIs(t, err, boom)
		check(1, second, at2)
	})
}
