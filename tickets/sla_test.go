package tickets_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/tickets"
)

// slaSetup adds a UTC office calendar (Mon–Fri 09–17) and two policies:
// "urgent" for high priority (first response 60, next response 120,
// resolution 480 business minutes, warnings 15 minutes before) and "default" for every other ticket
// (first response 240).
func slaSetup(t *testing.T, b *bundle) (urgent, fallback *tickets.Policy) {
	t.Helper()
	ctx := context.Background()
	cal, err := b.c.Calendars.Create(ctx, tickets.NewCalendar{Name: "Office", TimeZone: "UTC", Windows: weekdays("09:00", "17:00", monFri...)})
	require.NoError(t, err)
	fallback, err = b.c.SLAPolicies.Create(ctx, tickets.NewPolicy{Name: "default", Position: 10, CalendarID: cal.ID, FirstResponseMinutes: 240})
	require.NoError(t, err)
	urgent, err = b.c.SLAPolicies.Create(ctx, tickets.NewPolicy{Name: "urgent", Position: 1, Condition: filter.Eq("priority", "high"),
		CalendarID: cal.ID, FirstResponseMinutes: 60, NextResponseMinutes: 120, ResolutionMinutes: 480, WarningMinutes: 15})
	require.NoError(t, err)
	return urgent, fallback
}

func (b *bundle) at(s string) { b.clock.Jump(utc(s)) }

func (b *bundle) get(t *testing.T, id core.ID) *tickets.Ticket {
	t.Helper()
	tk, err := b.c.Tickets.Get(context.Background(), id)
	require.NoError(t, err)
	return tk
}

func customer(body string) tickets.NewMessage {
	return tickets.NewMessage{Public: true, AuthorKind: tickets.AuthorCustomer, Body: body}
}

func agent(public bool, body string) tickets.NewMessage {
	return tickets.NewMessage{Public: public, AuthorKind: tickets.AuthorAgent, AuthorID: "agent-1", Body: body}
}

// A ticket's SLA through its life: first response counts public agent
// replies only, the next-response clock starts at the customer's message,
// pending stops every clock (remaining time stands still, nothing is
// breached while it stands), the pause moves the due times by its
// business time, a late reply is a breach, and solving meets resolution.
func TestSLALifecycle(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		urgent, _ := slaSetup(t, b)
		b.at("2026-03-02T08:00:00Z") // Monday, before opening
		m := customer("The portal is down")
		tk := b.ticket(t, tickets.NewTicket{Priority: tickets.PriorityHigh, Team: "support", Message: &m})
		require.NotNil(t, tk.SLA)
		require.Equal(t, urgent.ID, tk.SLA.PolicyID)
		require.Equal(t, utc("2026-03-02T10:00:00Z"), tk.SLA.FirstResponse.Due)
		require.Equal(t, int64(60), tk.SLA.FirstResponse.RemainingMinutes)
		require.Equal(t, utc("2026-03-02T17:00:00Z"), tk.SLA.Resolution.Due)
		require.Nil(t, tk.SLA.NextResponse)

		b.at("2026-03-02T09:30:00Z")
		tk = b.get(t, tk.ID)
		require.Equal(t, int64(30), tk.SLA.FirstResponse.RemainingMinutes)
		require.Equal(t, int64(450), tk.SLA.Resolution.RemainingMinutes)
		require.False(t, tk.SLA.Breached())

		b.at("2026-03-02T09:45:00Z")
		_, err := b.c.Tickets.AddMessage(ctx, tk.ID, agent(false, "Checking the logs"))
		require.NoError(t, err)
		require.Nil(t, b.get(t, tk.ID).SLA.FirstResponse.MetAt, "an internal note is no response")

		b.at("2026-03-02T09:50:00Z")
		_, err = b.c.Tickets.AddMessage(ctx, tk.ID, agent(true, "We are on it"))
		require.NoError(t, err)
		tk = b.get(t, tk.ID)
		require.Equal(t, tickets.StatusOpen, tk.Status)
		require.Equal(t, utc("2026-03-02T09:50:00Z"), *tk.SLA.FirstResponse.MetAt)
		require.Equal(t, int64(10), tk.SLA.FirstResponse.RemainingMinutes)
		require.False(t, tk.SLA.FirstResponse.Breached)

		b.at("2026-03-02T10:00:00Z")
		_, err = b.c.Tickets.AddMessage(ctx, tk.ID, customer("Any news?"))
		require.NoError(t, err)
		tk = b.get(t, tk.ID)
		require.Equal(t, utc("2026-03-02T12:00:00Z"), tk.SLA.NextResponse.Due)

		b.at("2026-03-02T11:00:00Z")
		tk, err = b.c.Tickets.SetStatus(ctx, tk.ID, tickets.StatusChange{Version: tk.Version, Status: tickets.StatusPending,
			PendingUntil: ptr(utc("2026-03-03T12:00:00Z"))})
		require.NoError(t, err)

		b.at("2026-03-02T15:00:00Z") // past the next-response due time, but the clock stands
		tk = b.get(t, tk.ID)
		require.True(t, tk.SLA.Paused)
		require.Equal(t, int64(60), tk.SLA.NextResponse.RemainingMinutes)
		require.Equal(t, int64(360), tk.SLA.Resolution.RemainingMinutes)
		require.False(t, tk.SLA.Breached())

		// The customer answers on Tuesday at 10:00: the ticket reopens
		// after 7 business hours of pause (Mon 11–17, Tue 9–10).
		b.at("2026-03-03T10:00:00Z")
		_, err = b.c.Tickets.AddMessage(ctx, tk.ID, customer("Here is the screenshot"))
		require.NoError(t, err)
		tk = b.get(t, tk.ID)
		require.Equal(t, tickets.StatusOpen, tk.Status)
		require.Nil(t, tk.PendingUntil)
		require.False(t, tk.SLA.Paused)
		require.Equal(t, utc("2026-03-03T11:00:00Z"), tk.SLA.NextResponse.Due)
		require.Equal(t, utc("2026-03-03T16:00:00Z"), tk.SLA.Resolution.Due)
		require.Equal(t, utc("2026-03-02T10:00:00Z"), tk.SLA.FirstResponse.Due, "a met target stays")

		b.at("2026-03-03T11:30:00Z")
		tk = b.get(t, tk.ID)
		require.True(t, tk.SLA.NextResponse.Breached)
		require.Equal(t, int64(-30), tk.SLA.NextResponse.RemainingMinutes)
		require.True(t, tk.SLA.Breached())

		b.at("2026-03-03T11:40:00Z")
		_, err = b.c.Tickets.AddMessage(ctx, tk.ID, agent(true, "Fixed"))
		require.NoError(t, err)
		tk = b.get(t, tk.ID)
		require.Nil(t, tk.SLA.NextResponse, "answered")

		b.at("2026-03-03T12:00:00Z")
		tk, err = b.c.Tickets.SetStatus(ctx, tk.ID, tickets.StatusChange{Version: tk.Version, Status: tickets.StatusSolved})
		require.NoError(t, err)
		require.Equal(t, utc("2026-03-03T12:00:00Z"), *tk.SLA.Resolution.MetAt)
		require.Equal(t, int64(240), tk.SLA.Resolution.RemainingMinutes)
		require.False(t, tk.SLA.Resolution.Breached)

		b.at("2026-03-10T12:00:00Z") // a week later nothing has changed
		tk = b.get(t, tk.ID)
		require.Equal(t, int64(240), tk.SLA.Resolution.RemainingMinutes)
		require.False(t, tk.SLA.Resolution.Breached)
	})
}

// The first policy by position whose condition matches applies, and a
// change of the ticket can switch it; a late first response is a breach.
func TestSLAPolicyChoice(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		urgent, fallback := slaSetup(t, b)
		b.at("2026-03-02T08:00:00Z")
		tk := b.ticket(t, tickets.NewTicket{})
		require.Equal(t, fallback.ID, tk.SLA.PolicyID)
		require.Equal(t, utc("2026-03-02T13:00:00Z"), tk.SLA.FirstResponse.Due)
		require.Nil(t, tk.SLA.Resolution)

		b.at("2026-03-02T09:30:00Z")
		tk, err := b.c.Tickets.Update(ctx, tk.ID, tickets.TicketPatch{Version: tk.Version, Priority: ptr(tickets.PriorityHigh)})
		require.NoError(t, err)
		require.Equal(t, urgent.ID, tk.SLA.PolicyID)
		require.Equal(t, utc("2026-03-02T10:00:00Z"), tk.SLA.FirstResponse.Due)

		b.at("2026-03-02T10:30:00Z")
		_, err = b.c.Tickets.AddMessage(ctx, tk.ID, agent(true, "Sorry for the wait"))
		require.NoError(t, err)
		tk = b.get(t, tk.ID)
		require.True(t, tk.SLA.FirstResponse.Breached)
		require.Equal(t, int64(-30), tk.SLA.FirstResponse.RemainingMinutes)

		// Deleting the policy leaves the ticket without one until its
		// next change chooses again.
		require.NoError(t, b.c.SLAPolicies.Delete(ctx, urgent.ID, urgent.Version))
		require.Nil(t, b.get(t, tk.ID).SLA)
		tk, err = b.c.Tickets.Update(ctx, tk.ID, tickets.TicketPatch{Version: tk.Version, Subject: ptr("Portal down (resolved?)")})
		require.NoError(t, err)
		require.Equal(t, fallback.ID, tk.SLA.PolicyID)
	})
}

// The agent queue: a team's open tickets ordered by their SLA due time,
// tickets without a running clock last, in keyset pages.
func TestSLAQueue(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		slaSetup(t, b)
		b.at("2026-03-02T08:00:00Z")
		high := b.ticket(t, tickets.NewTicket{Subject: "high", Priority: tickets.PriorityHigh, Team: "support"})
		normal := b.ticket(t, tickets.NewTicket{Subject: "normal", Team: "support"})
		b.at("2026-03-02T09:15:00Z")
		later := b.ticket(t, tickets.NewTicket{Subject: "later high", Priority: tickets.PriorityHigh, Team: "support"})
		held := b.ticket(t, tickets.NewTicket{Subject: "held", Status: tickets.StatusOnHold, Team: "support"})
		b.ticket(t, tickets.NewTicket{Subject: "no team", Priority: tickets.PriorityHigh})
		queue := filter.And(filter.Eq("team", "support"), filter.In("status", "new", "on_hold"))
		page, err := b.c.Tickets.List(ctx, tickets.ListOptions{Filter: queue, Sort: "sla_due", Limit: 2})
		require.NoError(t, err)
		require.Equal(t, []core.ID{high.ID, later.ID}, ids(page.Items))
		page, err = b.c.Tickets.List(ctx, tickets.ListOptions{Filter: queue, Sort: "sla_due", Limit: 2, Cursor: page.Next})
		require.NoError(t, err)
		require.Equal(t, []core.ID{normal.ID, held.ID}, ids(page.Items))
		require.Empty(t, page.Next)
		due, err := b.c.Tickets.List(ctx, tickets.ListOptions{Filter: filter.Lt("sla_due", utc("2026-03-02T11:00:00Z")), Sort: "sla_due"})
		require.NoError(t, err)
		require.Len(t, due.Items, 3, "both high tickets of the team and the one without a team")
	})
}

func ids(ts []*tickets.Ticket) []core.ID {
	out := []core.ID{}
	for _, t := range ts {
		out = append(out, t.ID)
	}
	return out
}

// Calendars and policies refuse bad input with every problem listed and
// write nothing; a calendar in use is not deleted; versions are checked.
func TestSLASettingsValidation(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		_, err := b.c.Calendars.Create(ctx, tickets.NewCalendar{TimeZone: "Mars/Olympus", Windows: []tickets.Window{
			{Weekday: time.Monday, Start: "09:00", End: "17:00"}, {Weekday: time.Monday, Start: "16:00", End: "18:00"}}})
		require.ElementsMatch(t, []string{"name", "time_zone", "windows.1"}, fieldsOf(t, err))
		require.Zero(t, b.count(t, "crm_sla_calendars"))

		cal, err := b.c.Calendars.Create(ctx, tickets.NewCalendar{Name: "Office", TimeZone: "Europe/Berlin", Country: "de",
			Windows: weekdays("09:00", "17:00", monFri...)})
		require.NoError(t, err)
		require.Equal(t, "DE", cal.Country)
		_, err = b.c.Calendars.Create(ctx, tickets.NewCalendar{Name: "Office", TimeZone: "UTC", Windows: weekdays("09:00", "17:00", monFri...)})
		require.Equal(t, []string{"name"}, fieldsOf(t, err))

		_, err = b.c.SLAPolicies.Create(ctx, tickets.NewPolicy{Name: "", Condition: filter.Eq("colour", "red"), CalendarID: core.NewID(),
			FirstResponseMinutes: -5})
		require.ElementsMatch(t, []string{"name", "condition", "calendar_id", "first_response_minutes"}, fieldsOf(t, err))
		_, err = b.c.SLAPolicies.Create(ctx, tickets.NewPolicy{Name: "none", CalendarID: cal.ID})
		require.Equal(t, []string{"targets"}, fieldsOf(t, err))
		require.Zero(t, b.count(t, "crm_sla_policies"))

		p, err := b.c.SLAPolicies.Create(ctx, tickets.NewPolicy{Name: "p", CalendarID: cal.ID, ResolutionMinutes: 60})
		require.NoError(t, err)
		err = b.c.Calendars.Delete(ctx, cal.ID, cal.Version)
		require.ErrorIs(t, err, core.ErrConflict)
		up, err := b.c.Calendars.Update(ctx, cal.ID, cal.Version, tickets.NewCalendar{Name: "Office", TimeZone: "America/New_York",
			Windows: weekdays("08:00", "16:00", monFri...)})
		require.NoError(t, err)
		require.Equal(t, int64(2), up.Version)
		_, err = b.c.Calendars.Update(ctx, cal.ID, cal.Version, tickets.NewCalendar{Name: "Office", TimeZone: "UTC", Windows: up.Windows})
		require.ErrorIs(t, err, core.ErrConflict)
		_, err = b.c.SLAPolicies.Update(ctx, p.ID, 0, tickets.NewPolicy{Name: "p", CalendarID: cal.ID, ResolutionMinutes: 60})
		require.Equal(t, []string{"version"}, fieldsOf(t, err))
		require.NoError(t, b.c.SLAPolicies.Delete(ctx, p.ID, p.Version))
		require.NoError(t, b.c.Calendars.Delete(ctx, cal.ID, up.Version))
		_, err = b.c.Calendars.Get(ctx, cal.ID)
		require.ErrorIs(t, err, core.ErrNotFound)
		_, err = b.c.Tenant("other").Calendars.Get(ctx, up.ID)
		require.ErrorIs(t, err, core.ErrNotFound)
	})
}

// slaJobs returns the unique keys of the queued SLA timer jobs, with
// their scheduled times.
func (b *bundle) slaJobs(t *testing.T) []string {
	list, err := b.c.River().JobList(context.Background(), river.NewJobListParams().Kinds("crm.job").First(1000))
	require.NoError(t, err)
	var out []string
	for _, job := range list.Jobs {
		var a struct {
			Job       string `json:"job"`
			UniqueKey string `json:"unique_key"`
		}
		require.NoError(t, json.Unmarshal(job.EncodedArgs, &a))
		if a.Job == "tickets.sla_check" {
			out = append(out, a.UniqueKey)
		}
	}
	return out
}

func (b *bundle) alertsOf(t *testing.T, id core.ID) []string {
	evs, err := b.c.Events(context.Background(), crm.EventQuery{SubjectID: id, Types: []string{tickets.EventTicketSLAWarning,
		tickets.EventTicketSLABreached}, Limit: 100})
	require.NoError(t, err)
	var out []string
	for _, ev := range evs {
		var a tickets.SLAAlert
		require.NoError(t, json.Unmarshal(ev.Data, &a))
		out = append(out, ev.Type+" "+a.Target+" "+a.Due.Format("Mon 15:04"))
		require.Equal(t, b.contact.ID, *ev.ContactID)
	}
	return out
}

// SLA timers under a controlled clock: each change queues the check for
// the next alert; the check emits a warning 15 minutes before a due time
// and the breach at it, each once however often it runs, nothing while
// the clock stands, and new alerts for a due time the pause moved.
func TestSLATimers(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		slaSetup(t, b)
		b.at("2026-03-02T08:00:00Z")
		tk := b.ticket(t, tickets.NewTicket{Priority: tickets.PriorityHigh})
		require.Equal(t, []string{fmt.Sprintf("%s:%d", tk.ID, utc("2026-03-02T09:45:00Z").Unix())}, b.slaJobs(t),
			"the first response's warning is next")
		check := func(at string) {
			b.at(at)
			require.NoError(t, b.c.Tickets.CheckSLA(ctx, tk.ID))
		}
		check("2026-03-02T09:44:00Z")
		require.Empty(t, b.alertsOf(t, tk.ID))
		check("2026-03-02T09:45:00Z")
		check("2026-03-02T09:46:00Z")
		require.Equal(t, []string{"ticket.sla_warning first_response Mon 10:00"}, b.alertsOf(t, tk.ID))
		require.Contains(t, b.slaJobs(t), fmt.Sprintf("%s:%d", tk.ID, utc("2026-03-02T10:00:00Z").Unix()), "then its breach")
		check("2026-03-02T10:05:00Z")
		check("2026-03-02T10:06:00Z")
		require.Equal(t, []string{"ticket.sla_warning first_response Mon 10:00", "ticket.sla_breached first_response Mon 10:00"},
			b.alertsOf(t, tk.ID))

		b.at("2026-03-02T10:10:00Z")
		tk = b.get(t, tk.ID)
		tk, err := b.c.Tickets.SetStatus(ctx, tk.ID, tickets.StatusChange{Version: tk.Version, Status: tickets.StatusOnHold})
		require.NoError(t, err)
		check("2026-03-02T16:50:00Z") // the resolution would warn at 16:45, but the clock stands
		require.Len(t, b.alertsOf(t, tk.ID), 2)

		// Back on Tuesday 09:00 after 410 business minutes on hold: the
		// resolution falls due at 15:50 instead of Monday 17:00.
		b.at("2026-03-03T09:00:00Z")
		tk, err = b.c.Tickets.SetStatus(ctx, tk.ID, tickets.StatusChange{Version: tk.Version, Status: tickets.StatusOpen})
		require.NoError(t, err)
		require.Equal(t, utc("2026-03-03T15:50:00Z"), tk.SLA.Resolution.Due)
		require.Contains(t, b.slaJobs(t), fmt.Sprintf("%s:%d", tk.ID, utc("2026-03-03T15:35:00Z").Unix()))
		check("2026-03-03T15:36:00Z")
		check("2026-03-03T15:51:00Z")
		check("2026-03-03T15:52:00Z")
		require.Equal(t, []string{"ticket.sla_warning first_response Mon 10:00", "ticket.sla_breached first_response Mon 10:00",
			"ticket.sla_warning resolution Tue 15:50", "ticket.sla_breached resolution Tue 15:50"}, b.alertsOf(t, tk.ID))
		again := b.get(t, tk.ID)
		require.Equal(t, tk.Version, again.Version, "alerts are no change of the ticket")
	})
}

// The timer jobs run on the workers: a ticket changed after its first
// response's warning and due time gets both alerts from the job its
// change queued.
func TestSLATimerJobsRunOnTheWorkers(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		slaSetup(t, b)
		b.at("2026-03-02T08:00:00Z")
		tk := b.ticket(t, tickets.NewTicket{Priority: tickets.PriorityHigh})
		require.NoError(t, b.c.Start(ctx))
		t.Cleanup(func() { _ = b.c.Stop(context.Background()) })
		b.at("2026-03-02T10:30:00Z")
		_, err := b.c.Tickets.Update(ctx, tk.ID, tickets.TicketPatch{Version: tk.Version, Subject: ptr("Portal down since 8")})
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			evs, err := b.c.Events(ctx, crm.EventQuery{SubjectID: tk.ID, Types: []string{tickets.EventTicketSLAWarning,
				tickets.EventTicketSLABreached}})
			return err == nil && len(evs) == 2
		}, 10*time.Second, 10*time.Millisecond)
		require.Equal(t, []string{"ticket.sla_warning first_response Mon 10:00", "ticket.sla_breached first_response Mon 10:00"},
			b.alertsOf(t, tk.ID))
	})
}

// The next response is warned about and breached once per customer
// message that waits for an answer.
func TestSLATimersNextResponse(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		slaSetup(t, b)
		b.at("2026-03-02T08:00:00Z")
		m := customer("The portal is down")
		tk := b.ticket(t, tickets.NewTicket{Priority: tickets.PriorityHigh, Message: &m})
		step := func(at string, msg *tickets.NewMessage) {
			b.at(at)
			if msg != nil {
				_, err := b.c.Tickets.AddMessage(ctx, tk.ID, *msg)
				require.NoError(t, err)
			}
			require.NoError(t, b.c.Tickets.CheckSLA(ctx, tk.ID))
		}
		reply, again := agent(true, "Looking into it"), customer("Still down")
		step("2026-03-02T09:30:00Z", &reply) // the first response, in time
		step("2026-03-02T10:00:00Z", &again) // next response due 12:00
		step("2026-03-02T11:45:00Z", nil)
		step("2026-03-02T12:01:00Z", nil)
		step("2026-03-02T12:02:00Z", nil)
		step("2026-03-02T12:10:00Z", &reply)
		step("2026-03-02T13:00:00Z", &again) // due 15:00
		step("2026-03-02T14:46:00Z", nil)
		step("2026-03-02T15:01:00Z", nil)
		require.Equal(t, []string{
			"ticket.sla_warning next_response Mon 12:00", "ticket.sla_breached next_response Mon 12:00",
			"ticket.sla_warning next_response Mon 15:00", "ticket.sla_breached next_response Mon 15:00",
		}, b.alertsOf(t, tk.ID))
	})
}
