package automation_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/automation"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/internal/dialect"
)

// Retention runs as periodic work: once per interval across the processes
// that run workers, for every tenant with a policy.
func TestRetentionRunsPeriodically(t *testing.T) {
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		cfg := crm.Config{RetentionEvery: time.Hour}
		host, err := crm.New(db, cfg)
		require.NoError(t, err)
		require.NoError(t, host.Migrate(ctx))
		c := host.Tenant("shop-1")
		require.NoError(t, c.Consent.SetRetentionPolicy(ctx, consent.RetentionPolicy{DeleteWebActivitiesAfterMonths: 1}))
		who, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "old-visitor@example.com"})
		require.NoError(t, err)
		old, err := c.Contacts.Track(ctx, contacts.ByID(who.ID), contacts.NewActivity{Kind: contacts.KindWeb, Name: "page_viewed",
			OccurredAt: time.Now().AddDate(0, -3, 0)})
		require.NoError(t, err)
		recent, err := c.Contacts.Track(ctx, contacts.ByID(who.ID), contacts.NewActivity{Kind: contacts.KindWeb, Name: "page_viewed"})
		require.NoError(t, err)

		// Two processes' worth of workers.
		second, err := crm.New(db, cfg)
		require.NoError(t, err)
		for _, p := range []*crm.CRM{host, second} {
			require.NoError(t, p.Start(ctx))
			t.Cleanup(func() { _ = p.Close() })
		}
		require.Eventually(t, func() bool {
			_, err := c.Contacts.GetActivity(ctx, old.ID)
			return errors.Is(err, core.ErrNotFound)
		}, 30*time.Second, 20*time.Millisecond)
		_, err = c.Contacts.GetActivity(ctx, recent.ID)
		require.NoError(t, err)

		var jobs int
		require.NoError(t, db.NewSelect().Table("river_job").ColumnExpr("count(*)").Where("kind = 'crm.periodic'").
			Where("args->>'name' = 'retention'").Scan(ctx, &jobs))
		require.Equal(t, 1, jobs, "once per interval, not once per process")
	})
}

// A tenant over its rate limit waits: the runs beyond it are held back,
// not dropped, and start when the minute has passed.
func TestRateLimitHoldsRunsBack(t *testing.T) {
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c, err := crm.New(db, crm.Config{Automation: automation.Options{RateLimit: 3, RateWindow: 15 * time.Second}})
		require.NoError(t, err)
		require.NoError(t, c.Migrate(ctx))
		require.NoError(t, c.Start(ctx))
		t.Cleanup(func() { _ = c.Close() })
		_, err = c.Automation.Rules.Create(ctx, burstRule)
		require.NoError(t, err)
		for i := 0; i < 5; i++ {
			_, err := c.Contacts.Create(ctx, contacts.NewContact{Email: fmt.Sprintf("burst%d@example.com", i)})
			require.NoError(t, err)
		}
		done := func() int {
			runs, err := c.Automation.Runs.List(ctx, automation.RunQuery{Status: automation.RunDone})
			require.NoError(t, err)
			return len(runs)
		}
		require.Eventually(t, func() bool { return done() == 3 }, 10*time.Second, 10*time.Millisecond)
		time.Sleep(time.Second)
		require.Equal(t, 3, done(), "held back within the window")
		require.Eventually(t, func() bool { return done() == 5 }, 60*time.Second, 10*time.Millisecond)
		require.Len(t, openTasks(t, c, "team"), 5)
	})
}

// A process whose copy of the rules is stale (another process saved the
// rule a moment ago) inserts no job for an event the rule wants; the
// sweeper finds the event and the rule acts on it, once.
func TestSweeperCatchesMissedEvents(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		cfg := crm.Config{Automation: automation.Options{RuleCacheTTL: time.Hour, SweepLag: time.Millisecond}}
		stale, err := crm.New(db, cfg)
		require.NoError(t, err)
		require.NoError(t, stale.Migrate(ctx))
		// The stale process reads the (empty) rules once and keeps them.
		_, err = stale.Contacts.Create(ctx, contacts.NewContact{Email: "before@example.com"})
		require.NoError(t, err)

		fresh, err := crm.New(db, cfg)
		require.NoError(t, err)
		_, err = fresh.Automation.Rules.Create(ctx, burstRule)
		require.NoError(t, err)
		time.Sleep(5 * time.Millisecond) // the event comes after the rule
		missed, err := stale.Contacts.Create(ctx, contacts.NewContact{Email: "burst-missed@example.com"})
		require.NoError(t, err)
		caught, err := fresh.Contacts.Create(ctx, contacts.NewContact{Email: "burst-caught@example.com"})
		require.NoError(t, err)
		var jobs int
		require.NoError(t, db.NewSelect().Table("river_job").ColumnExpr("count(*)").Where("kind = 'crm.dispatch'").Scan(ctx, &jobs))
		require.Equal(t, 1, jobs, "the stale process queued nothing")
		require.Equal(t, 1, automation.WorkQueued(t, fresh.Automation))
		require.Len(t, openTasks(t, fresh, "team"), 1)

		// The sweep (every minute in the workers) queues the missed event.
		require.NoError(t, fresh.SweepEvents(ctx))
		require.Equal(t, 1, automation.WorkQueued(t, fresh.Automation))
		var contactsWithTask []string
		for _, task := range openTasks(t, fresh, "team") {
			contactsWithTask = append(contactsWithTask, task.ContactID.String())
		}
		require.ElementsMatch(t, []string{missed.ID.String(), caught.ID.String()}, contactsWithTask)
		// A second sweep finds nothing more to do.
		require.NoError(t, fresh.SweepEvents(ctx))
		require.Zero(t, automation.WorkQueued(t, fresh.Automation))
		require.Len(t, openTasks(t, fresh, "team"), 2)
	})
}

// The run log keeps what finished for LogRetention; pruning deletes the
// older runs with their steps and keeps the rest.
func TestRunLogIsPruned(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := idle(t, db, crm.Config{Automation: automation.Options{LogRetention: time.Hour}})
		rule, err := c.Automation.Rules.Create(ctx, burstRule)
		require.NoError(t, err)
		_, err = c.Contacts.Create(ctx, contacts.NewContact{Email: "burst-new@example.com"})
		require.NoError(t, err)
		require.Equal(t, 1, automation.WorkQueued(t, c.Automation))
		runs, err := c.Automation.Runs.List(ctx, automation.RunQuery{Status: automation.RunDone})
		require.NoError(t, err)
		require.Len(t, runs, 1)
		// A run that finished two hours ago, as the log would hold it.
		old, ev := core.NewID(), core.NewID()
		then := time.Now().Add(-2 * time.Hour)
		d, err := dialect.For(db)
		require.NoError(t, err)
		_, err = db.DB.ExecContext(ctx, d.Rebind(`INSERT INTO crm_rule_runs (tenant_id, id, rule_id, rule_version, event_id, event_type,
			depth, status, started_at, updated_at, finished_at) VALUES ('default', ?, ?, 1, ?, 'contact.created', 0, 'done', ?, ?, ?)`),
			old, rule.ID, ev, d.Time(then), d.Time(then), d.Time(then))
		require.NoError(t, err)
		_, err = db.DB.ExecContext(ctx, d.Rebind(`INSERT INTO crm_rule_steps (tenant_id, run_id, step, action, status, result, started_at, finished_at)
			VALUES ('default', ?, '0', 'create_task', 'ok', '{}', ?, ?)`), old, d.Time(then), d.Time(then))
		require.NoError(t, err)
		// And one of another tenant: pruning goes through every tenant.
		other := c.Tenant("other")
		otherRule, err := other.Automation.Rules.Create(ctx, burstRule)
		require.NoError(t, err)
		_, err = db.DB.ExecContext(ctx, d.Rebind(`INSERT INTO crm_rule_runs (tenant_id, id, rule_id, rule_version, event_id, event_type,
			depth, status, started_at, updated_at, finished_at) VALUES ('other', ?, ?, 1, ?, 'contact.created', 0, 'done', ?, ?, ?)`),
			core.NewID(), otherRule.ID, core.NewID(), d.Time(then), d.Time(then), d.Time(then))
		require.NoError(t, err)

		pruned, deliveries, err := c.PruneAutomationLogs(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(2), pruned)
		otherLeft, err := other.Automation.Runs.List(ctx, automation.RunQuery{})
		require.NoError(t, err)
		require.Empty(t, otherLeft)
		require.Zero(t, deliveries)
		left, err := c.Automation.Runs.List(ctx, automation.RunQuery{})
		require.NoError(t, err)
		require.Len(t, left, 1)
		require.NotEqual(t, old, left[0].ID)
		var steps int
		require.NoError(t, db.NewSelect().Table("crm_rule_steps").ColumnExpr("count(*)").Scan(ctx, &steps))
		require.Equal(t, 1, steps, "the old run's steps went with it")
		require.Len(t, openTasks(t, c, "team"), 1, "pruning the log leaves what the rules did")
	})
}

// An erased person's past events start no rule again: the erasure deletes
// their runs, and neither the sweep nor a dispatch job still queued acts
// on the events it left behind.
func TestErasedPeopleAreNotSweptAgain(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := idle(t, db, crm.Config{Automation: automation.Options{SweepLag: time.Millisecond}})
		// No condition on the event: an erased person's events keep no
		// data, which a condition on it would refuse anyway.
		rule := burstRule
		rule.Condition = automation.Condition{}
		_, err := c.Automation.Rules.Create(ctx, rule)
		require.NoError(t, err)
		time.Sleep(5 * time.Millisecond) // the events come after the rule
		done, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "burst-done@example.com"})
		require.NoError(t, err)
		require.Equal(t, 1, automation.WorkQueued(t, c.Automation))
		queued, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "burst-queued@example.com"})
		require.NoError(t, err)
		kept, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "burst-kept@example.com"})
		require.NoError(t, err)
		// The first person acted on, the second's job still queued: both
		// erased.
		for _, id := range []core.ID{done.ID, queued.ID} {
			_, err = c.Consent.Erase(ctx, id, "request")
			require.NoError(t, err)
		}
		require.Equal(t, 2, automation.WorkQueued(t, c.Automation), "the jobs of the second and third")
		time.Sleep(5 * time.Millisecond)
		require.NoError(t, c.SweepEvents(ctx))
		require.Zero(t, automation.WorkQueued(t, c.Automation), "the sweep queues nothing for the erased")
		// The task made before the erasure stays (scrubbed: see the contacts
		// module's erasure); none was made after it.
		per := map[core.ID]int{}
		for _, task := range openTasks(t, c, "team") {
			if task.ContactID != nil {
				per[*task.ContactID]++
			}
		}
		require.Equal(t, map[core.ID]int{done.ID: 1, kept.ID: 1}, per)
	})
}
