package pipeline

import (
	"context"
	"slices"
	"strings"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// BoardColumn is one stage of a board: how many deals it holds and their
// sums, one per currency (sorted by currency).
type BoardColumn struct {
	Stage  Stage        `json:"stage"`
	Count  int64        `json:"count"`
	Totals []core.Money `json:"totals"`
}

// Board is a pipeline's deals grouped by stage.
type Board struct {
	Pipeline *Pipeline     `json:"pipeline"`
	Columns  []BoardColumn `json:"columns"`
}

// BoardOptions narrow a board.
type BoardOptions struct {
	// OwnerID keeps one owner's deals.
	OwnerID string
	// Closed adds the won and lost stages with the deals in them.
	Closed bool
}

// Board counts and sums the open deals of the pipeline per stage, in stage
// order (archived stages that hold deals included), in one query. With an
// actor, only the deals they see are counted and summed.
func (s *Deals) Board(ctx context.Context, pipelineID core.ID, opts BoardOptions) (_ *Board, err error) {
	ctx, span := s.sc.SpanID(ctx, "pipeline.Deals.Board", pipelineID)
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	g, err := check(ctx, s.sc, "pipeline", pipelineID, access.Read)
	if err != nil {
		return nil, err
	}
	q := s.sc.Q()
	p, err := getPipeline(ctx, q, tenant, pipelineID, false)
	if err != nil {
		return nil, store.Wrap(err, "board")
	}
	statuses := "d.status = 'open'"
	if opts.Closed {
		statuses = "d.status IN ('open', 'won', 'lost')"
	}
	args := []any{tenant, pipelineID}
	owner := ""
	if opts.OwnerID != "" {
		owner = " AND d.owner_id = ?"
		args = append(args, opts.OwnerID)
	}
	vis, vargs := g.where("d")
	owner += vis
	args = append(args, vargs...)
	rows, err := q.Query(ctx, `SELECT d.stage_id, d.currency, count(*), `+q.D.SumInt("d.amount")+` FROM crm_deals d
		WHERE d.tenant_id = ? AND d.pipeline_id = ? AND `+statuses+owner+`
		GROUP BY d.stage_id, d.currency`, args...)
	if err != nil {
		return nil, store.Wrap(err, "board")
	}
	type cell struct {
		count  int64
		totals []core.Money
	}
	cells := map[core.ID]*cell{}
	err = store.EachRow(rows, func(r store.Scanner) error {
		var stage core.ID
		var currency string
		var n, sum int64
		if err := r.Scan(&stage, &currency, &n, &sum); err != nil {
			return err
		}
		c := cells[stage]
		if c == nil {
			c = &cell{}
			cells[stage] = c
		}
		c.count += n
		c.totals = append(c.totals, store.MoneyFromStorage(sum, currency))
		return nil
	})
	if err != nil {
		return nil, store.Wrap(err, "board")
	}
	b := &Board{Pipeline: p, Columns: []BoardColumn{}}
	for _, st := range p.Stages {
		c := cells[st.ID]
		if (st.Kind != StageOpen && !opts.Closed) || (st.Archived && c == nil) {
			continue
		}
		col := BoardColumn{Stage: st, Totals: []core.Money{}}
		if c != nil {
			col.Count = c.count
			col.Totals = c.totals
			slices.SortFunc(col.Totals, func(a, b core.Money) int { return strings.Compare(a.Currency, b.Currency) })
		}
		b.Columns = append(b.Columns, col)
	}
	return b, nil
}
