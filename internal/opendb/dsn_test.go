package opendb_test

import (
	"context"
	"net/url"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	bundialect "github.com/uptrace/bun/dialect"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/opendb"
)

func TestClassifyDSN(t *testing.T) {
	for dsn, want := range map[string]string{
		"postgres://u@h/db":                            opendb.KindPostgres,
		"postgresql://u@h/db?sslmode=disable":          opendb.KindPostgres,
		"host=localhost dbname=crm sslmode=disable":    opendb.KindPostgres,
		"  user=crm password='a b' host=/tmp dbname=x": opendb.KindPostgres,
		"dbname=crm":                          opendb.KindPostgres,
		":memory:":                            opendb.KindSQLite,
		"file:crm.db?_pragma=foreign_keys(1)": opendb.KindSQLite,
		"file:/tmp/a b=c.db":                  opendb.KindSQLite,
		"crm.db":                              opendb.KindSQLite,
		"/var/lib/crm/crm.db":                 opendb.KindSQLite,
		"data/a=b.db":                         opendb.KindSQLite,
		"":                                    opendb.KindSQLite,
	} {
		got, err := opendb.Classify(dsn)
		require.NoError(t, err, dsn)
		require.Equal(t, want, got, dsn)
	}
	for _, dsn := range []string{"mysql://u@h/db", "server=db database=crm", "foo=bar baz=qux", "   "} {
		_, err := opendb.Classify(dsn)
		require.ErrorIs(t, err, core.ErrInvalid, dsn)
	}
}

// A keyword/value DSN opens PostgreSQL instead of creating an SQLite file
// of that name; a DSN that is neither is refused and creates nothing.
func TestOpenKeywordDSN(t *testing.T) {
	ctx := context.Background()
	t.Chdir(t.TempDir())
	_, err := opendb.Open(ctx, "server=db database=crm", opendb.Options{})
	require.ErrorIs(t, err, core.ErrInvalid)
	entries, err := os.ReadDir(".")
	require.NoError(t, err)
	require.Empty(t, entries, "no file created")

	u, err := url.Parse(dbtest.PostgresDSN(t))
	require.NoError(t, err)
	kw := "host=" + u.Hostname() + " port=" + u.Port() + " dbname=" + u.Path[1:] + " sslmode=disable"
	if u.User != nil {
		kw += " user=" + u.User.Username()
		if p, ok := u.User.Password(); ok {
			kw += " password=" + p
		}
	}
	db, err := opendb.Open(ctx, kw, opendb.Options{})
	require.NoError(t, err)
	defer db.Close()
	require.Equal(t, bundialect.PG, db.Dialect().Name())
	entries, err = os.ReadDir(".")
	require.NoError(t, err)
	require.Empty(t, entries, "no SQLite file created")
}
