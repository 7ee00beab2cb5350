package dbtest_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/modules"
)

var tpl = &dbtest.Template{Name: "dbtest_self", Sources: modules.Migrations(), Migrate: func(ctx context.Context, db *bun.DB) error {
	id := "INTEGER PRIMARY KEY"
	if db.Dialect().Name().String() == "pg" {
		id = "BIGSERIAL PRIMARY KEY"
	}
	for _, q := range []string{
		"CREATE TABLE IF NOT EXISTS parent (id " + id + ", v TEXT NOT NULL)",
		"CREATE TABLE IF NOT EXISTS child (id INTEGER PRIMARY KEY, parent_id BIGINT NOT NULL REFERENCES parent (id))",
		"CREATE TABLE IF NOT EXISTS seed (k TEXT NOT NULL)",
		"INSERT INTO seed (k) SELECT 'a' WHERE NOT EXISTS (SELECT 1 FROM seed)",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}}

// use checks that db is a freshly migrated copy: the migrations' rows and
// nothing else, ids starting over; then writes rows of its own.
func use(t *testing.T, db *bun.DB) {
	ctx := context.Background()
	var n int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM parent").Scan(&n))
	require.Zero(t, n, "no rows of an earlier test")
	var seeds []string
	require.NoError(t, db.NewSelect().Table("seed").Column("k").Scan(ctx, &seeds))
	require.Equal(t, []string{"a"}, seeds)
	var id int64
	require.NoError(t, db.QueryRowContext(ctx, "INSERT INTO parent (v) VALUES ('x') RETURNING id").Scan(&id))
	require.Equal(t, int64(1), id, "ids start over")
	_, err := db.ExecContext(ctx, "INSERT INTO child (id, parent_id) VALUES (1, 1)")
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, "INSERT INTO child (id, parent_id) VALUES (2, 99)")
	require.Error(t, err, "foreign keys hold in the copy")
}

func schemaOf(t *testing.T, db *bun.DB) string {
	var s string
	require.NoError(t, db.QueryRowContext(context.Background(), "SELECT current_schema()").Scan(&s))
	return s
}

// Each test gets its own migrated copy; a PostgreSQL schema is emptied and
// reused when the test changed only rows, and dropped otherwise.
func TestTemplateCopies(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			t.Run("copy", func(t *testing.T) { use(t, tpl.SQLite(t)) })
		}
	})
	t.Run("postgres", func(t *testing.T) {
		dbtest.PostgresDSN(t)
		var first string
		t.Run("first", func(t *testing.T) {
			db := tpl.Postgres(t)
			first = schemaOf(t, db)
			use(t, db)
		})
		t.Run("reused", func(t *testing.T) {
			db := tpl.Postgres(t)
			require.Equal(t, first, schemaOf(t, db), "the emptied schema is reused")
			use(t, db)
		})
		for _, change := range []string{"DELETE FROM seed", "UPDATE seed SET k = 'b'", "INSERT INTO seed (k) VALUES ('c')"} {
			t.Run("rows the migrations wrote", func(t *testing.T) {
				db := tpl.Postgres(t)
				require.Equal(t, first, schemaOf(t, db))
				use(t, db)
				_, err := db.ExecContext(context.Background(), change)
				require.NoError(t, err)
			})
			t.Run("are written back", func(t *testing.T) {
				db := tpl.Postgres(t)
				require.Equal(t, first, schemaOf(t, db))
				use(t, db)
			})
		}
		t.Run("two templates of one name", func(t *testing.T) {
			// A package's internal and external tests each declare one.
			twin := &dbtest.Template{Name: tpl.Name, Sources: tpl.Sources, Migrate: tpl.Migrate}
			a, b := tpl.Postgres(t), twin.Postgres(t)
			require.NotEqual(t, schemaOf(t, a), schemaOf(t, b))
			use(t, a)
			use(t, b)
		})
		changes := map[string]string{
			"a table added":  "CREATE TABLE host_orders (id INTEGER)",
			"a column added": "ALTER TABLE parent ADD COLUMN w TEXT",
			"an index added": "CREATE INDEX parent_v ON parent (v)",
			"a function":     "CREATE FUNCTION one() RETURNS int LANGUAGE sql AS 'SELECT 1'",
		}
		for name, change := range changes {
			t.Run(name, func(t *testing.T) {
				var changed string
				t.Run("change", func(t *testing.T) {
					db := tpl.Postgres(t)
					changed = schemaOf(t, db)
					_, err := db.ExecContext(context.Background(), change)
					require.NoError(t, err)
				})
				t.Run("next", func(t *testing.T) {
					db := tpl.Postgres(t)
					require.NotEqual(t, changed, schemaOf(t, db), "a changed schema is not reused")
					var gone bool
					require.NoError(t, db.QueryRowContext(context.Background(),
						"SELECT NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = ?)", changed).Scan(&gone))
					require.True(t, gone, "and is dropped")
					use(t, db)
				})
			})
		}
	})
}
