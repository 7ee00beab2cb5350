package contacts_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
)

func ptrExpr(e filter.Expr) *filter.Expr { return &e }

func TestLeadScoringByRules(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		scoring := contacts.Module.Scoring(b.sc)
		start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
		b.clock.Set(start, time.Millisecond)

		// Every problem of a model is listed, nothing is stored.
		_, err := scoring.SetModel(ctx, 0, contacts.ScoringModel{HalfLifeDays: -1, Rules: []contacts.ScoringRule{
			{Name: "", Points: 5},
			{Name: "Bad field", Points: 5, When: ptrExpr(filter.Eq("shoe_size", "42"))},
			{Name: "Bad kind", Points: 5, Activity: &contacts.ActivityRule{Kind: "telepathy"}},
		}, Thresholds: []contacts.ScoreThreshold{{Score: 50, Stage: contacts.StageSQL}, {Score: 20, Stage: "guru"}}})
		require.ErrorIs(t, err, core.ErrInvalid)
		for _, f := range []string{"half_life_days", "rules[0].name", "rules[0] needs exactly one", "rules[1].when", "rules[2].activity.kind", "thresholds[1].stage", "thresholds[1].score"} {
			require.Contains(t, err.Error(), f)
		}

		m, err := scoring.SetModel(ctx, 0, contacts.ScoringModel{HalfLifeDays: 30, Rules: []contacts.ScoringRule{
			{Name: "Germany", Points: 10, When: ptrExpr(filter.Eq("attributes.country", "DE"))},
			{Name: "VIP", Points: 15, When: ptrExpr(filter.Contains("tags", "vip"))},
			{Name: "Used the price calculator", Points: 20, Activity: &contacts.ActivityRule{Kind: contacts.KindWeb, Name: "pricing_calculator_used"}},
			{Name: "Any email", Points: 2, Activity: &contacts.ActivityRule{Kind: contacts.KindEmail}},
			{Name: "Enterprise pricing page", Points: 100, Activity: &contacts.ActivityRule{Kind: contacts.KindWeb, Name: "page_view", Properties: map[string]string{"path": "/enterprise"}}},
			{Name: "Competitor", Points: -50, When: ptrExpr(filter.Prefix("email", "spy@"))},
		}, Thresholds: []contacts.ScoreThreshold{{Score: 30, Stage: contacts.StageMQL}, {Score: 60, Stage: contacts.StageSQL}}})
		require.NoError(t, err)
		require.Equal(t, int64(1), m.Version)
		_, err = scoring.SetModel(ctx, 0, *m)
		require.ErrorIs(t, err, core.ErrConflict, "a stale version")

		ada, err := b.svc.Create(ctx, contacts.NewContact{Email: "ada@example.com", Attributes: map[string]any{"country": "DE"}})
		require.NoError(t, err)
		bob, err := b.svc.Create(ctx, contacts.NewContact{Email: "bob@example.com", Tags: []string{"vip"}})
		require.NoError(t, err)
		_, err = b.svc.Create(ctx, contacts.NewContact{Email: "spy@example.com"})
		require.NoError(t, err)

		// Tracking rescoring the contact: 10 (Germany) + 20 (calculator) =
		// 30, the MQL threshold.
		_, err = b.svc.Track(ctx, contacts.ByID(ada.ID), contacts.NewActivity{Kind: contacts.KindWeb, Name: "pricing_calculator_used"})
		require.NoError(t, err)
		ada, err = b.svc.Get(ctx, ada.ID)
		require.NoError(t, err)
		require.Equal(t, int64(30), ada.Facts.Score)
		require.Equal(t, contacts.StageMQL, ada.LifecycleStage)
		require.Contains(t, b.eventTypesOf(t, ada.ID), "contact.score_threshold_crossed")

		// Three emails a while ago: 2 points each, decayed.
		for i := 0; i < 3; i++ {
			_, err = b.svc.Track(ctx, contacts.ByID(bob.ID), contacts.NewActivity{Kind: contacts.KindEmail, OccurredAt: start.AddDate(0, 0, -30)})
			require.NoError(t, err)
		}
		bob, err = b.svc.Get(ctx, bob.ID)
		require.NoError(t, err)
		require.Equal(t, int64(18), bob.Facts.Score, "15 + 3 × 2 × ½ = 18")

		// A month later the batch rescore halves the engagement; stages do
		// not move back. Batches of 2 contacts.
		defer contacts.SetRescoreBatch(2)()
		b.clock.Set(start.AddDate(0, 0, 30), time.Millisecond)
		res, err := scoring.Rescore(ctx)
		require.NoError(t, err)
		require.Equal(t, contacts.ScoreResult{Contacts: 3, Changed: 3, Advanced: 0}, res)
		ada, err = b.svc.Get(ctx, ada.ID)
		require.NoError(t, err)
		require.Equal(t, int64(20), ada.Facts.Score, "10 + 20 × ½")
		require.Equal(t, contacts.StageMQL, ada.LifecycleStage)

		// A property rule counts only matching activities.
		carl, err := b.svc.Create(ctx, contacts.NewContact{Email: "carl@example.com"})
		require.NoError(t, err)
		for _, path := range []string{"/blog", "/enterprise"} {
			_, err = b.svc.Track(ctx, contacts.ByID(carl.ID), contacts.NewActivity{Kind: contacts.KindWeb, Name: "page_view", Properties: map[string]any{"path": path}})
			require.NoError(t, err)
		}
		carl, err = b.svc.Get(ctx, carl.ID)
		require.NoError(t, err)
		require.Equal(t, int64(100), carl.Facts.Score)
		require.NoError(t, b.svc.Delete(ctx, carl.ID))

		// Scores filter and sort.
		page, err := b.svc.List(ctx, contacts.ListOptions{Filter: filter.Gte("score", 0), Sort: "-score"})
		require.NoError(t, err)
		var got []string
		for _, c := range page.Items {
			got = append(got, fmt.Sprint(c.Email, "=", c.Facts.Score))
		}
		// bob: 15 + 3 × 2 × ¼, just under 16.5 (the clock is a few ms past
		// 60 days); the spy, at -50, is filtered out.
		require.Equal(t, []string{"ada@example.com=20", "bob@example.com=16"}, got)

		// Unchanged scores are not rewritten.
		res, err = scoring.Rescore(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(0), res.Changed)

		// Another tenant has no model and no scores.
		other := contacts.Module.Scoring(b.sc.WithTenant("other"))
		om, err := other.Model(ctx)
		require.NoError(t, err)
		require.Zero(t, om.Version)
		res, err = other.Rescore(ctx)
		require.NoError(t, err)
		require.Zero(t, res.Contacts)
	})
}
