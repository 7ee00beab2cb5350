package automation

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// JobWorker does the work of crmkit's River jobs for an executor other
// than the client Start runs: package crmtest works the jobs that are due
// with it, one at a time and synchronously, under River's own executor
// (rivertest), so that a host's tests need neither workers nor waiting.
// Hosts that run workers never need it.
type JobWorker struct{ e *Engine }

// JobWorker returns the engine's JobWorker.
func (e *Engine) JobWorker() JobWorker { return JobWorker{e: e} }

// Queues returns the River queues crmkit's jobs are inserted in.
func (w JobWorker) Queues() []string { return []string{QueueRules, QueueWebhooks, QueueJobs} }

// Kinds returns the River job kinds the engine works, sorted.
func (w JobWorker) Kinds() []string {
	return slices.Sorted(maps.Keys(w.workers()))
}

// Config returns a copy of the configuration of the engine's River client:
// its workers, queues, retry policy (webhook deliveries back off from
// Options.Webhooks.RetryBase), job timeout and clock. An executor built
// with it schedules retries as the engine's client does.
func (w JobWorker) Config() *river.Config {
	cfg := *w.e.riverConfig
	return &cfg
}

// Work does the work of job, a row of one of the engine's kinds (Kinds)
// that River's executor has marked running, as the engine's worker for its
// kind does under a started client, and returns the worker's error
// (river.JobCancel and river.JobSnooze errors included). It does not
// record the outcome on the row: that is the executor's part, as it is
// marking the job running. A kind the engine does not work is an error
// that cancels the job.
func (w JobWorker) Work(ctx context.Context, job *rivertype.JobRow) error {
	work, ok := w.workers()[job.Kind]
	if !ok {
		return river.JobCancel(fmt.Errorf("crm: no worker for job kind %q", job.Kind))
	}
	return work(ctx, job)
}

// Describe tells what job, a row of one of the engine's kinds, does: the
// kind a module declared for its durable work ("tickets.sla_check",
// "campaigns.send_batch"), else River's kind ("crm.dispatch": an event
// handed to the rules and webhooks that want it; "crm.run": a rule run
// going on after a wait; "crm.webhook": a delivery; "crm.periodic"); and
// the tenant it works for ("" for periodic work, which goes over every
// tenant).
func (w JobWorker) Describe(job *rivertype.JobRow) (kind, tenant string) {
	var a struct {
		Job    string `json:"job"`
		Tenant string `json:"tenant"`
	}
	_ = json.Unmarshal(job.EncodedArgs, &a) // what does not parse is described by River's kind alone
	kind = job.Kind
	if job.Kind == (moduleJobArgs{}).Kind() && a.Job != "" {
		kind = a.Job
	}
	return kind, a.Tenant
}

// workers are the engine's workers by kind, as newEngine registers them
// with River.
func (w JobWorker) workers() map[string]func(context.Context, *rivertype.JobRow) error {
	e := w.e
	return map[string]func(context.Context, *rivertype.JobRow) error{
		dispatchArgs{}.Kind():  workRow(river.Worker[dispatchArgs](&dispatchWorker{e: e})),
		runArgs{}.Kind():       workRow(river.Worker[runArgs](&runWorker{e: e})),
		webhookArgs{}.Kind():   workRow(river.Worker[webhookArgs](&webhookWorker{e: e})),
		periodicArgs{}.Kind():  workRow(river.Worker[periodicArgs](&periodicWorker{e: e})),
		moduleJobArgs{}.Kind(): workRow(river.Worker[moduleJobArgs](&moduleJobWorker{e: e})),
	}
}

// workRow decodes a job row's arguments as River does for worker w and
// calls its Work.
func workRow[T river.JobArgs](w river.Worker[T]) func(context.Context, *rivertype.JobRow) error {
	return func(ctx context.Context, row *rivertype.JobRow) error {
		job := &river.Job[T]{JobRow: row}
		if err := json.Unmarshal(row.EncodedArgs, &job.Args); err != nil {
			return river.JobCancel(fmt.Errorf("crm: job %d: decode its arguments: %w", row.ID, err))
		}
		return w.Work(ctx, job)
	}
}
