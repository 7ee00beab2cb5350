package pipeline_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/store"
	"github.com/crmkit/crmkit/pipeline"
)

// synthetic fills the tenant with n contacts whose chance to buy is known:
// logistic in their web activity (+0.9 per visit), company size (+0.03 per
// employee) and emails (-0.4 each), with a won deal for those who bought.
// shuffle deals the same wins out at random instead: no signal left. The
// generator is deterministic (seeded).
func synthetic(t *testing.T, b *bundle, n int, shuffle bool) {
	ctx := context.Background()
	_, err := b.fields.Define(ctx, fields.Definition{Entity: "contact", Key: "employees", Label: "Employees", Type: fields.Number})
	require.NoError(t, err)
	p, err := b.pipelines.Default(ctx)
	require.NoError(t, err)
	won := p.FirstStage(pipeline.StageWon)
	rng := rand.New(rand.NewPCG(42, 7))
	now := b.clock.Now()
	ids := make([]core.ID, n)
	labels := make([]bool, n)
	var contactRows, activityRows [][]any
	for i := range n {
		for k := range ids[i] { // ids from the seed too: the holdout split is the same every run
			ids[i][k] = byte(rng.IntN(256))
		}
		employees := math.Round(rng.ExpFloat64() * 40)
		web, emails := rng.IntN(6), rng.IntN(4)
		logit := -3.5 + 0.9*float64(web) + 0.03*employees - 0.4*float64(emails)
		labels[i] = rng.Float64() < 1/(1+math.Exp(-logit))
		contactRows = append(contactRows, []any{"default", ids[i], fmt.Sprintf("s%d@example.com", i), "lead", "[]",
			fmt.Sprintf(`{"employees":%g}`, employees), now, now, 1})
		for k := 0; k < web+emails; k++ {
			kind := "web"
			if k >= web {
				kind = "email"
			}
			activityRows = append(activityRows, []any{"default", core.NewID(), ids[i], kind, "page_view",
				now.Add(-time.Duration(rng.IntN(60*24)) * time.Hour), "{}", now})
		}
	}
	if shuffle {
		rng.Shuffle(n, func(i, j int) { labels[i], labels[j] = labels[j], labels[i] })
	}
	var dealRows [][]any
	for i, y := range labels {
		if y {
			dealRows = append(dealRows, []any{"default", core.NewID(), "won", int64(10_000_000), "EUR", ids[i], p.ID, won.ID, "won",
				now.Format(time.DateOnly), now, false, 0, "{}", now, now, now, 1})
		}
	}
	err = b.sc.InTx(ctx, func(ctx context.Context, sc store.Scope) error {
		tx := sc.Tx()
		if err := tx.InsertRows(ctx, "crm_contacts", []string{"tenant_id", "id", "email", "lifecycle_stage", "tags", "attributes", "created_at", "updated_at", "version"}, contactRows); err != nil {
			return err
		}
		if err := tx.InsertRows(ctx, "crm_activities", []string{"tenant_id", "id", "contact_id", "kind", "name", "occurred_at", "properties", "created_at"}, activityRows); err != nil {
			return err
		}
		return tx.InsertRows(ctx, "crm_deals", []string{"tenant_id", "id", "title", "amount", "currency", "contact_id", "pipeline_id", "stage_id", "status",
			"closed_on", "closed_at", "forecast_commit", "line_items", "attributes", "stage_entered_at", "created_at", "updated_at", "version"}, dealRows)
	})
	require.NoError(t, err)
}

func TestLeadModelLearnsTheSignal(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		// Too little history: a clear error, no model.
		_, err := b.deals.TrainLeadModel(ctx, pipeline.TrainOptions{})
		require.ErrorIs(t, err, pipeline.ErrTooFewWins)
		require.ErrorIs(t, err, core.ErrInvalid)
		_, err = b.deals.LeadModel(ctx)
		require.ErrorIs(t, err, core.ErrNotFound)

		const n = 3000
		synthetic(t, b, n, false)
		m, err := b.deals.TrainLeadModel(ctx, pipeline.TrainOptions{})
		require.NoError(t, err)
		t.Logf("AUC %.3f, Brier %.3f, %d train / %d holdout rows, %d buyers", m.Metrics.AUC, m.Metrics.Brier, m.Metrics.TrainRows, m.Metrics.HoldoutRows, m.Metrics.Positives)
		require.Greater(t, m.Metrics.AUC, 0.8)
		require.Equal(t, n, m.Metrics.TrainRows+m.Metrics.HoldoutRows)
		require.Equal(t, int64(1), m.Version)
		// Better calibrated than knowing the base rate alone (Brier skill),
		// and every holdout contact is in one calibration bin.
		rate := float64(m.Metrics.Positives) / n
		require.Less(t, m.Metrics.Brier, rate*(1-rate)*0.8)
		inBins := 0
		for _, bin := range m.Metrics.Calibration {
			inBins += bin.Count
			require.True(t, bin.Predicted >= bin.From && bin.Predicted <= bin.To, "%+v", bin)
		}
		require.Equal(t, m.Metrics.HoldoutRows, inBins)
		w := map[string]float64{}
		for i, f := range m.Features {
			w[f] = m.Weights[i]
		}
		require.Greater(t, w["activities.web"], 0.5, "web visits raise the odds")
		require.Greater(t, w["attributes.employees"], 0.2)
		require.Less(t, w["activities.email"], 0.0)

		// Predictions explain themselves; batch scoring stores them.
		page, err := b.contacts.List(ctx, contacts.ListOptions{Limit: 1})
		require.NoError(t, err)
		pred, err := b.deals.PredictLead(ctx, page.Items[0].ID)
		require.NoError(t, err)
		require.NotEmpty(t, pred.Reasons)
		require.InDelta(t, pred.Probability*100, float64(pred.Score), 0.5)
		scored, err := b.deals.ScoreLeads(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(n), scored)
		hot, err := b.contacts.Count(ctx, filter.Gte("predicted_score", 50))
		require.NoError(t, err)
		require.Greater(t, hot, int64(0))
		c, err := b.contacts.Get(ctx, page.Items[0].ID)
		require.NoError(t, err)
		require.Equal(t, pred.Score, *c.Facts.PredictedScore)

		// A tracked activity predicts the contact again.
		for i := 0; i < 4; i++ {
			_, err = b.contacts.Track(ctx, contacts.ByID(c.ID), contacts.NewActivity{Kind: contacts.KindWeb, Name: "page_view"})
			require.NoError(t, err)
		}
		after, err := b.contacts.Get(ctx, c.ID)
		require.NoError(t, err)
		require.Greater(t, *after.Facts.PredictedScore, *c.Facts.PredictedScore, "more web visits, higher odds")
	})
}

func TestLeadModelOnShuffledLabels(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		synthetic(t, b, 3000, true)
		m, err := b.deals.TrainLeadModel(context.Background(), pipeline.TrainOptions{})
		require.NoError(t, err)
		t.Logf("AUC on shuffled labels %.3f", m.Metrics.AUC)
		require.InDelta(t, 0.5, m.Metrics.AUC, 0.08, "no signal, no skill")
	})
}
