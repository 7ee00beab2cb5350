package automation_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/automation"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dbtest"
)

// crashConfig is the configuration of both the worker that is killed and
// the one that takes over: jobs of a vanished worker are run again after
// two seconds (the default is an hour).
func crashConfig(dsn string) crm.Config {
	return crm.Config{DSN: dsn, Automation: automation.Options{JobTimeout: time.Second, RescueAfter: 2 * time.Second}}
}

// registerSlow registers the rule action that keeps jobs in flight long
// enough to be killed in the middle.
func registerSlow(t testing.TB, c *crm.CRM) {
	require.NoError(t, c.RegisterAction("slow", func(ctx context.Context, tx *crm.CRM, call automation.Call) (any, error) {
		select {
		case <-time.After(150 * time.Millisecond):
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}, nil))
}

// TestCrashChild is the worker process of TestWorkerKilledMidJob; it does
// nothing in a normal run.
func TestCrashChild(t *testing.T) {
	dsn := os.Getenv("CRM_CRASH_CHILD_DSN")
	if dsn == "" {
		t.Skip("run by TestWorkerKilledMidJob")
	}
	ctx := context.Background()
	c, err := crm.Open(ctx, crashConfig(dsn))
	require.NoError(t, err)
	registerSlow(t, c)
	require.NoError(t, c.Start(ctx))
	fmt.Println("worker ready")
	select {} // until killed
}

// A worker process is killed (SIGKILL) while jobs are in flight; another
// takes over: every job completes and no effect happens twice.
func TestWorkerKilledMidJob(t *testing.T) {
	run := func(t *testing.T, dsn string) {
		ctx := context.Background()
		host, err := crm.Open(ctx, crashConfig(dsn))
		require.NoError(t, err)
		defer host.Close()
		require.NoError(t, host.Migrate(ctx))
		registerSlow(t, host)
		_, err = host.Automation.Rules.Create(ctx, automation.Rule{Name: "Slow welcome", Enabled: true, Triggers: []string{"contact.created"},
			Condition: automation.Condition{Event: filter.Prefix("data.email", "crash")},
			Actions: []automation.Action{{Type: "slow"}, {Type: automation.ActionCreateTask, Title: "Call {{contact.email}}",
				Assignee: &automation.Assignee{User: "crash"}}}})
		require.NoError(t, err)

		child := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
		child.Env = append(os.Environ(), "CRM_CRASH_CHILD_DSN="+dsn)
		out, err := child.StdoutPipe()
		require.NoError(t, err)
		child.Stderr = os.Stderr
		require.NoError(t, child.Start())
		defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
		ready := make(chan struct{})
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if strings.Contains(sc.Text(), "worker ready") {
					close(ready)
				}
			}
		}()
		select {
		case <-ready:
		case <-time.After(60 * time.Second):
			t.Fatal("the worker process did not start")
		}

		const n = 40
		for i := 0; i < n; i++ {
			_, err := host.Contacts.Create(ctx, contacts.NewContact{Email: fmt.Sprintf("crash%d@example.com", i)})
			require.NoError(t, err)
		}
		countRuns := func(status automation.RunStatus) int {
			runs, err := host.Automation.Runs.List(ctx, automation.RunQuery{Status: status, Limit: 1000})
			require.NoError(t, err)
			return len(runs)
		}
		// Kill the worker once it is busy: some runs done, others not.
		inFlight := func() int {
			var n int
			require.NoError(t, host.DB().NewSelect().Table("river_job").ColumnExpr("count(*)").
				Where("kind = 'crm.dispatch' AND state = 'running'").Scan(ctx, &n))
			return n
		}
		require.Eventually(t, func() bool { return countRuns(automation.RunDone) >= 3 && inFlight() > 0 }, 60*time.Second, 2*time.Millisecond)
		require.NoError(t, child.Process.Signal(syscall.SIGKILL))
		_ = child.Wait()
		doneAtKill := countRuns(automation.RunDone)
		t.Logf("killed the worker with %d of %d runs done", doneAtKill, n)
		require.Less(t, doneAtKill, n)
		running := inFlight()
		t.Logf("%d jobs were in flight", running)
		require.Positive(t, running, "the worker died in the middle of jobs")

		// The host takes over after the rescue delay.
		time.Sleep(3 * time.Second)
		require.NoError(t, host.Start(ctx))
		require.Eventually(t, func() bool { return countRuns(automation.RunDone) == n }, 120*time.Second, 20*time.Millisecond)
		page, err := host.Tasks.Open(ctx, "crash", contacts.TaskListOptions{Limit: 100})
		require.NoError(t, err)
		require.Len(t, page.Items, n, "one task per event: none lost, none twice")
		seen := map[string]bool{}
		for _, task := range page.Items {
			require.False(t, seen[task.Title], "two tasks %q", task.Title)
			seen[task.Title] = true
		}
	}
	t.Run("sqlite", func(t *testing.T) { run(t, "file:"+t.TempDir()+"/crm.db") })
	t.Run("postgres", func(t *testing.T) {
		dsn, schema := dbtest.PostgresSchema(t)
		run(t, dbtest.WithSearchPath(dsn, schema))
	})
}
