package crm

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/automation"
	"github.com/crmkit/crmkit/campaigns"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/module"
)

// Config configures a CRM. The zero Config is usable: an SQLite file
// "crm.db" in the working directory, the system clock in UTC, slog's default
// logger, and a random per-process secret.
type Config struct {
	// DSN names the database for Open: "postgres://…" or the keyword form
	// "host=… dbname=… sslmode=…" for PostgreSQL; an SQLite file name or
	// "file:" URI, ":memory:" for a private in-memory SQLite database.
	// Other URL schemes, and text with "=" and spaces that is not
	// PostgreSQL's keyword form, are refused (ErrInvalid). Defaults to
	// "file:crm.db".
	// Ignored by New.
	DSN string

	// Clock tells crmkit the time. Defaults to core.SystemClock.
	Clock core.Clock

	// Logger receives crmkit's logs. Defaults to slog.Default().
	Logger *slog.Logger

	// Secret keys the HMAC signatures of list cursors (and, later, of
	// tokens in links). At least 32 bytes when set. Defaults to random bytes
	// chosen at Open: cursors then do not survive a restart, and processes
	// sharing a database do not accept each other's cursors. Set it for
	// several processes behind one API.
	Secret []byte

	// TokenKeys sign the tokens of links sent to people (double opt-in,
	// unsubscribe): the first signs, all verify, so a key is rotated by
	// putting a new one first. Each at least 32 bytes. Defaults to one key
	// derived from Secret: set Secret (or TokenKeys) in production, or links
	// stop working when the process restarts.
	TokenKeys [][]byte

	// OptInTTL is how long a double opt-in confirmation link is valid.
	// Defaults to 7 days.
	OptInTTL time.Duration

	// RecordNetworkDetails stores the IP address and user agent in consent
	// proofs. Off by default: they are personal data of their own.
	RecordNetworkDetails bool

	// MaxOpenConns bounds the pool Open creates. Defaults to 4 × GOMAXPROCS
	// on PostgreSQL, max(4, GOMAXPROCS) for an SQLite file and 1 for
	// SQLite in memory. Ignored by New.
	MaxOpenConns int

	// BusyTimeout is how long an SQLite writer waits for another's
	// transaction before failing. Defaults to 10s. Ignored by New.
	BusyTimeout time.Duration

	// Automation configures rules, background jobs (River) and webhooks;
	// see automation.Options for the defaults. On PostgreSQL, Open sets
	// up Automation.Listener itself unless given.
	Automation automation.Options

	// Access configures record access: how long a process reuses an
	// actor's resolved permissions (access.Options.ResolveTTL, default
	// 1s; a change made through crmkit in the process applies at once).
	Access access.Options

	// SettingsTTL is how long a process keeps a tenant's settings that
	// every single write reads — custom field definitions, the scoring
	// and lead models, whether segments are tracked — instead of reading
	// them in each write's transaction. A change made through crmkit in
	// the process applies at once (and in the transaction that makes it);
	// one made by another process sharing the database (PostgreSQL), or
	// by the host's own SQL, applies within SettingsTTL. Default 1s;
	// negative: read them in every write.
	SettingsTTL time.Duration

	// Campaigns configure sending campaigns: the Mailer (campaigns.SMTP,
	// or the host's own), the public unsubscribe URL every message links
	// to (RFC 8058), the return path for bounces, batch size and frequency
	// cap. Without a Mailer, campaigns can be drafted but not started.
	Campaigns campaigns.Options

	// RetentionEvery is how often the workers (Start) apply every tenant's
	// retention policy (ApplyRetention). Default 24h; negative: never.
	RetentionEvery time.Duration
	// RescoreEvery is how often the workers recompute the lead scores of
	// every tenant with a scoring model (engagement fades with time).
	// Default 24h; negative: never.
	RescoreEvery time.Duration

	// TracerProvider receives the OpenTelemetry spans of crmkit's
	// operations: one per public method of every module service
	// ("contacts.Create", "pipeline.Deals.Update") and of the CRM
	// (Migrate, InTx, Events, ApplyRetention, …), with the tenant and the
	// record id as attributes and any error as the span's status; and,
	// through River's otelriver middleware, one per job inserted
	// ("river.insert_many") and worked ("river.work/<kind>", linked to
	// the span that inserted the job). Defaults to the global provider
	// (otel.GetTracerProvider()), a no-op until the host installs one.
	TracerProvider trace.TracerProvider

	// QueryHook, when set, sees every SQL statement crmkit runs for the
	// modules' work after it ran: its text with placeholders, when it
	// started, how long it took, the rows it wrote and its error — never
	// its argument values, which are people's data. Its context carries
	// the span of the operation that ran the statement, so a hook can
	// log slow statements or make a span of each. Migrations, bun's
	// BEGIN and COMMIT and River's own statements are not reported.
	// Defaults to none.
	QueryHook core.QueryHook

	// Periodic overrides the interval of a module's periodic work by its
	// name (e.g. "rescore"; "customer_scores", the refresh of the RFM
	// and churn scores stored on contacts, analytics.StoreScores, off
	// unless given an interval here); zero keeps the module's default,
	// negative turns the work off.
	// RescoreEvery is the same as Periodic["rescore"].
	Periodic map[string]time.Duration

	// wallClock records that Clock is the default, so River may take the
	// time from the database.
	wallClock bool
}

func (c Config) withDefaults() (Config, error) {
	if c.RescoreEvery != 0 && c.Periodic["rescore"] == 0 {
		// RescoreEvery is the named form of Periodic["rescore"]; the
		// host's map is copied, not changed.
		p := maps.Clone(c.Periodic)
		if p == nil {
			p = map[string]time.Duration{}
		}
		p["rescore"] = c.RescoreEvery
		c.Periodic = p
	}
	if c.DSN == "" {
		c.DSN = "file:crm.db"
	}
	if c.Clock == nil {
		c.Clock, c.wallClock = core.SystemClock, true
	}
	if c.RetentionEvery == 0 {
		c.RetentionEvery = 24 * time.Hour
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Secret == nil {
		c.Secret = make([]byte, 32)
		if _, err := rand.Read(c.Secret); err != nil {
			return c, fmt.Errorf("crm: make secret: %w", err)
		}
	}
	if c.TokenKeys == nil {
		mac := hmac.New(sha256.New, c.Secret)
		mac.Write([]byte("crmkit token key"))
		c.TokenKeys = [][]byte{mac.Sum(nil)}
	}
	return c, c.validate()
}

func (c Config) validate() error {
	v := &core.ValidationError{}
	if len(c.Secret) < 32 {
		v.Add("Secret", "must be at least 32 bytes")
	}
	for i, k := range c.TokenKeys {
		if len(k) < 32 {
			v.Add(fmt.Sprintf("TokenKeys[%d]", i), "must be at least 32 bytes")
		}
	}
	if c.MaxOpenConns < 0 {
		v.Add("MaxOpenConns", "must not be negative")
	}
	if c.OptInTTL < 0 {
		v.Add("OptInTTL", "must not be negative")
	}
	if c.BusyTimeout < 0 {
		v.Add("BusyTimeout", "must not be negative")
	}
	return v.Err()
}

// every is the interval of periodic work p: Config.Periodic's, else p's
// default.
func (c Config) every(p module.Periodic) time.Duration {
	if d := c.Periodic[p.Name]; d != 0 {
		return d
	}
	return p.Every
}
