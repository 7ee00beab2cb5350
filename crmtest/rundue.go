package crmtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertest"
	"github.com/riverqueue/river/rivertype"
)

// Job is one of crmkit's background jobs: one RunDue ran, or one Queued
// lists.
type Job struct {
	// ID is River's id of the job.
	ID int64
	// Kind says what the job does: "crm.dispatch" (an event handed to the
	// rules and webhooks that want it), "crm.run" (a rule run going on
	// after a wait), "crm.webhook" (a webhook delivery), "crm.periodic", or
	// the kind a module declared ("tickets.sla_check",
	// "campaigns.send_batch", …).
	Kind string
	// Tenant is the tenant the job works for ("" for periodic work).
	Tenant string
	// At is when the job was due (RunDue) or will be (Queued).
	At time.Time
	// Attempt counts the job's attempts so far, this one included.
	Attempt int
	// State is River's state of the job after RunDue's attempt
	// (completed; retryable or available: failed, to be retried;
	// discarded: failed for the last time; cancelled; scheduled: snoozed),
	// or, from Queued, its state now.
	State rivertype.JobState
	// Err is the error the attempt failed with (River's record of it for a
	// cancelled job); nil when the job completed or snoozed.
	Err error
}

// Failed reports whether the job's attempt failed: River retries it later,
// gave it up, or crmkit cancelled it.
func (j Job) Failed() bool {
	switch j.State {
	case rivertype.JobStateCompleted, rivertype.JobStateScheduled:
		return false
	case rivertype.JobStateAvailable:
		return j.Err != nil // an error retried soon; else a short snooze
	}
	return true
}

// JobError is a job RunDue ran that failed. RunDue's error joins one per
// failed job; errors.As finds them, errors.Is looks into the job's error.
type JobError struct{ Job Job }

func (e *JobError) Error() string {
	return fmt.Sprintf("crmtest: job %d (%s, tenant %q), attempt %d, now %s: %v", e.Job.ID, e.Job.Kind, e.Job.Tenant, e.Job.Attempt, e.Job.State, e.Job.Err)
}

// Unwrap returns the job's error.
func (e *JobError) Unwrap() error { return e.Job.Err }

// MaxJobs bounds the jobs one RunDue runs: more means jobs that keep
// queueing each other, and RunDue fails instead of running forever.
const MaxJobs = 10_000

// batch is how many jobs RunDue schedules and lists at a time.
const batch = 1000

// RunDue runs, in the calling goroutine and one at a time in the order
// they were queued, every job of crmkit's that is due by the test's clock
// — rule runs, waits whose time has come, webhook deliveries, SLA timers,
// campaign sends, retries — and the jobs those queue that are due too,
// until none is due. It returns the jobs it ran and, when some failed,
// an error joining a *JobError for each (it runs the others all the
// same). A failed job is retried as by the workers: later, when the clock
// has passed its next attempt. A job scheduled for later (a wait, a retry,
// a snooze) is not run: move the clock (Clock().Advance) and call RunDue
// again. Call it from the test's goroutine, and never alongside workers
// (Start) on the same CRM.
//
// Each job is worked by crmkit's own worker for its kind under River's
// own executor (rivertest), configured as crmkit configures its client
// (retry policy, job timeout, clock): River marks the job running, the
// worker does its work in its own transactions as under a started
// client, and River records the outcome on the job row. River's part is
// written outside any transaction of the test, as a started client
// writes it: on SQLite a transaction held open around the worker would
// keep the one write lock the worker's own transactions wait for.
func (c *CRM) RunDue(ctx context.Context) ([]Job, error) {
	c.tb.Helper()
	c.runMu.Lock()
	defer c.runMu.Unlock()
	jw := c.CRM.JobWorker()
	client := c.CRM.River()
	if c.worker == nil {
		c.worker = rivertest.NewWorker(c.tb, poolDriver{client.Driver()}, jw.Config(), river.Worker[anyArgs](&anyWorker{work: jw.Work}))
	}
	var ran []Job
	var failed []error
	for {
		now := c.clock.Now()
		// River's scheduler does this on the leader every few seconds; here
		// it is done by the test's clock, now.
		if _, err := client.Driver().GetExecutor().JobSchedule(ctx, &riverdriver.JobScheduleParams{Max: batch, Now: &now}); err != nil {
			return ran, fmt.Errorf("crmtest: make scheduled jobs available: %w", err)
		}
		list, err := client.JobList(ctx, river.NewJobListParams().Queues(jw.Queues()...).States(rivertype.JobStateAvailable).
			OrderBy(river.JobListOrderByID, river.SortOrderAsc).First(batch))
		if err != nil {
			return ran, fmt.Errorf("crmtest: list due jobs: %w", err)
		}
		due := 0
		for _, row := range list.Jobs {
			// An available job is fetched once its time has come (River makes
			// a job retried or snoozed shortly available at once, scheduled a
			// moment later).
			if row.ScheduledAt.After(now) {
				continue
			}
			if due++; len(ran) >= MaxJobs {
				return ran, fmt.Errorf("crmtest: more than %d jobs in one RunDue: jobs that keep queueing each other?", MaxJobs)
			}
			res, werr := c.worker.WorkJob(ctx, c.tb, nil, row)
			if res == nil {
				return ran, fmt.Errorf("crmtest: work job %d (%s): %w", row.ID, row.Kind, werr)
			}
			if res.Job.State == rivertype.JobStateRunning {
				return ran, fmt.Errorf("crmtest: job %d (%s): River recorded no outcome", row.ID, row.Kind)
			}
			j := c.describe(res.Job)
			j.At = row.ScheduledAt
			j.Err = werr
			if j.Err == nil && res.EventKind != river.EventKindJobCompleted && res.EventKind != river.EventKindJobSnoozed {
				j.Err = lastError(res.Job)
			}
			ran = append(ran, j)
			if j.Failed() {
				failed = append(failed, &JobError{Job: j})
			}
		}
		if due == 0 {
			return ran, errors.Join(failed...)
		}
	}
}

// Queued returns crmkit's jobs that wait to run — due now or scheduled
// for later (waits, retries, snoozes, SLA timers) — in the order they come
// due.
func (c *CRM) Queued(ctx context.Context) ([]Job, error) {
	jw := c.CRM.JobWorker()
	list, err := c.CRM.River().JobList(ctx, river.NewJobListParams().Queues(jw.Queues()...).
		States(rivertype.JobStateAvailable, rivertype.JobStateScheduled, rivertype.JobStateRetryable, rivertype.JobStatePending).
		OrderBy(river.JobListOrderByScheduledAt, river.SortOrderAsc).First(MaxJobs))
	if err != nil {
		return nil, fmt.Errorf("crmtest: list queued jobs: %w", err)
	}
	out := make([]Job, 0, len(list.Jobs))
	for _, row := range list.Jobs {
		j := c.describe(row)
		j.At = row.ScheduledAt
		out = append(out, j)
	}
	return out, nil
}

func (c *CRM) describe(row *rivertype.JobRow) Job {
	kind, tenant := c.CRM.JobWorker().Describe(row)
	return Job{ID: row.ID, Kind: kind, Tenant: tenant, Attempt: row.Attempt, State: row.State}
}

// lastError is the error River recorded for the job's last attempt.
func lastError(row *rivertype.JobRow) error {
	if len(row.Errors) == 0 {
		return errors.New("no error recorded")
	}
	return errors.New(row.Errors[len(row.Errors)-1].Error)
}

// anyArgs stands for the arguments of every kind of crmkit's jobs: the
// worker passes the job's row to crmkit, which decodes them for its kind.
type anyArgs struct{}

func (anyArgs) Kind() string { return "crmtest.any" }

// anyWorker works any of crmkit's jobs through crmkit's JobWorker.
type anyWorker struct {
	river.WorkerDefaults[anyArgs]
	work func(ctx context.Context, job *rivertype.JobRow) error
}

func (w *anyWorker) Work(ctx context.Context, job *river.Job[anyArgs]) error {
	return w.work(ctx, job.JobRow)
}

// poolDriver is River's driver with rivertest's transaction replaced by
// the pool: River's bookkeeping of a job (running, then its outcome) is
// written outside the worker's transactions, each statement committing on
// its own, as a started client writes it.
type poolDriver struct{ riverdriver.Driver[*sql.Tx] }

func (d poolDriver) UnwrapExecutor(*sql.Tx) riverdriver.ExecutorTx {
	return poolExecutor{d.GetExecutor()}
}

// poolExecutor is the pool's executor in the place of a transaction's.
type poolExecutor struct{ riverdriver.Executor }

func (poolExecutor) Commit(context.Context) error   { return nil }
func (poolExecutor) Rollback(context.Context) error { return nil }
