package automation_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/crmkit/crmkit/automation"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/modules"
)

// migrated is the template database of these tests: crmkit's migrations and
// River's, run once per test binary (see dbtest.Template).
var migrated = &dbtest.Template{Name: "crm", Sources: modules.Migrations(), Migrate: func(ctx context.Context, db *bun.DB) error {
	c, err := crm.New(db, crm.Config{})
	if err != nil {
		return err
	}
	return c.Migrate(ctx)
}}

// started returns a migrated CRM on db with its workers running until the
// test ends.
func started(t *testing.T, db *bun.DB, cfg crm.Config) *crm.CRM {
	t.Helper()
	ctx := context.Background()
	c, err := crm.New(db, cfg)
	require.NoError(t, err)
	require.NoError(t, c.Migrate(ctx))
	require.NoError(t, c.Start(ctx))
	t.Cleanup(func() {
		require.NoError(t, c.Close()) // stops the workers; the test owns db
	})
	return c
}

// idle returns a migrated CRM on db without workers: the test works its
// jobs when it wants them done (automation.WorkQueued).
func idle(t *testing.T, db *bun.DB, cfg crm.Config) *crm.CRM {
	t.Helper()
	c, err := crm.New(db, cfg)
	require.NoError(t, err)
	require.NoError(t, c.Migrate(context.Background()))
	t.Cleanup(func() {
		require.NoError(t, c.Close()) // the test owns db
	})
	return c
}

// openTasks lists the open tasks of assignee.
func openTasks(t *testing.T, c *crm.CRM, assignee string) []*contacts.Task {
	t.Helper()
	page, err := c.Tasks.Open(context.Background(), assignee, contacts.TaskListOptions{})
	require.NoError(t, err)
	return page.Items
}

// calculatorRule gives a lead's owner a follow-up task when the lead uses
// the price calculator.
var calculatorRule = automation.Rule{
	Name:      "Follow up price calculator users",
	Enabled:   true,
	Triggers:  []string{"activity.tracked"},
	Condition: automation.Condition{Event: filter.Eq("data.name", "pricing_calculator_used")},
	Actions: []automation.Action{{Type: automation.ActionCreateTask, Title: "Call {{contact.first_name}} about pricing",
		DueIn: "1d", Priority: "high"}},
}

// Acceptance: the host tracks pricing_calculator_used for a lead with an
// owner; the rule gives the owner a follow-up task, within a second.
func TestCalculatorUseGivesOwnerATask(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := started(t, db, crm.Config{})
		rule, err := c.Automation.Rules.Create(ctx, calculatorRule)
		require.NoError(t, err)
		lead, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "lea@example.com", FirstName: "Lea", OwnerID: "anna"})
		require.NoError(t, err)

		// An activity the rule does not want starts nothing.
		_, err = c.Contacts.Track(ctx, contacts.ByID(lead.ID), contacts.NewActivity{Kind: contacts.KindWeb, Name: "page_viewed"})
		require.NoError(t, err)

		tracked := time.Now()
		_, err = c.Contacts.Track(ctx, contacts.ByID(lead.ID), contacts.NewActivity{Kind: contacts.KindWeb, Name: "pricing_calculator_used",
			Properties: map[string]any{"plan": "pro"}})
		require.NoError(t, err)
		require.Eventually(t, func() bool { return len(openTasks(t, c, "anna")) == 1 }, 5*time.Second, 5*time.Millisecond)
		t.Logf("task created %v after Track", time.Since(tracked))

		task := openTasks(t, c, "anna")[0]
		require.Equal(t, "Call Lea about pricing", task.Title)
		require.Equal(t, contacts.PriorityHigh, task.Priority)
		require.Equal(t, lead.ID, *task.ContactID)
		require.NotNil(t, task.DueAt)

		// The run log: one run, done, one step that names the task.
		runs, err := c.Automation.Runs.List(ctx, automation.RunQuery{RuleID: rule.ID})
		require.NoError(t, err)
		require.Len(t, runs, 1)
		require.Equal(t, automation.RunDone, runs[0].Status)
		require.Equal(t, lead.ID, *runs[0].ContactID)
		run, err := c.Automation.Runs.Get(ctx, runs[0].ID)
		require.NoError(t, err)
		require.Len(t, run.Steps, 1)
		require.Equal(t, automation.StepOK, run.Steps[0].Status)
		require.Contains(t, string(run.Steps[0].Result), task.ID.String())
	})
}

// A change that rolls back leaves no job behind: the rule never runs.
// Driven without workers: River's rivertest asserts what is queued.
func TestRolledBackChangeQueuesNothing(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c, err := crm.New(db, crm.Config{})
		require.NoError(t, err)
		require.NoError(t, c.Migrate(ctx))
		_, err = c.Automation.Rules.Create(ctx, calculatorRule)
		require.NoError(t, err)
		lead, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "lea@example.com", OwnerID: "anna"})
		require.NoError(t, err)
		jobs := func() int {
			var n int
			require.NoError(t, db.NewSelect().Table("river_job").ColumnExpr("count(*)").Where("kind = ?", "crm.dispatch").Scan(ctx, &n))
			return n
		}
		before := jobs()
		err = c.InTx(ctx, func(ctx context.Context, tx *crm.CRM) error {
			_, err := tx.Contacts.Track(ctx, contacts.ByID(lead.ID), contacts.NewActivity{Kind: contacts.KindWeb, Name: "pricing_calculator_used"})
			require.NoError(t, err)
			return core.ErrConflict // the host's reason to roll back
		})
		require.ErrorIs(t, err, core.ErrConflict)
		require.Equal(t, before, jobs())
		// The same in the host's own transaction.
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		_, err = c.WithTx(tx).Contacts.Track(ctx, contacts.ByID(lead.ID), contacts.NewActivity{Kind: contacts.KindWeb, Name: "pricing_calculator_used"})
		require.NoError(t, err)
		require.NoError(t, tx.Rollback())
		require.Equal(t, before, jobs())
		requireDispatch(t, db, false)
		// Nor does the sweeper (which queues the events a rule wants that
		// got no job) find anything: the events rolled back too.
		require.NoError(t, c.SweepEvents(ctx))
		requireDispatch(t, db, false)
		require.Empty(t, openTasks(t, c, "anna"))

		// The same change committed queues the rule's job.
		_, err = c.Contacts.Track(ctx, contacts.ByID(lead.ID), contacts.NewActivity{Kind: contacts.KindWeb, Name: "pricing_calculator_used"})
		require.NoError(t, err)
		job := requireDispatch(t, db, true)
		require.Equal(t, "default", job.Tenant)
		require.Equal(t, 1, automation.WorkQueued(t, c.Automation))
		require.Len(t, openTasks(t, c, "anna"), 1)
	})
}

// dispatchArgs reads the tenant of crmkit's dispatch job (crm.dispatch).
type dispatchArgs struct {
	Tenant string `json:"tenant"`
}

func (dispatchArgs) Kind() string { return "crm.dispatch" }

// requireDispatch asserts with rivertest that a dispatch job is queued
// (exactly one) or that none is, and returns its arguments.
func requireDispatch(t *testing.T, db *bun.DB, queued bool) dispatchArgs {
	t.Helper()
	ctx := context.Background()
	if db.Dialect().Name() == dialect.SQLite {
		drv := riversqlite.New(db.DB)
		if !queued {
			rivertest.RequireNotInserted[*riversqlite.Driver, *sql.Tx](ctx, t, drv, dispatchArgs{}, nil)
			return dispatchArgs{}
		}
		return rivertest.RequireInserted[*riversqlite.Driver, *sql.Tx](ctx, t, drv, dispatchArgs{}, nil).Args
	}
	drv := riverdatabasesql.New(db.DB)
	if !queued {
		rivertest.RequireNotInserted[*riverdatabasesql.Driver, *sql.Tx](ctx, t, drv, dispatchArgs{}, nil)
		return dispatchArgs{}
	}
	return rivertest.RequireInserted[*riverdatabasesql.Driver, *sql.Tx](ctx, t, drv, dispatchArgs{}, nil).Args
}

// mailbox is the host action standing in for mail: it records what it
// was asked to send.
type mailbox struct {
	mu   sync.Mutex
	sent []sentMail
}

type sentMail struct {
	Contact  core.ID
	Template string
	Key      string
}

func (m *mailbox) register(t *testing.T, c *crm.CRM) {
	t.Helper()
	require.NoError(t, c.RegisterAction("send_mail", func(ctx context.Context, tx *crm.CRM, call automation.Call) (any, error) {
		var p struct {
			Template string `json:"template"`
		}
		if err := json.Unmarshal(call.Params, &p); err != nil {
			return nil, err
		}
		if call.ContactID == nil {
			return nil, errors.New("no recipient")
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		m.sent = append(m.sent, sentMail{Contact: *call.ContactID, Template: p.Template, Key: call.IdempotencyKey})
		return map[string]any{"template": p.Template}, nil
	}, func(params json.RawMessage) error {
		var p struct {
			Template string `json:"template"`
		}
		if err := json.Unmarshal(params, &p); err != nil || p.Template == "" {
			return errors.New(`needs {"template": "..."}`)
		}
		return nil
	}))
}

func (m *mailbox) templates() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, s := range m.sent {
		out = append(out, s.Template)
	}
	return out
}

// Acceptance: a contact created with newsletter consent gets the first
// welcome mail at once and the second two days later. Time is the test's:
// River and crmkit read the same clock, and no test sleeps two days; the
// wait's job comes due when the clock has passed it.
func TestWelcomeDripWaitsTwoDays(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
		clock := newMovingClock(start)
		c := idle(t, db, crm.Config{Clock: clock})
		mail := &mailbox{}
		mail.register(t, c)

		_, err := c.Consent.DefinePurpose(ctx, consent.NewPurpose{Key: "newsletter", Label: "Newsletter", LegalBasis: consent.BasisConsent,
			Channels: []consent.Channel{consent.Email}, Wording: "Send me the newsletter."})
		require.NoError(t, err)
		rule, err := c.Automation.Rules.Create(ctx, automation.Rule{Name: "Welcome", Enabled: true, Triggers: []string{"consent.granted"},
			Condition: automation.Condition{Event: filter.Eq("data.purpose", "newsletter")},
			Actions: []automation.Action{
				{Type: "send_mail", Params: json.RawMessage(`{"template":"welcome_1"}`)},
				{Type: automation.ActionWait, For: "2d"},
				{Type: "send_mail", Params: json.RawMessage(`{"template":"welcome_2"}`)},
			}})
		require.NoError(t, err)

		var who *contacts.Contact
		require.NoError(t, c.InTx(ctx, func(ctx context.Context, tx *crm.CRM) error {
			var err error
			if who, err = tx.Contacts.Create(ctx, contacts.NewContact{Email: "nina@example.com"}); err != nil {
				return err
			}
			_, err = tx.Consent.Grant(ctx, who.ID, "newsletter", consent.Email, consent.Proof{Source: "form"})
			return err
		}))
		require.Equal(t, 1, automation.WorkQueued(t, c.Automation))
		require.Equal(t, []string{"welcome_1"}, mail.templates())
		runs, err := c.Automation.Runs.List(ctx, automation.RunQuery{RuleID: rule.ID})
		require.NoError(t, err)
		require.Len(t, runs, 1)
		require.Equal(t, automation.RunWaiting, runs[0].Status)

		// A day later: still waiting.
		clock.Jump(24 * time.Hour)
		require.Zero(t, automation.WorkDue(t, c.Automation))
		require.Equal(t, []string{"welcome_1"}, mail.templates())

		// Two days later the second mail goes out.
		clock.Jump(24*time.Hour + time.Minute)
		require.Equal(t, 1, automation.WorkDue(t, c.Automation))
		require.Equal(t, []string{"welcome_1", "welcome_2"}, mail.templates())
		run, err := c.Automation.Runs.Get(ctx, runs[0].ID)
		require.NoError(t, err)
		require.Equal(t, automation.RunDone, run.Status)
		require.Len(t, run.Steps, 3)
		mail.mu.Lock()
		defer mail.mu.Unlock()
		require.Equal(t, who.ID, mail.sent[1].Contact)
		require.NotEqual(t, mail.sent[0].Key, mail.sent[1].Key)
	})
}

// movingClock runs at the speed of the wall clock from a chosen start, and
// jumps forward when told: River needs time that moves (its leader
// election does), the tests need to skip days.
type movingClock struct {
	mu     sync.Mutex
	start  time.Time
	since  time.Time
	jumped time.Duration
}

func newMovingClock(start time.Time) *movingClock {
	return &movingClock{start: start, since: time.Now()}
}

func (c *movingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.start.Add(time.Since(c.since) + c.jumped)
}

// Jump moves the clock forward by d.
func (c *movingClock) Jump(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.jumped += d
}
