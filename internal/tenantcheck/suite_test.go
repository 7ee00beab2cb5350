package tenantcheck_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/migrate"
	"github.com/crmkit/crmkit/internal/modules"
	"github.com/crmkit/crmkit/internal/tenantcheck"
)

// tenantTables migrates a fresh PostgreSQL schema and returns its crm_
// tables that have a tenant_id column.
func tenantTables(t *testing.T) map[string]bool {
	t.Helper()
	ctx := context.Background()
	db := dbtest.Postgres(t)
	_, err := migrate.Up(ctx, db, modules.Migrations())
	require.NoError(t, err)
	rows, err := db.DB.QueryContext(ctx, `SELECT table_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND column_name = 'tenant_id' AND table_name LIKE 'crm\_%'`)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		out[name] = true
	}
	require.NoError(t, rows.Err())
	require.NotEmpty(t, out)
	return out
}

// TestSuiteStatements checks every statement crmkit sent to PostgreSQL
// during a test run: run the suite with CRM_TEST_SQL_LOG=dir, then this
// test with CRM_TEST_SQL_CHECK=dir (.ci/run does). Each statement on a
// tenant-scoped table must be bound to one tenant (see Check).
func TestSuiteStatements(t *testing.T) {
	dir := os.Getenv(tenantcheck.EnvCheck)
	if dir == "" {
		t.Skipf("set %s to the directory a test run with CRM_TEST_SQL_LOG wrote", tenantcheck.EnvCheck)
	}
	tables := tenantTables(t)
	stmts, err := tenantcheck.ReadLog(dir)
	require.NoError(t, err)
	require.NotEmpty(t, stmts, "no statement recorded in %s", dir)

	checked := 0
	listings := map[string]bool{} // tenant listings: may read every tenant
	type finding struct {
		problems []string
		origins  []string
	}
	findings := map[string]*finding{} // statement → what is wrong, who sent it
	for _, st := range stmts {
		if !tenantcheck.InScope(st) {
			continue
		}
		problems, err := tenantcheck.Check(st.SQL, func(table string) bool { return tables[table] })
		if err != nil {
			t.Errorf("cannot analyse (from %s): %v\n%s", strings.Join(st.Origin, " ← "), err, st.SQL)
			continue
		}
		if touches(st.SQL, tables) {
			checked++
			if tenantcheck.IsListing(st.SQL) {
				listings[st.SQL] = true
			}
		}
		if len(problems) == 0 {
			continue
		}
		f := findings[st.SQL]
		if f == nil {
			f = &finding{}
			for _, p := range problems {
				f.problems = append(f.problems, p.String())
			}
			findings[st.SQL] = f
		}
		f.origins = append(f.origins, strings.Join(st.Origin, " ← "))
	}
	t.Logf("%d recorded statements, %d on tenant-scoped tables checked (%d of them tenant listings), %d not bound to one tenant",
		len(stmts), checked, len(listings), len(findings))
	require.Positive(t, checked, "no statement on a tenant-scoped table was recorded")
	sqls := make([]string, 0, len(findings))
	for sql := range findings {
		sqls = append(sqls, sql)
	}
	slices.Sort(sqls)
	for _, sql := range sqls {
		f := findings[sql]
		slices.Sort(f.origins)
		t.Errorf("%s\n  from %s\n  %s", strings.Join(f.problems, "; "), strings.Join(slices.Compact(f.origins), "\n  and  "), oneLine(sql, 2000))
	}
}

func touches(sql string, tables map[string]bool) bool {
	for name := range tables {
		if strings.Contains(sql, name) {
			return true
		}
	}
	return false
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + " …"
	}
	return s
}
