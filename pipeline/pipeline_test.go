package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
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

func TestPipelinesAndStages(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		def, err := b.pipelines.Default(ctx)
		require.NoError(t, err)
		require.Equal(t, pipeline.DefaultPipelineName, def.Name)
		require.Len(t, def.Stages, len(pipeline.DefaultStages))
		require.Equal(t, 50, def.Stages[2].Probability)
		again, err := b.pipelines.Default(ctx)
		require.NoError(t, err)
		require.Equal(t, def.ID, again.ID, "created once")

		// Every problem of a pipeline is listed.
		_, err = b.pipelines.Create(ctx, pipeline.NewPipeline{Name: "", Stages: []pipeline.NewStage{
			{Name: "Talk", Probability: 120, Kind: pipeline.StageOpen},
			{Name: "talk", Probability: 10, Kind: pipeline.StageOpen},
			{Name: "Won", Probability: 90, Kind: pipeline.StageWon},
			{Name: "Gone", Probability: 0, Kind: "vanished"},
		}})
		require.ErrorIs(t, err, core.ErrInvalid)
		for _, want := range []string{"name is required", "stages[0].probability", "stages[1].name", "stages[2].probability", "stages[3].kind", "lost stage"} {
			require.Contains(t, err.Error(), want)
		}
		renewals, err := b.pipelines.Create(ctx, pipeline.NewPipeline{Name: "Renewals", Stages: []pipeline.NewStage{
			{Name: "Due", Probability: 60, Kind: pipeline.StageOpen},
			{Name: "Renewed", Probability: 100, Kind: pipeline.StageWon},
			{Name: "Churned", Probability: 0, Kind: pipeline.StageLost},
		}})
		require.NoError(t, err)
		require.Equal(t, 1, renewals.Position)
		_, err = b.pipelines.Create(ctx, pipeline.NewPipeline{Name: "Renewals"})
		require.ErrorIs(t, err, core.ErrConflict)

		// Structural changes name the version they read.
		p, err := b.pipelines.AddStage(ctx, renewals.ID, renewals.Version, pipeline.NewStage{Name: "Quote sent", Probability: 80, Kind: pipeline.StageOpen}, 1)
		require.NoError(t, err)
		require.Equal(t, []string{"Due", "Quote sent", "Renewed", "Churned"}, stageNames(p))
		_, err = b.pipelines.Rename(ctx, renewals.ID, renewals.Version, "Stale")
		require.ErrorIs(t, err, core.ErrConflict)
		ids := []core.ID{p.Stages[1].ID, p.Stages[0].ID, p.Stages[2].ID, p.Stages[3].ID}
		p, err = b.pipelines.ReorderStages(ctx, p.ID, p.Version, ids)
		require.NoError(t, err)
		require.Equal(t, []string{"Quote sent", "Due", "Renewed", "Churned"}, stageNames(p))
		_, err = b.pipelines.ReorderStages(ctx, p.ID, p.Version, ids[:2])
		require.ErrorIs(t, err, core.ErrInvalid)
		seventy := 70
		p, err = b.pipelines.UpdateStage(ctx, p.ID, p.Version, p.Stages[0].ID, pipeline.StagePatch{Probability: &seventy})
		require.NoError(t, err)
		require.Equal(t, 70, p.Stages[0].Probability)
		_, err = b.pipelines.ArchiveStage(ctx, p.ID, p.Version, p.Stages[2].ID, true)
		require.ErrorIs(t, err, core.ErrInvalid, "the only won stage cannot be archived")

		// A stage holding deals is deleted only by moving them.
		due, quote := p.Stages[1], p.Stages[0]
		d, err := b.deals.Create(ctx, pipeline.NewDeal{Title: "Acme renewal", Amount: eur("1000"), PipelineID: p.ID, StageID: due.ID})
		require.NoError(t, err)
		_, err = b.pipelines.DeleteStage(ctx, p.ID, p.Version, due.ID, core.NilID)
		require.ErrorIs(t, err, core.ErrConflict)
		require.Contains(t, err.Error(), "holds 1 deals")
		_, err = b.pipelines.DeleteStage(ctx, p.ID, p.Version, due.ID, p.Stages[2].ID)
		require.ErrorIs(t, err, core.ErrInvalid, "deals move to a stage of the same kind")
		p, err = b.pipelines.DeleteStage(ctx, p.ID, p.Version, due.ID, quote.ID)
		require.NoError(t, err)
		require.Equal(t, []string{"Quote sent", "Renewed", "Churned"}, stageNames(p))
		moved, err := b.deals.Get(ctx, d.ID)
		require.NoError(t, err)
		require.Equal(t, quote.ID, moved.StageID)
		hist, err := b.deals.History(ctx, d.ID)
		require.NoError(t, err)
		require.Len(t, hist, 2)
		require.Equal(t, due.ID, hist[0].StageID)
		require.NotNil(t, hist[0].LeftAt)

		all, err := b.pipelines.List(ctx)
		require.NoError(t, err)
		require.Len(t, all, 2)

		// Another tenant sees none of it.
		other := b.tenant("other")
		_, err = other.pipelines.Get(ctx, p.ID)
		require.ErrorIs(t, err, core.ErrNotFound)
		_, err = other.deals.Get(ctx, d.ID)
		require.ErrorIs(t, err, core.ErrNotFound)
		_, err = other.deals.MoveStage(ctx, d.ID, moved.Version, quote.ID)
		require.ErrorIs(t, err, core.ErrNotFound)
		_, err = other.deals.Create(ctx, pipeline.NewDeal{Title: "x", Amount: eur("1"), PipelineID: p.ID})
		require.ErrorIs(t, err, core.ErrInvalid)
		page, err := other.deals.List(ctx, pipeline.DealListOptions{})
		require.NoError(t, err)
		require.Empty(t, page.Items)
		_, err = other.deals.Board(ctx, p.ID, pipeline.BoardOptions{})
		require.ErrorIs(t, err, core.ErrNotFound)
		_, _, _, err = other.deals.SetLineItems(ctx, d.ID, moved.Version, nil)
		require.ErrorIs(t, err, core.ErrNotFound)
		_, err = other.deals.History(ctx, d.ID)
		require.ErrorIs(t, err, core.ErrNotFound)
		require.ErrorIs(t, other.deals.Delete(ctx, d.ID), core.ErrNotFound)
		rows, err := other.deals.Forecast(ctx, pipeline.ForecastOptions{From: core.MustDate("2020-01-01"), To: core.MustDate("2030-01-01")})
		require.NoError(t, err)
		require.Empty(t, rows)
		widget, err := b.products.Create(ctx, pipeline.NewProduct{SKU: "W", Name: "Widget", UnitPrice: eur("1")})
		require.NoError(t, err)
		_, err = other.products.Get(ctx, widget.ID)
		require.ErrorIs(t, err, core.ErrNotFound)
		_, err = other.products.Update(ctx, widget.ID, pipeline.ProductPatch{Version: widget.Version, Name: ptr("Mine")})
		require.ErrorIs(t, err, core.ErrNotFound)
	})
}

func stageNames(p *pipeline.Pipeline) []string {
	out := make([]string, len(p.Stages))
	for i, s := range p.Stages {
		out[i] = s.Name
	}
	return out
}

func TestDealLifecycle(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		ada, err := b.contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
		require.NoError(t, err)
		_, err = b.fields.Define(ctx, fields.Definition{Entity: pipeline.EntityDeal, Key: "segment", Label: "Segment", Type: fields.Enum, Options: []string{"smb", "enterprise"}})
		require.NoError(t, err)

		_, err = b.deals.Create(ctx, pipeline.NewDeal{Title: " ", Amount: core.Money{Currency: "euro"}, ExpectedClose: core.Date{Year: 2026, Month: 2, Day: 30},
			ContactID: ptr(core.NewID()), Attributes: map[string]any{"segment": "galactic"}})
		require.ErrorIs(t, err, core.ErrInvalid)
		for _, f := range []string{"title", "amount.currency", "expected_close", "contact_id", "attributes.segment"} {
			require.Contains(t, err.Error(), f)
		}

		d, err := b.deals.Create(ctx, pipeline.NewDeal{Title: "Acme rollout", Amount: eur("12000.50"), ContactID: &ada.ID,
			OwnerID: "rep-1", ExpectedClose: core.MustDate("2026-04-15"), Attributes: map[string]any{"segment": "enterprise"}})
		require.NoError(t, err)
		require.Equal(t, pipeline.DealOpen, d.Status)
		def, err := b.pipelines.Default(ctx)
		require.NoError(t, err)
		require.Equal(t, def.Stages[0].ID, d.StageID)

		// Two writers move the same version: one wins, the other gets ErrConflict.
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = b.deals.MoveStage(ctx, d.ID, d.Version, def.Stages[1+i].ID)
			}()
		}
		wg.Wait()
		require.Equal(t, 1, countNil(errs), "%v", errs)
		for _, err := range errs {
			if err != nil {
				require.ErrorIs(t, err, core.ErrConflict)
			}
		}
		d, err = b.deals.Get(ctx, d.ID)
		require.NoError(t, err)
		require.Equal(t, int64(2), d.Version)

		other, err := b.pipelines.Create(ctx, pipeline.NewPipeline{Name: "Partners"})
		require.NoError(t, err)
		_, err = b.deals.MoveStage(ctx, d.ID, d.Version, other.Stages[0].ID)
		require.ErrorIs(t, err, core.ErrInvalid, "a stage of another pipeline")

		b.clock.Jump(time.Date(2026, 4, 10, 12, 0, 0, 0, time.UTC))
		won, err := b.deals.Win(ctx, d.ID, d.Version)
		require.NoError(t, err)
		require.Equal(t, pipeline.DealWon, won.Status)
		require.Equal(t, "2026-04-10", won.ClosedOn.String())
		lost, err := b.deals.Lose(ctx, d.ID, won.Version, "went with a competitor")
		require.NoError(t, err)
		require.Equal(t, pipeline.DealLost, lost.Status)
		require.Equal(t, "went with a competitor", lost.LostReason)
		open, err := b.deals.Reopen(ctx, d.ID, lost.Version, def.Stages[3].ID)
		require.NoError(t, err)
		require.Equal(t, pipeline.DealOpen, open.Status)
		require.True(t, open.ClosedOn.IsZero())
		require.Nil(t, open.ClosedAt)
		require.Equal(t, []string{"deal.created", "deal.stage_changed", "deal.stage_changed", "deal.won", "deal.stage_changed", "deal.lost", "deal.stage_changed", "deal.reopened"},
			b.eventTypes(t, d.ID))
		hist, err := b.deals.History(ctx, d.ID)
		require.NoError(t, err)
		require.Len(t, hist, 5)
		require.Nil(t, hist[4].LeftAt)
		require.Equal(t, hist[0].LeftAt.Sub(hist[0].EnteredAt), hist[0].Duration)

		// Update with optimistic concurrency; stale versions are refused.
		title := "Acme rollout, phase 1"
		up, err := b.deals.Update(ctx, d.ID, pipeline.DealPatch{Version: open.Version, Title: &title, Attributes: map[string]any{"segment": "smb"}})
		require.NoError(t, err)
		require.Equal(t, title, up.Title)
		_, err = b.deals.Update(ctx, d.ID, pipeline.DealPatch{Version: open.Version, Title: &title})
		require.ErrorIs(t, err, core.ErrConflict)

		// Merging the contact moves the deal; deleting the winner unlinks it.
		dup, err := b.contacts.Create(ctx, contacts.NewContact{Email: "ada.l@example.com"})
		require.NoError(t, err)
		_, err = b.contacts.Merge(ctx, dup.ID, ada.ID)
		require.NoError(t, err)
		got, err := b.deals.Get(ctx, d.ID)
		require.NoError(t, err)
		require.Equal(t, dup.ID, *got.ContactID)
		require.NoError(t, b.contacts.Delete(ctx, dup.ID))
		unlinked, err := b.deals.Get(ctx, d.ID)
		require.NoError(t, err)
		require.Nil(t, unlinked.ContactID)
		// Both re-links are versions of their own, with "deal.updated"
		// naming the changed field (and the contact the deal was about).
		require.Equal(t, got.Version+1, unlinked.Version)
		evs, err := b.sc.Events(ctx, store.EventQuery{SubjectID: d.ID, Limit: store.MaxLimit})
		require.NoError(t, err)
		last := evs[len(evs)-2:]
		for i, ev := range last {
			require.Equal(t, pipeline.EventDealUpdated, ev.Type)
			var p pipeline.DealUpdated
			require.NoError(t, json.Unmarshal(ev.Data, &p))
			require.Equal(t, []string{"contact_id"}, p.Changed)
			require.Equal(t, []core.ID{dup.ID, dup.ID}[i], *ev.ContactID)
		}

		require.NoError(t, b.deals.Delete(ctx, d.ID))
		_, err = b.deals.Get(ctx, d.ID)
		require.ErrorIs(t, err, core.ErrNotFound)
	})
}

func ptr[T any](v T) *T { return &v }

func countNil(errs []error) int {
	n := 0
	for _, err := range errs {
		if err == nil {
			n++
		}
	}
	return n
}

// Deals filter and sort by amount (currency units), status and custom
// fields; a keyset walk visits each deal once, in order, as Match agrees.
func TestDealsList(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		_, err := b.fields.Define(ctx, fields.Definition{Entity: pipeline.EntityDeal, Key: "seats", Label: "Seats", Type: fields.Number})
		require.NoError(t, err)
		amounts := []string{"100", "2500.75", "99.99", "2500.75", "0", "18000", "7.5"}
		for i, a := range amounts {
			_, err := b.deals.Create(ctx, pipeline.NewDeal{Title: "D" + a, Amount: eur(a), OwnerID: []string{"ann", "bob"}[i%2],
				Attributes: map[string]any{"seats": float64(i)}})
			require.NoError(t, err)
		}
		f := filter.And(filter.Gte("amount", 99.99), filter.Eq("owner_id", "ann"), filter.Lt("attributes.seats", 6))
		var seen []*pipeline.Deal
		opts := pipeline.DealListOptions{Filter: f, Sort: "-amount", Limit: 1}
		for {
			page, err := b.deals.List(ctx, opts)
			require.NoError(t, err)
			seen = append(seen, page.Items...)
			if page.Next == "" {
				break
			}
			opts.Cursor = page.Next
		}
		var got []string
		for _, d := range seen {
			got = append(got, d.Amount.Amount.String())
		}
		require.Equal(t, []string{"100", "99.99"}, got, "ann's deals (rows 0, 2, 4, 6) of at least 99.99")
		// Match, in memory, selects the same deals.
		all, err := b.deals.List(ctx, pipeline.DealListOptions{Limit: 100})
		require.NoError(t, err)
		schema := pipeline.DealSchema.With(filter.Field{Name: "attributes.seats", Column: "x", Type: filter.Number})
		matched := 0
		for _, d := range all.Items {
			ok, err := schema.Match(f, d, time.Now())
			require.NoError(t, err)
			if ok {
				matched++
			}
		}
		require.Equal(t, len(got), matched)
		_, err = b.deals.List(ctx, pipeline.DealListOptions{Filter: filter.Eq("stage", "x")})
		require.ErrorIs(t, err, core.ErrInvalid)
		if errors.Is(err, core.ErrInvalid) {
			require.Contains(t, err.Error(), "stage")
		}
	})
}
