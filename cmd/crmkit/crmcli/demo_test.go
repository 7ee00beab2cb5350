package crmcli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dbtest"
)

// The commands mounted under a host's root: they run with the host's
// Open, usage errors name the host's command path, and Report gives the
// exit codes of crmkit's own program.
func TestMountedInAHostsCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := migratedSQLite(t)
	var opened []string
	host := func() (*cobra.Command, *bytes.Buffer, *bytes.Buffer) {
		root := &cobra.Command{Use: "shop", SilenceErrors: true, SilenceUsage: true}
		root.PersistentFlags().String("config", "", "the shop's own flag")
		root.AddCommand(&cobra.Command{Use: "serve-shop", RunE: func(*cobra.Command, []string) error { return nil }})
		root.AddCommand(Command(Options{Use: "crm", Open: func(ctx context.Context, cfg crm.Config) (*crm.CRM, error) {
			opened = append(opened, cfg.DSN)
			return crm.Open(ctx, cfg)
		}}))
		var out, errout bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&errout)
		return root, &out, &errout
	}

	root, out, errout := host()
	root.SetArgs([]string{"--config", "shop.toml", "crm", "--dsn", dsn, "migrate"})
	err := root.ExecuteContext(ctx)
	require.Equal(t, ExitOK, Report(errout, err))
	require.Contains(t, out.String(), "the database is up to date")
	require.Equal(t, []string{dsn}, opened, "the host's Open")

	root, out, errout = host()
	root.SetIn(strings.NewReader("email,first_name\nada@example.com,Ada\nnot-an-email,Bob\n"))
	root.SetArgs([]string{"crm", "--dsn", dsn, "import", "-"})
	err = root.ExecuteContext(ctx)
	require.Equal(t, ExitFailure, Report(errout, err))
	require.Contains(t, out.String(), "1 created")
	require.Regexp(t, `(?m)^  line 3: email: `, out.String())
	require.Empty(t, errout.String(), "the import told what failed")

	for _, argv := range [][]string{{"crm", "import"}, {"crm", "import", "--delimiter", "x", "f.csv"}, {"crm", "--frob"}, {"crm", "frobnicate"}} {
		root, out, errout = host()
		root.SetArgs(argv)
		err = root.ExecuteContext(ctx)
		require.Equal(t, ExitUsage, Report(errout, err), "%v", argv)
		require.Regexp(t, `Run 'shop crm( import)? --help' for usage`, errout.String(), "%v", argv)
		require.Empty(t, out.String(), "%v: no usage text", argv)
	}
	root, _, errout = host()
	root.SetArgs([]string{"serve-shop"})
	require.Equal(t, ExitOK, Report(errout, root.ExecuteContext(ctx)), "the host's own commands")
}

// demo fills a database — the same digest for the same seed — and serve
// then shows the data over HTTP.
func TestDemoThenServe(t *testing.T) {
	t.Parallel()
	digest := regexp.MustCompile(`(?m)^digest: ([0-9a-f]{64})$`)
	var digests []string
	eachDSN(t, func(t *testing.T, dsn string) {
		args := []string{"--dsn", dsn, "demo", "--seed", "5", "--contacts", "60", "--until", "2026-06-01"}
		r := crmkit(t, "", args...)
		require.Equal(t, ExitOK, r.code, "%+v", r)
		require.Contains(t, r.out, "60 contacts")
		require.Regexp(t, `campaign \S+: [1-9]\d* sent`, r.out)
		require.Contains(t, r.errout, "demo: two years of history")
		m := digest.FindStringSubmatch(r.out)
		require.NotNil(t, m, r.out)
		digests = append(digests, m[1])

		// A second run into the same tenant is refused; the digest of the
		// same seed in another tenant is the same.
		r = crmkit(t, "", args...)
		require.Equal(t, ExitFailure, r.code)
		require.Contains(t, r.errout, "the demo fills an empty tenant")
		r = crmkit(t, "", append([]string{"--tenant", "other"}, args...)...)
		require.Equal(t, ExitOK, r.code, "%+v", r)
		require.Equal(t, m[1], digest.FindStringSubmatch(r.out)[1])

		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var out, errout syncBuffer
		code := make(chan int, 1)
		go func() {
			code <- run(ctx, []string{"--dsn", dsn, "serve", "--addr", "127.0.0.1:0", "--token", "t0k", "--workers=false"}, strings.NewReader(""), &out, &errout)
		}()
		addr := regexp.MustCompile(`http://127\.0\.0\.1:\d+`)
		require.Eventually(t, func() bool { return addr.MatchString(out.String()) }, 20*time.Second, 10*time.Millisecond, "%s %s", &out, &errout)
		base := addr.FindString(out.String())
		get := func(path string) string {
			req, err := http.NewRequest(http.MethodGet, base+path, nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer t0k")
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			b, err := io.ReadAll(res.Body)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, res.StatusCode, "%s: %s", path, b)
			return string(b)
		}
		body := get("/contacts?limit=100")
		require.Regexp(t, `"email":"[a-z0-9.-]+@[a-z0-9.-]+\.example"`, body)
		require.Contains(t, body, `"source":"demo"`)
		require.Contains(t, get("/pipelines"), `"Renewals"`)
		require.Contains(t, get("/users"), `"Sam Lead"`)
		cancel()
		select {
		case c := <-code:
			require.Equal(t, ExitOK, c, "%s %s", &out, &errout)
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not stop")
		}
	})
	if len(digests) == 2 {
		require.Equal(t, digests[0], digests[1], "the same data on SQLite and PostgreSQL")
	}
	r := crmkit(t, "", "--dsn", "file:"+filepath.Join(t.TempDir(), "x.db"), "demo", "--until", "June")
	require.Equal(t, ExitUsage, r.code)
	r = crmkit(t, "", "--dsn", "file:"+filepath.Join(t.TempDir(), "x.db"), "demo", "--contacts", "3")
	require.Equal(t, ExitUsage, r.code)
}

// copy moves a demo CRM from SQLite to PostgreSQL and refuses a second
// copy into it.
func TestCopyCommand(t *testing.T) {
	t.Parallel()
	src := migratedSQLite(t)
	r := crmkit(t, "", "--dsn", src, "demo", "--seed", "9", "--contacts", "40", "--until", "2026-06-01")
	require.Equal(t, ExitOK, r.code, "%+v", r)
	pg, schema := dbtest.PostgresSchema(t)
	dst := dbtest.WithSearchPath(pg, schema)

	r = crmkit(t, "", "--dsn", src, "copy", "--to", dst, "--tables")
	require.Equal(t, ExitOK, r.code, "%+v", r)
	require.Regexp(t, `(?m)^copied \d+ rows of \d+ tables and [1-9]\d* unfinished jobs for 1 tenants in .*; counts and checksums match$`, r.out)
	require.Regexp(t, `(?m)^  crm_contacts\s+40 rows  [0-9a-f]{32}$`, r.out)
	require.NotContains(t, r.out, pg, "no DSN in the output")
	c := open(t, dst)
	n, err := c.Contacts.Count(context.Background(), filter.Expr{})
	require.NoError(t, err)
	require.Equal(t, int64(40), n)

	r = crmkit(t, "", "copy", "--from", src, "--to", dst)
	require.Equal(t, ExitFailure, r.code, "%+v", r)
	require.Contains(t, r.errout, "holds crmkit data already")
	r = crmkit(t, "", "--dsn", src, "copy")
	require.Equal(t, ExitUsage, r.code)
	r = crmkit(t, "", "copy", "--from", src, "--to", src)
	require.Equal(t, ExitUsage, r.code)
}
