package tickets_test

import (
	"context"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/tickets"
)

// Business time in a calendar's zone: Friday 16:00 in Berlin plus two
// business hours is Monday 10:00, across the night the clocks go
// forward (and past Easter Monday a week later).
func ExampleHours_AddBusiness() {
	cal := &tickets.Calendar{Name: "Office", TimeZone: "Europe/Berlin", Country: "DE"}
	for _, d := range []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday} {
		cal.Windows = append(cal.Windows, tickets.Window{Weekday: d, Start: "09:00", End: "17:00"})
	}
	h, err := cal.Compile()
	if err != nil {
		panic(err)
	}
	berlin := h.Location()
	for _, start := range []time.Time{
		time.Date(2026, 3, 27, 16, 0, 0, 0, berlin),
		time.Date(2026, 4, 3, 16, 0, 0, 0, berlin), // Good Friday
	} {
		due, _ := h.AddBusiness(start, 2*time.Hour)
		fmt.Println(due.In(berlin).Format("Mon 2006-01-02 15:04 MST"), h.BusinessBetween(start, due))
	}
	// Output:
	// Mon 2026-03-30 10:00 CEST 2h0m0s
	// Tue 2026-04-07 11:00 CEST 2h0m0s
}

// A ticket gets the tenant's next number and the due times of the first
// SLA policy that matches it.
func ExampleTickets_Create() {
	ctx := context.Background()
	clock := core.ClockFunc(func() time.Time { return time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC) })
	c, _ := crm.Open(ctx, crm.Config{DSN: ":memory:", Clock: clock})
	defer c.Close()
	_ = c.Migrate(ctx)

	cal, _ := c.Calendars.Create(ctx, tickets.NewCalendar{Name: "Office", TimeZone: "UTC",
		Windows: []tickets.Window{{Weekday: time.Monday, Start: "09:00", End: "17:00"}}})
	_, _ = c.SLAPolicies.Create(ctx, tickets.NewPolicy{Name: "urgent", Condition: filter.Eq("priority", "urgent"), CalendarID: cal.ID,
		FirstResponseMinutes: 60, ResolutionMinutes: 240})
	ada, _ := c.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
	t, err := c.Tickets.Create(ctx, tickets.NewTicket{Subject: "Portal down", ContactID: ada.ID, Priority: tickets.PriorityUrgent,
		Message: &tickets.NewMessage{Public: true, AuthorKind: tickets.AuthorCustomer, Body: "Nothing loads."}})
	if err != nil {
		panic(err)
	}
	fmt.Println(t.Number, t.Status)
	fmt.Println("first response due", t.SLA.FirstResponse.Due.Format(time.Kitchen), t.SLA.FirstResponse.RemainingMinutes)
	fmt.Println("resolution due", t.SLA.Resolution.Due.Format(time.Kitchen))
	// Output:
	// 1 new
	// first response due 10:00AM 60
	// resolution due 1:00PM
}

// Routing sends German tickets to the team "dach", whose members take
// turns; a member who is full is passed over, and when everyone is full
// the ticket waits in the team's queue until one of theirs is solved.
func ExampleRouting_Set() {
	ctx := context.Background()
	clock := core.ClockFunc(func() time.Time { return time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC) })
	c, _ := crm.Open(ctx, crm.Config{DSN: ":memory:", Clock: clock})
	defer c.Close()
	_ = c.Migrate(ctx)

	team, _ := c.Access.Teams.Create(ctx, access.TeamInput{Name: "dach"})
	for _, id := range []string{"anna", "ben"} {
		_, _ = c.Access.Users.Create(ctx, access.UserInput{ID: id, DisplayName: id})
		team, _ = c.Access.Teams.AddMember(ctx, team.ID, team.Version, access.Member{UserID: id, Capacity: 1})
	}
	_, err := c.Routing.Set(ctx, 0, tickets.RoutingInput{
		Rules: []tickets.RoutingRule{{Name: "german", Condition: filter.Eq("language", "de"), Team: "dach"}},
		Teams: map[string]tickets.AssignMode{"dach": tickets.AssignRoundRobin},
	})
	if err != nil {
		panic(err)
	}
	ada, _ := c.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
	var first *tickets.Ticket
	for i := range 3 {
		t, _ := c.Tickets.Create(ctx, tickets.NewTicket{Subject: fmt.Sprint("Frage ", i+1), ContactID: ada.ID, Language: "de"})
		fmt.Printf("%s: team %s, agent %q, waiting %v\n", t.Subject, t.Team, t.AssigneeID, t.QueuedAt != nil)
		if first == nil {
			first = t
		}
	}
	_, _ = c.Tickets.SetStatus(ctx, first.ID, tickets.StatusChange{Version: first.Version, Status: tickets.StatusSolved})
	third, _ := c.Tickets.GetByNumber(ctx, 3)
	fmt.Printf("after #1 is solved, %s: agent %q\n", third.Subject, third.AssigneeID)
	// Output:
	// Frage 1: team dach, agent "anna", waiting false
	// Frage 2: team dach, agent "ben", waiting false
	// Frage 3: team dach, agent "", waiting true
	// after #1 is solved, Frage 3: agent "anna"
}
