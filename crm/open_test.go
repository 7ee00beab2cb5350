package crm_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/internal/dbtest"
)

func TestOpenSQLiteFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := t.TempDir() + "/crm.db"
	c, err := crm.Open(ctx, crm.Config{DSN: "file:" + path})
	require.NoError(t, err)
	require.NoError(t, c.Migrate(ctx))
	require.NoError(t, c.Migrate(ctx), "Migrate is idempotent")

	for pragma, want := range map[string]string{"journal_mode": "wal", "synchronous": "1", "foreign_keys": "1", "busy_timeout": "10000", "cache_size": "-65536"} {
		var got string
		require.NoError(t, c.DB().QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got))
		require.Equal(t, want, got, pragma)
	}

	// Concurrent writers on several connections queue on the write lock
	// taken at BEGIN instead of failing with SQLITE_BUSY.
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				_, err := c.Contacts.Create(ctx, contacts.NewContact{Email: fmt.Sprintf("w%d-%d@example.com", w, i)})
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, int64(400), count(t, c))
	require.NoError(t, c.Close())
	require.NoError(t, c.Close(), "Close is idempotent")

	// Reopening finds the data.
	again, err := crm.Open(ctx, crm.Config{DSN: path})
	require.NoError(t, err)
	defer again.Close()
	require.Equal(t, int64(400), count(t, again))
}

func TestOpenMemory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, err := crm.Open(ctx, crm.Config{DSN: ":memory:"})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Migrate(ctx))
	// One connection: a write inside InTx and reads in it do not deadlock.
	require.NoError(t, c.InTx(ctx, func(ctx context.Context, tx *crm.CRM) error {
		a, err := tx.Contacts.Create(ctx, contacts.NewContact{Email: "a@example.com"})
		if err != nil {
			return err
		}
		_, err = tx.Contacts.Get(ctx, a.ID)
		return err
	}))
	require.Equal(t, int64(1), count(t, c))
}

func TestOpenPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn, schema := dbtest.PostgresSchema(t)
	c, err := crm.Open(ctx, crm.Config{DSN: dbtest.WithSearchPath(dsn, schema)})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Migrate(ctx))
	a, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "a@example.com"})
	require.NoError(t, err)
	got, err := c.Contacts.GetByEmail(ctx, "A@example.com")
	require.NoError(t, err)
	require.Equal(t, a.ID, got.ID)
}

func TestNewNeverClosesTheHostDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := crm.OpenDB(ctx, crm.Config{DSN: "file:" + t.TempDir() + "/host.db"})
	require.NoError(t, err)
	defer db.Close()
	c, err := crm.New(db, crm.Config{})
	require.NoError(t, err)
	require.NoError(t, c.Migrate(ctx))
	_, err = c.Contacts.Create(ctx, contacts.NewContact{Email: "a@example.com"})
	require.NoError(t, err)
	require.NoError(t, c.Close())
	require.NoError(t, db.Ping(), "the host's database is still open")
	var n int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM crm_contacts").Scan(&n))
	require.Equal(t, 1, n)
}

func TestBadConfigAndDSN(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, err := crm.Open(ctx, crm.Config{DSN: ":memory:", Secret: []byte("short"), MaxOpenConns: -1})
	require.ErrorIs(t, err, core.ErrInvalid)
	require.Contains(t, err.Error(), "Secret")
	require.Contains(t, err.Error(), "MaxOpenConns")
	_, err = crm.Open(ctx, crm.Config{DSN: "postgres://nobody@127.0.0.1:1/none?connect_timeout=1"})
	require.Error(t, err)
	require.Contains(t, err.Error(), "crm: ")
	_, err = crm.Open(ctx, crm.Config{DSN: "file:" + t.TempDir() + "/no/such/dir/crm.db"})
	require.Error(t, err)
}

func TestInvalidTenant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, err := crm.Open(ctx, crm.Config{DSN: ":memory:"})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Migrate(ctx))
	bad := c.Tenant("")
	_, err = bad.Contacts.Create(ctx, contacts.NewContact{Email: "a@example.com"})
	require.ErrorIs(t, err, core.ErrInvalid)
	require.ErrorIs(t, bad.InTx(ctx, func(context.Context, *crm.CRM) error { return nil }), core.ErrInvalid)
	_, err = bad.Events(ctx, crm.EventQuery{})
	require.ErrorIs(t, err, core.ErrInvalid)
	require.Equal(t, "acme", c.Tenant("acme").TenantID())
	require.Equal(t, crm.DefaultTenant, c.TenantID())
}
