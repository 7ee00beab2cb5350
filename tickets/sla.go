package tickets

import (
	"context"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/store"
)

// The SLA clock of a ticket.
//
// Targets are business time of the policy's calendar. The clock stops
// while the ticket is pending, on hold, solved or closed: the business
// time of each stop is added to paused_seconds when the clock runs again,
// and every due time is anchor + target + the business time stopped since
// the anchor (creation for first response and resolution, the customer's
// unanswered message for next response). A due time that was met is
// frozen. While the clock stands, due times are computed as if it had
// stopped for good when it stopped, and the remaining time is measured
// from then: it stands still too.

// clockStopped reports whether the SLA clock stands in status s.
func clockStopped(s Status) bool { return s.paused() || s.done() }

// slaEnv is a tenant's SLA policies and the compiled calendars they use,
// read once per operation.
type slaEnv struct {
	sc       store.Scope
	policies []*Policy
	matchers []*filter.Matcher  // bound on first use
	hours    map[core.ID]*Hours // by policy id (shared: see slaSettings)
	bad      map[core.ID]error  // calendars that do not compile, by policy id
	// calendars are the policies' calendars, by policy id.
	calendars map[core.ID]*Calendar
	now       time.Time
}

// slaSettings are a tenant's policies with their calendars, compiled: what
// loadSLA keeps per tenant (store.Cached) between calls. Shared: never
// changed after loading (Hours guards its own memo).
type slaSettings struct {
	policies  []*Policy
	calendars map[core.ID]*Calendar // by policy id
	hours     map[core.ID]*Hours    // by policy id
	bad       map[core.ID]error     // calendars that do not compile, by policy id
}

// loadSLA returns the tenant's policies, in order; their conditions are
// bound for matching at now when a write first chooses a policy. The
// policies and their compiled calendars are kept for the runtime's
// SettingsTTL and read anew after a change of either.
func loadSLA(ctx context.Context, sc store.Scope, now time.Time) (*slaEnv, error) {
	tenant, err := sc.Tenant()
	if err != nil {
		return nil, err
	}
	cache := store.CacheOf[*slaSettings](sc.Runtime(), "tickets.sla", EventPolicyCreated, EventPolicyUpdated, EventPolicyDeleted,
		EventCalendarCreated, EventCalendarUpdated, EventCalendarDeleted)
	set, err := cache.Get(sc.Tx(), tenant, func() (*slaSettings, error) { return readSLA(ctx, sc, tenant) })
	if err != nil {
		return nil, err
	}
	return &slaEnv{sc: sc, policies: set.policies, calendars: set.calendars, hours: set.hours, bad: set.bad, now: now}, nil
}

// readSLA reads the tenant's policies with their calendars (one query) and
// compiles the calendars.
func readSLA(ctx context.Context, sc store.Scope, tenant string) (*slaSettings, error) {
	rows, err := sc.Q().Query(ctx, `SELECT `+policyColumns+`, `+calendarColumns+` FROM crm_sla_policies p
		JOIN crm_sla_calendars k ON k.tenant_id = p.tenant_id AND k.id = p.calendar_id
		WHERE p.tenant_id = ? ORDER BY p.position, p.id`, tenant)
	if err != nil {
		return nil, err
	}
	set := &slaSettings{calendars: map[core.ID]*Calendar{}, hours: map[core.ID]*Hours{}, bad: map[core.ID]error{}}
	err = store.EachRow(rows, func(r store.Scanner) error {
		var p Policy
		var cond []byte
		var c Calendar
		var windows, holidays, closures []byte
		if err := r.Scan(&p.ID, &p.Name, &p.Position, &cond, &p.CalendarID, &p.FirstResponseMinutes, &p.NextResponseMinutes,
			&p.ResolutionMinutes, &p.WarningMinutes, &p.CreatedAt, &p.UpdatedAt, &p.Version,
			&c.ID, &c.Name, &c.TimeZone, &c.Country, &windows, &holidays, &closures, &c.CreatedAt, &c.UpdatedAt, &c.Version); err != nil {
			return err
		}
		if p.Condition, err = filter.Parse(cond); err != nil {
			return fmt.Errorf("decode condition of policy %s: %w", p.ID, err)
		}
		if err := decodeCalendar(&c, windows, holidays, closures); err != nil {
			return err
		}
		set.policies = append(set.policies, &p)
		set.calendars[p.ID] = &c
		if h, err := c.Compile(); err != nil {
			set.bad[p.ID] = err
		} else {
			set.hours[p.ID] = h
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return set, nil
}

// policyFor returns the first policy whose condition matches t, or nil.
func (e *slaEnv) policyFor(ctx context.Context, t *Ticket) (*Policy, error) {
	if e.matchers == nil && len(e.policies) > 0 {
		schema, err := ticketSchema(ctx, e.sc)
		if err != nil {
			return nil, err
		}
		for _, p := range e.policies {
			m, err := schema.Matcher(p.Condition, e.now)
			if err != nil {
				// A custom field the condition names was removed since: the
				// policy matches nothing until it is fixed.
				m = nil
			}
			e.matchers = append(e.matchers, m)
		}
	}
	for i, p := range e.policies {
		if m := e.matchers[i]; m != nil && m.Match(t) {
			return p, nil
		}
	}
	return nil, nil
}

func (e *slaEnv) policy(id *core.ID) *Policy {
	if id == nil {
		return nil
	}
	for _, p := range e.policies {
		if p.ID == *id {
			return p
		}
	}
	return nil
}

// hoursOf returns the compiled calendar of policy p.
func (e *slaEnv) hoursOf(ctx context.Context, p *Policy) (*Hours, error) {
	if h, ok := e.hours[p.ID]; ok {
		return h, nil
	}
	c, ok := e.calendars[p.ID]
	if !ok {
		return nil, fmt.Errorf("crm: the calendar of SLA policy %s was not read", p.ID)
	}
	return nil, fmt.Errorf("crm: calendar %s of policy %s: %w", c.ID, p.ID, e.bad[p.ID])
}

// apply brings t's SLA clock up to date at now, after a change: it
// accounts for a stop that ended (in the calendar of the policy that
// applied during it), chooses the policy, and computes the due times.
func (e *slaEnv) apply(ctx context.Context, t *Ticket, now time.Time) error {
	c := &t.clock
	stopped := clockStopped(t.Status)
	switch {
	case stopped && c.pausedSince == nil:
		at := now
		c.pausedSince = &at
	case !stopped && c.pausedSince != nil:
		if p := e.policy(c.policyID); p != nil {
			h, err := e.hoursOf(ctx, p)
			if err != nil {
				return err
			}
			added := int64(h.BusinessBetween(*c.pausedSince, now) / time.Second)
			c.pausedSeconds += added
			if c.nextResponseFrom != nil && !c.nextResponseFrom.Before(now) {
				// The customer's message that ends the stop anchors the
				// next response: the stop lies before it.
				c.nextResponsePaused += added
			}
		}
		c.pausedSince = nil
	}
	if t.Status.done() {
		if c.solvedAt == nil {
			at := now
			c.solvedAt = &at
		}
	} else {
		c.solvedAt = nil
	}
	p, err := e.policyFor(ctx, t)
	if err != nil {
		return err
	}
	if p == nil {
		c.policyID = nil
		c.firstResponseDue, c.nextResponseDue, c.resolutionDue, c.slaDue = nil, nil, nil, nil
		return nil
	}
	if c.policyID == nil || *c.policyID != p.ID {
		// Another policy: its targets replace the frozen ones.
		c.firstResponseDue, c.resolutionDue = nil, nil
	}
	id := p.ID
	c.policyID = &id
	h, err := e.hoursOf(ctx, p)
	if err != nil {
		return err
	}
	due := func(anchor time.Time, minutes, paused int64) (*time.Time, error) {
		if minutes <= 0 {
			return nil, nil
		}
		d, err := h.AddBusiness(anchor, time.Duration(minutes)*time.Minute+time.Duration(paused)*time.Second)
		if err != nil {
			return nil, err
		}
		return &d, nil
	}
	if c.firstResponseAt == nil || c.firstResponseDue == nil {
		if c.firstResponseDue, err = due(t.CreatedAt, p.FirstResponseMinutes, c.pausedSeconds); err != nil {
			return err
		}
	}
	if !t.Status.done() || c.resolutionDue == nil {
		if c.resolutionDue, err = due(t.CreatedAt, p.ResolutionMinutes, c.pausedSeconds); err != nil {
			return err
		}
	}
	c.nextResponseDue = nil
	if c.nextResponseFrom != nil {
		if c.nextResponseDue, err = due(*c.nextResponseFrom, p.NextResponseMinutes, c.pausedSeconds-c.nextResponsePaused); err != nil {
			return err
		}
	}
	c.slaDue = nil
	if !stopped {
		for _, d := range []*time.Time{pick(c.firstResponseAt == nil, c.firstResponseDue), c.nextResponseDue, c.resolutionDue} {
			if d != nil && (c.slaDue == nil || d.Before(*c.slaDue)) {
				x := *d
				c.slaDue = &x
			}
		}
	}
	return nil
}

func pick(ok bool, t *time.Time) *time.Time {
	if ok {
		return t
	}
	return nil
}

// fill sets t.SLA as of now.
func (e *slaEnv) fill(ctx context.Context, t *Ticket, now time.Time) error {
	c := &t.clock
	p := e.policy(c.policyID)
	if p == nil {
		t.SLA = nil
		return nil
	}
	h, err := e.hoursOf(ctx, p)
	if err != nil {
		return err
	}
	ref := now
	if c.pausedSince != nil {
		ref = *c.pausedSince
	}
	resolved := c.solvedAt
	if !t.Status.done() {
		resolved = nil
	}
	// The SLA and its targets in one allocation.
	b := &struct {
		sla     SLA
		targets [3]Target
	}{sla: SLA{PolicyID: p.ID, Paused: t.Status.paused()}}
	b.sla.FirstResponse = target(&b.targets[0], h, ref, c.firstResponseDue, c.firstResponseAt)
	b.sla.NextResponse = target(&b.targets[1], h, ref, c.nextResponseDue, nil)
	b.sla.Resolution = target(&b.targets[2], h, ref, c.resolutionDue, resolved)
	t.SLA = &b.sla
	return nil
}

// target fills x with the target due at due (nil: none) and met at met
// (nil: not met), its remaining time measured from ref if not met, and
// returns it (nil without due).
func target(x *Target, h *Hours, ref time.Time, due, met *time.Time) *Target {
	if due == nil {
		return nil
	}
	at := ref
	if met != nil {
		at = *met
	}
	*x = Target{Due: *due, MetAt: met, RemainingMinutes: int64(h.BusinessBetween(at, *due) / time.Minute), Breached: at.After(*due)}
	return x
}
