package automation

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"github.com/riverqueue/rivercontrib/otelriver"
	"go.opentelemetry.io/otel/trace"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/module"
	"github.com/crmkit/crmkit/internal/opendb"
	"github.com/crmkit/crmkit/internal/store"
)

// Queues crmkit's jobs run in. They are River queues of crmkit's own, so a
// host that uses River for its jobs in the same database does not work
// crmkit's, nor crmkit the host's.
const (
	QueueRules    = "crm_rules"
	QueueWebhooks = "crm_webhooks"
)

// DefaultWorkers is Options.Workers' default.
const DefaultWorkers = 16

// Options configure the engine. The zero value is usable.
type Options struct {
	// Workers is how many rule jobs one process works at once. Default
	// DefaultWorkers.
	Workers int
	// WebhookWorkers is how many webhook deliveries one process makes at
	// once. Default 4.
	WebhookWorkers int
	// MaxDepth stops chains of rules: an event caused by a rule's action
	// has depth 1, an event caused by that event's rules depth 2, and so
	// on; runs beyond MaxDepth are not started but logged as "stopped".
	// Default 5.
	MaxDepth int
	// RateLimit bounds the rule runs one tenant starts per RateWindow,
	// across processes; events beyond it wait (their jobs are snoozed), none
	// is dropped. Default 6000 per minute. The count is read from the run
	// log once a second per tenant and process, so other processes' runs
	// of the last second may exceed it.
	RateLimit  int
	RateWindow time.Duration
	// RuleCacheTTL is how long a process trusts its copy of a tenant's
	// rules and webhooks when deciding, in the transaction of a change,
	// whether the change's events need a job. A save in this process takes
	// effect at once; a save in another process within RuleCacheTTL.
	// Default 1s.
	RuleCacheTTL time.Duration
	// SweepEvery is how often the workers look for events that a rule or
	// webhook wants but that got no job (see Engine.Sweep). Default 1m;
	// negative: never.
	SweepEvery time.Duration
	// SweepLag leaves the newest events to the next sweep, so that
	// transactions still open commit first. Default 1m.
	SweepLag time.Duration
	// LogRetention is how long the run log and the webhook delivery log
	// keep what finished; PruneLogs, run daily by the workers, deletes the
	// rest. Default 90 days; negative: keep forever.
	LogRetention time.Duration
	// PollInterval is how often an idle worker looks for new jobs when it
	// cannot be notified (PostgreSQL without Listener). Default 200ms.
	PollInterval time.Duration
	// JobTimeout cancels a job that runs longer. Default 1m.
	JobTimeout time.Duration
	// RescueAfter is when a job whose worker vanished (a killed process)
	// is run again by another. Default 1h; at least JobTimeout. With
	// Clocked there is no rescue: River measures a job's age by the wall
	// clock against the time the runtime's clock gave its attempt, so a
	// clock in the past would have running jobs run twice.
	RescueAfter time.Duration
	// Listener, on PostgreSQL, is a pgx pool on the same database used only
	// to LISTEN for new jobs, so workers start them at once instead of at
	// the next poll. Open sets it up itself; hosts using New may pass one.
	Listener *pgxpool.Pool
	// Webhooks configures deliveries.
	Webhooks WebhookOptions
	// Logger defaults to the runtime's.
	Logger *slog.Logger
	// TracerProvider receives the spans of River's OpenTelemetry
	// middleware (otelriver): one per batch of jobs inserted
	// ("river.insert_many") and one per job worked ("river.work/<kind>"),
	// linked to the span that inserted the job (W3C trace context in the
	// job's metadata). Its metrics go to the global meter provider.
	// Defaults to the global tracer provider.
	TracerProvider trace.TracerProvider
	// Clocked makes River read the time from the runtime's clock instead
	// of the database's (for tests that control time).
	Clocked bool
}

// noRescue is River's rescue horizon under a runtime clock: a century.
const noRescue = 100 * 365 * 24 * time.Hour

// rescueAfter is River's rescue horizon for opts (see Options.RescueAfter).
func rescueAfter(opts Options) time.Duration {
	if opts.Clocked {
		return noRescue
	}
	return opts.RescueAfter
}

// WebhookOptions configure webhook deliveries.
type WebhookOptions struct {
	// Timeout bounds one delivery attempt. Default 10s.
	Timeout time.Duration
	// MaxAttempts is how often a delivery is tried before it is given up.
	// Default 10 (the last about 4 hours after the first, with the default
	// RetryBase).
	MaxAttempts int
	// RetryBase is the wait after the first failure; each further failure
	// doubles it (at most 6h). Default 15s.
	RetryBase time.Duration
	// DisableAfter disables a subscription after this many failed attempts
	// in a row (across its deliveries), with a "webhook.disabled" event.
	// Default 15.
	DisableAfter int
	// AllowLoopback permits URLs that reach this machine (127.0.0.1, ::1,
	// localhost). Off by default.
	AllowLoopback bool
	// AllowPrivate permits private, link-local and other non-public
	// addresses. Off by default.
	AllowPrivate bool
	// AllowedHosts are host names always permitted, whatever they resolve
	// to (e.g. an internal service).
	AllowedHosts []string
	// Transport makes the requests; defaults to a copy of
	// http.DefaultTransport. crmkit checks every address it connects to
	// against the rules above, at connect time.
	Transport *http.Transport
}

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.Workers, DefaultWorkers)
	def(&o.WebhookWorkers, 4)
	def(&o.MaxDepth, 5)
	def(&o.RateLimit, 6000)
	defDur(&o.RateWindow, time.Minute)
	def(&o.Webhooks.MaxAttempts, 10)
	def(&o.Webhooks.DisableAfter, 15)
	defDur(&o.RuleCacheTTL, time.Second)
	defDur(&o.SweepEvery, time.Minute)
	defDur(&o.SweepLag, time.Minute)
	defDur(&o.LogRetention, 90*24*time.Hour)
	defDur(&o.PollInterval, 200*time.Millisecond)
	defDur(&o.JobTimeout, time.Minute)
	defDur(&o.RescueAfter, time.Hour)
	defDur(&o.Webhooks.Timeout, 10*time.Second)
	defDur(&o.Webhooks.RetryBase, 15*time.Second)
	return o
}

func (o Options) validate() error {
	v := &core.ValidationError{}
	for name, n := range map[string]int{"Workers": o.Workers, "WebhookWorkers": o.WebhookWorkers, "MaxDepth": o.MaxDepth,
		"RateLimit": o.RateLimit, "Webhooks.MaxAttempts": o.Webhooks.MaxAttempts, "Webhooks.DisableAfter": o.Webhooks.DisableAfter} {
		if n < 1 {
			v.Add("Automation."+name, "must be positive")
		}
	}
	for name, d := range map[string]time.Duration{"RuleCacheTTL": o.RuleCacheTTL, "PollInterval": o.PollInterval, "JobTimeout": o.JobTimeout,
		"RescueAfter": o.RescueAfter, "RateWindow": o.RateWindow, "Webhooks.Timeout": o.Webhooks.Timeout, "Webhooks.RetryBase": o.Webhooks.RetryBase} {
		if d <= 0 {
			v.Add("Automation."+name, "must be positive")
		}
	}
	if o.SweepEvery > 0 && o.SweepEvery < time.Minute {
		v.Add("Automation.SweepEvery", "must be at least a minute (or negative: never)")
	}
	if o.SweepLag < 0 {
		v.Add("Automation.SweepLag", "must not be negative")
	}
	if o.RescueAfter < o.JobTimeout {
		v.Add("Automation.RescueAfter", "must be at least JobTimeout")
	}
	return v.Err()
}

// Engine runs a CRM's automation: it turns events into River jobs in the
// transaction of the change, and its workers run rules and deliver
// webhooks. One engine serves every tenant of a CRM.
type Engine struct {
	rt     *store.Runtime
	opts   Options
	log    *slog.Logger
	client *river.Client[*sql.Tx]
	driver riverdriver.Driver[*sql.Tx]
	http   *http.Client
	// ownPool is River's own SQLite pool, closed by Close.
	ownPool *sql.DB
	// riverConfig is the client's configuration (its workers, retry
	// policy, clock), with which the package's tests work jobs.
	riverConfig *river.Config

	actionsMu sync.RWMutex
	actions   map[string]actionFunc
	// jobs are the modules' kinds of job (module.Module.Jobs), fixed
	// when the engine is made.
	jobs map[string]module.Job

	cacheMu sync.Mutex
	cache   map[string]*tenantConfig

	rateMu sync.Mutex
	rates  map[string]*rate

	periodicMu sync.Mutex
	periodic   map[string]PeriodicFunc

	runMu   sync.Mutex
	running bool
}

// newEngine builds the engine of rt's CRM and hooks it into rt's events.
// Jobs can be inserted at once; they are worked after Start.
func newEngine(rt *store.Runtime, opts Options) (*Engine, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	e := &Engine{rt: rt, opts: opts, log: opts.Logger, actions: map[string]actionFunc{}, jobs: map[string]module.Job{}, cache: map[string]*tenantConfig{},
		periodic: map[string]PeriodicFunc{}, rates: map[string]*rate{}}
	if e.log == nil {
		e.log = rt.Logger
	}
	e.http = newHTTPClient(opts.Webhooks)
	switch rt.Dialect.Kind {
	case dialect.SQLite:
		// River polls and writes its bookkeeping all the time; on a pool of
		// its own (sharing the write gate of crmkit's) it never waits for a
		// connection behind the host's goroutines.
		pool := rt.DB.DB
		if sib, ok := opendb.Sibling(rt.DB.DB, 4); ok {
			pool, e.ownPool = sib, sib
		}
		e.driver = riversqlite.New(pool)
	default:
		if opts.Listener != nil {
			e.driver = riverdatabasesql.NewWithPgxListener(rt.DB.DB, opts.Listener)
		} else {
			e.driver = riverdatabasesql.New(rt.DB.DB)
		}
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &dispatchWorker{e: e})
	river.AddWorker(workers, &runWorker{e: e})
	river.AddWorker(workers, &webhookWorker{e: e})
	river.AddWorker(workers, &periodicWorker{e: e})
	river.AddWorker(workers, &moduleJobWorker{e: e})
	cfg := &river.Config{
		Queues: map[string]river.QueueConfig{
			QueueRules:    {MaxWorkers: opts.Workers},
			QueueWebhooks: {MaxWorkers: opts.WebhookWorkers},
			QueueJobs:     {MaxWorkers: opts.Workers},
		},
		Workers:              workers,
		Logger:               e.riverLogger(),
		FetchPollInterval:    opts.PollInterval,
		FetchCooldown:        min(opts.PollInterval, 10*time.Millisecond),
		JobTimeout:           opts.JobTimeout,
		RescueStuckJobsAfter: rescueAfter(opts),
		RetryPolicy:          &retryPolicy{e: e},
		ErrorHandler:         &errorHandler{log: e.log},
		// Plugins, not Middleware: otelriver is both a middleware (insert,
		// work) and a hook (River's metrics).
		Plugins: []rivertype.Plugin{otelriver.NewMiddleware(&otelriver.MiddlewareConfig{
			TracerProvider:              opts.TracerProvider,
			EnableTracePropagation:      true,
			EnableWorkSpanJobKindSuffix: true,
		})},
	}
	if opts.Clocked {
		cfg.Test.Time = clockTime{rt.Clock}
	}
	client, err := river.NewClient(e.driver, cfg)
	if err != nil {
		return nil, fmt.Errorf("crm: automation: %w", err)
	}
	e.client, e.riverConfig = client, cfg
	rt.Hooks.OnAppend(e.onAppend)
	return e, nil
}

// Migrate brings River's tables up to date. On SQLite it runs in tx,
// crmkit's migration transaction, which holds the migration lock. On
// PostgreSQL some of River's migrations cannot share a transaction (an
// enum value added and used), so they run after crmkit's commit, in
// River's own transactions, under a session advisory lock that keeps
// processes starting together apart; tx is then unused.
func (e *Engine) Migrate(ctx context.Context, tx *sql.Tx) error {
	m, err := rivermigrate.New(e.driver, &rivermigrate.Config{Logger: e.riverLogger()})
	if err != nil {
		return fmt.Errorf("crm: migrate river: %w", err)
	}
	if e.rt.Dialect.Kind == dialect.SQLite {
		if _, err := m.MigrateTx(ctx, tx, rivermigrate.DirectionUp, nil); err != nil {
			return fmt.Errorf("crm: migrate river: %w", err)
		}
		return nil
	}
	conn, err := e.rt.DB.DB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("crm: migrate river: %w", err)
	}
	defer conn.Close()
	const key = `hashtext('crmkit.river.' || current_schema())`
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(`+key+`)`); err != nil {
		return fmt.Errorf("crm: migrate river: lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+key+`)`) //nolint:errcheck
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("crm: migrate river: %w", err)
	}
	return nil
}

// riverLogger passes River's warnings and errors to the engine's logger;
// its informational messages (client started, migration applied) go to
// debug.
func (e *Engine) riverLogger() *slog.Logger {
	return slog.New(quietHandler{e.log.Handler()}).With("component", "river")
}

type quietHandler struct{ slog.Handler }

func (h quietHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		r.Level = slog.LevelDebug
	}
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h quietHandler) Enabled(ctx context.Context, l slog.Level) bool {
	if l < slog.LevelWarn {
		l = slog.LevelDebug
	}
	return h.Handler.Enabled(ctx, l)
}

func (h quietHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return quietHandler{h.Handler.WithAttrs(as)}
}
func (h quietHandler) WithGroup(g string) slog.Handler { return quietHandler{h.Handler.WithGroup(g)} }

// Start runs workers in this process until Stop: rule runs, webhook
// deliveries and periodic jobs. Processes that do not call Start still
// insert jobs; those that do share them.
func (e *Engine) Start(ctx context.Context) error {
	e.runMu.Lock()
	defer e.runMu.Unlock()
	if e.running {
		return nil
	}
	if e.opts.SweepEvery > 0 {
		if err := e.AddPeriodic("sweep", e.opts.SweepEvery, e.Sweep); err != nil {
			return err
		}
	}
	if e.opts.LogRetention > 0 {
		if err := e.AddPeriodic("prune_logs", 24*time.Hour, func(ctx context.Context) error {
			_, _, err := e.PruneLogs(ctx)
			return err
		}); err != nil {
			return err
		}
	}
	if err := e.client.Start(ctx); err != nil {
		return fmt.Errorf("crm: start workers: %w", err)
	}
	e.running = true
	return nil
}

// Stop stops taking jobs and waits for those running to finish (or ctx to
// end, after which they are cancelled; a cancelled job runs again later).
func (e *Engine) Stop(ctx context.Context) error {
	e.runMu.Lock()
	defer e.runMu.Unlock()
	if !e.running {
		return nil
	}
	e.running = false
	if err := e.client.Stop(ctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return e.client.StopAndCancel(context.WithoutCancel(ctx))
		}
		return fmt.Errorf("crm: stop workers: %w", err)
	}
	return nil
}

// Close stops the workers (see Stop) and releases what the engine opened.
func (e *Engine) Close(ctx context.Context) error {
	err := e.Stop(ctx)
	if e.ownPool != nil {
		err = errors.Join(err, e.ownPool.Close())
	}
	return err
}

// River returns the River client, for hosts that want to look at crmkit's
// jobs (River UI, JobList). Insert crmkit's jobs only through crmkit.
func (e *Engine) River() *river.Client[*sql.Tx] { return e.client }

// clockTime is River's time generator on crmkit's clock.
type clockTime struct{ c core.Clock }

func (t clockTime) Now() time.Time { return t.c.Now().UTC() }
func (t clockTime) NowOrNil() *time.Time {
	now := t.c.Now().UTC()
	return &now
}

// now is the time for scheduling.
func (e *Engine) now() time.Time { return e.rt.Now() }

// retryPolicy backs webhook deliveries off exponentially from RetryBase;
// other jobs use River's policy.
type retryPolicy struct {
	e   *Engine
	def river.DefaultClientRetryPolicy
}

func (p *retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	if job.Kind != (webhookArgs{}).Kind() {
		return p.def.NextRetry(job)
	}
	wait := p.e.opts.Webhooks.RetryBase
	for i := 1; i < job.Attempt && wait < 6*time.Hour; i++ {
		wait *= 2
	}
	return p.e.now().Add(min(wait, 6*time.Hour))
}

// errorHandler logs job failures and panics; River retries them.
type errorHandler struct{ log *slog.Logger }

func (h *errorHandler) HandleError(ctx context.Context, job *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	h.log.WarnContext(ctx, "crm: job failed", "kind", job.Kind, "job", job.ID, "attempt", job.Attempt, "error", err)
	return nil
}

func (h *errorHandler) HandlePanic(ctx context.Context, job *rivertype.JobRow, panicVal any, trace string) *river.ErrorHandlerResult {
	h.log.ErrorContext(ctx, "crm: job panicked", "kind", job.Kind, "job", job.ID, "attempt", job.Attempt, "panic", panicVal, "trace", trace)
	return nil
}
