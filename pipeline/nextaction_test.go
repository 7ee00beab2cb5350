package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/pipeline"
)

func actions(s []pipeline.Suggestion) []pipeline.Action {
	out := make([]pipeline.Action, len(s))
	for i, x := range s {
		out[i] = x.Action
	}
	return out
}

func TestNextActions(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		b.clock.Jump(t0)
		p, err := b.pipelines.Default(ctx)
		require.NoError(t, err)
		demo, proposal := p.Stages[1], p.Stages[2]
		// Six past deals spent two days in Demo.
		for i := 0; i < 6; i++ {
			d, err := b.deals.Create(ctx, pipeline.NewDeal{Title: "past", Amount: eur("1"), OwnerID: "ann", StageID: demo.ID})
			require.NoError(t, err)
			b.clock.Jump(b.clock.Now().Add(48 * time.Hour))
			_, err = b.deals.MoveStage(ctx, d.ID, d.Version, proposal.ID)
			require.NoError(t, err)
		}
		vel, err := b.deals.Velocity(ctx, p.ID, core.MustDate("2026-01-01"), core.MustDate("2027-01-01"))
		require.NoError(t, err)
		require.Equal(t, "Demo", vel[1].Stage.Name)
		require.Equal(t, 6, vel[1].Visits)
		require.Equal(t, 48*time.Hour, vel[1].Median)
		require.Equal(t, 48*time.Hour, vel[1].Average)
		require.Zero(t, vel[0].Visits)

		ada, err := b.contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
		require.NoError(t, err)
		start := b.clock.Now()
		d, err := b.deals.Create(ctx, pipeline.NewDeal{Title: "Acme", Amount: eur("5000"), ContactID: &ada.ID, StageID: demo.ID,
			ExpectedClose: core.DateOf(start.AddDate(0, 0, 10))})
		require.NoError(t, err)

		// Fresh: only the missing owner.
		got, err := b.deals.NextActions(ctx, d.ID, pipeline.NextActionOptions{})
		require.NoError(t, err)
		require.Equal(t, []pipeline.Action{pipeline.ActionAssignOwner}, actions(got))

		// Twenty days on: idle, past its close date, five times the median.
		b.clock.Jump(start.AddDate(0, 0, 20))
		got, err = b.deals.NextActions(ctx, d.ID, pipeline.NextActionOptions{})
		require.NoError(t, err)
		require.Equal(t, []pipeline.Action{pipeline.ActionAssignOwner, pipeline.ActionEscalate, pipeline.ActionFollowUp, pipeline.ActionUpdateCloseDate}, actions(got), "%+v", got)
		require.Contains(t, got[1].Reason, "the median of 6 past deals is 2 days")
		require.Contains(t, got[2].Reason, "no activity for 20 days")

		// An activity of the contact resets the follow-up.
		_, err = b.contacts.Track(ctx, contacts.ByID(ada.ID), contacts.NewActivity{Kind: contacts.KindCall})
		require.NoError(t, err)
		got, err = b.deals.NextActions(ctx, d.ID, pipeline.NextActionOptions{})
		require.NoError(t, err)
		require.NotContains(t, actions(got), pipeline.ActionFollowUp)

		// A hot, qualified lead without an owner or an open deal.
		scoring := contacts.Module.Scoring(b.sc)
		e := filter.Ne("email", "")
		_, err = scoring.SetModel(ctx, 0, contacts.ScoringModel{Rules: []contacts.ScoringRule{{Name: "Anyone", Points: 70, When: &e}},
			Thresholds: []contacts.ScoreThreshold{{Score: 60, Stage: contacts.StageMQL}}})
		require.NoError(t, err)
		grace, err := b.contacts.Create(ctx, contacts.NewContact{Email: "grace@example.com"})
		require.NoError(t, err)
		_, err = scoring.ScoreContact(ctx, grace.ID)
		require.NoError(t, err)
		lead, err := b.deals.LeadActions(ctx, grace.ID, pipeline.NextActionOptions{})
		require.NoError(t, err)
		require.Equal(t, []pipeline.Action{pipeline.ActionAssignOwner, pipeline.ActionCreateDeal}, actions(lead))
		require.Equal(t, "score 70 and no owner", lead[0].Reason)

		// Closed deals need nothing.
		cur, err := b.deals.Get(ctx, d.ID)
		require.NoError(t, err)
		_, err = b.deals.Win(ctx, d.ID, cur.Version)
		require.NoError(t, err)
		got, err = b.deals.NextActions(ctx, d.ID, pipeline.NextActionOptions{})
		require.NoError(t, err)
		require.Empty(t, got)
	})
}
