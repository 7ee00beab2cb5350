package migrate_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/migrate"
	"github.com/crmkit/crmkit/internal/modules"
	"github.com/crmkit/crmkit/internal/opendb"
)

func TestUpIsIdempotent(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		all, err := migrate.Collect(modules.Migrations())
		require.NoError(t, err)

		first, err := migrate.Up(ctx, db, modules.Migrations())
		require.NoError(t, err)
		require.Len(t, first, len(all))

		second, err := migrate.Up(ctx, db, modules.Migrations())
		require.NoError(t, err)
		require.Empty(t, second)

		versions, err := migrate.Applied(ctx, db)
		require.NoError(t, err)
		require.Len(t, versions, len(all))

		var n int
		require.NoError(t, db.DB.QueryRowContext(ctx, "SELECT count(*) FROM crm_contacts").Scan(&n))
		require.Zero(t, n)
	})
}

// Several processes starting at once: each has its own pool; all succeed and
// every migration is applied exactly once.
func TestUpConcurrentProcesses(t *testing.T) {
	ctx := context.Background()
	run := func(t *testing.T, open func() *bun.DB) {
		const procs = 4
		var wg sync.WaitGroup
		applied := make([][]string, procs)
		errs := make([]error, procs)
		for i := 0; i < procs; i++ {
			db := open()
			wg.Add(1)
			go func() {
				defer wg.Done()
				applied[i], errs[i] = migrate.Up(ctx, db, modules.Migrations())
			}()
		}
		wg.Wait()
		total := 0
		for i := range errs {
			require.NoError(t, errs[i])
			total += len(applied[i])
		}
		all, err := migrate.Collect(modules.Migrations())
		require.NoError(t, err)
		require.Equal(t, len(all), total, "each migration applied once in all")
		versions, err := migrate.Applied(ctx, open())
		require.NoError(t, err)
		require.Len(t, versions, len(all))
	}
	t.Run("sqlite", func(t *testing.T) {
		path := "file:" + t.TempDir() + "/crm.db"
		run(t, func() *bun.DB {
			db, err := opendb.OpenSQLite(ctx, path, opendb.Options{})
			require.NoError(t, err)
			t.Cleanup(func() { db.Close() })
			return db
		})
	})
	t.Run("postgres", func(t *testing.T) {
		dsn, schema := dbtest.PostgresSchema(t)
		run(t, func() *bun.DB {
			db, err := opendb.OpenPostgres(ctx, dbtest.WithSearchPath(dsn, schema), opendb.Options{})
			require.NoError(t, err)
			t.Cleanup(func() { db.Close() })
			return db
		})
	})
}

// Statements marked for one database reach only that one, even behind a
// leading comment block.
func TestStatementsHonourDialectMarkers(t *testing.T) {
	all, err := migrate.Collect(modules.Migrations())
	require.NoError(t, err)
	pg, lite := &dialect.Dialect{Kind: dialect.Postgres}, &dialect.Dialect{Kind: dialect.SQLite}
	var pgText, liteText string
	for _, m := range all {
		pgText += strings.Join(m.Statements(pg), "\n")
		liteText += strings.Join(m.Statements(lite), "\n")
	}
	require.Contains(t, pgText, "tsvector")
	require.NotContains(t, liteText, "tsvector")
	require.Contains(t, liteText, "fts5")
	require.NotContains(t, pgText, "fts5")
	require.NotContains(t, pgText+liteText, "{{", "every type token is replaced")
	require.Contains(t, pgText, `TEXT COLLATE "C"`)
}

// Collect merges the modules' migrations into one history: the parts of a
// version of the shared history run in the modules' order, and a later
// version belongs to one module.
func TestCollect(t *testing.T) {
	file := func(sql string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(sql)} }
	a := migrate.Source{Module: "a", FS: fstest.MapFS{
		"0003_x.sql": file("CREATE TABLE crm_a (id TEXT);"),
		"0100_a.sql": file("CREATE TABLE crm_a2 (id TEXT);"),
	}}
	b := migrate.Source{Module: "b", FS: fstest.MapFS{"0003_x.sql": file("CREATE TABLE crm_b (id TEXT);")}}
	all, err := migrate.Collect([]migrate.Source{a, b})
	require.NoError(t, err)
	var mine []migrate.Migration
	for _, m := range all {
		if m.Version == 3 || m.Version == 100 {
			mine = append(mine, m)
		}
	}
	require.Len(t, mine, 2)
	require.Equal(t, []string{"a", "b"}, mine[0].Modules())
	d := &dialect.Dialect{Kind: dialect.SQLite}
	require.Equal(t, []string{"CREATE TABLE crm_a (id TEXT);", "CREATE TABLE crm_b (id TEXT);"}, mine[0].Statements(d))
	require.Equal(t, []string{"a"}, mine[1].Modules())

	clash := migrate.Source{Module: "c", FS: fstest.MapFS{"0100_a.sql": file("SELECT 1;")}}
	_, err = migrate.Collect([]migrate.Source{a, clash})
	require.ErrorContains(t, err, "migration 0100 is declared by a and c")

	renamed := migrate.Source{Module: "c", FS: fstest.MapFS{"0003_y.sql": file("SELECT 1;")}}
	_, err = migrate.Collect([]migrate.Source{a, renamed})
	require.ErrorContains(t, err, "migration 0003 is named x in a and y in c")

	badName := migrate.Source{Module: "c", FS: fstest.MapFS{"3_x.sql": file("SELECT 1;")}}
	_, err = migrate.Collect([]migrate.Source{badName})
	require.ErrorContains(t, err, "is not named NNNN_name.sql")
}
