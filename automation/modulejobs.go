package automation

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/crmkit/crmkit/internal/module"
	"github.com/crmkit/crmkit/internal/store"
)

// QueueJobs is the River queue of the modules' durable jobs
// (module.Module.Jobs): sending a campaign's batches must not hold up
// rule runs, nor the other way round.
const QueueJobs = "crm_jobs"

// moduleJobArgs is one job of a module: its kind and its arguments, run
// by the Work the module declared for the kind.
type moduleJobArgs struct {
	Job       string          `json:"job" river:"unique"`
	UniqueKey string          `json:"unique_key,omitempty" river:"unique"`
	Args      json.RawMessage `json:"args"`
	payload
}

func (moduleJobArgs) Kind() string { return "crm.job" }

func (a *moduleJobArgs) UnmarshalJSON(b []byte) error {
	type plain moduleJobArgs
	return lenient(b, (*plain)(a), &a.payload)
}

// declareJobs adds the modules' kinds of job to e.
func (e *Engine) declareJobs(jobs []module.Job) error {
	for _, j := range jobs {
		if j.Kind == "" || j.Work == nil {
			return fmt.Errorf("crm: a module declares a job without a kind or Work (%q)", j.Kind)
		}
		if _, dup := e.jobs[j.Kind]; dup {
			return fmt.Errorf("crm: two modules declare the job %q", j.Kind)
		}
		if j.MaxAttempts <= 0 {
			j.MaxAttempts = 10
		}
		e.jobs[j.Kind] = j
	}
	return nil
}

// jobQueue is the engine as the runtime's store.JobQueue.
type jobQueue struct{ e *Engine }

// Enqueue queues a module's job in tx.
func (q jobQueue) Enqueue(ctx context.Context, tx *store.Tx, job store.NewJob) error {
	e := q.e
	j, ok := e.jobs[job.Kind]
	if !ok {
		return fmt.Errorf("crm: no module declares the job %q", job.Kind)
	}
	args, err := json.Marshal(job.Args)
	if err != nil {
		return fmt.Errorf("crm: job %s: encode its arguments: %w", job.Kind, err)
	}
	opts := &river.InsertOpts{Queue: QueueJobs, MaxAttempts: j.MaxAttempts}
	if !job.At.IsZero() {
		opts.ScheduledAt = job.At.UTC()
	}
	if job.UniqueKey != "" {
		// At most one job with the key waits or runs; one that finished
		// does not keep the next from being queued.
		opts.UniqueOpts = river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{rivertype.JobStateAvailable,
			rivertype.JobStatePending, rivertype.JobStateRetryable, rivertype.JobStateRunning, rivertype.JobStateScheduled}}
	}
	_, err = e.client.InsertTx(ctx, tx.Bun().Tx, moduleJobArgs{payload: header(job.Tenant), Job: job.Kind, UniqueKey: job.UniqueKey,
		Args: args}, opts)
	if err != nil {
		return fmt.Errorf("crm: queue job %s: %w", job.Kind, err)
	}
	return nil
}

type moduleJobWorker struct {
	river.WorkerDefaults[moduleJobArgs]
	e *Engine
}

func (w *moduleJobWorker) Work(ctx context.Context, job *river.Job[moduleJobArgs]) error {
	sc, err := job.Args.open(w.e.rt)
	if err != nil {
		return err
	}
	j, ok := w.e.jobs[job.Args.Job]
	if !ok {
		return river.JobCancel(fmt.Errorf("crm: job %q is not declared by a module of this process", job.Args.Job))
	}
	err = j.Work(ctx, sc, job.Args.Args)
	if err != nil && store.Known(err) {
		return river.JobCancel(err)
	}
	return err
}

var _ store.JobQueue = jobQueue{}
