package store

import (
	"context"
	"errors"
	"time"
)

// JobQueue takes the durable jobs modules declare (module.Job) into the
// job queue, in the transaction of the change that asks for them: a
// rolled-back change leaves no job. automation's engine is the queue (it
// sets Runtime.Jobs when crm wires it); the jobs run on the workers of
// the processes that call crm.CRM.Start.
type JobQueue interface {
	Enqueue(ctx context.Context, tx *Tx, job NewJob) error
}

// NewJob is one job to run.
type NewJob struct {
	// Kind is the module.Job kind: "campaigns.send_batch".
	Kind string
	// Tenant is the tenant the job's Work is bound to.
	Tenant string
	// Args are the job's arguments, stored as JSON.
	Args any
	// At schedules the job (by the CRM's clock); the zero time runs it as
	// soon as a worker is free.
	At time.Time
	// UniqueKey, when set, keeps one job of the kind and tenant with this
	// key waiting or running at a time: a second Enqueue while one is
	// queued is a no-op.
	UniqueKey string
}

// ErrNoJobQueue is returned by Enqueue on a runtime without a job queue
// (a module's tests that wire no engine).
var ErrNoJobQueue = errors.New("crm: no job queue is wired")

// Enqueue queues job in t: it runs after t commits, and never if t rolls
// back.
func (t *Tx) Enqueue(ctx context.Context, job NewJob) error {
	if t.rt.Jobs == nil {
		return ErrNoJobQueue
	}
	return t.rt.Jobs.Enqueue(ctx, t, job)
}
