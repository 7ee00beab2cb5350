package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"github.com/uptrace/bun"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/trace"
)

// Runtime is what every module of one CRM shares. It is immutable after
// construction.
type Runtime struct {
	DB      *bun.DB
	Dialect *dialect.Dialect
	Clock   core.Clock
	Cursors *core.CursorSigner
	Logger  *slog.Logger
	Hooks   *Hooks
	// Events is the catalogue of the event types the wired modules emit,
	// and FieldEntities the entities that carry custom fields. crm sets
	// both when it wires the modules, before the runtime is used; a
	// runtime of one module's tests leaves Events nil (event types are
	// then not checked) and FieldEntities empty (the contacts module's
	// defaults apply).
	Events        *core.EventCatalogue
	FieldEntities []string
	// SubjectModules names, by an event's subject type ("deal"), the
	// module permission ("pipeline") under which roles see that subject:
	// the first wired module declaring events about it. crm sets it with
	// the catalogue; a contact's timeline shows an actor the events of
	// another module's records about the contact only when the actor
	// reads all of that module's records.
	SubjectModules map[string]string
	// Schemas are the filter schemas of the modules' entities, by entity
	// (module.Module.Schemas); see Schema.
	Schemas map[string]func(ctx context.Context, sc Scope) (*filter.Schema, error)
	// Relations are the related conditions modules declare on entities
	// (module.Module.Relations), by entity: what lists and segments may
	// filter on besides fields.
	Relations map[string][]filter.Relation
	// ImportSuppression tells a contact import which of its emails and
	// phones are on the suppression list (erased or objecting people, who
	// must not come back for marketing), reading in sc. The consent
	// module sets it when it is wired; nil imports everything.
	ImportSuppression func(ctx context.Context, sc Scope, emails, phones []string) (map[string]bool, error)
	// Audit appends e to the audit log, writing in sc (its own atomic
	// change, or a savepoint of sc's transaction), with the actor in ctx:
	// what a module records that is not an event, such as an attempt its
	// record access refused. The consent module, which owns the audit log,
	// sets it when it is wired; nil records nothing.
	Audit func(ctx context.Context, sc Scope, e AuditEntry) error
	// ModuleOptions are the options crm gives each module (by module
	// name), for the module's code that runs without a service of crm's —
	// its jobs and hooks. Set while crm wires the modules, read-only after.
	ModuleOptions map[string]any
	// Jobs queues the modules' durable jobs (Tx.Enqueue); automation's
	// engine sets it. Nil without an engine.
	Jobs JobQueue

	// SettingsTTL is how long a process keeps a tenant's settings that
	// writes read (see Cached): crm sets it from its Config before the
	// runtime is used. Zero: DefaultSettingsTTL; negative: read them on
	// every call.
	SettingsTTL time.Duration

	// Tracer starts the spans of the modules' public operations (see
	// Scope.Span). NewRuntime sets the global provider's; crm sets its
	// Config.TracerProvider's before the runtime is used.
	Tracer oteltrace.Tracer
	// QueryHook, when not nil, sees every statement crmkit's queriers
	// (Q, Tx.InsertRows) run. crm sets it from its Config before the
	// runtime is used.
	QueryHook core.QueryHook

	raw     conn
	stmts   *stmtCache // nil when the driver caches statements itself
	caches  sync.Map   // of *Cached[T], by name (CacheOf)
	groups  sync.Map   // of *writeGroup, by key (WriteGrouped)
	privacy privacyRegistry
}

// NewRuntime wires a runtime around db.
func NewRuntime(db *bun.DB, clock core.Clock, cursorKey []byte, logger *slog.Logger) (*Runtime, error) {
	d, err := dialect.For(db)
	if err != nil {
		return nil, err
	}
	rt := &Runtime{DB: db, Dialect: d, Clock: clock, Cursors: core.NewCursorSigner(cursorKey), Logger: logger, Hooks: &Hooks{}, raw: db.DB,
		Tracer: trace.Tracer(nil)}
	if d.PrepareCache {
		rt.stmts = newStmtCache(db.DB, 512)
		rt.raw = cachedConn{cache: rt.stmts}
	}
	rt.registerEvents()
	return rt, nil
}

// prepareMissed prepares the statements crmkit's transactions ran
// unprepared (see stmtCache.prepareMissed), if the runtime caches them.
func (rt *Runtime) prepareMissed(ctx context.Context) {
	if rt.stmts != nil {
		rt.stmts.prepareMissed(context.WithoutCancel(ctx))
	}
}

// txConn is the conn crmkit's queries use inside tx.
func (rt *Runtime) txConn(tx *sql.Tx) conn {
	if rt.stmts != nil {
		return cachedConn{cache: rt.stmts, tx: tx}
	}
	return tx
}

// q is the querier of the runtime on c.
func (rt *Runtime) q(c conn) Q { return Q{c: c, D: rt.Dialect, hook: rt.QueryHook} }

// Now is the runtime clock's time, normalised for storage.
func (rt *Runtime) Now() time.Time { return core.NormalizeTime(rt.Clock.Now()) }

// DefaultTenant is the tenant of hosts that have only one.
const DefaultTenant = "default"

var tenantPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$`)

// Scope binds module code to one tenant and, optionally, one transaction.
// It is a small value; copies are independent.
type Scope struct {
	rt     *Runtime
	tenant string
	err    error
	tx     *Tx
	// joinErr: Join was given a transaction of another database. It stays
	// through WithTenant, so every operation of the copy fails with it.
	joinErr error
}

// NewScope returns a scope of rt for the default tenant.
func NewScope(rt *Runtime) Scope {
	return Scope{rt: rt, tenant: DefaultTenant}
}

// WithTenant returns a copy bound to tenant. An invalid tenant id does not
// fail here: every operation of the copy returns the error instead.
func (s Scope) WithTenant(tenant string) Scope {
	s.tenant, s.err = tenant, s.joinErr
	if s.err == nil && !tenantPattern.MatchString(tenant) {
		s.err = core.Invalid("tenant", "must be 1-64 characters of letters, digits and . _ : - (got %q)", tenant)
	}
	return s
}

// Runtime returns the shared runtime.
func (s Scope) Runtime() *Runtime { return s.rt }

// Tenant returns the scope's tenant, or the error that made it invalid.
func (s Scope) Tenant() (string, error) { return s.tenant, s.err }

// TenantName returns the tenant id without validation, for display.
func (s Scope) TenantName() string { return s.tenant }

// Tx returns the transaction the scope is bound to, or nil.
func (s Scope) Tx() *Tx { return s.tx }

// Q returns the querier for reads: the bound transaction's, else the pool's.
// Code inside a transaction must read through it (with one SQLite connection
// a read on the pool would wait for the transaction forever).
func (s Scope) Q() Q {
	if s.tx != nil {
		return s.tx.q
	}
	return s.rt.q(s.rt.raw)
}

// Span starts the span of the public operation name ("contacts.List")
// for s's tenant; end it with `defer span.End(&err)`. See internal/trace.
// An invalid tenant is left out of the span (the operation fails with
// ErrInvalid).
func (s Scope) Span(ctx context.Context, name string) (context.Context, trace.Span) {
	return trace.Start(ctx, s.rt.Tracer, name, s.spanTenant(), core.NilID)
}

// SpanID is Span for an operation about the record id.
func (s Scope) SpanID(ctx context.Context, name string, id core.ID) (context.Context, trace.Span) {
	return trace.Start(ctx, s.rt.Tracer, name, s.spanTenant(), id)
}

func (s Scope) spanTenant() string {
	if s.err != nil {
		return ""
	}
	return s.tenant
}

// Write runs fn as one atomic change. See the package documentation.
func (s Scope) Write(ctx context.Context, fn func(ctx context.Context, tx *Tx) error) error {
	if s.err != nil {
		return s.err
	}
	if s.tx != nil {
		return s.tx.savepoint(ctx, func(ctx context.Context) error { return fn(ctx, s.tx) })
	}
	tx, err := s.rt.begin(ctx)
	if err != nil {
		return err
	}
	return tx.run(ctx, func(ctx context.Context) error { return fn(ctx, tx) })
}

// InTx runs fn with a scope bound to one transaction: crmkit's own, begun
// and committed here, or — when s is already bound — a savepoint of the
// enclosing one.
func (s Scope) InTx(ctx context.Context, fn func(ctx context.Context, s Scope) error) error {
	if s.err != nil {
		return s.err
	}
	if s.tx != nil {
		return s.tx.savepoint(ctx, func(ctx context.Context) error { return fn(ctx, s) })
	}
	tx, err := s.rt.begin(ctx)
	if err != nil {
		return err
	}
	bound := s
	bound.tx = tx
	return tx.run(ctx, func(ctx context.Context) error { return fn(ctx, bound) })
}

// Join returns a copy of s bound to the host's transaction. crmkit's writes
// then become part of it; crmkit never commits or rolls it back. Events are
// held until the host reports the commit with Tx.Committed.
//
// tx must be a transaction of the runtime's database: begun on its *bun.DB,
// or on another *bun.DB over the same *sql.DB pool. Any other (a zero
// bun.Tx, a transaction of another database file or server) is not bound;
// every operation of the copy returns ErrInvalid instead, as for an invalid
// tenant.
func (s Scope) Join(tx bun.Tx) Scope {
	s.joinErr = nil
	if !s.rt.owns(tx) {
		s.joinErr = core.Invalid("tx", "is not a transaction of the CRM's database: begin it on the *bun.DB given to crm.New (or one over the same *sql.DB)")
		s.tx = nil
		return s.WithTenant(s.tenant)
	}
	s = s.WithTenant(s.tenant)
	s.tx = &Tx{rt: s.rt, bun: tx, q: s.rt.q(s.rt.txConn(tx.Tx))}
	return s
}

// owns reports whether tx was begun on the runtime's database handle: bun
// keeps the *bun.DB a Tx was begun on, and queries built on the Tx carry it.
// Handles are compared, not data.
func (rt *Runtime) owns(tx bun.Tx) bool {
	if tx.Tx == nil {
		return false
	}
	db := tx.NewSelect().DB()
	return db != nil && (db == rt.DB || db.DB == rt.DB.DB)
}

// begin starts a transaction of crmkit's own, on a connection it holds
// until the end, so that bulk writes can reach the driver's connection (COPY
// on PostgreSQL, see Tx.InsertRows).
func (rt *Runtime) begin(ctx context.Context) (*Tx, error) {
	c, err := rt.DB.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("crm: begin transaction: %w", err)
	}
	btx, err := c.BeginTx(ctx, &sql.TxOptions{})
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("crm: begin transaction: %w", err)
	}
	return &Tx{rt: rt, bun: btx, q: rt.q(rt.txConn(btx.Tx)), own: true, conn: c.Conn}, nil
}

// WithTx returns a copy of s bound to tx, e.g. for a before hook that must
// write in the transaction of the change it vetoes.
func (s Scope) WithTx(tx *Tx) Scope {
	s.tx = tx
	return s
}

// TenantsWithRows returns the tenants that have rows in table (for
// periodic work that goes tenant by tenant). It is a tenant listing: the
// one kind of statement that reads across tenants, marked as such for
// internal/tenantcheck.
func (rt *Runtime) TenantsWithRows(ctx context.Context, table string) ([]string, error) {
	rows, err := NewScope(rt).Q().Query(ctx, `SELECT DISTINCT tenant_id FROM `+table+` ORDER BY tenant_id /* crm:tenant-listing */`)
	if err != nil {
		return nil, err
	}
	var out []string
	err = EachRow(rows, func(s Scanner) error {
		var t string
		err := s.Scan(&t)
		out = append(out, t)
		return err
	})
	return out, err
}

// Schema returns the filter schema of entity for sc's tenant, as the
// module that owns the entity declares it. An entity no wired module
// declares is ErrInvalid.
func (s Scope) Schema(ctx context.Context, entity string) (*filter.Schema, error) {
	fn, ok := s.rt.Schemas[entity]
	if !ok {
		return nil, core.Invalid("entity", "%q has no filter schema", entity)
	}
	return fn(ctx, s)
}
