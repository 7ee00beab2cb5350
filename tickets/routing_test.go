package tickets_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/tickets"
)

// member is a user of a routing test team.
type member struct {
	id       string
	capacity int
	skills   access.Skills
	hours    access.WorkingHours
	away     *access.Period
}

// team creates the users and a team of them.
func (b *bundle) team(t *testing.T, name string, members ...member) {
	t.Helper()
	ctx := context.Background()
	team, err := b.c.Access.Teams.Create(ctx, access.TeamInput{Name: name})
	require.NoError(t, err)
	for _, m := range members {
		_, err := b.c.Access.Users.Create(ctx, access.UserInput{ID: m.id, DisplayName: m.id, TimeZone: "Europe/Berlin",
			WorkingHours: m.hours, OutOfOffice: m.away})
		require.NoError(t, err)
		team, err = b.c.Access.Teams.AddMember(ctx, team.ID, team.Version, access.Member{UserID: m.id, Capacity: m.capacity, Skills: m.skills})
		require.NoError(t, err)
	}
}

// route sets the routing: every ticket to team, in mode.
func (b *bundle) route(t *testing.T, team string, mode tickets.AssignMode) {
	t.Helper()
	cur, err := b.c.Routing.Get(context.Background())
	require.NoError(t, err)
	_, err = b.c.Routing.Set(context.Background(), cur.Version, tickets.RoutingInput{
		Rules: []tickets.RoutingRule{{Name: "all", Team: team}},
		Teams: map[string]tickets.AssignMode{team: mode}})
	require.NoError(t, err)
}

// createConcurrently creates n tickets at once, each with in.
func (b *bundle) createConcurrently(t *testing.T, n int, in tickets.NewTicket) []*tickets.Ticket {
	t.Helper()
	var wg sync.WaitGroup
	out := make([]*tickets.Ticket, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			in := in
			in.Subject = fmt.Sprintf("Concurrent %d", i)
			in.ContactID = b.contact.ID
			out[i], errs[i] = b.c.Tickets.Create(context.Background(), in)
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	return out
}

// loads counts the team's open tickets per assignee, as stored, and the
// tickets waiting in its queue.
func (b *bundle) loads(t *testing.T, team string) (map[string]int, int) {
	t.Helper()
	page, err := b.c.Tickets.List(context.Background(), tickets.ListOptions{Filter: filter.Eq("team", team), Limit: 1000})
	require.NoError(t, err)
	out, waiting := map[string]int{}, 0
	for _, tk := range page.Items {
		switch {
		case tk.AssigneeID != "":
			require.Nil(t, tk.QueuedAt, "an assigned ticket does not wait")
			if tk.Status != tickets.StatusSolved && tk.Status != tickets.StatusClosed {
				out[tk.AssigneeID]++
			}
		default:
			require.NotNil(t, tk.QueuedAt, "an unassigned ticket of a routed team waits in its queue")
			waiting++
		}
	}
	return out, waiting
}

func spread(loads map[string]int) (lo, hi int) {
	lo = 1 << 30
	for _, n := range loads {
		lo, hi = min(lo, n), max(hi, n)
	}
	return lo, hi
}

// Twenty tickets created at once are spread by round robin evenly (within
// one) and nobody gets more than their capacity; what nobody can take
// waits in the queue.
func TestRoutingRoundRobinUnderConcurrency(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		b.team(t, "desk", member{id: "ana", capacity: 7}, member{id: "ben", capacity: 7}, member{id: "cem", capacity: 7})
		b.route(t, "desk", tickets.AssignRoundRobin)

		created := b.createConcurrently(t, 20, tickets.NewTicket{})
		for _, tk := range created {
			require.Equal(t, "desk", tk.Team, "the rule routed it")
			require.NotEmpty(t, tk.AssigneeID)
		}
		loads, waiting := b.loads(t, "desk")
		require.Equal(t, 0, waiting)
		require.Len(t, loads, 3)
		lo, hi := spread(loads)
		require.LessOrEqual(t, hi-lo, 1, "round robin spreads evenly: %v", loads)
		require.LessOrEqual(t, hi, 7)

		// Five more: the one with room takes one, four wait.
		more := b.createConcurrently(t, 5, tickets.NewTicket{})
		loads, waiting = b.loads(t, "desk")
		require.Equal(t, map[string]int{"ana": 7, "ben": 7, "cem": 7}, loads, "nobody above capacity")
		require.Equal(t, 4, waiting)
		queued := 0
		for _, tk := range more {
			if tk.AssigneeID == "" {
				queued++
				require.Contains(t, b.eventTypes(t, tk.ID), tickets.EventTicketQueued)
			} else {
				require.Contains(t, b.eventTypes(t, tk.ID), tickets.EventTicketAssigned)
			}
		}
		require.Equal(t, 4, queued)
	})
}

// Least loaded gives each ticket to the member with the fewest open
// tickets whose skills cover it, skipping who is out of office or off
// work now, and the queue takes them when they come back.
func TestRoutingLeastLoadedSkillsAndAbsence(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		// Monday 2026-03-02 08:00 UTC is 09:00 in Berlin.
		b.team(t, "emea",
			member{id: "dora", skills: access.Skills{Languages: []string{"de"}}},
			member{id: "eli", skills: access.Skills{Languages: []string{"en"}, ProductLines: []string{"pro"}}},
			member{id: "fay", away: &access.Period{From: utc("2026-03-01T00:00:00Z"), Until: utc("2026-03-02T12:00:00Z")}},
			member{id: "gus", hours: access.WorkingHours{"mon": {{Start: "14:00", End: "22:00"}}}},
		)
		b.route(t, "emea", tickets.AssignLeastLoaded)

		de := b.ticket(t, tickets.NewTicket{Language: "de-CH"})
		require.Equal(t, "dora", de.AssigneeID, "de-CH is German")
		require.Equal(t, "de-CH", de.Language)
		en := b.ticket(t, tickets.NewTicket{Language: "en", ProductLine: "pro"})
		require.Equal(t, "eli", en.AssigneeID)
		// Without a language: dora and eli have one each; dora's turn comes
		// first after eli.
		free1 := b.ticket(t, tickets.NewTicket{})
		free2 := b.ticket(t, tickets.NewTicket{})
		require.ElementsMatch(t, []string{"dora", "eli"}, []string{free1.AssigneeID, free2.AssigneeID})
		// A language nobody present speaks waits.
		fr := b.ticket(t, tickets.NewTicket{Language: "fr"})
		require.Equal(t, "fr", fr.Language)
		require.Empty(t, fr.AssigneeID, "fay (away) and gus (off work) are passed over, dora and eli lack French")
		// fay and gus list no language: they take French once there.
		// 12:00 UTC: fay is back.
		b.clock.Set(utc("2026-03-02T12:00:00Z"), 0)
		n, err := b.c.Routing.Drain(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		got, err := b.c.Tickets.Get(ctx, fr.ID)
		require.NoError(t, err)
		require.Equal(t, "fay", got.AssigneeID)
		require.Nil(t, got.QueuedAt)
		// gus is off work until 14:00 Berlin; then least loaded is him.
		b.clock.Set(utc("2026-03-02T13:30:00Z"), 0)
		late := b.ticket(t, tickets.NewTicket{})
		require.Equal(t, "gus", late.AssigneeID, "gus has no ticket yet")
		for _, id := range []core.ID{de.ID, en.ID, free1.ID, free2.ID, fr.ID, late.ID} {
			types := b.eventTypes(t, id)
			require.Contains(t, types, tickets.EventTicketAssigned)
		}
	})
}

// When capacity frees (solved, closed, reassigned, merged), the oldest
// waiting ticket of the team is given out first.
func TestRoutingQueueDrainsInOrder(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		b.team(t, "duo", member{id: "hal", capacity: 1}, member{id: "ivy", capacity: 1})
		b.route(t, "duo", tickets.AssignRoundRobin)
		var all []*tickets.Ticket
		for i := range 6 {
			b.clock.Add(time.Minute)
			all = append(all, b.ticket(t, tickets.NewTicket{Subject: fmt.Sprintf("T%d", i)}))
		}
		require.Equal(t, "hal", all[0].AssigneeID)
		require.Equal(t, "ivy", all[1].AssigneeID)
		for _, tk := range all[2:] {
			require.Empty(t, tk.AssigneeID)
			require.NotNil(t, tk.QueuedAt)
		}
		get := func(tk *tickets.Ticket) *tickets.Ticket {
			got, err := b.c.Tickets.Get(ctx, tk.ID)
			require.NoError(t, err)
			return got
		}

		// hal solves T0: T2, the oldest waiting, is his.
		b.clock.Add(time.Minute)
		_, err := b.c.Tickets.SetStatus(ctx, all[0].ID, tickets.StatusChange{Version: all[0].Version, Status: tickets.StatusSolved})
		require.NoError(t, err)
		require.Equal(t, "hal", get(all[2]).AssigneeID)
		require.Empty(t, get(all[3]).AssigneeID)

		// ivy's T1 goes to someone outside the team: T3 is ivy's.
		t1 := get(all[1])
		_, err = b.c.Tickets.Assign(ctx, t1.ID, tickets.Assignment{Version: t1.Version, AssigneeID: "outsider"})
		require.NoError(t, err)
		require.Equal(t, "ivy", get(all[3]).AssigneeID)
		require.Empty(t, get(all[4]).AssigneeID)

		// ivy's T3 is merged into hal's T2 (closed): T4 is ivy's.
		t3 := get(all[3])
		_, err = b.c.Tickets.Merge(ctx, t3.ID, t3.Version, all[2].ID)
		require.NoError(t, err)
		require.Equal(t, "ivy", get(all[4]).AssigneeID)

		// hal closes T2: T5, the last, is his; the queue is empty.
		t2 := get(all[2])
		_, err = b.c.Tickets.SetStatus(ctx, t2.ID, tickets.StatusChange{Version: t2.Version, Status: tickets.StatusClosed})
		require.NoError(t, err)
		require.Equal(t, "hal", get(all[5]).AssigneeID)
		_, waiting := b.loads(t, "duo")
		require.Equal(t, 0, waiting)

		// A ticket put back in the team without an agent is routed again.
		t5 := get(all[5])
		back, err := b.c.Tickets.Assign(ctx, t5.ID, tickets.Assignment{Version: t5.Version, Team: "duo"})
		require.NoError(t, err)
		require.Equal(t, "hal", back.AssigneeID, "hal has room again once T5 left him")
		evs, err := b.c.Events(ctx, crm.EventQuery{SubjectID: t5.ID, Limit: 100})
		require.NoError(t, err)
		var modes []tickets.AssignMode
		for _, ev := range evs {
			if ev.Type == tickets.EventTicketAssigned {
				var a struct {
					Mode tickets.AssignMode `json:"mode"`
				}
				require.NoError(t, json.Unmarshal(ev.Data, &a))
				modes = append(modes, a.Mode)
			}
		}
		require.Equal(t, []tickets.AssignMode{tickets.AssignRoundRobin, tickets.AssignRoundRobin}, modes)

		// A waiting ticket closed leaves the queue; reopened, it is routed
		// again and waits anew (both members are full).
		t6 := b.ticket(t, tickets.NewTicket{Subject: "T6"})
		require.NotNil(t, t6.QueuedAt)
		t6, err = b.c.Tickets.SetStatus(ctx, t6.ID, tickets.StatusChange{Version: t6.Version, Status: tickets.StatusClosed})
		require.NoError(t, err)
		require.Nil(t, t6.QueuedAt)
		b.clock.Add(time.Minute)
		t6, err = b.c.Tickets.SetStatus(ctx, t6.ID, tickets.StatusChange{Version: t6.Version, Status: tickets.StatusOpen})
		require.NoError(t, err)
		require.Empty(t, t6.AssigneeID)
		require.NotNil(t, t6.QueuedAt)
		require.Equal(t, b.clock.Now().Unix(), t6.QueuedAt.Unix(), "it queues at the end")
	})
}

// Rules are tried in order, the first match routes and may set priority
// and category; tickets given a team or agent are not rerouted; bad
// settings are refused with every problem, stale versions conflict.
func TestRoutingRules(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		b.team(t, "billing", member{id: "bo"})
		b.team(t, "general", member{id: "gil"})
		set, err := b.c.Routing.Set(ctx, 0, tickets.RoutingInput{
			Rules: []tickets.RoutingRule{
				{Name: "vip", Condition: filter.Contains("tags", "vip"), Team: "billing", Priority: tickets.PriorityUrgent},
				{Name: "invoices", Condition: filter.Prefix("subject", "Invoice"), Team: "billing", Category: "billing"},
				{Name: "rest", Team: "general"},
			},
			Teams: map[string]tickets.AssignMode{"billing": tickets.AssignRoundRobin},
		})
		require.NoError(t, err)
		require.EqualValues(t, 1, set.Version)

		vip := b.ticket(t, tickets.NewTicket{Subject: "Invoice wrong", Tags: []string{"vip"}})
		require.Equal(t, "billing", vip.Team)
		require.Equal(t, tickets.PriorityUrgent, vip.Priority)
		require.Empty(t, vip.Category, "the first match wins")
		require.Equal(t, "bo", vip.AssigneeID)
		inv := b.ticket(t, tickets.NewTicket{Subject: "Invoice missing"})
		require.Equal(t, "billing", inv.Team)
		require.Equal(t, "billing", inv.Category)
		require.Equal(t, tickets.PriorityNormal, inv.Priority)
		rest := b.ticket(t, tickets.NewTicket{Subject: "Hello"})
		require.Equal(t, "general", rest.Team)
		require.Empty(t, rest.AssigneeID, "general is manual")
		require.Nil(t, rest.QueuedAt)
		given := b.ticket(t, tickets.NewTicket{Subject: "Invoice", Team: "support"})
		require.Equal(t, "support", given.Team, "a given team is kept")
		require.Empty(t, given.AssigneeID)

		_, err = b.c.Routing.Set(ctx, 0, tickets.RoutingInput{})
		require.ErrorIs(t, err, core.ErrConflict)
		_, err = b.c.Routing.Set(ctx, 1, tickets.RoutingInput{
			Rules: []tickets.RoutingRule{{Team: "nope", Priority: "huge", Category: "Not Code", Condition: filter.Eq("nofield", "x")}},
			Teams: map[string]tickets.AssignMode{"billing": "random", "ghost": tickets.AssignRoundRobin},
		})
		require.ElementsMatch(t, []string{"rules[0].name", "rules[0].condition", "rules[0].team", "rules[0].priority", "rules[0].category",
			"teams.billing", "teams.ghost"}, fieldsOf(t, err))
		got, err := b.c.Routing.Get(ctx)
		require.NoError(t, err)
		require.Len(t, got.Rules, 3, "nothing was written")

		// Bad language or product line on a ticket.
		_, err = b.c.Tickets.Create(ctx, tickets.NewTicket{Subject: "x", ContactID: b.contact.ID, Language: "not a tag", ProductLine: "Pro!"})
		require.ElementsMatch(t, []string{"language", "product_line"}, fieldsOf(t, err))

		// Settings need manage; reading them read.
		_, err = b.c.Access.Roles.InstallBuiltins(ctx)
		require.NoError(t, err)
		_, err = b.c.Access.Users.Create(ctx, access.UserInput{ID: "sam", DisplayName: "sam", Roles: []string{access.RoleSupport}})
		require.NoError(t, err)
		_, err = b.c.Routing.Get(as("sam"))
		require.NoError(t, err)
		_, err = b.c.Routing.Set(as("sam"), got.Version, tickets.RoutingInput{})
		require.ErrorIs(t, err, core.ErrForbidden)
		_, err = b.c.Routing.Drain(as("sam"))
		require.NoError(t, err)
		_, err = b.c.Routing.Get(as("nobody"))
		require.ErrorIs(t, err, core.ErrForbidden)
	})
}

// Least loaded evens out the open tickets members already have: twenty
// tickets at once over a member with three and two with none leave them
// within one of each other, nobody above capacity.
func TestRoutingLeastLoadedUnderConcurrency(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		b.team(t, "desk", member{id: "ana", capacity: 9}, member{id: "ben", capacity: 9}, member{id: "cem", capacity: 9})
		for range 3 {
			b.ticket(t, tickets.NewTicket{Team: "desk", AssigneeID: "ana"})
		}
		b.route(t, "desk", tickets.AssignLeastLoaded)
		b.createConcurrently(t, 20, tickets.NewTicket{})
		loads, waiting := b.loads(t, "desk")
		require.Equal(t, 0, waiting)
		require.Equal(t, 23, loads["ana"]+loads["ben"]+loads["cem"])
		lo, hi := spread(loads)
		require.LessOrEqual(t, hi-lo, 1, "least loaded evens the loads out: %v", loads)
		require.LessOrEqual(t, hi, 9)

		// Six more: four fit (27 places), two wait.
		b.createConcurrently(t, 6, tickets.NewTicket{})
		loads, waiting = b.loads(t, "desk")
		require.Equal(t, map[string]int{"ana": 9, "ben": 9, "cem": 9}, loads)
		require.Equal(t, 2, waiting)
	})
}
