package benchdata

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/migrate"
	"github.com/crmkit/crmkit/internal/modules"
	"github.com/crmkit/crmkit/internal/opendb"
	"github.com/crmkit/crmkit/internal/store"
)

// EnvSize names the environment variable that sets the dataset's size
// (default 1,000,000).
const EnvSize = "CRM_BENCH_CONTACTS"

// Epoch is the created_at of contact 0; contact i is i seconds later.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Size is the number of contacts of the dataset: $CRM_BENCH_CONTACTS, or
// 1,000,000.
func Size() int {
	if n, err := strconv.Atoi(os.Getenv(EnvSize)); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// Now is the benchmarks' present for a dataset of n contacts: one second
// after the newest was created.
func Now(n int) time.Time { return Epoch.Add(time.Duration(n) * time.Second) }

// ID is the id of contact i of the dataset.
func ID(i int) core.ID {
	id, err := core.ParseID(fmt.Sprintf("00000000-0000-7000-8000-%012x", i))
	if err != nil {
		panic(err)
	}
	return id
}

var (
	mu     sync.Mutex
	opened = map[string]*bun.DB{}
)

// SQLite is the SQLite dataset of n contacts, migrated with every module's
// migrations, opened once per process (not closed: the process's other
// benchmarks reuse it).
func SQLite(tb testing.TB, n int) *bun.DB {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	key := fmt.Sprint("sqlite", n)
	if db, ok := opened[key]; ok {
		return db
	}
	ctx := context.Background()
	dir := filepath.Join(os.TempDir(), "crmkit-bench")
	must(tb, os.MkdirAll(dir, 0o755))
	path := filepath.Join(dir, fmt.Sprintf("contacts-%d.db", n))
	db, err := opendb.OpenSQLite(ctx, "file:"+path, opendb.Options{})
	must(tb, err)
	_, err = migrate.Up(ctx, db, modules.Migrations())
	must(tb, err)
	if count(tb, db) != n {
		tb.Logf("building SQLite dataset of %d contacts in %s", n, path)
		_, err := db.DB.ExecContext(ctx, "DELETE FROM crm_contacts WHERE tenant_id = 'default'")
		must(tb, err)
		must(tb, Generate(ctx, db, false, n))
	}
	if index(tb, db, n) {
		_, err = db.DB.ExecContext(ctx, "ANALYZE")
		must(tb, err)
	}
	opened[key] = db
	return db
}

// Postgres is the PostgreSQL dataset of n contacts in the schema
// crmbench_contacts_<n> of the test database, and the DSN of that schema
// (for a driver's own connection). It skips tb without a test database,
// as dbtest does.
func Postgres(tb testing.TB, n int) (*bun.DB, string) {
	tb.Helper()
	dsn := dbtest.PostgresDSN(tb)
	schema := fmt.Sprintf("crmbench_contacts_%d", n)
	sdsn := dbtest.WithSearchPath(dsn, schema)
	mu.Lock()
	defer mu.Unlock()
	key := fmt.Sprint("postgres", n)
	if db, ok := opened[key]; ok {
		return db, sdsn
	}
	ctx := context.Background()
	admin, err := opendb.OpenPostgres(ctx, dsn, opendb.Options{MaxOpenConns: 1})
	must(tb, err)
	_, err = admin.DB.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+schema)
	admin.Close()
	must(tb, err)
	db, err := opendb.OpenPostgres(ctx, sdsn, opendb.Options{})
	must(tb, err)
	_, err = migrate.Up(ctx, db, modules.Migrations())
	must(tb, err)
	if count(tb, db) != n {
		tb.Logf("building PostgreSQL dataset of %d contacts in schema %s", n, schema)
		_, err := db.DB.ExecContext(ctx, "TRUNCATE crm_contacts CASCADE")
		must(tb, err)
		must(tb, Generate(ctx, db, true, n))
	}
	if index(tb, db, n) {
		_, err = db.DB.ExecContext(ctx, "VACUUM ANALYZE crm_contacts")
		must(tb, err)
		_, err = db.DB.ExecContext(ctx, "VACUUM ANALYZE crm_search")
		must(tb, err)
	}
	opened[key] = db
	return db, sdsn
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

func count(tb testing.TB, db *bun.DB) int {
	tb.Helper()
	var n int
	must(tb, db.DB.QueryRow("SELECT count(*) FROM crm_contacts WHERE tenant_id = 'default'").Scan(&n))
	return n
}

// index writes the search documents of a dataset that lacks them (the
// contacts were generated in SQL), and reports whether it did.
func index(tb testing.TB, db *bun.DB, n int) bool {
	tb.Helper()
	var docs int
	must(tb, db.DB.QueryRowContext(context.Background(),
		"SELECT count(*) FROM crm_search WHERE tenant_id = 'default' AND entity = 'contact'").Scan(&docs))
	if docs == n {
		return false
	}
	tb.Logf("indexing the dataset of %d contacts for search", n)
	rt, err := store.NewRuntime(db, core.ClockFunc(func() time.Time { return Epoch }), []byte("bench-secret-bench-secret-bench-secret"), slog.Default())
	must(tb, err)
	_, err = contacts.Module.Contacts(store.NewScope(rt)).RebuildSearchIndex(context.Background())
	must(tb, err)
	return true
}

// Generate inserts contacts 0..n-1 of the dataset into db (PostgreSQL
// when pg) in one SQL statement, in the tenant "default".
func Generate(ctx context.Context, db *bun.DB, pg bool, n int) error {
	if pg {
		_, err := db.DB.ExecContext(ctx, `INSERT INTO crm_contacts (tenant_id, id, email, phone, first_name, last_name, company_id,
				lifecycle_stage, owner_id, tags, attributes, created_at, updated_at, version)
			SELECT 'default', ('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, 'user' || i || '@example.com', '',
				'First' || (i % 97), 'Name' || (i % 5003), NULL,
				(ARRAY['subscriber','lead','mql','sql','opportunity','customer','evangelist','other'])[i % 8 + 1],
				'user-' || (i % 50),
				(ARRAY['["newsletter"]','["vip","newsletter"]','[]'])[i % 3 + 1]::jsonb,
				('{"plan":"' || (ARRAY['free','pro','team'])[i % 3 + 1] || '","seats":' || (i % 100) || '}')::jsonb,
				$1::timestamptz + i * interval '1 second', $1::timestamptz + i * interval '1 second', 1
			FROM generate_series(0, $2 - 1) AS i`, Epoch, n)
		return err
	}
	_, err := db.DB.ExecContext(ctx, `WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < ?)
			INSERT INTO crm_contacts (tenant_id, id, email, phone, first_name, last_name, company_id, lifecycle_stage, owner_id,
				tags, attributes, created_at, updated_at, version)
			SELECT 'default', printf('00000000-0000-7000-8000-%012x', i), 'user' || i || '@example.com', '',
				'First' || (i % 97), 'Name' || (i % 5003), NULL,
				CASE i % 8 WHEN 0 THEN 'subscriber' WHEN 1 THEN 'lead' WHEN 2 THEN 'mql' WHEN 3 THEN 'sql'
					WHEN 4 THEN 'opportunity' WHEN 5 THEN 'customer' WHEN 6 THEN 'evangelist' ELSE 'other' END,
				'user-' || (i % 50),
				CASE i % 3 WHEN 0 THEN '["newsletter"]' WHEN 1 THEN '["vip","newsletter"]' ELSE '[]' END,
				'{"plan":"' || CASE i % 3 WHEN 0 THEN 'free' WHEN 1 THEN 'pro' ELSE 'team' END || '","seats":' || (i % 100) || '}',
				strftime('%Y-%m-%dT%H:%M:%f', ? + i, 'unixepoch') || '000Z',
				strftime('%Y-%m-%dT%H:%M:%f', ? + i, 'unixepoch') || '000Z', 1
			FROM seq`, n, Epoch.Unix(), Epoch.Unix())
	return err
}
