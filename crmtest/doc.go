// Package crmtest gives a host's tests a real crmkit: migrated, on a
// database of its own, with a clock the test moves and the background jobs
// run when the test says so — as net/http/httptest gives a real server
// and rivertest a way to work River jobs.
//
//	func TestWelcomeMail(t *testing.T) {
//		t.Parallel()
//		ctx := context.Background()
//		c := crmtest.New(t)                  // migrated, closed at the test's end
//		shop := myshop.New(c.CRM)            // the host's code under test
//
//		shop.SignUp(ctx, "ada@example.com")  // a rule waits two days, then tags
//		_, err := c.RunDue(ctx)              // runs what is due now: the rule's first steps
//		require.NoError(t, err)
//
//		c.Clock().Advance(48 * time.Hour)
//		_, err = c.RunDue(ctx)               // the wait is over: the rule goes on
//		require.NoError(t, err)
//		// … assert on c.Contacts, c.Automation.Runs, the host's own tables
//	}
//
// New returns a *CRM embedding the *crm.CRM (c.Contacts, c.Deals,
// c.Tenant("acme") … as usual). The database is SQLite by default: a copy,
// in t.TempDir(), of a template migrated once and kept under a fingerprint
// of the migrations in $TMPDIR/crmkit-dbtest, so a test costs a file copy,
// not a migration. With CRMTEST_POSTGRES_DSN set (EnvPostgres, or the
// WithPostgres option) it is a schema of that PostgreSQL database taken
// from the process's pool of migrated schemas and emptied at the test's
// end for a later one (dropped if the test changed more than rows), so a
// test costs tens of milliseconds, not a migration. Every CRM has a
// database of its own, so tests run with t.Parallel.
//
// # Time
//
// The CRM's Clock (crm.Config.Clock, which River reads too) stands still
// until the test moves it with Advance or Set. Records made between two
// moves share their time; crmkit orders them by id.
//
// # Background jobs
//
// The CRM's workers never start. RunDue runs the jobs that are due by the
// clock — rule runs, waits whose time has come, webhook deliveries (to the
// test's httptest servers: loopback addresses are allowed), SLA timers,
// campaign sends, retries — one at a time in the calling goroutine, and
// the jobs those queue, until none is due, and returns what it ran; a job
// that failed is reported in its error (a *JobError each) and retried, as
// by the workers, once the clock passes its next attempt. Jobs scheduled
// for later wait for the clock; Queued lists them.
//
// Why not start the workers and wait? A started River client runs jobs
// concurrently and in no fixed order, finds scheduled jobs through a
// scheduler that runs every few seconds on an elected leader, and leaves
// the test to poll until it is idle: slow and flaky. RunDue instead works
// each job under River's own executor (rivertest.Worker.WorkJob) with
// crmkit's River configuration and crmkit's worker for the job's kind
// (crm.CRM.JobWorker): River marks the job running, the worker does
// exactly what it does under a started client, River records the outcome
// and schedules a retry by crmkit's retry policy, and the next job starts
// when the last one has finished. Only River's scheduler is done by
// RunDue itself, by the test's clock.
//
// Periodic work (retention, rescoring, the periodic refresh of tracked
// segments, the event sweep) is scheduled by a started client's leader,
// so RunDue does not run it; call its methods (c.ApplyRetention,
// c.SweepEvents …) instead.
package crmtest
