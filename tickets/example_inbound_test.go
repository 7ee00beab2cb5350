package tickets_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/tickets"
)

// Mail from the support mailbox: a request opens a ticket for its sender,
// the customer's reply to the agent's mail joins it, and the
// out-of-office answer to that mail is ignored.
func ExampleTickets_Inbound() {
	ctx := context.Background()
	clock := core.ClockFunc(func() time.Time { return time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC) })
	c, _ := crm.Open(ctx, crm.Config{DSN: ":memory:", Clock: clock})
	defer c.Close()
	_ = c.Migrate(ctx)

	request := "From: Ada Lovelace <ada@example.com>\r\nTo: support@example.com\r\nMessage-ID: <req-1@example.com>\r\n" +
		"Subject: Printer on fire\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe printer is on fire.\r\n"
	res, err := c.Tickets.Inbound(ctx, strings.NewReader(request), tickets.InboundOptions{})
	if err != nil {
		panic(err)
	}
	t := res.Ticket
	fmt.Println(res.Outcome, t.Number, t.Subject, res.ContactCreated)

	// The agent answers; the host sends the mail with the ticket's token
	// in its subject and records its Message-ID.
	answer, _ := c.Tickets.AddMessage(ctx, t.ID, tickets.NewMessage{Public: true, AuthorKind: tickets.AuthorAgent, AuthorID: "agent-1",
		Body: "A technician is on the way."})
	fmt.Println(tickets.MailSubject(t, tickets.DefaultTicketHook))
	_ = c.Tickets.MailSent(ctx, t.ID, answer.ID, "<answer-1@support.example.com>")

	reply := "From: ada@example.com\r\nMessage-ID: <req-2@example.com>\r\nIn-Reply-To: <answer-1@support.example.com>\r\n" +
		"Subject: Re: Printer on fire [#1]\r\n\r\nThank you!\r\n"
	res, _ = c.Tickets.Inbound(ctx, strings.NewReader(reply), tickets.InboundOptions{})
	fmt.Println(res.Outcome, res.ThreadedBy, res.Ticket.Number)

	away := "From: ada@example.com\r\nMessage-ID: <ooo-1@example.com>\r\nIn-Reply-To: <answer-1@support.example.com>\r\n" +
		"Auto-Submitted: auto-replied\r\nSubject: Out of office\r\n\r\nBack on Monday.\r\n"
	res, _ = c.Tickets.Inbound(ctx, strings.NewReader(away), tickets.InboundOptions{})
	fmt.Println(res.Outcome, res.Ignored)
	// Output:
	// created 1 Printer on fire true
	// Printer on fire [#1]
	// appended in_reply_to 1
	// ignored auto_submitted
}

// A macro answers and solves a ticket in one change, its reply written
// for the ticket and by the agent who applies it.
func ExampleTickets_ApplyMacro() {
	ctx := context.Background()
	clock := core.ClockFunc(func() time.Time { return time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC) })
	c, _ := crm.Open(ctx, crm.Config{DSN: ":memory:", Clock: clock})
	defer c.Close()
	_ = c.Migrate(ctx)
	_, _ = c.Access.Roles.InstallBuiltins(ctx)
	_, _ = c.Access.Users.Create(ctx, access.UserInput{ID: "grace", DisplayName: "Grace", Roles: []string{access.RoleAdmin}})

	solved, err := c.Tickets.Macros().Create(ctx, tickets.NewMacro{Name: "Solved", Public: true,
		Body:    "Hello {{.Contact.FirstName | default \"there\"}},\nticket #{{.Ticket.Number}} is {{.Ticket.Status}}.\n{{.Agent.Name}}",
		Changes: tickets.MacroChanges{Status: tickets.StatusSolved, AddTags: []string{"answered"}}})
	if err != nil {
		panic(err)
	}
	res, _ := c.Tickets.Inbound(ctx, strings.NewReader("From: Ada Lovelace <ada@example.com>\r\nSubject: Invoice\r\n\r\nWhere is it?\r\n"),
		tickets.InboundOptions{})

	agent := core.WithActor(ctx, core.Actor{ID: "grace"})
	t, err := c.Tickets.ApplyMacro(agent, res.TicketID, solved.ID, res.Ticket.Version)
	if err != nil {
		panic(err)
	}
	msgs, _ := c.Tickets.Messages(ctx, t.ID)
	fmt.Println(t.Status, t.Tags)
	fmt.Println(msgs[len(msgs)-1].Body)
	// Output:
	// solved [answered]
	// Hello Ada,
	// ticket #1 is solved.
	// Grace
}
