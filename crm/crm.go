package crm

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/analytics"
	"github.com/crmkit/crmkit/automation"
	"github.com/crmkit/crmkit/campaigns"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/migrate"
	"github.com/crmkit/crmkit/internal/module"
	"github.com/crmkit/crmkit/internal/modules"
	"github.com/crmkit/crmkit/internal/opendb"
	"github.com/crmkit/crmkit/internal/store"
	crmtrace "github.com/crmkit/crmkit/internal/trace"
	"github.com/crmkit/crmkit/pipeline"
	"github.com/crmkit/crmkit/tickets"
)

// CRM is crmkit bound to one tenant and, optionally, one transaction. It is
// safe for concurrent use, except a copy bound to a transaction, which is
// used by the goroutine that owns the transaction.
type CRM struct {
	// Contacts manages contacts.
	Contacts *contacts.Service
	// Companies manages companies.
	Companies *contacts.Companies
	// Notes manages notes about contacts.
	Notes *contacts.Notes
	// Tasks manages tasks.
	Tasks *contacts.Tasks
	// Fields manages custom field definitions of every entity a module
	// declares (contacts, companies, deals; package fields).
	Fields *fields.Service
	// Scoring keeps lead scores by the tenant's rules.
	Scoring *contacts.Scoring
	// Consent keeps purposes and the consent log (GDPR).
	Consent *consent.Service
	// Pipelines manages sales pipelines and their stages.
	Pipelines *pipeline.Pipelines
	// Deals manages deals: stages, line items, the board, forecasts.
	Deals *pipeline.Deals
	// Products manages the product catalogue of line items.
	Products *pipeline.Products
	// Automation manages rules, their run log and webhooks. Workers run
	// after Start.
	Automation *automation.Service
	// Segments are saved filters over contacts that campaigns send to.
	Segments *campaigns.Segments
	// Templates are the mail templates of campaigns.
	Templates *campaigns.Templates
	// Campaigns send a template to a segment over the configured mailer,
	// with consent checked per recipient. Sending runs after Start.
	Campaigns *campaigns.Campaigns
	// Tickets manages the service desk's tickets and their messages, with
	// SLA due times on business-hours calendars.
	Tickets *tickets.Tickets
	// Calendars are the business-hours calendars SLA policies count in.
	Calendars *tickets.Calendars
	// SLAPolicies give tickets their response and resolution targets.
	SLAPolicies *tickets.Policies
	// Routing routes new tickets to teams by rules and assigns them within
	// the team (round robin, least loaded), serving the teams' queues.
	Routing *tickets.Routing
	// Macros keeps the service desk's canned replies, which
	// Tickets.ApplyMacro applies (the same as Tickets.Macros()).
	Macros *tickets.Macros
	// Classifier learns the tenant's ticket categories and teams from
	// solved tickets and suggests (or applies) them on new ones.
	Classifier *tickets.Classifier
	// KnowledgeBase keeps help articles, searches them and suggests them
	// for a ticket's text.
	KnowledgeBase *tickets.KnowledgeBase
	// Access manages users, teams and roles, and resolves an actor's
	// permissions (package access).
	Access *access.Service
	// Analytics computes reports: pipeline conversion and velocity,
	// attribution, customer value (BG/NBD, Gamma-Gamma), RFM, cohorts and
	// churn risk. It only reads.
	Analytics *analytics.Service

	shared *shared
	sc     store.Scope
}

// shared is what every copy of one CRM shares.
type shared struct {
	rt        *store.Runtime
	consent   consent.Options
	engine    *automation.Engine
	cfg       Config
	modules   []module.Module
	listener  *pgxpool.Pool // opened by Open for the engine, closed by Close
	owned     bool
	closeOnce sync.Once
	closeErr  error
}

// DefaultTenant is the tenant of a CRM that was not bound with Tenant.
const DefaultTenant = "default"

// Open opens (or creates) the database named by cfg.DSN and returns a CRM
// on it for the default tenant. Call Migrate before first use and Close at
// the end.
func Open(ctx context.Context, cfg Config) (*CRM, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	db, err := OpenDB(ctx, cfg)
	if err != nil {
		return nil, err
	}
	var listener *pgxpool.Pool
	if opendb.IsPostgres(cfg.DSN) && cfg.Automation.Listener == nil {
		// One connection per River client LISTENs for new jobs, so workers
		// start them at once.
		pc, err := pgxpool.ParseConfig(cfg.DSN)
		if err == nil {
			pc.MinConns, pc.MaxConns = 0, 1
			listener, err = pgxpool.NewWithConfig(ctx, pc)
		}
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("crm: open listener pool: %w", err)
		}
		cfg.Automation.Listener = listener
	}
	c, err := newCRM(db, cfg, true)
	if err != nil {
		db.Close()
		if listener != nil {
			listener.Close()
		}
		return nil, err
	}
	c.shared.listener = listener
	return c, nil
}

// OpenDB opens the database named by cfg.DSN configured as crmkit needs
// it (see Open) and returns it for the host to own: use it for the host's
// own tables too, pass it to New, and close it yourself.
func OpenDB(ctx context.Context, cfg Config) (*bun.DB, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return opendb.Open(ctx, cfg.DSN, opendb.Options{MaxOpenConns: cfg.MaxOpenConns, BusyTimeout: cfg.BusyTimeout})
}

// New returns a CRM on a database the host owns (SQLite or PostgreSQL
// through bun). crmkit's tables are all named crm_*, so they can live beside
// the host's. Close does not close db.
//
// An SQLite db is best opened with OpenDB: WAL, foreign keys on, a busy
// timeout, transactions that take the write lock at BEGIN
// (_txlock=immediate with modernc.org/sqlite), and a gate at which the
// process's writers queue in order (River's workers get a pool of their
// own behind it). A db opened otherwise works, but under load concurrent
// writers can fail with SQLITE_BUSY. With a single connection, never read
// through db while a transaction is open on it.
//
// New checks on one connection of db the settings crmkit needs to be
// correct (SQLite: foreign_keys on, set in the DSN as
// "_pragma=foreign_keys(1)") and refuses db without
// them. It waits at most 10 s for that connection.
func New(db *bun.DB, cfg Config) (*CRM, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := opendb.CheckHost(db); err != nil {
		return nil, err
	}
	return newCRM(db, cfg, false)
}

func newCRM(db *bun.DB, cfg Config, owned bool) (*CRM, error) {
	rt, err := store.NewRuntime(db, cfg.Clock, cfg.Secret, cfg.Logger)
	if err != nil {
		return nil, err
	}
	rt.SettingsTTL = cfg.SettingsTTL
	rt.Tracer = crmtrace.Tracer(cfg.TracerProvider)
	rt.QueryHook = cfg.QueryHook
	mods := modules.All()
	module.Wire(rt, mods)
	access.Module.Configure(rt, cfg.Access)
	consentOpts := consent.Options{Keys: cfg.TokenKeys, RecordNetwork: cfg.RecordNetworkDetails, OptInTTL: cfg.OptInTTL}
	campaigns.Module.Configure(rt, cfg.Campaigns, consentOpts)
	tickets.Module.Configure(rt, tickets.Options{Keys: cfg.TokenKeys})
	opts := cfg.Automation
	opts.Clocked = !cfg.wallClock
	if opts.Logger == nil {
		opts.Logger = cfg.Logger
	}
	if opts.TracerProvider == nil {
		opts.TracerProvider = cfg.TracerProvider
	}
	engine, err := automation.Module.Engine(rt, opts, module.Actions(mods), module.Jobs(mods))
	if err != nil {
		return nil, err
	}
	sh := &shared{rt: rt, owned: owned, engine: engine, cfg: cfg, modules: mods,
		consent: consentOpts}
	return bind(sh, store.NewScope(rt)), nil
}

// bind builds the CRM value for scope sc.
func bind(sh *shared, sc store.Scope) *CRM {
	return &CRM{
		Contacts:    contacts.Module.Contacts(sc),
		Companies:   contacts.Module.Companies(sc),
		Notes:       contacts.Module.Notes(sc),
		Tasks:       contacts.Module.Tasks(sc),
		Fields:      fields.Module.Service(sc),
		Scoring:     contacts.Module.Scoring(sc),
		Consent:     consent.Module.Service(sc, sh.consent),
		Pipelines:   pipeline.Module.Pipelines(sc),
		Deals:       pipeline.Module.Deals(sc),
		Products:    pipeline.Module.Products(sc),
		Automation:  automation.Module.Service(sc, sh.engine),
		Segments:    campaigns.Module.Segments(sc),
		Templates:   campaigns.Module.Templates(sc),
		Campaigns:   campaigns.Module.Campaigns(sc),
		Tickets:     tickets.Module.Tickets(sc),
		Calendars:   tickets.Module.Calendars(sc),
		SLAPolicies: tickets.Module.Policies(sc),
		Routing:     tickets.Module.Routing(sc),
		Access:      access.Module.Service(sc),
		Analytics:   analytics.Module.Service(sc),
		shared:      sh,
		sc:          sc,

		Macros:        tickets.Module.Macros(sc),
		Classifier:    tickets.Module.Classifier(sc),
		KnowledgeBase: tickets.Module.KnowledgeBase(sc),
	}
}

// Migrate brings crmkit's tables up to date, and River's (the job
// queue's river_* tables). It is idempotent and safe to run from several
// processes at once.
func (c *CRM) Migrate(ctx context.Context) (err error) {
	ctx, span := c.sc.Span(ctx, "crm.Migrate")
	defer span.End(&err)
	if c.shared.rt.Dialect.Kind == dialect.SQLite {
		_, err := migrate.UpWith(ctx, c.shared.rt.DB, module.Migrations(c.shared.modules), c.shared.engine.Migrate)
		return err
	}
	if _, err := migrate.Up(ctx, c.shared.rt.DB, module.Migrations(c.shared.modules)); err != nil {
		return err
	}
	return c.shared.engine.Migrate(ctx, nil)
}

// Start runs background workers in this process until Stop or Close:
// rule runs, webhook deliveries, and the periodic work (retention,
// rescoring) once per interval across all processes. Processes that do not
// call Start still record work (jobs) for those that do. Migrate first.
func (c *CRM) Start(ctx context.Context) error {
	sh := c.shared
	if sh.cfg.RetentionEvery > 0 {
		if err := sh.engine.AddPeriodic("retention", sh.cfg.RetentionEvery, sh.forEachTenant("crm_retention_policies",
			func(ctx context.Context, t *CRM) error {
				_, err := t.ApplyRetention(ctx, sh.rt.Clock.Now())
				return err
			})); err != nil {
			return err
		}
	}
	for _, m := range sh.modules {
		for _, p := range m.Periodic {
			every := sh.cfg.every(p)
			if every <= 0 {
				continue
			}
			run := p.Run
			if err := sh.engine.AddPeriodic(p.Name, every, sh.forEachTenant(p.Table, func(ctx context.Context, t *CRM) error {
				return run(ctx, t.sc)
			})); err != nil {
				return err
			}
		}
	}
	return sh.engine.Start(ctx)
}

// forEachTenant is periodic work over the tenants with rows in table.
func (sh *shared) forEachTenant(table string, fn func(ctx context.Context, t *CRM) error) automation.PeriodicFunc {
	return func(ctx context.Context) error {
		tenants, err := sh.rt.TenantsWithRows(ctx, table)
		if err != nil {
			return err
		}
		var errs []error
		for _, t := range tenants {
			if err := fn(ctx, bind(sh, store.NewScope(sh.rt).WithTenant(t))); err != nil {
				errs = append(errs, fmt.Errorf("tenant %s: %w", t, err))
			}
		}
		return errors.Join(errs...)
	}
}

// SweepEvents queues the events a rule or webhook wants but that got no
// job (see automation.Engine.Sweep); the workers do it every minute, this
// does it now.
func (c *CRM) SweepEvents(ctx context.Context) (err error) {
	ctx, span := c.sc.Span(ctx, "crm.SweepEvents")
	defer span.End(&err)
	return c.shared.engine.Sweep(ctx)
}

// PruneAutomationLogs deletes the rule runs and webhook deliveries that
// finished longer ago than Automation.LogRetention (see
// automation.Engine.PruneLogs); the workers do it daily.
func (c *CRM) PruneAutomationLogs(ctx context.Context) (runs, deliveries int64, err error) {
	ctx, span := c.sc.Span(ctx, "crm.PruneAutomationLogs")
	defer span.End(&err)
	return c.shared.engine.PruneLogs(ctx)
}

// River returns the River client that runs crmkit's jobs, for a host that
// wants to look at them (River UI, JobList). Insert crmkit's jobs only
// through crmkit.
func (c *CRM) River() *river.Client[*sql.Tx] { return c.shared.engine.River() }

// Stop stops this process's workers: they take no new jobs, and those
// running finish (or, when ctx ends first, are cancelled and run again
// later, here or in another process).
func (c *CRM) Stop(ctx context.Context) error { return c.shared.engine.Stop(ctx) }

// RegisterAction adds a rule action under name: rules then use
// {"type": name, "params": {...}}. fn runs in the transaction of the
// step, with tx bound to it and to the rule's tenant: what fn writes
// through tx commits exactly once, with the step's record. For effects
// outside the database (a mail), pass call.IdempotencyKey on. An error
// fails the run and is logged in its steps; wrap automation.ErrRetryLater
// to have the job retried later instead. validate, when not nil, checks
// the params of rules at save time. Register actions before Start in
// every process that runs workers.
func (c *CRM) RegisterAction(name string, fn func(ctx context.Context, tx *CRM, call automation.Call) (result any, err error),
	validate func(params json.RawMessage) error) error {
	sh := c.shared
	return automation.Module.RegisterAction(sh.engine, name, func(ctx context.Context, sc store.Scope, call automation.Call) (any, error) {
		return fn(ctx, bind(sh, sc), call)
	}, validate)
}

// Close stops the workers (waiting up to 10 seconds for running jobs)
// and closes the database if Open opened it; a CRM from New leaves the
// database open. It is safe to call more than once.
func (c *CRM) Close() error {
	c.shared.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := c.shared.engine.Close(ctx)
		if c.shared.listener != nil {
			c.shared.listener.Close()
		}
		if c.shared.owned {
			err = errors.Join(err, c.shared.rt.DB.Close())
		}
		c.shared.closeErr = err
	})
	return c.shared.closeErr
}

// DB returns the database handle, for the host's own queries.
func (c *CRM) DB() *bun.DB { return c.shared.rt.DB }

// Tenant returns a copy of c bound to tenant (1-64 letters, digits and
// . _ : -). An invalid id is reported by every method of the copy, as an
// error matching core.ErrInvalid.
func (c *CRM) Tenant(tenant string) *CRM {
	return bind(c.shared, c.sc.WithTenant(tenant))
}

// TenantID returns the tenant c is bound to.
func (c *CRM) TenantID() string { return c.sc.TenantName() }

// InTx runs fn in one transaction: every write through tx commits together
// when fn returns nil, and none does when it returns an error or panics.
// Subscribers see the events after the commit. Called on a CRM already bound
// to a transaction, fn runs in a savepoint of it.
func (c *CRM) InTx(ctx context.Context, fn func(ctx context.Context, tx *CRM) error) (err error) {
	ctx, span := c.sc.Span(ctx, "crm.InTx")
	defer span.End(&err)
	return c.sc.InTx(ctx, func(ctx context.Context, sc store.Scope) error {
		return fn(ctx, bind(c.shared, sc))
	})
}

// WithTx returns a copy of c whose writes join tx, a transaction the host
// began on the same database (e.g. db.BeginTx). crmkit never commits or
// rolls back tx; each of its writes runs in a savepoint of tx, so a failed
// write leaves nothing behind in it. Events are written to crm_events in tx;
// after committing tx, call Committed on the copy to run the subscribers.
// A tx of another database is not joined: every method of the copy returns
// ErrInvalid.
func (c *CRM) WithTx(tx bun.Tx) *CRM {
	return bind(c.shared, c.sc.Join(tx))
}

// Committed tells a CRM bound by WithTx that the host committed its
// transaction: the subscribers then receive the events of crmkit's writes
// in it. If the host rolled back, call Discarded instead (or drop the copy).
// On a CRM not bound to a host transaction it does nothing.
func (c *CRM) Committed(ctx context.Context) {
	if tx := c.sc.Tx(); tx != nil {
		tx.Committed(ctx)
	}
}

// Discarded forgets the events of a rolled-back host transaction.
func (c *CRM) Discarded() {
	if tx := c.sc.Tx(); tx != nil {
		tx.Discard()
	}
}

// Subscribe registers fn to receive, after commit, every event whose type
// matches one of types: an exact type ("contact.created"), a prefix pattern
// ("contact.*"), or — no types — all. Subscribers of one CRM are shared by
// all its tenant copies and run one after the other in the goroutine that
// committed. A subscriber receives the events emitted after it was
// registered: register subscribers at start-up. The returned function
// unsubscribes.
//
// Subscribe panics when a type selects no event of the catalogue
// (EventTypes), as http.ServeMux does for a malformed pattern: a misspelt
// "contacts.created" would otherwise never be called.
func (c *CRM) Subscribe(fn func(ctx context.Context, ev core.Event), types ...string) (unsubscribe func()) {
	c.mustKnow("Subscribe", types)
	return c.shared.rt.Hooks.Subscribe(types, fn)
}

// mustKnow panics when a pattern of types selects no event type.
func (c *CRM) mustKnow(method string, types []string) {
	v := &core.ValidationError{}
	c.shared.rt.Events.CheckPatterns(v, "types", types)
	if err := v.Err(); err != nil {
		panic(fmt.Sprintf("crm: %s: %v", method, err))
	}
}

// Before registers fn to run inside the transaction of every change whose
// event matches types, before the change commits. tx is bound to that
// transaction and the event's tenant; writes through it commit or roll back
// with the change. An error from fn vetoes the change: nothing of it is
// written and the caller gets the error. The returned function removes fn.
// Like Subscribe, it panics when a type selects no event type.
func (c *CRM) Before(fn func(ctx context.Context, tx *CRM, ev core.Event) error, types ...string) (remove func()) {
	c.mustKnow("Before", types)
	sh := c.shared
	return sh.rt.Hooks.Before(types, func(ctx context.Context, tx *store.Tx, ev core.Event) error {
		return fn(ctx, bind(sh, store.NewScope(sh.rt).WithTenant(ev.TenantID).WithTx(tx)), ev)
	})
}

// EventQuery selects events of one tenant; see Events.
type EventQuery struct {
	// SubjectID selects the events about one record; the zero id selects
	// all.
	SubjectID core.ID
	// ContactID selects the events about one contact: its own and those
	// of its deals, tasks, notes, activities and consents.
	ContactID core.ID
	// Types selects events of these types; none selects all.
	Types []string
	// After continues after the event with this id (ids grow with time).
	After core.ID
	// Limit is at most 1000; 0 means 50.
	Limit int
}

// Events returns the tenant's events in the order they were appended:
// about one subject or contact, of some types, after an event id.
func (c *CRM) Events(ctx context.Context, q EventQuery) (_ []core.Event, err error) {
	ctx, span := c.sc.SpanID(ctx, "crm.Events", q.SubjectID)
	defer span.End(&err)
	return c.sc.Events(ctx, store.EventQuery{SubjectID: q.SubjectID, ContactID: q.ContactID, Types: q.Types, After: q.After, Limit: q.Limit})
}
