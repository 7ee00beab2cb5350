package automation

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/crmkit/crmkit/core"
)

// PeriodicFunc is work done once per interval across every process that
// runs workers (retention, rescoring).
type PeriodicFunc func(ctx context.Context) error

// AddPeriodic runs fn every interval, in one of the processes that run
// workers: River's elected leader schedules it, and a job unique per
// interval (by time bucket) makes it run once per interval however many
// processes there are. It is also scheduled when a leader starts, so work
// due daily happens even where processes restart more often than that. A
// failed run is retried by River. Add periodic work before Start.
func (e *Engine) AddPeriodic(name string, every time.Duration, fn PeriodicFunc) error {
	if !core.ValidCode(name) {
		return core.Invalid("name", "%q must be a code (lower-case letters, digits, _)", name)
	}
	if every < time.Minute {
		return core.Invalid("every", "must be at least a minute")
	}
	e.periodicMu.Lock()
	_, dup := e.periodic[name]
	e.periodic[name] = fn
	e.periodicMu.Unlock()
	if dup {
		return nil
	}
	_, err := e.client.PeriodicJobs().AddSafely(river.NewPeriodicJob(river.PeriodicInterval(every),
		func() (river.JobArgs, *river.InsertOpts) {
			return periodicArgs{payload: header(""), Name: name}, &river.InsertOpts{Queue: QueueRules,
				UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: every}}
		}, &river.PeriodicJobOpts{ID: "crm." + name, RunOnStart: true}))
	if err != nil {
		return fmt.Errorf("crm: add periodic job %s: %w", name, err)
	}
	return nil
}

type periodicArgs struct {
	Name string `json:"name"`
	payload
}

func (periodicArgs) Kind() string { return "crm.periodic" }
func (a *periodicArgs) UnmarshalJSON(b []byte) error {
	type plain periodicArgs
	return lenient(b, (*plain)(a), &a.payload)
}

type periodicWorker struct {
	river.WorkerDefaults[periodicArgs]
	e *Engine
}

func (w *periodicWorker) Work(ctx context.Context, job *river.Job[periodicArgs]) error {
	if err := job.Args.check(); err != nil {
		return err
	}
	w.e.periodicMu.Lock()
	fn, ok := w.e.periodic[job.Args.Name]
	w.e.periodicMu.Unlock()
	if !ok {
		return river.JobCancel(fmt.Errorf("crm: periodic job %q is not registered in this process", job.Args.Name))
	}
	return fn(ctx)
}
