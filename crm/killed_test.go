package crm_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dbtest"
)

// killedImportRows is the size of the import TestImportKilled kills:
// CRM_TEST_KILL_ROWS overrides the default 20,000 (e.g. 1000000).
func killedImportRows(t *testing.T) int {
	if s := os.Getenv("CRM_TEST_KILL_ROWS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err)
		return n
	}
	return 20_000
}

// TestImportKilledChild is the importing process of TestImportKilled; it
// does nothing in a normal run.
func TestImportKilledChild(t *testing.T) {
	dsn := os.Getenv("CRM_IMPORT_CHILD_DSN")
	if dsn == "" {
		t.Skip("run by TestImportKilled")
	}
	ctx := context.Background()
	c, err := crm.Open(ctx, crm.Config{DSN: dsn})
	require.NoError(t, err)
	f, err := os.Open(os.Getenv("CRM_IMPORT_CHILD_FILE"))
	require.NoError(t, err)
	_, err = c.Contacts.ImportCSV(ctx, bufio.NewReader(f), contacts.CSVImportOptions{})
	require.NoError(t, err)
	t.Fatal("the import finished before it was killed")
}

// An import killed with SIGKILL in the middle (a child process), then run
// again with the same file: every row is stored exactly once, with one
// contact.created event each, and the second run's report tells what the
// first had already stored.
func TestImportKilled(t *testing.T) {
	t.Parallel()
	n := killedImportRows(t)
	path := filepath.Join(t.TempDir(), "contacts.csv")
	f, err := os.Create(path)
	require.NoError(t, err)
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "email,first_name,last_name,tags")
	for i := range n {
		fmt.Fprintf(w, "row%07d@example.com,First%d,Last%d,imported\n", i, i, i)
	}
	require.NoError(t, w.Flush())
	require.NoError(t, f.Close())

	run := func(t *testing.T, dsn string) {
		ctx := context.Background()
		c, err := crm.Open(ctx, crm.Config{DSN: dsn})
		require.NoError(t, err)
		defer c.Close()
		require.NoError(t, c.Migrate(ctx))

		child := exec.Command(os.Args[0], "-test.run=^TestImportKilledChild$")
		child.Env = append(os.Environ(), "CRM_IMPORT_CHILD_DSN="+dsn, "CRM_IMPORT_CHILD_FILE="+path)
		child.Stdout, child.Stderr = os.Stderr, os.Stderr
		require.NoError(t, child.Start())
		defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
		require.Eventually(t, func() bool {
			got, err := c.Contacts.Count(ctx, filter.Expr{})
			return err == nil && got >= int64(n/3)
		}, 5*time.Minute, 5*time.Millisecond)
		require.NoError(t, child.Process.Signal(syscall.SIGKILL))
		_ = child.Wait()
		stored, err := c.Contacts.Count(ctx, filter.Expr{})
		require.NoError(t, err)
		require.Less(t, stored, int64(n), "killed in the middle")
		require.Zero(t, stored%1000, "whole batches of 1,000 only")
		t.Logf("killed after %d of %d rows", stored, n)

		f, err := os.Open(path)
		require.NoError(t, err)
		defer f.Close()
		res, err := c.Contacts.ImportCSV(ctx, bufio.NewReader(f), contacts.CSVImportOptions{})
		require.NoError(t, err)
		require.EqualValues(t, n, res.Rows)
		require.EqualValues(t, int64(n)-stored, res.Created, "the second run creates what the first did not")
		require.EqualValues(t, stored, res.Unchanged+res.Updated, "and finds what the first stored")
		require.Zero(t, res.Failed, "%v", res.Errors)

		total, err := c.Contacts.Count(ctx, filter.Expr{})
		require.NoError(t, err)
		require.EqualValues(t, n, total, "every row exactly once")
		var emails, created int64
		require.NoError(t, c.DB().NewSelect().Table("crm_contacts").ColumnExpr("count(DISTINCT email)").Scan(ctx, &emails))
		require.EqualValues(t, n, emails)
		require.NoError(t, c.DB().NewSelect().Table("crm_events").ColumnExpr("count(*)").Where("type = ?", contacts.EventContactCreated).Scan(ctx, &created))
		require.EqualValues(t, n, created, "one contact.created event per row")
	}
	t.Run("sqlite", func(t *testing.T) {
		run(t, "file:"+filepath.Join(t.TempDir(), "crm.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		dsn, schema := dbtest.PostgresSchema(t)
		run(t, dbtest.WithSearchPath(dsn, schema))
	})
}
