package crm

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"github.com/crmkit/crmkit/automation"
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

	// RetentionEvery is how often the workers (Start) apply every tenant's
	// retention policy (ApplyRetention). Default 24h; negative: never.
	RetentionEvery time.Duration
	// RescoreEvery is how often the workers recompute the lead scores of
	// every tenant with a scoring model (engagement fades with time).
	// Default 24h; negative: never.
	RescoreEvery time.Duration

	// Periodic overrides the interval of a module's periodic work by its
	// name (e.g. "rescore"); zero keeps the module's default, negative
	// turns the work off. RescoreEvery is the same as Periodic["rescore"].
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
