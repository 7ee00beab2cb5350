package crmtest

import (
	"database/sql"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertest"

	"github.com/crmkit/crmkit/crm"
)

// EnvPostgres names the environment variable that moves New onto
// PostgreSQL: a DSN ("postgres://user@host:5432/db?sslmode=disable", or
// pgx's keyword form). Each CRM then gets a migrated schema of that
// database of its own, emptied when its test ends. Unset, New uses SQLite.
const EnvPostgres = "CRMTEST_POSTGRES_DSN"

// CRM is a migrated crmkit of one test: the *crm.CRM it embeds (c.Contacts,
// c.Tenant("acme"), … as usual; pass c.CRM to the code under test), the
// test's Clock, and RunDue, which runs the background jobs that are due.
// Its workers are never started: jobs run when the test calls RunDue.
type CRM struct {
	*crm.CRM

	clock *Clock
	tb    testing.TB

	runMu  sync.Mutex // one RunDue at a time
	worker *rivertest.Worker[anyArgs, *sql.Tx]
}

// Option configures New.
type Option func(*options)

type options struct {
	cfg      crm.Config
	start    time.Time
	postgres string // DSN; "" means SQLite
	sqlite   bool
}

// WithConfig sets the configuration the CRM is made with (a campaign
// Mailer, token keys, automation options, a logger …). New replaces its
// DSN and Clock with the test's, and lets webhooks reach loopback
// addresses (Automation.Webhooks.AllowLoopback), where httptest servers
// listen. Without a Logger, crmkit's warnings go to the test's log.
func WithConfig(cfg crm.Config) Option { return func(o *options) { o.cfg = cfg } }

// WithTime sets the time the clock starts at. Defaults to the wall-clock
// time at New, to the second.
func WithTime(t time.Time) Option { return func(o *options) { o.start = t } }

// WithPostgres runs the CRM on a migrated schema of its own of the
// PostgreSQL database named by dsn (emptied when the test ends), whatever
// EnvPostgres says.
func WithPostgres(dsn string) Option {
	return func(o *options) { o.postgres, o.sqlite = dsn, false }
}

// WithSQLite runs the CRM on SQLite even when EnvPostgres is set (a test
// of something only SQLite does).
func WithSQLite() Option { return func(o *options) { o.postgres, o.sqlite = "", true } }

// New returns a migrated crmkit for the test tb, closed (and its database
// removed) when tb ends. It works with t.Parallel: every CRM has a
// database of its own.
//
// On SQLite (the default) the database is a file in tb.TempDir(), copied
// from a template migrated once and kept, under a fingerprint of the
// migrations, in $TMPDIR/crmkit-dbtest: a test pays for a file copy, not
// for the migrations. With EnvPostgres set (or WithPostgres), it is a
// migrated schema of that PostgreSQL database, from a pool.
//
// Time is the test's: a Clock standing at WithTime's time (or now), which
// crmkit and River both read. A failure to set up fails tb.
func New(tb testing.TB, opts ...Option) *CRM {
	tb.Helper()
	o := options{postgres: os.Getenv(EnvPostgres)}
	for _, opt := range opts {
		opt(&o)
	}
	if o.sqlite {
		o.postgres = ""
	}
	if o.start.IsZero() {
		o.start = time.Now().UTC().Truncate(time.Second)
	}
	clock := NewClock(o.start)
	cfg := o.cfg
	cfg.DSN, cfg.Clock = "", clock
	cfg.Automation.Webhooks.AllowLoopback = true
	if cfg.Logger == nil {
		cfg.Logger = testLogger(tb)
	}
	var c *crm.CRM
	if o.postgres != "" {
		c = openPostgres(tb, o.postgres, cfg)
	} else {
		c = openSQLite(tb, cfg)
	}
	return &CRM{CRM: c, clock: clock, tb: tb}
}

// Clock returns the test's clock: move it with Advance or Set, then call
// RunDue to run what came due.
func (c *CRM) Clock() *Clock { return c.clock }

// testLogger writes warnings and errors to tb's log until tb's cleanup
// ends (a log after the test has ended would panic).
func testLogger(tb testing.TB) *slog.Logger {
	w := &tbWriter{tb: tb}
	tb.Cleanup(w.stop) // registered first: runs after the CRM's Close
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tbWriter struct {
	mu      sync.Mutex
	tb      testing.TB
	stopped bool
}

func (w *tbWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.tb.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func (w *tbWriter) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
}
