package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/internal/opendb"
)

// EnvPostgres names the variable holding the PostgreSQL DSN for tests.
const EnvPostgres = "CRM_TEST_POSTGRES_DSN"

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
	db, err := opendb.OpenSQLite(context.Background(), "file:"+t.TempDir()+"/crm.db", opendb.Options{})
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
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema = "crmtest_" + hex.EncodeToString(b)
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

// WithSearchPath returns dsn with its connections' search_path set to schema.
func WithSearchPath(dsn, schema string) string {
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "search_path=" + schema
}
