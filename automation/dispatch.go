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

// tenantConfig is a process's copy of one tenant's enabled rules and
// webhooks, for the decision in the transaction of a change.
type tenantConfig struct {
	loaded time.Time
	rules  []*Rule
	// events holds each rule's Event condition bound for matching (nil:
	// none), by rule index.
	events []*filter.Matcher
	hooks  []hookSub
}

type hookSub struct {
	id    core.ID
	types []string
}

func (c *tenantConfig) empty() bool { return len(c.rules) == 0 && len(c.hooks) == 0 }

// config returns tenant's configuration, from the cache while it is
// fresh, else read through q.
func (e *Engine) config(ctx context.Context, q store.Q, tenant string) (*tenantConfig, error) {
	e.cacheMu.Lock()
	c, ok := e.cache[tenant]
	e.cacheMu.Unlock()
	if ok && time.Since(c.loaded) < e.opts.RuleCacheTTL {
		return c, nil
	}
	c, err := loadConfig(ctx, q, tenant, e.now())
	if err != nil {
		return nil, err
	}
	e.cacheMu.Lock()
	e.cache[tenant] = c
	e.cacheMu.Unlock()
	return c, nil
}

// invalidate drops tenant's cached configuration after a save.
func (e *Engine) invalidate(tenant string) {
	e.cacheMu.Lock()
	delete(e.cache, tenant)
	e.cacheMu.Unlock()
}

func loadConfig(ctx context.Context, q store.Q, tenant string, now time.Time) (*tenantConfig, error) {
	c := &tenantConfig{loaded: time.Now()}
	rows, err := q.Query(ctx, `SELECT `+ruleColumns+` FROM crm_rules r WHERE r.tenant_id = ? AND r.enabled ORDER BY r.created_at, r.id`, tenant)
	if err != nil {
		return nil, fmt.Errorf("crm: load rules: %w", err)
	}
	if err := store.EachRow(rows, func(s store.Scanner) error {
		r, err := scanRule(s)
		if err != nil {
			return err
		}
		var m *filter.Matcher
		if !r.Condition.Event.IsZero() {
			if m, err = eventSchema.Matcher(r.Condition.Event, now); err != nil {
				return fmt.Errorf("rule %s: %w", r.ID, err)
			}
		}
		c.rules, c.events = append(c.rules, r), append(c.events, m)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("crm: load rules: %w", err)
	}
	rows, err = q.Query(ctx, `SELECT id, event_types FROM crm_webhooks WHERE tenant_id = ? AND enabled`, tenant)
	if err != nil {
		return nil, fmt.Errorf("crm: load webhooks: %w", err)
	}
	if err := store.EachRow(rows, func(s store.Scanner) error {
		var h hookSub
		var types []byte
		if err := s.Scan(&h.id, &types); err != nil {
			return err
		}
		if err := json.Unmarshal(types, &h.types); err != nil {
			return err
		}
		c.hooks = append(c.hooks, h)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("crm: load webhooks: %w", err)
	}
	return c, nil
}

// triggered reports whether the i-th rule of c starts a run for ev as far
// as the event decides (its type and the Event condition).
func (c *tenantConfig) triggered(i int, ev core.Event, rec *eventRecord) bool {
	if !store.MatchesType(c.rules[i].Triggers, ev.Type) {
		return false
	}
	return c.events[i] == nil || c.events[i].Match(rec)
}

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

// argsVersion is the version of the job payloads; a job with another is
// cancelled (logged), not retried.
const argsVersion = 1

// payload is embedded in job arguments: the payload version, the tenant,
// and — when the payload does not parse — the error, so the worker can
// cancel the job instead of River retrying a job that can never run.
type payload struct {
	V        int    `json:"v"`
	Tenant   string `json:"tenant,omitempty"`
	parseErr error
}

// header is the payload header of a job of tenant.
func header(tenant string) payload { return payload{V: argsVersion, Tenant: tenant} }

func (p *payload) check() error {
	if p.parseErr != nil {
		return river.JobCancel(fmt.Errorf("crm: job payload does not parse (written by another crmkit version?): %w", p.parseErr))
	}
	if p.V != argsVersion {
		return river.JobCancel(fmt.Errorf("crm: job payload version %d is not %d", p.V, argsVersion))
	}
	return nil
}

// open checks the payload and returns the scope of its tenant.
func (p *payload) open(rt *store.Runtime) (store.Scope, error) {
	if err := p.check(); err != nil {
		return store.Scope{}, err
	}
	sc := store.NewScope(rt).WithTenant(p.Tenant)
	if _, err := sc.Tenant(); err != nil {
		return sc, river.JobCancel(err)
	}
	return sc, nil
}

// lenient decodes data into v, recording an error in p instead of
// failing.
func lenient[T any](data []byte, v *T, p *payload) error {
	if err := json.Unmarshal(data, v); err != nil {
		p.parseErr = err
	}
	return nil
}

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

// overRate reports whether the tenant started RateLimit runs in the last
// RateWindow. The count is read from the run log (so it covers every
// process) at most once a second per tenant and process; in between this
// process adds the runs it starts itself.
func (e *Engine) overRate(ctx context.Context, sc store.Scope) (bool, error) {
	tenant, _ := sc.Tenant()
	e.rateMu.Lock()
	r, ok := e.rates[tenant]
	e.rateMu.Unlock()
	if !ok || time.Since(r.read) > time.Second {
		// Never hold rateMu during a query: every worker of every tenant
		// would queue behind it.
		began := time.Now()
		var n int
		err := sc.Q().QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM crm_rule_runs WHERE tenant_id = ? AND started_at > ? LIMIT ?) recent`,
			tenant, e.now().Add(-e.opts.RateWindow), e.opts.RateLimit).Scan(&n)
		if err != nil {
			return false, fmt.Errorf("crm: rate limit: %w", err)
		}
		e.rateMu.Lock()
		// A count read by another worker after this one began is as fresh
		// and holds their reservations: keep it.
		if cur, ok := e.rates[tenant]; !ok || cur.read.Before(began) {
			e.rates[tenant] = &rate{read: time.Now(), count: n}
		}
		e.rateMu.Unlock()
	}
	e.rateMu.Lock()
	defer e.rateMu.Unlock()
	r = e.rates[tenant]
	if r.count >= e.opts.RateLimit {
		return true, nil
	}
	// Reserve the job's first run now, so that workers checking at the
	// same moment do not all pass (see started).
	r.count++
	return false, nil
}

// rate is a tenant's recent run count as this process knows it.
type rate struct {
	read  time.Time
	count int
}

// started counts the runs a dispatch job started beyond the one it
// reserved (or gives the reservation back when it started none).
func (e *Engine) started(tenant string, runs int) {
	e.rateMu.Lock()
	defer e.rateMu.Unlock()
	if r, ok := e.rates[tenant]; ok {
		r.count += runs - 1
	}
}

// loadEvents reads events by id (those erased or gone are skipped).
func loadEvents(ctx context.Context, sc store.Scope, ids []core.ID) ([]core.Event, error) {
	tenant, _ := sc.Tenant()
	d := sc.Runtime().Dialect
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = id.String()
	}
	rows, err := sc.Q().Query(ctx, `SELECT `+store.EventColumns("e")+` FROM crm_events e WHERE e.tenant_id = ? AND `+
		d.InList("e.id", "uuid")+` ORDER BY e.id`, tenant, d.ListArg(keys))
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
		c, err := contacts.New(x.sc).Get(ctx, *x.run.ContactID)
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
		if x.schema, err = contacts.NewFields(x.sc).Schema(ctx, contacts.EntityContact); err != nil {
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
