package dbtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/migrate"
	"github.com/crmkit/crmkit/internal/opendb"
)

// Template is a database migrated once per test binary and copied for
// each test: a test gets its own database, as with Run, without paying for
// the migrations every time.
//
// Declare one per package and migration function:
//
//	var migrated = &dbtest.Template{Name: "crm", Migrate: func(ctx context.Context, db *bun.DB) error {
//		c, err := crm.New(db, crm.Config{})
//		if err != nil {
//			return err
//		}
//		return c.Migrate(ctx)
//	}}
//
//	func TestX(t *testing.T) {
//		migrated.Run(t, func(t *testing.T, db *bun.DB) { ... })
//	}
//
// SQLite: the template is a file migrated once, checkpointed (no WAL left)
// and copied into t.TempDir() for each test. It is kept in
// $TMPDIR/crmkit-dbtest under a name carrying a fingerprint of crmkit's
// and River's migrations, so later runs and the other package processes of
// go test reuse it, and a changed migration set builds a new one. Files
// unused for a day are removed.
//
// PostgreSQL: each process keeps a pool of migrated schemas of the test
// database. A test takes a free one (or a new one is made and migrated)
// and, when it ends, the schema is emptied (DELETE of the tables the
// migrations left empty, the rows the migrations wrote written back,
// sequences set back) and goes back to the pool — unless the test changed
// more than rows (made or altered a table, index, constraint, function),
// when it is dropped. Measured here, emptying takes tens of milliseconds where
// migrating a schema took 0.2–4 s and CREATE DATABASE … TEMPLATE 1–2.5 s
// (plus 0.3 s to drop it, and cold catalogue caches on every new
// connection). The pool's schemas are named crmpool_<tag>_…; the process
// holds an advisory lock on its tag while it lives, and a later process
// that can take that lock drops them.
//
// Migrate must be idempotent; tests may run it again on their copy (it is
// then a fast no-op).
type Template struct {
	// Name tells templates of different Migrate functions apart: letters,
	// digits and underscores, at most 16.
	Name string
	// Migrate brings an empty database up to date.
	Migrate func(ctx context.Context, db *bun.DB) error
	// Sources are the crmkit migrations Migrate applies
	// (modules.Migrations()): their text is part of the fingerprint that
	// tells a kept template from a stale one.
	Sources []migrate.Source

	fingerprintOnce sync.Once
	fingerprintVal  string
	fingerprintErr  error

	sqliteOnce sync.Once
	sqlitePath string
	sqliteErr  error

	pgMu    sync.Mutex
	pgPools map[string]*schemaPool // by DSN
}

// Run runs fn as subtests "sqlite" and "postgres", each on its own copy of
// the migrated template.
func (tp *Template) Run(t *testing.T, fn func(t *testing.T, db *bun.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		fn(t, tp.SQLite(t))
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, tp.Postgres(t))
	})
}

// staleAfter is the age at which test databases, schemas and unused
// templates count as left behind.
const staleAfter = 24 * time.Hour

var templateName = regexp.MustCompile(`^[a-z0-9_]{1,16}$`)

func (tp *Template) check(t testing.TB) {
	t.Helper()
	if !templateName.MatchString(tp.Name) || tp.Migrate == nil {
		t.Fatalf("dbtest.Template needs a Name (lower-case letters, digits, _; at most 16) and a Migrate function")
	}
}

// RunWith is Run with the databases opened with o (e.g. a connector
// wrapper that injects faults).
func (tp *Template) RunWith(t *testing.T, o opendb.Options, fn func(t *testing.T, db *bun.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		fn(t, tp.SQLiteWith(t, o))
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, tp.PostgresWith(t, o))
	})
}

// SQLite returns a copy of the migrated SQLite template in t.TempDir().
func (tp *Template) SQLite(t testing.TB) *bun.DB {
	t.Helper()
	return tp.SQLiteWith(t, opendb.Options{})
}

// SQLiteWith is SQLite with the database opened with o.
func (tp *Template) SQLiteWith(t testing.TB, o opendb.Options) *bun.DB {
	t.Helper()
	tp.check(t)
	tp.sqliteOnce.Do(func() { tp.sqlitePath, tp.sqliteErr = tp.buildSQLite() })
	if tp.sqliteErr != nil {
		t.Fatalf("sqlite template %s: %v", tp.Name, tp.sqliteErr)
	}
	path := filepath.Join(t.TempDir(), "crm.db")
	if err := copyFile(tp.sqlitePath, path); err != nil {
		t.Fatalf("copy sqlite template: %v", err)
	}
	db, err := opendb.OpenSQLite(context.Background(), fileURI(path), o)
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func (tp *Template) buildSQLite() (string, error) {
	fp, err := tp.fingerprint()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(os.TempDir(), "crmkit-dbtest")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "sqlite_"+tp.Name+"_"+fp+".db")
	removeStaleFiles(dir, path)
	if _, err := os.Stat(path); err == nil {
		now := time.Now()
		_ = os.Chtimes(path, now, now) // in use: not stale
		return path, nil
	}
	// Build beside it and rename into place: a reader never sees a
	// half-built template, and processes building at once each rename a
	// complete one.
	tmp := fmt.Sprintf("%s.build-%d-%s", path, os.Getpid(), randomHex(4))
	defer func() {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			_ = os.Remove(tmp + suffix)
		}
	}()
	ctx := context.Background()
	db, err := opendb.OpenSQLite(ctx, fileURI(tmp), opendb.Options{})
	if err != nil {
		return "", err
	}
	if err := tp.Migrate(ctx, db); err != nil {
		db.Close()
		return "", fmt.Errorf("migrate: %w", err)
	}
	// Move everything into the main file, so that the file alone is the
	// database.
	if _, err := db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		db.Close()
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	if err := db.Close(); err != nil {
		return "", err
	}
	if fi, err := os.Stat(tmp + "-wal"); err == nil && fi.Size() > 0 {
		return "", fmt.Errorf("template %s: WAL not empty after checkpoint (%d bytes)", tmp, fi.Size())
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", err
	}
	return path, nil
}

// removeStaleFiles removes templates other than keep not used for a day.
func removeStaleFiles(dir, keep string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if p == keep {
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > staleAfter {
			_ = os.Remove(p)
		}
	}
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

// Postgres returns a migrated schema of the test database for t, with a
// pool whose connections all use it. The schema comes from this process's
// pool of migrated schemas: one a finished test left, emptied, or a new one
// migrated now. At t's end the pool is closed and the schema emptied for
// the next test — or dropped, when the test changed more than rows (made
// a table, changed one, changed rows the migrations wrote).
func (tp *Template) Postgres(t testing.TB) *bun.DB {
	t.Helper()
	return tp.PostgresWith(t, opendb.Options{})
}

// PostgresWith is Postgres with the pool opened with o.
func (tp *Template) PostgresWith(t testing.TB, o opendb.Options) *bun.DB {
	t.Helper()
	return tp.PostgresAt(t, PostgresDSN(t), o)
}

// PostgresAt is PostgresWith on the database of dsn rather than the test
// database of the environment.
func (tp *Template) PostgresAt(t testing.TB, dsn string, o opendb.Options) *bun.DB {
	t.Helper()
	schema := tp.PostgresSchemaAt(t, dsn)
	db, err := opendb.OpenPostgres(context.Background(), WithSearchPath(dsn, schema), o)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// PostgresSchemaAt returns a migrated schema of dsn's database for t, from
// the process's pool, for a pool of the caller's own (WithSearchPath).
// Register the cleanup that closes that pool after calling it: the schema
// goes back (emptied) at t's end, after the caller's pool is closed.
func (tp *Template) PostgresSchemaAt(t testing.TB, dsn string) string {
	t.Helper()
	tp.check(t)
	pool, err := tp.schemaPool(dsn)
	if err != nil {
		t.Fatalf("postgres template %s: %v", tp.Name, err)
	}
	schema, err := pool.get()
	if err != nil {
		t.Fatalf("postgres template %s: %v", tp.Name, err)
	}
	t.Cleanup(func() {
		if err := pool.put(schema); err != nil {
			t.Errorf("postgres template %s: give back %s: %v", tp.Name, schema, err)
		}
	})
	return schema
}

// schemaPool returns the process's pool of migrated schemas on dsn's
// database, made on first use.
func (tp *Template) schemaPool(dsn string) (*schemaPool, error) {
	tp.pgMu.Lock()
	defer tp.pgMu.Unlock()
	if p, ok := tp.pgPools[dsn]; ok {
		return p, nil
	}
	p, err := newSchemaPool(dsn, tp)
	if err != nil {
		return nil, err
	}
	if tp.pgPools == nil {
		tp.pgPools = map[string]*schemaPool{}
	}
	tp.pgPools[dsn] = p
	return p, nil
}

// schemaPool is one Template's migrated schemas in this process.
type schemaPool struct {
	tp    *Template
	dsn   string
	admin *sql.DB

	mu     sync.Mutex
	free   []string
	states map[string]*schemaState
}

var schemaSeq atomic.Int64

// schemaState is what a freshly migrated schema holds besides its empty
// tables: its shape, the tables the migrations wrote rows into (with those
// rows, as JSON) and its sequences' positions.
type schemaState struct {
	shape  string
	seeded map[string]string
	empty  []string
	seqs   map[string][2]any // sequence → last_value, is_called
}

// The process's liveness lock: schemas are named crmpool_<tag>_…, and
// this process holds the advisory lock of <tag> on a connection of its
// own while it lives. A later process that gets the lock of a tag knows
// its owner is gone and drops its schemas.
var (
	aliveOnce sync.Once
	aliveTag  string
	aliveErr  error
	aliveConn *sql.Conn // referenced here so that it is never collected (and closed)
)

func holdAliveLock(dsn string) (string, error) {
	aliveOnce.Do(func() {
		db, err := adminDB(dsn)
		if err != nil {
			aliveErr = err
			return
		}
		conn, err := db.Conn(context.Background())
		if err != nil {
			aliveErr = err
			return
		}
		tag := randomHex(4)
		if _, err := conn.ExecContext(context.Background(), "SELECT pg_advisory_lock(hashtext('crmkit.dbtest.'||$1))", tag); err != nil {
			aliveErr = err
			return
		}
		aliveTag, aliveConn = tag, conn // open (and locked) until the process ends
	})
	return aliveTag, aliveErr
}

func newSchemaPool(dsn string, tp *Template) (*schemaPool, error) {
	if _, err := holdAliveLock(dsn); err != nil {
		return nil, fmt.Errorf("liveness lock: %w", err)
	}
	admin, err := adminDB(dsn)
	if err != nil {
		return nil, err
	}
	admin.SetMaxOpenConns(2)
	p := &schemaPool{tp: tp, dsn: dsn, admin: admin, states: map[string]*schemaState{}}
	if err := dropStale(context.Background(), admin); err != nil {
		return nil, fmt.Errorf("drop stale test schemas: %w", err)
	}
	return p, nil
}

func (p *schemaPool) get() (string, error) {
	p.mu.Lock()
	if k := len(p.free); k > 0 {
		s := p.free[k-1]
		p.free = p.free[:k-1]
		p.mu.Unlock()
		return s, nil
	}
	p.mu.Unlock()
	// Numbered across the process: two Templates of one name (a package's
	// internal and external tests) must not make the same schema.
	schema := fmt.Sprintf("crmpool_%s_%s_%d", aliveTag, p.tp.Name, schemaSeq.Add(1))

	ctx := context.Background()
	if _, err := p.admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", err
	}
	db, err := opendb.OpenPostgres(ctx, WithSearchPath(p.dsn, schema), opendb.Options{})
	if err != nil {
		return "", err
	}
	err = p.tp.Migrate(ctx, db)
	db.Close()
	if err != nil {
		return "", fmt.Errorf("migrate: %w", err)
	}
	st, err := p.inspect(ctx, schema)
	if err != nil {
		return "", err
	}
	p.mu.Lock()
	p.states[schema] = st
	p.mu.Unlock()
	return schema, nil
}

// shapeQuery is a hash of the objects of schema $1 and their definitions.
const shapeQuery = `SELECT md5(COALESCE(string_agg(x, E'\n' ORDER BY x), '')) FROM (
	SELECT 'c ' || relname || ' ' || relkind::text FROM pg_class WHERE relnamespace = $1::regnamespace
	UNION ALL SELECT 'a ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull::text
		|| ' ' || COALESCE(pg_get_expr(d.adbin, d.adrelid), '')
		FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		WHERE c.relnamespace = $1::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
	UNION ALL SELECT 'i ' || indexrelid::regclass::text || ' ' || pg_get_indexdef(indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		WHERE c.relnamespace = $1::regnamespace
	UNION ALL SELECT 'k ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = $1::regnamespace
	UNION ALL SELECT 't ' || tgname || ' ' || tgrelid::regclass::text FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
		WHERE c.relnamespace = $1::regnamespace
	UNION ALL SELECT 'p ' || oid::regprocedure::text FROM pg_proc WHERE pronamespace = $1::regnamespace
	UNION ALL SELECT 'y ' || typname FROM pg_type WHERE typnamespace = $1::regnamespace
) s(x)`

func (p *schemaPool) inspect(ctx context.Context, schema string) (*schemaState, error) {
	st := &schemaState{seeded: map[string]string{}, seqs: map[string][2]any{}}
	if err := p.admin.QueryRowContext(ctx, shapeQuery, schema).Scan(&st.shape); err != nil {
		return nil, fmt.Errorf("shape: %w", err)
	}
	tables, err := p.names(ctx, `SELECT relname FROM pg_class WHERE relnamespace = $1::regnamespace AND relkind IN ('r', 'p') ORDER BY relname`, schema)
	if err != nil {
		return nil, err
	}
	for _, tbl := range tables {
		var any bool
		if err := p.admin.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM "+schema+"."+tbl+")").Scan(&any); err != nil {
			return nil, err
		}
		if !any {
			st.empty = append(st.empty, tbl)
			continue
		}
		var rows string
		if err := p.admin.QueryRowContext(ctx, "SELECT json_agg(x)::text FROM "+schema+"."+tbl+" x").Scan(&rows); err != nil {
			return nil, err
		}
		st.seeded[tbl] = rows
	}
	seqs, err := p.names(ctx, `SELECT relname FROM pg_class WHERE relnamespace = $1::regnamespace AND relkind = 'S'`, schema)
	if err != nil {
		return nil, err
	}
	for _, s := range seqs {
		var last int64
		var called bool
		if err := p.admin.QueryRowContext(ctx, "SELECT last_value, is_called FROM "+schema+"."+s).Scan(&last, &called); err != nil {
			return nil, err
		}
		st.seqs[s] = [2]any{last, called}
	}
	return st, nil
}

func (p *schemaPool) names(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := p.admin.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// put empties schema for the next test (and writes back the rows the
// migrations wrote), or drops it when the test changed more than rows.
func (p *schemaPool) put(schema string) error {
	ctx := context.Background()
	p.mu.Lock()
	st := p.states[schema]
	p.mu.Unlock()
	reusable, err := p.reset(ctx, schema, st)
	if err != nil || !reusable {
		p.mu.Lock()
		delete(p.states, schema)
		p.mu.Unlock()
		if _, derr := p.admin.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); derr != nil {
			return errors.Join(err, derr)
		}
		return nil // a schema that cannot be reused is dropped: no error
	}
	p.mu.Lock()
	p.free = append(p.free, schema)
	p.mu.Unlock()
	return nil
}

func (p *schemaPool) reset(ctx context.Context, schema string, st *schemaState) (bool, error) {
	var shape string
	if err := p.admin.QueryRowContext(ctx, shapeQuery, schema).Scan(&shape); err != nil {
		return false, err
	}
	if shape != st.shape {
		return false, nil
	}
	tx, err := p.admin.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer func() { _ = tx.Rollback() }()
	// Foreign keys are triggers; replica mode skips them, so the tables
	// empty in any order (superuser only: else the schema is dropped).
	var b strings.Builder
	b.WriteString("SET LOCAL session_replication_role = replica;\n")
	for _, tbl := range st.empty {
		b.WriteString("DELETE FROM " + schema + "." + tbl + ";\n")
	}
	if _, err := tx.ExecContext(ctx, b.String()); err != nil {
		return false, err
	}
	// The rows the migrations wrote are written back as they were (Migrate
	// run again by a test updates crm_migration_locks, for one).
	for tbl, rows := range st.seeded {
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+schema+"."+tbl); err != nil {
			return false, err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO "+schema+"."+tbl+" SELECT * FROM json_populate_recordset(NULL::"+schema+"."+tbl+", $1::json)", rows); err != nil {
			return false, err
		}
	}
	for s, v := range st.seqs {
		if _, err := tx.ExecContext(ctx, "SELECT setval($1::regclass, $2, $3)", schema+"."+s, v[0], v[1]); err != nil {
			return false, err
		}
	}
	return true, tx.Commit()
}

// adminDB is a one-connection pool on the database of dsn, for DDL.
func adminDB(dsn string) (*sql.DB, error) {
	db, err := opendb.OpenPostgres(context.Background(), dsn, opendb.Options{MaxOpenConns: 1})
	if err != nil {
		return nil, err
	}
	return db.DB, nil
}

var staleSchema = regexp.MustCompile(`^crmtest_(\d+)_[0-9a-f]+$`)

// dropStale drops the schemas of pools whose process has ended and the
// schemas of PostgresSchema older than a day (left by killed runs).
func dropStale(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, `SELECT nspname FROM pg_namespace WHERE nspname LIKE 'crmtest\_%' OR nspname LIKE 'crmpool\_%'`)
	if err != nil {
		return err
	}
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return err
		}
		names = append(names, name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	gone := map[string]bool{} // pool tag → its process has ended
	for _, name := range names {
		drop := false
		if m := staleSchema.FindStringSubmatch(name); m != nil {
			sec, err := strconv.ParseInt(m[1], 10, 64)
			drop = err == nil && time.Since(time.Unix(sec, 0)) > staleAfter
		} else if parts := strings.SplitN(name, "_", 3); len(parts) == 3 && parts[1] != aliveTag {
			tag := parts[1]
			if _, seen := gone[tag]; !seen {
				var got bool
				if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock(hashtext('crmkit.dbtest.'||$1))", tag).Scan(&got); err != nil {
					return err
				}
				if got {
					// Keep it until done, so no new process with the same
					// tag can appear meanwhile; released with conn.
					defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(hashtext('crmkit.dbtest.'||$1))", tag) //nolint:errcheck
				}
				gone[tag] = got
			}
			drop = gone[tag]
		}
		if drop {
			// Best effort: another process may be dropping it too.
			_, _ = conn.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+name+" CASCADE")
		}
	}
	return nil
}

// fingerprint hashes what a template holds: crmkit's migrations as each
// database runs them, and River's.
func (tp *Template) fingerprint() (string, error) {
	tp.fingerprintOnce.Do(func() {
		tp.fingerprintVal, tp.fingerprintErr = fingerprint(tp.Sources)
	})
	return tp.fingerprintVal, tp.fingerprintErr
}

func fingerprint(sources []migrate.Source) (string, error) {
	h := sha256.New()
	all, err := migrate.Collect(sources)
	if err != nil {
		return "", err
	}
	for _, d := range []*dialect.Dialect{{Kind: dialect.SQLite}, {Kind: dialect.Postgres}} {
		for _, m := range all {
			fmt.Fprintf(h, "crmkit %s %d %s\n", d.Kind, m.Version, m.Name)
			for _, s := range m.Statements(d) {
				fmt.Fprintf(h, "%s\n;\n", s)
			}
		}
	}
	pg, err := rivermigrate.New(riverdatabasesql.New(nil), nil)
	if err != nil {
		return "", err
	}
	lite, err := rivermigrate.New(riversqlite.New(nil), nil)
	if err != nil {
		return "", err
	}
	for i, m := range [][]rivermigrate.Migration{pg.AllVersions(), lite.AllVersions()} {
		for _, v := range m {
			fmt.Fprintf(h, "river %d %d %s\n%s\n", i, v.Version, v.Name, v.SQLUp)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
