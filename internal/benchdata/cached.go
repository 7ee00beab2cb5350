package benchdata

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/migrate"
	"github.com/crmkit/crmkit/internal/modules"
	"github.com/crmkit/crmkit/internal/opendb"
)

var datasetName = regexp.MustCompile(`^[a-z0-9_]+$`)

// Cached is a package's own benchmark dataset called name (lower-case
// letters, digits and underscores; put the generator's version and the
// size in it): the SQLite file $TMPDIR/crmkit-bench/<name>.db, or the
// schema crmbench_<name> of the test database when pg. On first use it is
// migrated and filled by fill, under a temporary name that is renamed only
// when fill succeeds, so a build that was interrupted is built again, never
// reused half-filled. Later uses, in this process or another, open it as
// it is. Like SQLite and Postgres, the database stays open for the
// process's other benchmarks.
func Cached(tb testing.TB, pg bool, name string, fill func(ctx context.Context, db *bun.DB) error) *bun.DB {
	tb.Helper()
	if !datasetName.MatchString(name) {
		tb.Fatalf("benchdata: dataset name %q: want [a-z0-9_]+", name)
	}
	mu.Lock()
	defer mu.Unlock()
	key := fmt.Sprint("cached ", pg, " ", name)
	if db, ok := opened[key]; ok {
		return db
	}
	var db *bun.DB
	if pg {
		db = cachedPostgres(tb, name, fill)
	} else {
		db = cachedSQLite(tb, name, fill)
	}
	opened[key] = db
	return db
}

func cachedSQLite(tb testing.TB, name string, fill func(context.Context, *bun.DB) error) *bun.DB {
	ctx := context.Background()
	dir := filepath.Join(os.TempDir(), "crmkit-bench")
	must(tb, os.MkdirAll(dir, 0o755))
	path := filepath.Join(dir, name+".db")
	if _, err := os.Stat(path); err != nil {
		tb.Logf("building the SQLite dataset %s in %s", name, path)
		tmp := path + ".building"
		for _, suffix := range []string{"", "-wal", "-shm"} {
			_ = os.Remove(tmp + suffix)
		}
		db, err := opendb.OpenSQLite(ctx, "file:"+tmp, opendb.Options{})
		must(tb, err)
		_, err = migrate.Up(ctx, db, modules.Migrations())
		must(tb, err)
		must(tb, fill(ctx, db))
		_, err = db.DB.ExecContext(ctx, "ANALYZE")
		must(tb, err)
		_, err = db.DB.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
		must(tb, err)
		must(tb, db.Close())
		must(tb, os.Rename(tmp, path))
	}
	db, err := opendb.OpenSQLite(ctx, "file:"+path, opendb.Options{})
	must(tb, err)
	return db
}

func cachedPostgres(tb testing.TB, name string, fill func(context.Context, *bun.DB) error) *bun.DB {
	ctx := context.Background()
	dsn := dbtest.PostgresDSN(tb)
	schema := "crmbench_" + name
	admin, err := opendb.OpenPostgres(ctx, dsn, opendb.Options{MaxOpenConns: 1})
	must(tb, err)
	defer admin.Close()
	var exists bool
	must(tb, admin.DB.QueryRowContext(ctx,
		"SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema).Scan(&exists))
	if !exists {
		tb.Logf("building the PostgreSQL dataset %s in schema %s", name, schema)
		tmp := schema + "_building"
		_, err := admin.DB.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+tmp+" CASCADE")
		must(tb, err)
		_, err = admin.DB.ExecContext(ctx, "CREATE SCHEMA "+tmp)
		must(tb, err)
		db, err := opendb.OpenPostgres(ctx, dbtest.WithSearchPath(dsn, tmp), opendb.Options{})
		must(tb, err)
		_, err = migrate.Up(ctx, db, modules.Migrations())
		must(tb, err)
		must(tb, fill(ctx, db))
		// VACUUM without tables would visit every schema of the database.
		rows, err := db.DB.QueryContext(ctx, "SELECT tablename FROM pg_tables WHERE schemaname = $1", tmp)
		must(tb, err)
		var tables []string
		for rows.Next() {
			var t string
			must(tb, rows.Scan(&t))
			tables = append(tables, tmp+"."+t)
		}
		must(tb, rows.Err())
		_, err = db.DB.ExecContext(ctx, "VACUUM ANALYZE "+strings.Join(tables, ", "))
		must(tb, err)
		must(tb, db.Close())
		_, err = admin.DB.ExecContext(ctx, "ALTER SCHEMA "+tmp+" RENAME TO "+schema)
		must(tb, err)
	}
	db, err := opendb.OpenPostgres(ctx, dbtest.WithSearchPath(dsn, schema), opendb.Options{})
	must(tb, err)
	return db
}
