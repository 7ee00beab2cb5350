package demo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/pipeline"
)

// The demo's deals: created and moved through their pipeline's stages.

// planDeal plans a deal of p in pipeline pi: created, moved stage by
// stage, and won, lost or left open in a stage.
func (f *filler) planDeal(p *person, pi int) {
	pl := f.pipelines[pi]
	var open []pipeline.Stage
	var won, lost pipeline.Stage
	for _, s := range pl.Stages {
		switch s.Kind {
		case pipeline.StageOpen:
			open = append(open, s)
		case pipeline.StageWon:
			won = s
		case pipeline.StageLost:
			lost = s
		}
	}
	// The outcome: customers win (their renewal may churn); others lose
	// or stay open; the first deals of a pipeline cycle through all.
	outcomes := len(open) + 2 // open stages, won, lost
	var fate int
	if n := f.dealCount(pi); n < outcomes {
		fate = n
	} else {
		switch {
		case pi == 0 && (p.stage == contacts.StageCustomer || p.stage == contacts.StageEvangelist):
			fate = len(open)
		case f.rng.Float64() < 0.35:
			fate = len(open) + 1
		case pi == 1 && f.rng.Float64() < 0.6:
			fate = len(open)
		default:
			fate = f.rng.IntN(len(open))
		}
	}
	var path []pipeline.Stage
	switch {
	case fate < len(open):
		path = open[:fate+1]
	case fate == len(open):
		path = append(slices.Clone(open), won)
	default:
		path = append(slices.Clone(open[:1+f.rng.IntN(len(open))]), lost)
	}
	start := f.between(p.created.Add(24*time.Hour), p.created.Add(60*24*time.Hour))
	step := time.Duration(5+f.rng.IntN(20)) * 24 * time.Hour
	if room := f.opts.Until.Add(-time.Hour).Sub(start); room < step*time.Duration(len(path)) {
		if room <= 0 {
			return
		}
		step = room / time.Duration(len(path)+1)
	}
	pr := pick(f.rng, products)
	amount := pr.Cents * int64(1+f.rng.IntN(20))
	title := fmt.Sprintf("%s %s %s", p.contact.LastName, pick(f.rng, dealTitles), pr.SKU)
	if pi == 1 {
		title = fmt.Sprintf("%s renewal %s", p.contact.LastName, pr.SKU)
	}
	source := pick(f.rng, dealSources)
	region := pick(f.rng, []string{"dach", "nordics", "west", "south", "east"})
	reason := pick(f.rng, lostReasons)
	owner := p.contact.OwnerID
	var deal *pipeline.Deal
	f.add(start, func(ctx context.Context) error {
		var err error
		deal, err = f.c.Deals.Create(ctx, pipeline.NewDeal{Title: title, Amount: core.MoneyFromMinor(amount, "EUR"), ContactID: ptr(f.id(p)),
			CompanyID: p.companyID, OwnerID: owner, PipelineID: pl.ID, StageID: path[0].ID, Source: source,
			ExpectedClose: core.DateOf(start.Add(step * time.Duration(len(path)+1))), Attributes: map[string]any{"region": region}})
		f.sum.Deals++
		return err
	})
	for i, s := range path[1:] {
		at := start.Add(step * time.Duration(i+1))
		s := s
		f.add(at, func(ctx context.Context) error {
			if deal == nil {
				return errors.New("a deal moved before it was made")
			}
			var err error
			switch s.Kind {
			case pipeline.StageWon:
				deal, err = f.c.Deals.Win(ctx, deal.ID, deal.Version)
				f.sum.Won++
			case pipeline.StageLost:
				deal, err = f.c.Deals.Lose(ctx, deal.ID, deal.Version, reason)
				f.sum.Lost++
			default:
				deal, err = f.c.Deals.MoveStage(ctx, deal.ID, deal.Version, s.ID)
			}
			return err
		})
	}
	f.bumpDeal(pi)
}

// dealCount is how many deals of pipeline pi are planned: the first
// ones of each pipeline go through every outcome in turn, so that every
// stage has deals.
func (f *filler) dealCount(pi int) int { return f.planned[pi] }
func (f *filler) bumpDeal(pi int)      { f.planned[pi]++ }

func ptr[T any](v T) *T { return &v }
