package opendb

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
	bundialect "github.com/uptrace/bun/dialect"
)

// HostCheckTimeout bounds CheckHost: it needs one connection of the pool,
// and a host that holds the only one (a single-connection SQLite pool with
// a transaction open) would otherwise make it wait forever.
const HostCheckTimeout = 10 * time.Second

// CheckHost checks, on one connection of a pool the host opened, the
// settings crmkit's correctness depends on, and says how to set a missing
// one. Settings that only tune speed or concurrency (WAL, the busy timeout,
// _txlock=immediate, the page cache) are not required of a host's pool.
//
//   - SQLite: foreign_keys must be on. Without it the composite foreign keys
//     refuse nothing, ON DELETE CASCADE and SET NULL never run (a deleted
//     contact's external ids would stay taken forever), and references
//     across tenants are stored. The pragma is per connection, so it belongs
//     in the DSN (modernc.org/sqlite: "_pragma=foreign_keys(1)"), not in a
//     PRAGMA statement run once on the pool; only one connection is checked.
//   - PostgreSQL: standard_conforming_strings must be on (the default since
//     9.1): crmkit's SQL has backslashes in string literals (regular
//     expressions) that must stay backslashes.
func CheckHost(db *bun.DB) error {
	ctx, cancel := context.WithTimeout(context.Background(), HostCheckTimeout)
	defer cancel()
	var pragma, query, want, how string
	switch db.Dialect().Name() {
	case bundialect.SQLite:
		pragma, want = "foreign_keys", "1"
		query = "PRAGMA " + pragma
		how = `open the database with "_pragma=foreign_keys(1)" in the DSN (modernc.org/sqlite; e.g. "file:crm.db?_pragma=foreign_keys(1)"), or with crm.OpenDB`
	case bundialect.PG:
		pragma, want = "standard_conforming_strings", "on"
		query = "SHOW " + pragma
		how = `set standard_conforming_strings = on (the default) for the database or the connection`
	default:
		return nil // dialect.For refuses it with a better message
	}
	conn, err := db.DB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("crm: check the host's database (waited at most %s for a connection): %w", HostCheckTimeout, err)
	}
	defer conn.Close()
	var got string
	if err := conn.QueryRowContext(ctx, query).Scan(&got); err != nil {
		return fmt.Errorf("crm: check the host's database: read %s: %w", pragma, err)
	}
	if got != want {
		return fmt.Errorf("crm: the host's database has %s = %s, crmkit needs %s: %s", pragma, got, want, how)
	}
	return nil
}
