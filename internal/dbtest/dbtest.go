package dbtest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/internal/opendb"
)

// EnvPostgres names the variable holding the PostgreSQL DSN for tests.
const EnvPostgres = "CRM_TEST_POSTGRES_DSN"

// OneConnection opens a pool of one connection with a one-second busy
// timeout (Template.RunWith): a statement sent to the pool while a
// transaction holds that connection waits until its context ends, so a
// test whose context has a deadline fails instead of hanging.
var OneConnection = opendb.Options{MaxOpenConns: 1, BusyTimeout: time.Second}

// Run runs fn as subtests "sqlite" and "postgres".
func Run(t *testing.T, fn func(t *testing.T, db *bun.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		fn(t, SQLite(t))
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, Postgres(t))
	})
}

// SQLite opens a fresh SQLite database file for t.
func SQLite(t testing.TB) *bun.DB {
	t.Helper()
	return SQLiteWith(t, opendb.Options{})
}

// SQLiteWith opens a fresh SQLite database file for t with options, e.g.
// a longer busy timeout for a test that saturates the one writer on
// purpose.
func SQLiteWith(t testing.TB, o opendb.Options) *bun.DB {
	t.Helper()
	db, err := opendb.OpenSQLite(context.Background(), fileURI(t.TempDir()+"/crm.db"), o)
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// PostgresDSN returns the test DSN, skipping (or, in CI, failing) t when
// there is none.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvPostgres)
	if dsn == "" {
		if os.Getenv("CRM_TEST_REQUIRE_POSTGRES") != "" {
			t.Fatalf("%s is not set but CRM_TEST_REQUIRE_POSTGRES is", EnvPostgres)
		}
		t.Skipf("PostgreSQL tests skipped: set %s, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable", EnvPostgres)
	}
	return dsn
}

// Postgres opens a fresh schema of the test database for t. Every
// connection of the returned pool uses that schema.
func Postgres(t testing.TB) *bun.DB {
	t.Helper()
	dsn, schema := PostgresSchema(t)
	db, err := opendb.OpenPostgres(context.Background(), WithSearchPath(dsn, schema), opendb.Options{})
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// PostgresSchema creates a fresh schema for t (dropped at cleanup) and
// returns the test DSN and the schema's name.
func PostgresSchema(t testing.TB) (dsn, schema string) {
	t.Helper()
	dsn = PostgresDSN(t)
	// The time in the name lets a later run drop it if this one is killed
	// before its cleanup (see Template).
	schema = fmt.Sprintf("crmtest_%d_%s", time.Now().Unix(), randomHex(6))
	admin, err := opendb.OpenPostgres(context.Background(), dsn, opendb.Options{MaxOpenConns: 1})
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	if _, err := admin.DB.Exec("CREATE SCHEMA " + schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.DB.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return dsn, schema
}

// WithSearchPath returns dsn with its connections' search_path set to
// schema, in the DSN's own form (URL or keywords).
func WithSearchPath(dsn, schema string) string {
	if !strings.Contains(dsn, "://") {
		return dsn + " search_path=" + schema
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "search_path=" + schema
}

// fileURI is the SQLite URI of the file at path. The test directories of
// subtests with the same name end in #01, #02 …, and in a URI # starts the
// fragment: unescaped, every such subtest opened the same file (the path
// cut at #).
func fileURI(path string) string {
	return "file:" + strings.NewReplacer("%", "%25", "#", "%23", "?", "%3f").Replace(path)
}
