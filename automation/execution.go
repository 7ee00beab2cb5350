package automation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/store"
)

// execution runs the steps of one run.
type execution struct {
	e       *Engine
	sc      store.Scope
	tenant  string
	rule    *Rule
	run     *Run
	ev      core.Event
	contact *contacts.Contact
	schema  *filter.Schema
	// fresh marks a run begun in this transaction: no step is recorded.
	fresh bool
}

// loadContact returns the run's contact as it is now; nil when the event
// is about none or it was deleted.
func (x *execution) loadContact(ctx context.Context) (*contacts.Contact, error) {
	if x.run.ContactID == nil {
		return nil, nil
	}
	if x.contact == nil {
		c, err := contacts.Module.Contacts(x.sc).Get(ctx, *x.run.ContactID)
		if errors.Is(err, core.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		x.contact = c
	}
	return x.contact, nil
}

// holds decides a condition for the run's event and contact.
func (x *execution) holds(ctx context.Context, c Condition) (bool, error) {
	now := x.e.now()
	if !c.Event.IsZero() {
		ok, err := eventSchema.Match(c.Event, &eventRecord{ev: x.ev}, now)
		if err != nil || !ok {
			return false, err
		}
	}
	if c.Contact.IsZero() {
		return true, nil
	}
	contact, err := x.loadContact(ctx)
	if err != nil || contact == nil {
		return false, err
	}
	if x.schema == nil {
		if x.schema, err = x.sc.Schema(ctx, contacts.EntityContact); err != nil {
			return false, err
		}
	}
	return x.schema.Match(c.Contact, contact, now)
}

// proceed runs the steps from path on and records how the run ends:
// done, failed, or waiting (with a job to continue it).
func (x *execution) proceed(ctx context.Context, from string) error {
	until, next, err := x.list(ctx, "", x.rule.Actions, strings.Split(from, "."))
	now := x.e.now()
	switch {
	case err != nil && !permanent(err):
		return err
	case err != nil:
		x.run.Status, x.run.Error = RunFailed, err.Error()
		x.run.FinishedAt = &now
	case until != nil:
		x.run.Status = RunWaiting
		if _, err := x.e.client.InsertTx(ctx, x.sc.Tx().Bun().Tx, runArgs{payload: header(x.tenant), Run: x.run.ID, From: next},
			&river.InsertOpts{Queue: QueueRules, MaxAttempts: 10, ScheduledAt: *until}); err != nil {
			return fmt.Errorf("crm: schedule the rest of run %s: %w", x.run.ID, err)
		}
	default:
		x.run.Status = RunDone
		x.run.FinishedAt = &now
	}
	_, err = x.sc.Q().Exec(ctx, `UPDATE crm_rule_runs SET status = ?, error = ?, updated_at = ?, finished_at = ? WHERE tenant_id = ? AND id = ?`,
		string(x.run.Status), x.run.Error, now, x.run.FinishedAt, x.tenant, x.run.ID)
	return err
}

// list runs the actions of list (at path prefix) from the position
// resume names: its first element is the index in list; for a branch,
// the next two say which branch and where in it.
func (x *execution) list(ctx context.Context, prefix string, list []Action, resume []string) (until *time.Time, next string, err error) {
	start := 0
	if len(resume) > 0 {
		if start, err = strconv.Atoi(resume[0]); err != nil {
			return nil, "", fmt.Errorf("%w: bad step %q", core.ErrInvalid, strings.Join(resume, "."))
		}
	}
	for i := start; i < len(list); i++ {
		path := strconv.Itoa(i)
		if prefix != "" {
			path = prefix + "." + path
		}
		a := &list[i]
		if a.Type == ActionBranch {
			var taken string
			var inner []string
			if i == start && len(resume) > 2 {
				taken, inner = resume[1], resume[2:]
			} else if taken, err = x.branch(ctx, path, a); err != nil {
				return nil, "", err
			}
			body := a.Then
			if taken == "else" {
				body = a.Else
			}
			if taken == "" {
				continue
			}
			if until, next, err = x.list(ctx, path+"."+taken, body, inner); until != nil || err != nil {
				return until, next, err
			}
			continue
		}
		if until, err = x.step(ctx, path, a); err != nil {
			return nil, "", err
		}
		if until != nil {
			next = strconv.Itoa(i + 1)
			if prefix != "" {
				next = prefix + "." + next
			}
			return until, next, nil
		}
	}
	return nil, "", nil
}

// branch decides a branch and records which way it went ("" for none).
func (x *execution) branch(ctx context.Context, path string, a *Action) (string, error) {
	ok, err := x.holds(ctx, *a.If)
	if err != nil {
		return "", err
	}
	taken := "else"
	if ok {
		taken = "then"
	}
	if (taken == "then" && len(a.Then) == 0) || (taken == "else" && len(a.Else) == 0) {
		taken = ""
	}
	now := x.e.now()
	return taken, x.record(ctx, path, a.Type, StepOK, map[string]any{"branch": taken, "condition": ok}, nil, now)
}

// step runs one action in a savepoint and records it: a failing action
// leaves nothing behind but its record. A step recorded done before (a
// retried job) is not run again.
func (x *execution) step(ctx context.Context, path string, a *Action) (*time.Time, error) {
	if !x.fresh {
		var status string
		err := x.sc.Q().QueryRow(ctx, `SELECT status FROM crm_rule_steps WHERE tenant_id = ? AND run_id = ? AND step = ?`,
			x.tenant, x.run.ID, path).Scan(&status)
		if err == nil && status == string(StepOK) {
			return nil, nil
		}
	}
	started := x.e.now()
	var result any
	var until *time.Time
	inner := *x
	err := x.sc.InTx(ctx, func(ctx context.Context, sc store.Scope) error {
		inner.sc = sc
		var err error
		result, until, err = inner.do(ctx, path, a)
		return err
	})
	// The step may have changed the contact: read it again when needed.
	x.contact = nil
	if err != nil {
		if !permanent(err) {
			return nil, err
		}
		if rerr := x.record(ctx, path, a.Type, StepFailed, result, err, started); rerr != nil {
			return nil, rerr
		}
		return nil, fmt.Errorf("step %s (%s): %w", path, a.Type, err)
	}
	st := StepOK
	if until != nil {
		st = StepWaiting
	}
	return until, x.record(ctx, path, a.Type, st, result, nil, started)
}

func (x *execution) record(ctx context.Context, path, action string, st StepStatus, result any, failure error, started time.Time) error {
	msg := ""
	if failure != nil {
		msg = failure.Error()
	}
	if result == nil {
		result = map[string]any{}
	}
	_, err := x.sc.Q().Exec(ctx, `INSERT INTO crm_rule_steps (tenant_id, run_id, step, action, status, result, error, started_at, finished_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, run_id, step) DO UPDATE SET status = excluded.status, result = excluded.result,
			error = excluded.error, finished_at = excluded.finished_at`,
		x.tenant, x.run.ID, path, action, string(st), string(store.JSON(result)), msg, started, x.e.now())
	return err
}

// ErrRetryLater, wrapped in an error of a host action, makes the job
// retry later (with River's backoff) instead of failing the run.
var ErrRetryLater = errors.New("crm: retry later")

// permanent reports whether err fails the run (the input or the state is
// wrong; trying again would not help) rather than the job (retried).
func permanent(err error) bool {
	if errors.Is(err, ErrRetryLater) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var he *hostError
	return errors.As(err, &he) || errors.Is(err, errNoContact) || store.Known(err)
}

// hostError is an error a host action returned.
type hostError struct{ err error }

func (e *hostError) Error() string { return e.err.Error() }

func (e *hostError) Unwrap() error { return e.err }

type runArgs struct {
	Run  core.ID `json:"run"`
	From string  `json:"from"`
	payload
}

func (runArgs) Kind() string { return "crm.run" }

func (runArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueRules, MaxAttempts: 10}
}

func (a *runArgs) UnmarshalJSON(b []byte) error {
	type plain runArgs
	return lenient(b, (*plain)(a), &a.payload)
}

type runWorker struct {
	river.WorkerDefaults[runArgs]
	e *Engine
}

// Work continues a run after a wait, with the rule version it started
// with.
func (w *runWorker) Work(ctx context.Context, job *river.Job[runArgs]) error {
	a := job.Args
	e := w.e
	sc, err := a.open(e.rt)
	if err != nil {
		return err
	}
	return sc.InTx(ctx, func(ctx context.Context, sc store.Scope) error {
		run, err := getRun(ctx, sc.Q(), a.Tenant, a.Run)
		if errors.Is(err, core.ErrNotFound) {
			e.log.WarnContext(ctx, "crm: run to continue is gone", "tenant", a.Tenant, "run", a.Run)
			return nil
		}
		if err != nil {
			return err
		}
		if run.Status != RunWaiting {
			return nil // continued already
		}
		r, err := ruleVersion(ctx, sc.Q(), a.Tenant, run.RuleID, run.RuleVersion)
		if err != nil {
			return err
		}
		evs, err := loadEvents(ctx, sc, []core.ID{run.EventID})
		if err != nil {
			return err
		}
		ev := core.Event{ID: run.EventID, TenantID: a.Tenant, Type: run.EventType, Data: json.RawMessage("{}")}
		if len(evs) == 1 {
			ev = evs[0]
		}
		ctx = withDepth(ctx, run.Depth+1)
		run.Status = RunRunning
		x := &execution{e: e, sc: sc, tenant: a.Tenant, rule: r, run: run, ev: ev}
		return x.proceed(ctx, a.From)
	})
}
