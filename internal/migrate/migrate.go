package migrate

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/internal/dialect"
)

//go:embed sql/*.sql
var storeFiles embed.FS

// Source is one module's migrations: files named NNNN_name.sql at the root
// of FS, which the module embeds from its own migrations folder.
type Source struct {
	// Module names the module, for messages.
	Module string
	FS     fs.FS
}

// storeSource holds the migrations of the tables that belong to no module
// (the outbox, crm_events, of internal/store). Collect always puts it first.
func storeSource() Source {
	sub, err := fs.Sub(storeFiles, "sql")
	if err != nil {
		panic(err)
	}
	return Source{Module: "store", FS: sub}
}

// SharedHistory is the last version whose changes are split over several
// modules: the schema's history from before each module declared its own
// migrations, kept under the versions existing databases recorded. Every
// later version belongs to exactly one module.
const SharedHistory = 16

// Migration is one versioned schema change: one step of crmkit's schema
// history, in one module (or, up to SharedHistory, in several).
type Migration struct {
	Version int
	Name    string
	parts   []part
}

// part is one module's share of a migration.
type part struct {
	module string
	sql    string
}

var fileName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)

// Collect returns the migrations of sources (after the store's own) in
// version order. The parts of one version run in the order of sources.
func Collect(sources []Source) ([]Migration, error) {
	byVersion := map[int]*Migration{}
	for _, src := range append([]Source{storeSource()}, sources...) {
		if src.FS == nil {
			continue
		}
		entries, err := fs.ReadDir(src.FS, ".")
		if err != nil {
			return nil, fmt.Errorf("crm: migrations of %s: %w", src.Module, err)
		}
		for _, e := range entries {
			m := fileName.FindStringSubmatch(e.Name())
			if m == nil {
				return nil, fmt.Errorf("crm: migration file %s of %s is not named NNNN_name.sql", e.Name(), src.Module)
			}
			body, err := fs.ReadFile(src.FS, e.Name())
			if err != nil {
				return nil, err
			}
			v, _ := strconv.Atoi(m[1])
			mig := byVersion[v]
			if mig == nil {
				mig = &Migration{Version: v, Name: m[2]}
				byVersion[v] = mig
			}
			switch {
			case mig.Name != m[2]:
				return nil, fmt.Errorf("crm: migration %04d is named %s in %s and %s in %s", v, mig.Name, mig.parts[0].module, m[2], src.Module)
			case len(mig.parts) > 0 && v > SharedHistory:
				return nil, fmt.Errorf("crm: migration %04d is declared by %s and %s: a migration after %04d belongs to one module (take the next free version)",
					v, mig.parts[0].module, src.Module, SharedHistory)
			}
			for _, p := range mig.parts {
				if p.module == src.Module {
					return nil, fmt.Errorf("crm: two migrations with version %d in %s", v, src.Module)
				}
			}
			mig.parts = append(mig.parts, part{module: src.Module, sql: string(body)})
		}
	}
	out := make([]Migration, 0, len(byVersion))
	for _, m := range byVersion {
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Modules names the modules m has parts in, in the order they run.
func (m Migration) Modules() []string {
	out := make([]string, len(m.parts))
	for i, p := range m.parts {
		out[i] = p.module
	}
	return out
}

// Statements returns the statements of m for dialect d.
func (m Migration) Statements(d *dialect.Dialect) []string {
	var out []string
	for _, p := range m.parts {
		out = append(out, statements(p.sql, d)...)
	}
	return out
}

func statements(body string, d *dialect.Dialect) []string {
	for token, typ := range d.Types() {
		body = strings.ReplaceAll(body, "{{"+token+"}}", typ)
	}
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(body, "\n") {
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(strings.TrimSpace(line), ";") {
			if s := statementFor(cur.String(), d); s != "" {
				out = append(out, s)
			}
			cur.Reset()
		}
	}
	if s := statementFor(cur.String(), d); s != "" {
		out = append(out, s)
	}
	return out
}

func statementFor(stmt string, d *dialect.Dialect) string {
	// A "-- postgres only" or "-- sqlite only" line among the comments
	// that lead a statement limits it to that database.
	var body []string
	leading := true
	for _, line := range strings.Split(strings.TrimSpace(stmt), "\n") {
		l := strings.TrimSpace(line)
		if leading && strings.HasPrefix(l, "--") {
			for _, k := range []dialect.Kind{dialect.Postgres, dialect.SQLite} {
				if l == "-- "+string(k)+" only" && d.Kind != k {
					return ""
				}
			}
			continue
		}
		if l != "" {
			leading = false
		}
		body = append(body, line)
	}
	// A statement that is only comments is no statement.
	return strings.TrimSpace(strings.Join(body, "\n"))
}

// Up applies every pending migration of sources (and of the store) and
// returns the names of those it applied.
func Up(ctx context.Context, db *bun.DB, sources []Source) ([]string, error) {
	return UpWith(ctx, db, sources, nil)
}

// UpWith is Up, and then runs after (when not nil) in the same transaction,
// under the same lock: for the migrations of the libraries crmkit embeds
// (River's), so that processes starting together do not race on them.
func UpWith(ctx context.Context, db *bun.DB, sources []Source, after func(ctx context.Context, tx *sql.Tx) error) ([]string, error) {
	d, err := dialect.For(db)
	if err != nil {
		return nil, err
	}
	all, err := Collect(sources)
	if err != nil {
		return nil, err
	}
	if d.Kind == dialect.Postgres {
		if err := checkPostgresVersion(ctx, db); err != nil {
			return nil, err
		}
	}
	if d.Kind == dialect.SQLite {
		// SQLite's lock is the database write lock, taken by the first write
		// in the transaction; the table written must exist before it begins.
		if _, err := db.DB.ExecContext(ctx, lockTable); err != nil {
			return nil, fmt.Errorf("crm: migrate: create lock table: %w", err)
		}
	}
	tx, err := db.DB.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("crm: migrate: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()

	if err := lock(ctx, tx, d); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, versionTable); err != nil {
		return nil, fmt.Errorf("crm: migrate: create crm_migrations: %w", err)
	}
	applied := map[int]bool{}
	rows, err := tx.QueryContext(ctx, "SELECT version FROM crm_migrations")
	if err != nil {
		return nil, fmt.Errorf("crm: migrate: read crm_migrations: %w", err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return nil, err
		}
		applied[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	var done []string
	now := time.Now().UTC()
	for _, m := range all {
		if applied[m.Version] {
			continue
		}
		for _, stmt := range m.Statements(d) {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return nil, fmt.Errorf("crm: migration %04d_%s: %w\n%s", m.Version, m.Name, err, stmt)
			}
		}
		if _, err := tx.ExecContext(ctx, d.Rebind("INSERT INTO crm_migrations (version, name, applied_at) VALUES (?, ?, ?)"),
			m.Version, m.Name, d.Time(now)); err != nil {
			return nil, fmt.Errorf("crm: migrate: record %04d_%s: %w", m.Version, m.Name, err)
		}
		done = append(done, fmt.Sprintf("%04d_%s", m.Version, m.Name))
	}
	if after != nil {
		if err := after(ctx, tx); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("crm: migrate: commit: %w", err)
	}
	return done, nil
}

// Applied returns the versions recorded in crm_migrations.
func Applied(ctx context.Context, db *bun.DB) ([]int, error) {
	rows, err := db.DB.QueryContext(ctx, "SELECT version FROM crm_migrations ORDER BY version")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

const lockTable = `CREATE TABLE IF NOT EXISTS crm_migration_locks (
	name TEXT PRIMARY KEY,
	locked_at TEXT NOT NULL,
	locked_by TEXT NOT NULL
)`

const versionTable = `CREATE TABLE IF NOT EXISTS crm_migrations (
	version INTEGER PRIMARY KEY,
	name TEXT NOT NULL,
	applied_at TEXT NOT NULL
)`

func lock(ctx context.Context, tx *sql.Tx, d *dialect.Dialect) error {
	if d.Kind == dialect.Postgres {
		// Scoped to the schema, so crmkit instances in different schemas of one
		// database do not wait for each other.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('crmkit.migrate.' || current_schema()))`); err != nil {
			return fmt.Errorf("crm: migrate: lock: %w", err)
		}
		if _, err := tx.ExecContext(ctx, lockTable); err != nil {
			return fmt.Errorf("crm: migrate: create lock table: %w", err)
		}
	}
	host, _ := os.Hostname()
	// On SQLite this first write takes the database write lock (waiting for
	// another migrating process up to the busy timeout).
	_, err := tx.ExecContext(ctx, d.Rebind(`INSERT INTO crm_migration_locks (name, locked_at, locked_by) VALUES ('migrate', ?, ?)
		ON CONFLICT (name) DO UPDATE SET locked_at = excluded.locked_at, locked_by = excluded.locked_by`),
		time.Now().UTC().Format(time.RFC3339Nano), fmt.Sprintf("%s:%d", host, os.Getpid()))
	if err != nil {
		return fmt.Errorf("crm: migrate: lock: %w", err)
	}
	return nil
}

// MinPostgres is the oldest PostgreSQL crmkit's migrations run on: 15, for
// ON DELETE SET NULL of one column of a composite foreign key (0014).
const MinPostgres = 150000

func checkPostgresVersion(ctx context.Context, db *bun.DB) error {
	var v int
	if err := db.DB.QueryRowContext(ctx, "SELECT current_setting('server_version_num')::int").Scan(&v); err != nil {
		return fmt.Errorf("crm: migrate: read the PostgreSQL version: %w", err)
	}
	if v < MinPostgres {
		return fmt.Errorf("crm: migrate: PostgreSQL %d.%d is too old: crmkit needs PostgreSQL 15 or newer", v/10000, v%10000)
	}
	return nil
}
