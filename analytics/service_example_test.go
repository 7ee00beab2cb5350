package analytics_test

import (
	"context"
	"fmt"
	"log"
	"sync"
	"time"

	"github.com/crmkit/crmkit/analytics"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/tickets"
)

// movable is a clock the examples set.
type movable struct {
	mu  sync.Mutex
	now time.Time
}

func (m *movable) Now() time.Time  { m.mu.Lock(); defer m.mu.Unlock(); return m.now }
func (m *movable) set(t time.Time) { m.mu.Lock(); defer m.mu.Unlock(); m.now = t }

// openMovable opens an in-memory CRM on a clock the example moves.
func openMovable(ctx context.Context, at time.Time) (*crm.CRM, *movable) {
	clock := &movable{now: at}
	c, err := crm.Open(ctx, crm.Config{DSN: ":memory:", Clock: clock})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	return c, clock
}

// The service desk's week: two tickets under a one-hour first-response
// target, one answered in time and one late, both solved, one rated.
func ExampleService_ServiceLevels() {
	ctx := context.Background()
	c, clock := openMovable(ctx, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)) // a Monday
	defer c.Close()
	must := func(err error) {
		if err != nil {
			log.Fatal(err)
		}
	}
	var days []tickets.Window
	for d := time.Monday; d <= time.Friday; d++ {
		days = append(days, tickets.Window{Weekday: d, Start: "08:00", End: "18:00"})
	}
	cal, err := c.Calendars.Create(ctx, tickets.NewCalendar{Name: "Office", TimeZone: "UTC", Windows: days})
	must(err)
	_, err = c.SLAPolicies.Create(ctx, tickets.NewPolicy{Name: "standard", CalendarID: cal.ID,
		FirstResponseMinutes: 60, ResolutionMinutes: 480})
	must(err)
	ada, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
	must(err)
	reply := tickets.NewMessage{Public: true, AuthorKind: tickets.AuthorAgent, AuthorID: "sam", Body: "On it"}

	quick, err := c.Tickets.Create(ctx, tickets.NewTicket{Subject: "Login", ContactID: ada.ID})
	must(err)
	slow, err := c.Tickets.Create(ctx, tickets.NewTicket{Subject: "Invoice", ContactID: ada.ID})
	must(err)
	clock.set(time.Date(2026, 3, 2, 9, 20, 0, 0, time.UTC))
	_, err = c.Tickets.AddMessage(ctx, quick.ID, reply)
	must(err)
	clock.set(time.Date(2026, 3, 2, 11, 0, 0, 0, time.UTC))
	_, err = c.Tickets.AddMessage(ctx, slow.ID, reply)
	must(err)
	for _, id := range []core.ID{quick.ID, slow.ID} {
		t, err := c.Tickets.Get(ctx, id)
		must(err)
		_, err = c.Tickets.SetStatus(ctx, id, tickets.StatusChange{Version: t.Version, Status: tickets.StatusSolved})
		must(err)
	}
	link, err := c.Tickets.Survey(ctx, quick.ID, tickets.SurveyCSAT)
	must(err)
	_, err = c.Tickets.AnswerSurvey(ctx, link.Token, 5)
	must(err)

	clock.set(time.Date(2026, 3, 9, 9, 0, 0, 0, time.UTC))
	week := analytics.Period{From: core.NewDate(2026, 3, 2), To: core.NewDate(2026, 3, 9)}
	r, err := c.Analytics.ServiceLevels(ctx, analytics.ServiceOptions{Period: week})
	must(err)
	fr := r.Total.FirstResponse
	fmt.Printf("created %d, solved %d\n", r.Total.Created, r.Total.Solved)
	fmt.Printf("first response: p50 %.0f min, p90 %.0f min\n", fr.P50Minutes, fr.P90Minutes)
	for _, p := range r.Total.SLA {
		fmt.Printf("%s: first response %d met, %d breached; resolution %d met\n", p.Name, p.FirstResponse.Met, p.FirstResponse.Breached, p.Resolution.Met)
	}
	fmt.Printf("CSAT %.1f (%d answer), backlog Monday %d, Sunday %d\n", r.Total.CSAT.Average, r.Total.CSAT.Responses, r.Total.Backlog[0], r.Total.Backlog[6])
	// Output:
	// created 2, solved 2
	// first response: p50 70 min, p90 110 min
	// standard: first response 1 met, 1 breached; resolution 2 met
	// CSAT 5.0 (1 answer), backlog Monday 0, Sunday 0
}
