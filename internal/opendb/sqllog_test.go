package opendb_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/migrate"
	"github.com/crmkit/crmkit/internal/opendb"
)

// With CRM_TEST_SQL_LOG set, each distinct statement a PostgreSQL pool
// sends is written once per sending function, with the crmkit frames that
// sent it and whether a test sent it; COPY is written too.
func TestSQLLog(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	t.Setenv(opendb.EnvSQLLog, dir)
	dsn, schema := dbtest.PostgresSchema(t)
	db, err := opendb.OpenPostgres(ctx, dbtest.WithSearchPath(dsn, schema), opendb.Options{})
	require.NoError(t, err)
	defer db.Close()

	_, err = migrate.Up(ctx, db, nil)
	require.NoError(t, err)
	for range 3 {
		_, err = db.ExecContext(ctx, "SELECT 1 AS logged_once")
		require.NoError(t, err)
	}
	_, err = db.ExecContext(ctx, "CREATE TABLE crm_copy_probe (tenant_id text, id int)")
	require.NoError(t, err)
	conn, err := db.DB.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.Raw(func(dc any) error {
		pc := dc.(interface{ Conn() *pgx.Conn }).Conn()
		_, err := pc.CopyFrom(ctx, pgx.Identifier{"crm_copy_probe"}, []string{"tenant_id", "id"}, pgx.CopyFromRows([][]any{{"acme", 1}}))
		return err
	}))

	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	require.NoError(t, err)
	require.Len(t, files, 1, "one file per process")
	f, err := os.Open(files[0])
	require.NoError(t, err)
	defer f.Close()
	var once, fromMigrate, copied int
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var st opendb.LoggedStatement
		require.NoError(t, json.Unmarshal(sc.Bytes(), &st), sc.Text())
		switch {
		case st.SQL == "SELECT 1 AS logged_once":
			once++
			require.True(t, st.Test, "sent by a test")
			require.Contains(t, st.Origin[0], "internal/opendb_test.TestSQLLog sqllog_test.go:")
		case st.SQL == `COPY "crm_copy_probe" ("tenant_id", "id") FROM STDIN`:
			copied++
		case len(st.Origin) > 0 && strings.HasPrefix(st.Origin[0], "internal/migrate."):
			fromMigrate++
			require.False(t, st.Test, "sent by crmkit's code: %v", st.Origin)
		}
	}
	require.NoError(t, sc.Err())
	require.Equal(t, 1, once, "a repeated statement is written once")
	require.Equal(t, 1, copied)
	require.Positive(t, fromMigrate)
}
