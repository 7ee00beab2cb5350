package automation

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/store"
)

// depthKey carries, in the context of a rule's actions, the depth of the
// events they cause.
type depthKey struct{}

func withDepth(ctx context.Context, d int) context.Context {
	return context.WithValue(ctx, depthKey{}, d)
}
func depthOf(ctx context.Context) int {
	d, _ := ctx.Value(depthKey{}).(int)
	return d
}

// onAppend runs in the transaction of every change: the events a rule or
// webhook of the tenant listens to become one dispatch job, inserted in
// the same transaction, so the change and its job commit or vanish
// together.
func (e *Engine) onAppend(ctx context.Context, tx *store.Tx, evs []core.Event) error {
	for len(evs) > 0 {
		// The events of one append share a tenant; split if not.
		n := 1
		for n < len(evs) && evs[n].TenantID == evs[0].TenantID {
			n++
		}
		if err := e.dispatchEvents(ctx, tx, evs[:n]); err != nil {
			return err
		}
		evs = evs[n:]
	}
	return nil
}

func (e *Engine) dispatchEvents(ctx context.Context, tx *store.Tx, evs []core.Event) error {
	tenant := evs[0].TenantID
	cfg, err := e.config(ctx, tx.Q(), tenant)
	if err != nil || cfg.empty() {
		return err
	}
	depth := depthOf(ctx)
	over := depth > e.opts.MaxDepth
	var ids []core.ID
	for _, ev := range evs {
		rec := &eventRecord{ev: ev}
		wanted := false
		for i, r := range cfg.rules {
			if !cfg.triggered(i, ev, rec) {
				continue
			}
			wanted = true
			if over {
				// A loop (or a very long chain): log the run it would have
				// started instead of starting it. Webhooks still get the
				// event.
				if err := e.stopRun(ctx, tx, r, ev, depth); err != nil {
					return err
				}
			}
		}
		for _, h := range cfg.hooks {
			wanted = wanted || store.MatchesType(h.types, ev.Type)
		}
		if wanted {
			ids = append(ids, ev.ID)
		}
	}
	if len(ids) == 0 || (over && len(cfg.hooks) == 0) {
		return nil
	}
	_, err = e.client.InsertTx(ctx, tx.Bun().Tx, dispatchArgs{payload: header(tenant), Events: ids, Depth: depth}, nil)
	if err != nil {
		return fmt.Errorf("crm: queue automation job: %w", err)
	}
	return nil
}

// stopRun logs, as a "stopped" run, the run of r for ev that the depth
// limit prevents.
func (e *Engine) stopRun(ctx context.Context, tx *store.Tx, r *Rule, ev core.Event, depth int) error {
	e.log.WarnContext(ctx, "crm: rule stopped at the depth limit", "tenant", ev.TenantID, "rule", r.ID, "event", ev.Type, "depth", depth)
	now := e.now()
	return insertRun(ctx, tx.Q(), ev.TenantID, &Run{ID: core.NewID(), RuleID: r.ID, RuleVersion: r.Version, EventID: ev.ID,
		EventType: ev.Type, ContactID: contactOf(ev), Depth: depth, Status: RunStopped,
		Error:     fmt.Sprintf("stopped: depth %d exceeds the limit of %d (a rule that triggers itself?)", depth, e.opts.MaxDepth),
		StartedAt: now, FinishedAt: &now})
}

// eventRecord is an event as the Event condition sees it.
type eventRecord struct {
	ev   core.Event
	data map[string]any
}

func (r *eventRecord) FilterValue(field string) any {
	switch field {
	case "type":
		return r.ev.Type
	case "subject_type":
		return r.ev.SubjectType
	case "actor_id":
		return r.ev.ActorID
	}
	path, ok := strings.CutPrefix(field, "data.")
	if !ok {
		return nil
	}
	if r.data == nil {
		r.data = map[string]any{}
		_ = json.Unmarshal(r.ev.Data, &r.data)
	}
	var v any = r.data
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	switch v.(type) {
	case string, float64, bool:
		return v
	}
	return nil
}

// contactOf is the contact an event is about (Event.ContactID, which every
// module sets on the events of its records about a person).
func contactOf(ev core.Event) *core.ID { return ev.ContactID }

type dispatchArgs struct {
	Events []core.ID `json:"events"`
	Depth  int       `json:"depth"`
	payload
}

func (dispatchArgs) Kind() string { return "crm.dispatch" }
func (dispatchArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueRules, MaxAttempts: 10}
}
func (a *dispatchArgs) UnmarshalJSON(b []byte) error {
	type plain dispatchArgs
	return lenient(b, (*plain)(a), &a.payload)
}

type dispatchWorker struct {
	river.WorkerDefaults[dispatchArgs]
	e *Engine
}

// Work starts the runs of the rules an event triggers and queues its
// webhook deliveries, all in one transaction. A job run again (its worker
// died after the commit, before River recorded the completion) finds the
// runs and deliveries recorded and starts nothing twice.
func (w *dispatchWorker) Work(ctx context.Context, job *river.Job[dispatchArgs]) error {
	a := job.Args
	e := w.e
	sc, err := a.open(e.rt)
	if err != nil {
		return err
	}
	if limited, err := e.overRate(ctx, sc); err != nil {
		return err
	} else if limited {
		e.log.WarnContext(ctx, "crm: rule runs over the tenant's rate limit; waiting", "tenant", a.Tenant)
		return river.JobSnooze(min(10*time.Second, e.opts.RateWindow))
	}
	runs := 0
	err = sc.InTx(ctx, func(ctx context.Context, sc store.Scope) error {
		ctx = withDepth(ctx, a.Depth+1)
		cfg, err := e.config(ctx, sc.Q(), a.Tenant)
		if err != nil {
			return err
		}
		if err := keepContacts(ctx, sc, a.Events); err != nil {
			return err
		}
		evs, err := loadEvents(ctx, sc, a.Events)
		if err != nil {
			return err
		}
		x := &dispatch{e: e, sc: sc, tenant: a.Tenant}
		for _, ev := range evs {
			rec := &eventRecord{ev: ev}
			for i, r := range cfg.rules {
				// Past the depth limit the runs were logged as stopped when
				// the event was appended; the job is for its webhooks.
				if a.Depth <= e.opts.MaxDepth && cfg.triggered(i, ev, rec) {
					if err := x.start(ctx, r, ev, a.Depth); err != nil {
						return err
					}
				}
			}
			for _, h := range cfg.hooks {
				if store.MatchesType(h.types, ev.Type) {
					if _, err := e.enqueueDelivery(ctx, sc.Tx(), a.Tenant, h.id, ev.ID, deliveryKey(h.id, ev.ID)); err != nil {
						return err
					}
				}
			}
		}
		runs = x.runs
		return nil
	})
	if err == nil {
		e.started(a.Tenant, runs)
	}
	return err
}

// keepContacts locks the contacts of the events ids against an erasure
// until the transaction ends (PostgreSQL; SQLite's writers run one at a
// time): an erasure that commits first is then seen by loadEvents, and one
// that comes later waits and deletes the runs this job starts. Without it
// a run (and its task) could be written for a person just erased.
func keepContacts(ctx context.Context, sc store.Scope, ids []core.ID) error {
	d := sc.Runtime().Dialect
	if d.KeepRows() == "" {
		return nil
	}
	tenant, _ := sc.Tenant()
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = id.String()
	}
	_, err := sc.Q().Exec(ctx, `SELECT c.id FROM crm_contacts c WHERE c.tenant_id = ? AND c.id IN (SELECT e.contact_id FROM crm_events e
		WHERE e.tenant_id = ? AND `+d.InList("e.id", "uuid")+`) ORDER BY c.id`+d.KeepRows(), tenant, tenant, d.ListArg(keys))
	if err != nil {
		return fmt.Errorf("crm: lock the events' contacts: %w", err)
	}
	return nil
}

// loadEvents reads events by id (those gone, or about a person erased
// since, are skipped).
func loadEvents(ctx context.Context, sc store.Scope, ids []core.ID) ([]core.Event, error) {
	tenant, _ := sc.Tenant()
	d := sc.Runtime().Dialect
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = id.String()
	}
	rows, err := sc.Q().Query(ctx, `SELECT `+store.EventColumns("e")+` FROM crm_events e WHERE e.tenant_id = ? AND `+
		d.InList("e.id", "uuid")+` AND NOT `+erasedColumn+` ORDER BY e.id`, tenant, d.ListArg(keys))
	if err != nil {
		return nil, fmt.Errorf("crm: load events: %w", err)
	}
	var out []core.Event
	err = store.EachRow(rows, func(s store.Scanner) error {
		ev, err := store.ScanEvent(s)
		if err == nil {
			out = append(out, ev)
		}
		return err
	})
	return out, err
}

// dispatch is the work of one dispatch job.
type dispatch struct {
	e      *Engine
	sc     store.Scope
	tenant string
	schema *filter.Schema // the tenant's contact schema, read once
	runs   int            // runs started
}

// start begins the run of r for ev, unless its Contact condition fails or
// a run for them exists (a retried job).
func (x *dispatch) start(ctx context.Context, r *Rule, ev core.Event, depth int) error {
	run := &Run{ID: core.NewID(), RuleID: r.ID, RuleVersion: r.Version, EventID: ev.ID, EventType: ev.Type,
		ContactID: contactOf(ev), Depth: depth, Status: RunRunning, StartedAt: x.e.now()}
	// The runs of one job share the tenant's contact schema.
	ex := &execution{e: x.e, sc: x.sc, tenant: x.tenant, rule: r, run: run, ev: ev, schema: x.schema}
	defer func() { x.schema = ex.schema }()
	if !r.Condition.Contact.IsZero() {
		ok, err := ex.holds(ctx, Condition{Contact: r.Condition.Contact})
		if err != nil || !ok {
			return err
		}
	}
	inserted, err := insertRunOnce(ctx, x.sc.Q(), x.tenant, run)
	if err != nil || !inserted {
		return err
	}
	x.runs++
	ex.fresh = true // no step of it can be recorded yet
	return ex.proceed(ctx, "0")
}
