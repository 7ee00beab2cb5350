package automation

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertest"
	"github.com/riverqueue/river/rivertype"
)

// WorkQueued works the jobs of s's engine that are due now (dispatch,
// continued runs, webhook deliveries, periodic work), one at a time in the
// order they were queued, and the jobs those queue, until none is left;
// it returns how many attempts it made. Jobs scheduled later (a wait, a
// snoozed or a retried job) stay queued: move the clock and call WorkDue.
// It is for CRMs whose workers are not started: a test makes a change,
// works its jobs, and asserts what they did, with nothing to wait for.
//
// Each job is worked by the engine's own worker through River's job
// executor, as rivertest.Worker.WorkJob drives it, with the engine's River
// configuration (retry policy, job timeout, clock): River marks the job
// running, the worker does its work in its own transactions as under a
// started client, and River records the outcome (completed, retried,
// snoozed, cancelled) on the job row after Work returns (no worker
// completes its job itself). rivertest would write River's part in a
// transaction of the test, held open while the worker runs; on SQLite
// that transaction holds the one write lock the worker's own transaction
// waits for. So River's writes go to the engine's pool instead and commit
// at once, as a started client makes them (poolDriver). Worker errors are
// logged and a panic fails the test; the job rows and the run log say
// what happened.
func WorkQueued(tb testing.TB, s *Service) int {
	tb.Helper()
	return s.Rules.e.workJobs(tb, false)
}

// WorkDue makes the jobs scheduled up to now (by the engine's clock)
// available, as River's scheduler does, and works them as WorkQueued
// does.
func WorkDue(tb testing.TB, s *Service) int {
	tb.Helper()
	return s.Rules.e.workJobs(tb, true)
}

// maxJobs bounds the jobs one call works: more is a loop.
const maxJobs = 1000

func (e *Engine) workJobs(tb testing.TB, schedule bool) int {
	tb.Helper()
	ctx := tb.Context()
	drv := poolDriver{e.driver}
	work := map[string]func(context.Context, *rivertype.JobRow) (*rivertest.WorkResult, error){
		dispatchArgs{}.Kind(): workWith(tb, drv, e.riverConfig, river.Worker[dispatchArgs](&dispatchWorker{e: e})),
		runArgs{}.Kind():      workWith(tb, drv, e.riverConfig, river.Worker[runArgs](&runWorker{e: e})),
		webhookArgs{}.Kind():  workWith(tb, drv, e.riverConfig, river.Worker[webhookArgs](&webhookWorker{e: e})),
		periodicArgs{}.Kind(): workWith(tb, drv, e.riverConfig, river.Worker[periodicArgs](&periodicWorker{e: e})),
	}
	worked := 0
	for {
		if schedule {
			now := e.now()
			if _, err := e.driver.GetExecutor().JobSchedule(ctx, &riverdriver.JobScheduleParams{Max: maxJobs, Now: &now}); err != nil {
				tb.Fatalf("schedule due jobs: %v", err)
			}
		}
		list, err := e.client.JobList(ctx, river.NewJobListParams().Queues(QueueRules, QueueWebhooks).
			States(rivertype.JobStateAvailable).OrderBy(river.JobListOrderByID, river.SortOrderAsc).First(maxJobs))
		if err != nil {
			tb.Fatalf("list queued jobs: %v", err)
		}
		// River fetches an available job once its time has come (a job
		// retried soon is available, scheduled a moment later).
		now := e.now()
		due := 0
		for _, job := range list.Jobs {
			if job.ScheduledAt.After(now) {
				continue
			}
			due++
			fn, ok := work[job.Kind]
			if !ok {
				tb.Fatalf("job %d: no worker for kind %q", job.ID, job.Kind)
			}
			res, err := fn(ctx, job)
			var panicked *rivertest.PanicError
			switch {
			case res == nil:
				tb.Fatalf("job %d (%s): %v", job.ID, job.Kind, err)
			case errors.As(err, &panicked):
				tb.Errorf("job %d (%s) panicked: %v", job.ID, job.Kind, err)
			case err != nil:
				tb.Logf("job %d (%s) attempt %d failed (now %s): %v", job.ID, job.Kind, res.Job.Attempt, res.Job.State, err)
			}
			if res.Job.State == rivertype.JobStateRunning {
				tb.Fatalf("job %d (%s): no outcome recorded", job.ID, job.Kind)
			}
			if worked++; worked > maxJobs {
				tb.Fatalf("more than %d jobs in a row: a loop?", maxJobs)
			}
		}
		if due == 0 {
			return worked
		}
	}
}

// workWith returns a function that works a queued job with w.
func workWith[T river.JobArgs](tb testing.TB, drv riverdriver.Driver[*sql.Tx], cfg *river.Config, w river.Worker[T]) func(context.Context, *rivertype.JobRow) (*rivertest.WorkResult, error) {
	tw := rivertest.NewWorker(tb, drv, cfg, w)
	return func(ctx context.Context, job *rivertype.JobRow) (*rivertest.WorkResult, error) {
		return tw.WorkJob(ctx, tb, nil, job)
	}
}

// poolDriver is River's driver with rivertest's transaction replaced by
// the pool: River's bookkeeping of a job (running, then its outcome) is
// written outside the worker's transactions, as by a real client.
type poolDriver struct{ riverdriver.Driver[*sql.Tx] }

func (d poolDriver) UnwrapExecutor(*sql.Tx) riverdriver.ExecutorTx {
	return poolExecutor{d.GetExecutor()}
}

// poolExecutor is the pool's executor in the place of a transaction's:
// each statement commits on its own.
type poolExecutor struct{ riverdriver.Executor }

func (poolExecutor) Commit(context.Context) error   { return nil }
func (poolExecutor) Rollback(context.Context) error { return nil }
