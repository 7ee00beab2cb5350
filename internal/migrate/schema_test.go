package migrate_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/migrate"
	"github.com/crmkit/crmkit/internal/modules"
)

var update = flag.Bool("update", false, "rewrite testdata/schema_*.txt from the migrations")

// The schema the migrations build, table by table, column by column, with
// every index, constraint and trigger, is pinned in testdata: a change of
// the migrations (their split over modules included) that changes the
// schema shows here, on both databases. Run with -update after an
// intended change and read the diff.
func TestSchemaIsPinned(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		_, err := migrate.Up(ctx, db, modules.Migrations())
		require.NoError(t, err)
		got := dumpSchema(t, db)
		path := filepath.Join("testdata", "schema_"+db.Dialect().Name().String()+".txt")
		if *update {
			require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
			return
		}
		want, err := os.ReadFile(path)
		require.NoError(t, err, "run go test -run TestSchemaIsPinned -update ./internal/migrate")
		require.Equal(t, string(want), got)
	})
}

func dumpSchema(t *testing.T, db *bun.DB) string {
	t.Helper()
	ctx := context.Background()
	var lines []string
	add := func(query string) {
		rows, err := db.DB.QueryContext(ctx, query)
		require.NoError(t, err)
		defer rows.Close()
		cols, err := rows.Columns()
		require.NoError(t, err)
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			parts := make([]string, len(vals))
			for i, v := range vals {
				if b, ok := v.([]byte); ok {
					v = string(b)
				}
				parts[i] = fmt.Sprint(v)
			}
			lines = append(lines, strings.Join(parts, " | "))
		}
		require.NoError(t, rows.Err())
	}
	if db.Dialect().Name().String() == "sqlite" {
		add(`SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master
			WHERE name LIKE 'crm%' AND name NOT IN ('crm_migrations', 'crm_migration_locks') ORDER BY type, name`)
		return strings.Join(lines, "\n") + "\n"
	}
	var schema string
	require.NoError(t, db.DB.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema))
	add(`SELECT table_name, column_name, data_type, is_nullable, coalesce(column_default, '')
		FROM information_schema.columns WHERE table_schema = current_schema() AND table_name LIKE 'crm%'
		AND table_name NOT IN ('crm_migrations', 'crm_migration_locks')
		ORDER BY table_name, ordinal_position`)
	add(`SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()
		AND tablename LIKE 'crm%' AND tablename NOT IN ('crm_migrations', 'crm_migration_locks') ORDER BY tablename, indexname`)
	add(`SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c
		JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = current_schema()
		AND c.conrelid::regclass::text LIKE 'crm%' AND c.conrelid::regclass::text NOT IN ('crm_migrations', 'crm_migration_locks')
		ORDER BY 1, 2`)
	add(`SELECT event_object_table, trigger_name, action_timing, event_manipulation, action_statement
		FROM information_schema.triggers WHERE trigger_schema = current_schema() ORDER BY 1, 2, 4`)
	add(`SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
		WHERE n.nspname = current_schema() ORDER BY 1`)
	out := strings.Join(lines, "\n") + "\n"
	return strings.ReplaceAll(out, schema+".", "")
}
