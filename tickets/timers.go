package tickets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// SLA timers: every change of a ticket whose SLA clock runs queues a job
// (jobSLACheck) for the next moment an alert falls due — a target's
// warning time or its due time. The job runs CheckSLA, which emits what is
// due and queues the job for the next alert. The alerts emitted are kept
// on the ticket (sla_alerts), in the transaction of their events, so a job
// that runs twice, a stale job (the due time moved) or two processes emit
// each alert once: the warning and the breach of the first response and
// of the resolution once in a ticket's life, those of the next response
// once per customer message that waits for an answer.

// jobSLACheck is the module's job that runs CheckSLA for a ticket.
const jobSLACheck = "tickets.sla_check"

type slaCheckArgs struct {
	Ticket core.ID `json:"ticket"`
}

// slaCheck is the Work of jobSLACheck.
func slaCheck(ctx context.Context, sc store.Scope, args json.RawMessage) error {
	var a slaCheckArgs
	if err := json.Unmarshal(args, &a); err != nil {
		return fmt.Errorf("%w: decode SLA check: %v", core.ErrInvalid, err)
	}
	err := newTickets(sc).CheckSLA(ctx, a.Ticket)
	if errors.Is(err, core.ErrNotFound) {
		return nil // the ticket is gone
	}
	return err
}

// Target names of alerts ("ticket.sla_warning" and "ticket.sla_breached").
const (
	TargetFirstResponse = "first_response"
	TargetNextResponse  = "next_response"
	TargetResolution    = "resolution"
)

// alert is one warning or breach of a running target.
type alert struct {
	target, kind string // kind: "warning" or "breached"
	due, at      time.Time
	// cycle tells the alerts of one target apart: the waiting customer
	// message of a next response; "once" for the others.
	cycle string
}

func (a alert) key() string { return a.target + "." + a.kind }

// alerts returns the warnings and breaches of t's running targets under
// policy p, emitted or not. None while the clock stands.
func alerts(t *Ticket, p *Policy) []alert {
	c := &t.clock
	if p == nil || clockStopped(t.Status) {
		return nil
	}
	var out []alert
	add := func(target string, due *time.Time, cycle string) {
		if due == nil {
			return
		}
		if p.WarningMinutes > 0 {
			out = append(out, alert{target, "warning", *due, due.Add(-time.Duration(p.WarningMinutes) * time.Minute), cycle})
		}
		out = append(out, alert{target, "breached", *due, *due, cycle})
	}
	if c.firstResponseAt == nil {
		add(TargetFirstResponse, c.firstResponseDue, "once")
	}
	if c.nextResponseFrom != nil {
		add(TargetNextResponse, c.nextResponseDue, c.nextResponseFrom.UTC().Format(time.RFC3339Nano))
	}
	add(TargetResolution, c.resolutionDue, "once")
	return out
}

// emitted reports whether a was emitted (in its cycle).
func (c *slaClock) emitted(a alert) bool { return c.alerts[a.key()] == a.cycle }

// schedule queues the SLA check of t for its next alert not yet emitted,
// if any: at the alert's time, or at once when it is already due.
func schedule(ctx context.Context, tx *store.Tx, tenant string, t *Ticket, p *Policy) error {
	var next *time.Time
	for _, a := range alerts(t, p) {
		if !t.clock.emitted(a) && (next == nil || a.at.Before(*next)) {
			at := a.at
			next = &at
		}
	}
	if next == nil {
		return nil
	}
	return tx.Enqueue(ctx, store.NewJob{Kind: jobSLACheck, Tenant: tenant, Args: slaCheckArgs{Ticket: t.ID}, At: *next,
		UniqueKey: fmt.Sprintf("%s:%d", t.ID, next.Unix())})
}

// SLAAlert is the payload of "ticket.sla_warning" and
// "ticket.sla_breached": which target of the ticket is about to fall due
// or fell due, and when.
type SLAAlert struct {
	Ticket *Ticket `json:"ticket"`
	// Target is first_response, next_response or resolution.
	Target string    `json:"target"`
	Due    time.Time `json:"due"`
}

// CheckSLA emits, as of now, the warnings ("ticket.sla_warning") and
// breaches ("ticket.sla_breached") of the ticket's running SLA targets
// that fell due and were not emitted yet for their due times, and queues
// the check for the next. The module's timer jobs call it at the right
// times; a host may call it too (it does nothing when nothing is due).
//
// An actor needs "tickets" update and must see the ticket; the timer jobs
// run as the host's own code.
func (s *Tickets) CheckSLA(ctx context.Context, id core.ID) (err error) {
	ctx, span := s.sc.SpanID(ctx, "tickets.Tickets.CheckSLA", id)
	defer span.End(&err)

	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return err
	}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		now := tx.Runtime().Now()
		t, err := g.ticket(ctx, tx.Q(), tenant, id, access.Update, true)
		if err != nil {
			return err
		}
		env, err := loadSLA(ctx, s.sc.WithTx(tx), now)
		if err != nil {
			return err
		}
		p := env.policy(t.clock.policyID)
		if err := env.fill(ctx, t, now); err != nil {
			return err
		}
		if t.clock.alerts == nil {
			t.clock.alerts = map[string]string{}
		}
		var due []alert
		for _, a := range alerts(t, p) {
			if !a.at.After(now) && !t.clock.emitted(a) {
				due = append(due, a)
			}
		}
		if len(due) > 0 {
			for _, a := range due {
				t.clock.alerts[a.key()] = a.cycle
			}
			// The alerts are not a change of the ticket: no new version.
			if _, err := tx.Q().Exec(ctx, `UPDATE crm_tickets SET sla_alerts = ? WHERE tenant_id = ? AND id = ?`,
				string(store.JSON(t.clock.alerts)), tenant, id); err != nil {
				return err
			}
			for _, a := range due {
				typ := EventTicketSLAWarning
				if a.kind == "breached" {
					typ = EventTicketSLABreached
				}
				if err := tx.Emit(ctx, ticketEvent(tenant, typ, t, now, SLAAlert{Ticket: t, Target: a.target, Due: a.due})); err != nil {
					return err
				}
			}
		}
		return schedule(ctx, tx, tenant, t, p)
	})
	return store.Wrap(g.done(ctx, err), "check ticket SLA")
}
