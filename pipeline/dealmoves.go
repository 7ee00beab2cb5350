package pipeline

import (
	"context"
	"database/sql"
	"strings"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// StageChange is the data of "deal.stage_changed".
type StageChange struct {
	Deal      *Deal   `json:"deal"`
	FromStage core.ID `json:"from_stage"`
	ToStage   core.ID `json:"to_stage"`
}

// MoveStage moves the deal to stageID, a stage of its pipeline that is not
// archived, if version is still the deal's version (else ErrConflict). It
// records the stage visit and emits "deal.stage_changed"; reaching a won or
// lost stage also closes the deal ("deal.won", "deal.lost"), and leaving one
// reopens it ("deal.reopened").
func (s *Deals) MoveStage(ctx context.Context, id core.ID, version int64, stageID core.ID) (_ *Deal, err error) {
	ctx, span := s.sc.SpanID(ctx, "pipeline.Deals.MoveStage", id)
	defer span.End(&err)

	return s.move(ctx, id, version, "move deal", nil, func(p *Pipeline, _ *Deal) (*Stage, error) {
		st := p.Stage(stageID)
		if st == nil {
			return nil, core.Invalid("stage_id", "stage %s is not a stage of the deal's pipeline %q", stageID, p.Name)
		}
		return st, nil
	})
}

// Win moves the deal to its pipeline's won stage.
func (s *Deals) Win(ctx context.Context, id core.ID, version int64) (_ *Deal, err error) {
	ctx, span := s.sc.SpanID(ctx, "pipeline.Deals.Win", id)
	defer span.End(&err)

	return s.move(ctx, id, version, "win deal", nil, func(p *Pipeline, _ *Deal) (*Stage, error) {
		return p.FirstStage(StageWon), nil
	})
}

// Lose moves the deal to its pipeline's lost stage, with a reason.
func (s *Deals) Lose(ctx context.Context, id core.ID, version int64, reason string) (_ *Deal, err error) {
	ctx, span := s.sc.SpanID(ctx, "pipeline.Deals.Lose", id)
	defer span.End(&err)

	return s.move(ctx, id, version, "lose deal", &reason, func(p *Pipeline, _ *Deal) (*Stage, error) {
		return p.FirstStage(StageLost), nil
	})
}

// Reopen moves a won or lost deal back to stageID, an open stage of its
// pipeline.
func (s *Deals) Reopen(ctx context.Context, id core.ID, version int64, stageID core.ID) (_ *Deal, err error) {
	ctx, span := s.sc.SpanID(ctx, "pipeline.Deals.Reopen", id)
	defer span.End(&err)

	return s.move(ctx, id, version, "reopen deal", nil, func(p *Pipeline, d *Deal) (*Stage, error) {
		st := p.Stage(stageID)
		if st == nil || st.Kind != StageOpen {
			return nil, core.Invalid("stage_id", "must be an open stage of the deal's pipeline %q", p.Name)
		}
		return st, nil
	})
}

func (s *Deals) move(ctx context.Context, id core.ID, version int64, doing string, lostReason *string, pick func(*Pipeline, *Deal) (*Stage, error)) (*Deal, error) {
	if err := core.CheckVersion(version); err != nil {
		return nil, err
	}
	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return nil, err
	}
	var out *Deal
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		q := tx.Q()
		cur, err := g.lockDeal(ctx, q, tenant, id, version, access.Update)
		if err != nil {
			return err
		}
		p, err := getPipeline(ctx, q, tenant, cur.PipelineID, false)
		if err != nil {
			return err
		}
		st, err := pick(p, cur)
		if err != nil {
			return err
		}
		if st == nil {
			return core.Invalid("stage_id", "pipeline %q has no such stage that is not archived", p.Name)
		}
		if st.Archived {
			return core.Invalid("stage_id", "stage %q is archived", st.Name)
		}
		next := *cur
		if lostReason != nil {
			next.LostReason = strings.TrimSpace(*lostReason)
			v := &core.ValidationError{}
			v.CheckText("lost_reason", next.LostReason, maxLostReasonLen)
			if err := v.Err(); err != nil {
				return err
			}
		}
		if st.ID == cur.StageID && next.LostReason == cur.LostReason {
			out = cur
			return nil
		}
		now := tx.Runtime().Now()
		if st.ID != cur.StageID {
			if cur.Status != DealOpen && st.Kind != StageOpen {
				next.ClosedAt = nil // closed anew: a won deal that is lost now
			}
			enter(&next, st, now)
			if err := recordVisit(ctx, q, tenant, id, st.ID, now); err != nil {
				return err
			}
		}
		next.UpdatedAt = now
		next.Version++
		amount, err := store.MoneyToStorage(next.Amount)
		if err != nil {
			return err
		}
		if err := updateDeal(ctx, q, tenant, &next, amount, store.JSON(next.Attributes), cur.Version); err != nil {
			return err
		}
		out = &next
		if st.ID != cur.StageID {
			if err := tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventDealStageChanged, SubjectType: "deal", SubjectID: id, ContactID: out.ContactID, OccurredAt: now,
				Data: store.JSON(StageChange{Deal: out, FromStage: cur.StageID, ToStage: st.ID})}); err != nil {
				return err
			}
		}
		var what string
		switch {
		case next.Status == cur.Status && (next.Status != DealLost || next.LostReason == cur.LostReason):
			return nil
		case next.Status == DealWon:
			what = EventDealWon
		case next.Status == DealLost:
			what = EventDealLost
		default:
			what = EventDealReopened
		}
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: what, SubjectType: "deal", SubjectID: id, ContactID: out.ContactID, OccurredAt: now, Data: store.JSON(out)})
	})
	if err != nil {
		return nil, g.done(ctx, store.Wrap(err, doing))
	}
	return out, nil
}

// moveAllDeals moves every deal of stage from to stage to (DeleteStage).
func moveAllDeals(ctx context.Context, tx *store.Tx, tenant string, from, to core.ID) error {
	q := tx.Q()
	rows, err := q.Query(ctx, `SELECT `+dealColumns+` FROM crm_deals d WHERE d.tenant_id = ? AND d.stage_id = ?`, tenant, from)
	if err != nil {
		return err
	}
	var deals []*Deal
	if err := store.EachRow(rows, func(r store.Scanner) error {
		d, err := scanDeal(r)
		deals = append(deals, d)
		return err
	}); err != nil {
		return err
	}
	now := tx.Runtime().Now()
	for _, d := range deals {
		old := d.Version
		d.StageID, d.StageEnteredAt, d.UpdatedAt = to, now, now
		d.Version++
		amount, _ := store.MoneyToStorage(d.Amount)
		if err := updateDeal(ctx, q, tenant, d, amount, store.JSON(d.Attributes), old); err != nil {
			return err
		}
		if err := recordVisit(ctx, q, tenant, d.ID, to, now); err != nil {
			return err
		}
		if err := tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventDealStageChanged, SubjectType: "deal", SubjectID: d.ID, ContactID: d.ContactID, OccurredAt: now,
			Data: store.JSON(StageChange{Deal: d, FromStage: from, ToStage: to})}); err != nil {
			return err
		}
	}
	return nil
}

// History returns the stages the deal was in, oldest first.
func (s *Deals) History(ctx context.Context, id core.ID) (_ []StageVisit, err error) {
	ctx, span := s.sc.SpanID(ctx, "pipeline.Deals.History", id)
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return nil, err
	}
	q := s.sc.Q()
	if _, err := g.deal(ctx, q, tenant, id, access.Read, false); err != nil {
		return nil, g.done(ctx, store.Wrap(err, "deal history"))
	}
	return history(ctx, s.sc, id)
}

// history reads the stage visits of the deal with id, for whoever may read
// it.
func history(ctx context.Context, sc store.Scope, id core.ID) ([]StageVisit, error) {
	tenant, err := sc.Tenant()
	if err != nil {
		return nil, err
	}
	q := sc.Q()
	rows, err := q.Query(ctx, `SELECT stage_id, entered_at, left_at FROM crm_deal_stage_history
		WHERE tenant_id = ? AND deal_id = ? ORDER BY entered_at, id`, tenant, id)
	if err != nil {
		return nil, store.Wrap(err, "deal history")
	}
	now := sc.Runtime().Now()
	out := []StageVisit{}
	err = store.EachRow(rows, func(r store.Scanner) error {
		var v StageVisit
		var left sql.NullTime
		if err := r.Scan(&v.StageID, &v.EnteredAt, &left); err != nil {
			return err
		}
		v.EnteredAt = v.EnteredAt.UTC()
		end := now
		if left.Valid {
			t := left.Time.UTC()
			v.LeftAt, end = &t, t
		}
		v.Duration = end.Sub(v.EnteredAt)
		out = append(out, v)
		return nil
	})
	return out, store.Wrap(err, "deal history")
}
