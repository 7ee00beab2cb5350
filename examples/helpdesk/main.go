// Command helpdesk turns a support mailbox into tickets with service
// levels. It sets up office hours in Berlin, an SLA policy (first response
// within an hour, warned 15 minutes before) and two teams with routing
// (German mail to the DACH team, the rest to support, agents taking turns),
// then feeds the raw mails of its mail folder through c.Tickets.Inbound as
// a support mailbox would, one at a time:
//
//   - a mail that arrives before office hours: a ticket whose first
//     response is due an hour after the office opens;
//   - the same mail delivered twice: a duplicate, nothing added;
//   - a German mail in ISO-8859-1: routed to the DACH team;
//   - an out-of-office reply: ignored, so no mail loop;
//   - the customer's answer to an agent's reply: threaded into its ticket
//     by In-Reply-To, which starts the next-response clock.
//
// The story takes a Monday morning; a clock of the example's own
// (crm.Config.Clock) moves through it in seconds. The workers (c.Start)
// run the tickets' SLA timers, and the example prints the warning and the
// breach they raise for the ticket nobody answered (River's scheduler
// hands a timer to the workers within seconds of its time).
//
//	go run ./examples/helpdesk                    # a fresh helpdesk.db, removed at the end
//	go run ./examples/helpdesk -dsn postgres://…  # an empty PostgreSQL database
package main

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/tickets"
)

//go:embed mail/*.eml
var mailbox embed.FS

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		log.Fatal(err)
	}
}

var berlin = mustZone("Europe/Berlin")

func run(ctx context.Context, args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("helpdesk", flag.ContinueOnError)
	dsn := flags.String("dsn", "", "an empty database: an SQLite file or postgres://… (default: a fresh helpdesk.db, removed at the end)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *dsn == "" {
		*dsn = "file:helpdesk.db"
		for _, f := range []string{"helpdesk.db", "helpdesk.db-wal", "helpdesk.db-shm"} {
			_ = os.Remove(f)
			defer os.Remove(f)
		}
	}

	// Monday, 2 March 2026, 08:50 in Berlin: the office opens at nine.
	clock := newClock(time.Date(2026, 3, 2, 8, 50, 0, 0, berlin))
	// River's leader election notices the clock's jumps and warns; the
	// example shows crmkit's errors only.
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	c, err := crm.Open(ctx, crm.Config{DSN: *dsn, Clock: clock, Logger: logger})
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Migrate(ctx); err != nil {
		return err
	}
	if err := setUp(ctx, c); err != nil {
		return err
	}

	// SLA warnings and breaches are events; a real desk would page
	// someone or let a rule escalate.
	alerts := make(chan string, 8)
	c.Subscribe(func(ctx context.Context, ev core.Event) {
		var a tickets.SLAAlert
		if err := json.Unmarshal(ev.Data, &a); err == nil {
			fmt.Fprintf(stdout, "%s  %s: #%d %s due %s\n", clock.Now().In(berlin).Format("15:04"), ev.Type,
				a.Ticket.Number, a.Target, a.Due.In(berlin).Format("15:04"))
			alerts <- ev.Type
		}
	}, tickets.EventTicketSLAWarning, tickets.EventTicketSLABreached)
	if err := c.Start(ctx); err != nil { // workers: the SLA timers
		return err
	}

	d := &desk{c: c, clock: clock, out: stdout}
	d.at(8, 50)
	first, err := d.receive(ctx, "1-login.eml")
	if err != nil {
		return err
	}
	if _, err := d.receive(ctx, "1-login.eml"); err != nil { // the mail server delivers it again
		return err
	}
	d.at(9, 10)
	if _, err := d.receive(ctx, "2-rechnung.eml"); err != nil {
		return err
	}
	if _, err := d.receive(ctx, "3-out-of-office.eml"); err != nil {
		return err
	}

	// The agent answers the first ticket. The host sends the reply by mail
	// (not shown) and records its Message-ID, so that the customer's
	// answer finds the ticket.
	d.at(9, 30)
	reply, err := c.Tickets.AddMessage(ctx, first.ID, tickets.NewMessage{Public: true, AuthorKind: tickets.AuthorAgent,
		AuthorID: first.AssigneeID, Body: "We have reset your password: use the link we sent."})
	if err != nil {
		return err
	}
	if err := c.Tickets.MailSent(ctx, first.ID, reply.ID, "<reply-1@support.shop.example>"); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s  %s replies to #%d\n", clock.Now().In(berlin).Format("15:04"), first.AssigneeID, first.Number)
	d.at(9, 40)
	if _, err := d.receive(ctx, "4-login-reply.eml"); err != nil {
		return err
	}
	if err := d.queue(ctx); err != nil {
		return err
	}

	// Nobody answers #2: the timers warn at 09:55 and report the breach
	// at 10:10.
	for _, step := range []struct {
		hour, min int
		want      string
	}{{9, 56, tickets.EventTicketSLAWarning}, {10, 11, tickets.EventTicketSLABreached}} {
		d.at(step.hour, step.min)
		if err := waitFor(alerts, step.want); err != nil {
			return err
		}
	}
	if err := d.queue(ctx); err != nil {
		return err
	}
	return c.Stop(ctx)
}

// waitFor waits for an alert of type want: River's scheduler hands the
// timer, due by the clock, to a worker within seconds.
func waitFor(alerts <-chan string, want string) error {
	timeout := time.After(30 * time.Second)
	for {
		select {
		case got := <-alerts:
			if got == want {
				return nil
			}
		case <-timeout:
			return fmt.Errorf("helpdesk: no %s within 30s", want)
		}
	}
}

// setUp gives the desk office hours, an SLA policy, teams and routing.
func setUp(ctx context.Context, c *crm.CRM) error {
	var week []tickets.Window
	for day := time.Monday; day <= time.Friday; day++ {
		week = append(week, tickets.Window{Weekday: day, Start: "09:00", End: "17:00"})
	}
	office, err := c.Calendars.Create(ctx, tickets.NewCalendar{Name: "Berlin office", TimeZone: "Europe/Berlin", Country: "DE", Windows: week})
	if err != nil {
		return err
	}
	if _, err := c.SLAPolicies.Create(ctx, tickets.NewPolicy{Name: "Standard", CalendarID: office.ID,
		FirstResponseMinutes: 60, NextResponseMinutes: 120, ResolutionMinutes: 480, WarningMinutes: 15}); err != nil {
		return err
	}
	for team, agents := range map[string][]string{"support": {"mia", "noah"}, "dach": {"lena"}} {
		t, err := c.Access.Teams.Create(ctx, access.TeamInput{Name: team})
		if err != nil {
			return err
		}
		for _, agent := range agents {
			if _, err := c.Access.Users.Create(ctx, access.UserInput{ID: agent, DisplayName: agent, TimeZone: "Europe/Berlin"}); err != nil {
				return err
			}
			if t, err = c.Access.Teams.AddMember(ctx, t.ID, t.Version, access.Member{UserID: agent}); err != nil {
				return err
			}
		}
	}
	_, err = c.Routing.Set(ctx, 0, tickets.RoutingInput{
		Rules: []tickets.RoutingRule{
			{Name: "German", Condition: filter.Eq("language", "de"), Team: "dach"},
			{Name: "Everything else", Team: "support"},
		},
		Teams: map[string]tickets.AssignMode{"support": tickets.AssignRoundRobin, "dach": tickets.AssignRoundRobin},
	})
	return err
}

// desk is the story: the CRM, the clock it moves, where it writes.
type desk struct {
	c     *crm.CRM
	clock *clock
	out   io.Writer
}

// at moves the clock to hour:min of the story's Monday.
func (d *desk) at(hour, min int) {
	d.clock.Set(time.Date(2026, 3, 2, hour, min, 0, 0, berlin))
}

// receive takes a mail of the mail folder into the desk, as the support
// mailbox hands it over, and says what became of it.
func (d *desk) receive(ctx context.Context, name string) (*tickets.Ticket, error) {
	raw, err := mailbox.ReadFile("mail/" + name)
	if err != nil {
		return nil, err
	}
	res, err := d.c.Tickets.Inbound(ctx, bytes.NewReader(raw), tickets.InboundOptions{OwnAddresses: []string{"support@shop.example"}})
	if err != nil {
		return nil, err
	}
	now := d.clock.Now().In(berlin).Format("15:04")
	switch res.Outcome {
	case tickets.InboundCreated:
		t := res.Ticket
		fmt.Fprintf(d.out, "%s  %s: new ticket #%d %q for %s/%s, first response due %s\n", now, name, t.Number, t.Subject,
			t.Team, t.AssigneeID, t.SLA.FirstResponse.Due.In(berlin).Format("Mon 15:04"))
	case tickets.InboundAppended:
		fmt.Fprintf(d.out, "%s  %s: added to #%d (found by %s)\n", now, name, res.Ticket.Number, res.ThreadedBy)
	case tickets.InboundIgnored:
		fmt.Fprintf(d.out, "%s  %s: ignored (%s)\n", now, name, res.Ignored)
	default:
		fmt.Fprintf(d.out, "%s  %s: %s\n", now, name, res.Outcome)
	}
	return res.Ticket, nil
}

// queue prints the open tickets, the most urgent first, with what their
// SLA says now.
func (d *desk) queue(ctx context.Context) error {
	page, err := d.c.Tickets.List(ctx, tickets.ListOptions{Sort: "sla_due"})
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "queue at %s:\n", d.clock.Now().In(berlin).Format("15:04"))
	for _, t := range page.Items {
		fmt.Fprintf(d.out, "  #%d %-34q %-7s %-4s", t.Number, t.Subject, t.Team, t.AssigneeID)
		for _, target := range []struct {
			name string
			t    *tickets.Target
		}{{"first response", t.SLA.FirstResponse}, {"next response", t.SLA.NextResponse}} {
			switch {
			case target.t == nil:
			case target.t.MetAt != nil:
				fmt.Fprintf(d.out, "  %s met %s", target.name, target.t.MetAt.In(berlin).Format("15:04"))
			case target.t.Breached:
				fmt.Fprintf(d.out, "  %s BREACHED (due %s)", target.name, target.t.Due.In(berlin).Format("15:04"))
			default:
				fmt.Fprintf(d.out, "  %s due %s (%d min left)", target.name, target.t.Due.In(berlin).Format("15:04"), target.t.RemainingMinutes)
			}
		}
		fmt.Fprintln(d.out)
	}
	return nil
}

// clock is the story's time: it runs like a wall clock from where Set
// put it (crmkit and River both read it).
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func newClock(t time.Time) *clock {
	c := &clock{}
	c.Set(t)
	return c
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset).UTC()
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset = time.Until(t)
}

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}
