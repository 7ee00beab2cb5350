package crmtest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/automation"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/crmtest"
)

// A host's test of its onboarding: a new contact gets a call two days
// after signing up. The test runs it against a real crmkit — the rule,
// the River job of its wait, the task — and the two days pass at once.
func Example() {
	t := exampleT() // in a host's test: the test's *testing.T
	defer t.end()
	ctx := context.Background()

	c := crmtest.New(t, crmtest.WithTime(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)))
	_, err := c.Automation.Rules.Create(ctx, automation.Rule{Name: "Onboarding call", Enabled: true,
		Triggers: []string{contacts.EventContactCreated},
		Actions: []automation.Action{
			{Type: automation.ActionWait, For: "2d"},
			{Type: automation.ActionCreateTask, Title: "Call {{contact.first_name}}", Assignee: &automation.Assignee{User: "anna"}},
		}})
	if err != nil {
		panic(err)
	}
	if _, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com", FirstName: "Ada"}); err != nil {
		panic(err)
	}

	ran, err := c.RunDue(ctx) // the rule starts and waits
	fmt.Println("ran:", ran[0].Kind, err)
	queued, _ := c.Queued(ctx)
	fmt.Println("waiting:", queued[0].Kind, "until", queued[0].At.Format(time.DateTime))

	c.Clock().Advance(48 * time.Hour)
	ran, err = c.RunDue(ctx) // the wait is over
	fmt.Println("ran:", ran[0].Kind, err)
	tasks, _ := c.Tasks.Open(ctx, "anna", contacts.TaskListOptions{})
	fmt.Println("anna's task:", tasks.Items[0].Title)
	// Output:
	// ran: crm.dispatch <nil>
	// waiting: crm.run until 2026-03-04 09:00:00
	// ran: crm.run <nil>
	// anna's task: Call Ada
}
