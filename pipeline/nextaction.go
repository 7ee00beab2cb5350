package pipeline

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// Action is a suggested next step.
type Action string

// Suggested actions.
const (
	ActionFollowUp        Action = "follow_up"         // nobody was in touch for a while
	ActionEscalate        Action = "escalate"          // the deal sits in its stage longer than usual
	ActionUpdateCloseDate Action = "update_close_date" // the expected close date has passed
	ActionAssignOwner     Action = "assign_owner"      // a deal or a hot lead has no owner
	ActionCreateDeal      Action = "create_deal"       // a qualified lead has no open deal
)

// Suggestion is one ranked next step, with the reason in words and the
// signal's numbers.
type Suggestion struct {
	Action Action `json:"action"`
	Reason string `json:"reason"`
	// Priority ranks suggestions, higher first; it grows with how overdue
	// the signal is.
	Priority int `json:"priority"`
}

// NextActionOptions tune the signals.
type NextActionOptions struct {
	// IdleDays: no activity for this many days suggests a follow-up
	// (default 14).
	IdleDays int
	// HotScore: a lead with at least this score is hot (default 50).
	HotScore int64
	// MinVisits: a stage's median time needs this many past visits
	// (default 5).
	MinVisits int
}

func (o *NextActionOptions) defaults() {
	if o.IdleDays <= 0 {
		o.IdleDays = 14
	}
	if o.HotScore == 0 {
		o.HotScore = 50
	}
	if o.MinVisits <= 0 {
		o.MinVisits = 5
	}
}

// NextActions suggests what to do about an open deal, from explainable
// signals: no activity on the deal or its contact for IdleDays, longer in
// its stage than the stage's median, an expected close date in the past, no
// owner. A closed deal gets none. With an actor, a deal they may not see
// is ErrNotFound, and the stage's median is over the deals they see.
func (s *Deals) NextActions(ctx context.Context, dealID core.ID, opts NextActionOptions) (_ []Suggestion, err error) {
	ctx, span := s.sc.SpanID(ctx, "pipeline.Deals.NextActions", dealID)
	defer span.End(&err)

	opts.defaults()
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return nil, err
	}
	q := s.sc.Q()
	d, err := g.deal(ctx, q, tenant, dealID, access.Read, false)
	if err != nil {
		return nil, g.done(ctx, store.Wrap(err, "next actions"))
	}
	out := []Suggestion{}
	if d.Status != DealOpen {
		return out, nil
	}
	now := s.sc.Runtime().Now()
	if d.OwnerID == "" {
		out = append(out, Suggestion{Action: ActionAssignOwner, Reason: "the deal has no owner", Priority: 90})
	}

	// The latest activity about the deal or its contact; the deal's
	// creation when there is none.
	last := d.CreatedAt
	for _, by := range []struct {
		col string
		id  core.ID
	}{{"deal_id", d.ID}, {"contact_id", idOrNil(d.ContactID)}} {
		var at time.Time
		err := q.QueryRow(ctx, `SELECT a.occurred_at FROM crm_activities a WHERE a.tenant_id = ? AND a.`+by.col+` = ?
			ORDER BY a.occurred_at DESC LIMIT 1`, tenant, by.id).Scan(&at)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return nil, store.Wrap(err, "next actions")
		case at.After(last):
			last = at
		}
	}
	if idle := int(now.Sub(last).Hours() / 24); idle >= opts.IdleDays {
		out = append(out, Suggestion{Action: ActionFollowUp, Priority: 50 + min(idle-opts.IdleDays, 40),
			Reason: fmt.Sprintf("no activity for %d days", idle)})
	}

	if !d.ExpectedClose.IsZero() {
		if late := int(now.Sub(d.ExpectedClose.Time()).Hours() / 24); late >= 1 {
			out = append(out, Suggestion{Action: ActionUpdateCloseDate, Priority: 30 + min(late, 40),
				Reason: fmt.Sprintf("expected to close on %s, %d days ago", d.ExpectedClose, late)})
		}
	}

	n, _, median, err := stageStays(ctx, q, g, tenant, d.StageID, time.Time{}, time.Time{})
	if err != nil {
		return nil, store.Wrap(err, "next actions")
	}
	if in := now.Sub(d.StageEnteredAt); n >= opts.MinVisits && median > 0 && in > median {
		ratio := in.Seconds() / median.Seconds()
		out = append(out, Suggestion{Action: ActionEscalate, Priority: 40 + min(int(math.Round(ratio*10)), 50),
			Reason: fmt.Sprintf("in its stage for %s, the median of %d past deals is %s", days(in), n, days(median))})
	}
	rank(out)
	return out, nil
}

// stageStays measures the stays in stage that ended in [lo, hi) — or all
// ended stays, with zero times: how many, their average and their median.
// Only the stays of deals g's actor sees count.
func stageStays(ctx context.Context, q store.Q, g *guard, tenant string, stage core.ID, lo, hi time.Time) (n int, avg, median time.Duration, err error) {
	where := `tenant_id = ? AND stage_id = ? AND left_at IS NOT NULL`
	args := []any{tenant, stage}
	if !lo.IsZero() {
		where += ` AND left_at >= ? AND left_at < ?`
		args = append(args, lo, hi)
	}
	if visible, vargs := g.where("d"); visible != "" {
		where += ` AND EXISTS (SELECT 1 FROM crm_deals d WHERE d.tenant_id = crm_deal_stage_history.tenant_id
			AND d.id = crm_deal_stage_history.deal_id` + visible + `)`
		args = append(args, vargs...)
	}
	secs := q.D.SecondsBetween("entered_at", "left_at")
	var mean sql.NullFloat64
	if err := q.QueryRow(ctx, `SELECT count(*), avg(`+secs+`) FROM crm_deal_stage_history WHERE `+where, args...).Scan(&n, &mean); err != nil || n == 0 {
		return 0, 0, 0, err
	}
	var mid float64
	if err := q.QueryRow(ctx, `SELECT `+secs+` AS d FROM crm_deal_stage_history WHERE `+where+` ORDER BY d LIMIT 1 OFFSET ?`,
		append(args, n/2)...).Scan(&mid); err != nil {
		return 0, 0, 0, err
	}
	return n, time.Duration(mean.Float64 * float64(time.Second)), time.Duration(mid * float64(time.Second)), nil
}

func days(d time.Duration) string {
	if d < 48*time.Hour {
		return fmt.Sprintf("%.0f hours", d.Hours())
	}
	return fmt.Sprintf("%.0f days", d.Hours()/24)
}

func rank(s []Suggestion) {
	slices.SortStableFunc(s, func(a, b Suggestion) int { return b.Priority - a.Priority })
}

// LeadActions suggests what to do about a contact: a hot lead (score at
// least HotScore) without an owner should get one; an owned hot lead nobody
// was in touch with for IdleDays needs a follow-up; a qualified lead (MQL,
// SQL) without an open deal is ready for one. Customers and others get none.
// With an actor, the contact is read with the contacts module's access
// (a contact they may not see is ErrNotFound), and only the open deals
// they see count.
func (s *Deals) LeadActions(ctx context.Context, contactID core.ID, opts NextActionOptions) (_ []Suggestion, err error) {
	ctx, span := s.sc.SpanID(ctx, "pipeline.Deals.LeadActions", contactID)
	defer span.End(&err)

	opts.defaults()
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	g, err := check(ctx, s.sc, "contact", contactID, access.Read)
	if err != nil {
		return nil, err
	}
	c, err := contacts.Module.Contacts(s.sc).Get(ctx, contactID)
	if err != nil {
		return nil, err
	}
	out := []Suggestion{}
	switch c.LifecycleStage {
	case contacts.StageSubscriber, contacts.StageLead, contacts.StageMQL, contacts.StageSQL:
	default:
		return out, nil
	}
	now := s.sc.Runtime().Now()
	hot := c.Facts.Score >= opts.HotScore
	if hot && c.OwnerID == "" {
		out = append(out, Suggestion{Action: ActionAssignOwner, Priority: 80 + int(min(c.Facts.Score-opts.HotScore, 20)),
			Reason: fmt.Sprintf("score %d and no owner", c.Facts.Score)})
	}
	last := c.CreatedAt
	if c.Facts.LastActivityAt != nil && c.Facts.LastActivityAt.After(last) {
		last = *c.Facts.LastActivityAt
	}
	if idle := int(now.Sub(last).Hours() / 24); hot && c.OwnerID != "" && idle >= opts.IdleDays {
		out = append(out, Suggestion{Action: ActionFollowUp, Priority: 50 + min(idle-opts.IdleDays, 40),
			Reason: fmt.Sprintf("score %d, no activity for %d days", c.Facts.Score, idle)})
	}
	if c.LifecycleStage == contacts.StageMQL || c.LifecycleStage == contacts.StageSQL {
		var open int
		visible, vargs := g.where("d")
		err := s.sc.Q().QueryRow(ctx, `SELECT count(*) FROM crm_deals d WHERE d.tenant_id = ? AND d.contact_id = ? AND d.status = 'open'`+visible,
			append([]any{tenant, contactID}, vargs...)...).Scan(&open)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, store.Wrap(err, "lead actions")
		}
		if open == 0 {
			out = append(out, Suggestion{Action: ActionCreateDeal, Priority: 60,
				Reason: fmt.Sprintf("a %s lead without an open deal", c.LifecycleStage)})
		}
	}
	rank(out)
	return out, nil
}

// StageVelocity is how long deals stayed in one stage.
type StageVelocity struct {
	Stage Stage `json:"stage"`
	// Visits counts the stays that ended in the period.
	Visits  int           `json:"visits"`
	Average time.Duration `json:"average"`
	Median  time.Duration `json:"median"`
}

// Velocity reports, per stage of the pipeline, how long deals stayed in it:
// over the stage visits that ended in [from, to) (days, UTC), in stage
// order. Stages without such visits report zeros. With an actor, only the
// stays of the deals they see count.
func (s *Deals) Velocity(ctx context.Context, pipelineID core.ID, from, to core.Date) (_ []StageVelocity, err error) {
	ctx, span := s.sc.SpanID(ctx, "pipeline.Deals.Velocity", pipelineID)
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	g, err := check(ctx, s.sc, "pipeline", pipelineID, access.Read)
	if err != nil {
		return nil, err
	}
	v := &core.ValidationError{}
	checkRange(v, from, to)
	if err := v.Err(); err != nil {
		return nil, err
	}
	q := s.sc.Q()
	p, err := getPipeline(ctx, q, tenant, pipelineID, false)
	if err != nil {
		return nil, store.Wrap(err, "velocity")
	}
	lo, hi := from.Time(), to.Time()
	out := make([]StageVelocity, 0, len(p.Stages))
	for _, st := range p.Stages {
		sv := StageVelocity{Stage: st}
		n, avg, median, err := stageStays(ctx, q, g, tenant, st.ID, lo, hi)
		if err != nil {
			return nil, store.Wrap(err, "velocity")
		}
		sv.Visits, sv.Average, sv.Median = n, avg.Round(time.Second), median.Round(time.Second)
		out = append(out, sv)
	}
	return out, nil
}
