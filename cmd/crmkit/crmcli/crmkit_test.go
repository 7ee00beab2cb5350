package crmcli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding/charmap"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dbtest"
)

// template is an SQLite file "crmkit migrate" made, copied for each test
// (migrating SQLite takes seconds under the race detector).
var template struct {
	once sync.Once
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if template.dir != "" {
		os.RemoveAll(template.dir)
	}
	os.Exit(code)
}

// migratedSQLite returns the DSN of a copy of the template.
func migratedSQLite(t *testing.T) string {
	t.Helper()
	template.once.Do(func() {
		template.dir, template.err = os.MkdirTemp("", "crmkit-test")
		if template.err != nil {
			return
		}
		var out bytes.Buffer
		if code := run(context.Background(), []string{"--dsn", "file:" + filepath.Join(template.dir, "crm.db"), "migrate"}, nil, &out, &out); code != 0 {
			template.err = fmt.Errorf("migrate: exit %d: %s", code, &out)
		}
	})
	require.NoError(t, template.err)
	dir := t.TempDir()
	for _, name := range []string{"crm.db", "crm.db-wal"} {
		b, err := os.ReadFile(filepath.Join(template.dir, name))
		if os.IsNotExist(err) && name != "crm.db" {
			continue
		}
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o600))
	}
	return "file:" + filepath.Join(dir, "crm.db")
}

// eachDSN runs fn with the DSN of a migrated SQLite file and of a fresh
// PostgreSQL schema, as subtests sqlite and postgres.
func eachDSN(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, migratedSQLite(t))
	})
	t.Run("postgres", func(t *testing.T) {
		dsn, schema := dbtest.PostgresSchema(t)
		fn(t, dbtest.WithSearchPath(dsn, schema))
	})
}

// syncBuffer is a buffer a command writes while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// result is what one run of the command line did.
type result struct {
	code        int
	out, errout string
}

// crmkit runs the command line in process with stdin.
func crmkit(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errout syncBuffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errout)
	return result{code: code, out: out.String(), errout: errout.String()}
}

// open opens the CRM of dsn for the test to look at what the commands did.
func open(t *testing.T, dsn string) *crm.CRM {
	t.Helper()
	c, err := crm.Open(context.Background(), crm.Config{DSN: dsn})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	return c
}

func write(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

func TestUsageErrorsExitWithTwo(t *testing.T) {
	t.Parallel()
	for name, args := range map[string][]string{
		"no command":          {},
		"unknown command":     {"frobnicate"},
		"unknown flag":        {"migrate", "--frob"},
		"import without file": {"import"},
		"erase two ids":       {"erase", "a", "b"},
		"erase not an id":     {"erase", "42"},
		"bad delimiter":       {"import", "--delimiter", "x", "f.csv"},
		"bad encoding":        {"import", "--encoding", "ebcdic", "f.csv"},
		"empty tenant":        {"--tenant", "", "migrate"},
	} {
		r := crmkit(t, "", args...)
		require.Equal(t, ExitUsage, r.code, "%s: %+v", name, r)
		require.Regexp(t, `Run 'crmkit( \w+)? --help' for usage`, r.errout, name)
		require.NotContains(t, r.errout, "goroutine", name)
	}
	r := crmkit(t, "", "version")
	require.Equal(t, ExitOK, r.code)
	require.Regexp(t, `^crmkit \S+ \(go1\.`, r.out)
	r = crmkit(t, "", "--help")
	require.Equal(t, ExitOK, r.code)
	require.Contains(t, r.out, "import")
}

// migrate, import (a broken row, a semicolon-separated Windows-1252 file,
// a dry run, a mapping file), export and erase, on both databases.
func TestCommands(t *testing.T) {
	t.Parallel()
	eachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := []string{"--dsn", dsn}
		r := crmkit(t, "", append(db, "migrate")...)
		require.Equal(t, ExitOK, r.code, "%+v", r)
		r = crmkit(t, "", append(db, "migrate")...)
		require.Equal(t, ExitOK, r.code, "again: %+v", r)

		// A broken row: the others are imported, the line is named, exit 1.
		broken := write(t, "broken.csv", "email,first_name,last_name\n"+
			"ada@example.com,Ada,Lovelace\n"+
			"not-an-email,Bob,B\n"+
			"carl@example.com,Carl,C\n")
		r = crmkit(t, "", append(db, "import", broken)...)
		require.Equal(t, ExitFailure, r.code, "%+v", r)
		require.Contains(t, r.out, "imported 3 rows: 2 created, 0 updated, 0 unchanged, 1 failed")
		require.Regexp(t, `(?m)^  line 3: email: `, r.out)
		require.Empty(t, r.errout, "no progress bar when stderr is not a terminal")
		c := open(t, dsn)
		n, err := c.Contacts.Count(ctx, filter.Expr{})
		require.NoError(t, err)
		require.Equal(t, int64(2), n)

		// A semicolon-separated Windows-1252 file with a mapping file, a dry
		// run first: the mapping and the first problems, nothing written.
		text := "E-Mail;Vorname;Nachname;Notiz\n" +
			"juergen@example.com;Jürgen;Größ;x\n" +
			"rene@example;René;Çelik;y\n" +
			"zoe@example.com;Zoë;Ñúñez;z\n"
		win, err := charmap.Windows1252.NewEncoder().String(text)
		require.NoError(t, err)
		file := write(t, "excel.csv", win)
		mapping := write(t, "excel.map", "# columns of the shop's export\nE-Mail = email\nVorname = first_name\nNachname = last_name\nNotiz = -\n")
		r = crmkit(t, "", append(db, "import", "--dry-run", "--mapping", mapping, file)...)
		require.Equal(t, ExitFailure, r.code, "%+v", r)
		require.Contains(t, r.out, `delimiter ";", encoding windows-1252 (detected)`)
		require.Regexp(t, `(?m)^  E-Mail\s+-> email$`, r.out)
		require.Regexp(t, `(?m)^  Notiz\s+-> \(skipped\)$`, r.out)
		require.Contains(t, r.out, "would import 3 rows: 2 created, 0 updated, 0 unchanged, 1 failed")
		require.Regexp(t, `(?m)^  line 3: email: `, r.out)
		_, err = c.Contacts.GetByEmail(ctx, "juergen@example.com")
		require.ErrorIs(t, err, core.ErrNotFound, "a dry run writes nothing")
		// The same from standard input, with the format given.
		r = crmkit(t, win, append(db, "import", "--mapping", mapping, "--delimiter", ";", "--encoding", "windows-1252", "-")...)
		require.Equal(t, ExitFailure, r.code, "%+v", r)
		require.Contains(t, r.out, "2 created")
		j, err := c.Contacts.GetByEmail(ctx, "juergen@example.com")
		require.NoError(t, err)
		require.Equal(t, "Jürgen", j.FirstName)
		require.Equal(t, "Größ", j.LastName)
		// Forced to UTF-8, the file's umlauts are bytes that are no UTF-8.
		r = crmkit(t, win, append(db, "import", "--dry-run", "--mapping", mapping, "--encoding", "utf-8", "-")...)
		require.Equal(t, ExitFailure, r.code)
		require.Contains(t, r.out, "not valid UTF-8")

		// A header that maps to nothing: the mapping shown, nothing read.
		r = crmkit(t, "", append(db, "import", write(t, "bad.csv", "email,shoe_size\nx@example.com,42\n"))...)
		require.Equal(t, ExitFailure, r.code)
		require.Regexp(t, `(?m)^  shoe_size\s+-> \(no field\)$`, r.out)
		require.Contains(t, r.errout, `column "shoe_size" maps to no field`)
		require.True(t, strings.HasPrefix(r.errout, "crm: "), r.errout)

		// A file that is not there.
		r = crmkit(t, "", append(db, "import", filepath.Join(t.TempDir(), "missing.csv"))...)
		require.Equal(t, ExitFailure, r.code)
		require.Contains(t, r.errout, "no such file")

		// Export: every contact, as import reads it back.
		out := filepath.Join(t.TempDir(), "out.csv")
		r = crmkit(t, "", append(db, "export", "--out", out)...)
		require.Equal(t, ExitOK, r.code, "%+v", r)
		b, err := os.ReadFile(out)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(string(b), strings.Join(contacts.CSVColumns, ",")), string(b))
		require.Contains(t, string(b), "ada@example.com")
		require.Contains(t, string(b), "Jürgen")
		require.Equal(t, 5, strings.Count(string(b), "\n"), "a header and four contacts")
		r = crmkit(t, "", append(db, "export", "--filter", `{"field":"email","op":"eq","value":"ada@example.com"}`)...)
		require.Equal(t, ExitOK, r.code, "%+v", r)
		require.Equal(t, 2, strings.Count(r.out, "\n"), r.out)
		// Another tenant has none of them; it imports the export.
		r = crmkit(t, "", append(db, "--tenant", "globex", "export")...)
		require.Equal(t, ExitOK, r.code)
		require.Equal(t, 1, strings.Count(r.out, "\n"))
		r = crmkit(t, "", append(db, "--tenant", "globex", "import", "--ignore-unknown-columns", out)...)
		require.Equal(t, ExitOK, r.code, "%+v", r)
		require.Contains(t, r.out, "4 created")

		// Erase: the receipt, then the person is gone from the export.
		ada, err := c.Contacts.GetByEmail(ctx, "ada@example.com")
		require.NoError(t, err)
		r = crmkit(t, "", append(db, "erase", "--reason", "request", ada.ID.String())...)
		require.Equal(t, ExitOK, r.code, "%+v", r)
		var receipt struct {
			ContactID string   `json:"contact_id"`
			Sections  []string `json:"sections"`
		}
		require.NoError(t, json.Unmarshal([]byte(r.out), &receipt), r.out)
		require.Equal(t, ada.ID.String(), receipt.ContactID)
		require.NotEmpty(t, receipt.Sections)
		require.NotContains(t, r.out, "ada@example.com")
		r = crmkit(t, "", append(db, "export")...)
		require.Equal(t, ExitOK, r.code)
		require.NotContains(t, r.out, "ada@example.com")
		r = crmkit(t, "", append(db, "erase", ada.ID.String())...)
		require.Equal(t, ExitFailure, r.code, "erased already")
		require.True(t, strings.HasPrefix(r.errout, "crm: "), r.errout)
		r = crmkit(t, "", append(db, "erase", core.NewID().String())...)
		require.Equal(t, ExitFailure, r.code)
		require.Contains(t, r.errout, "not found")
	})
}

// serve answers real HTTP requests with the token, refuses them without,
// and stops when its context ends.
func TestServe(t *testing.T) {
	t.Parallel()
	eachDSN(t, func(t *testing.T, dsn string) {
		require.Equal(t, ExitOK, crmkit(t, "", "--dsn", dsn, "migrate").code)
		r := crmkit(t, "email,first_name\nada@example.com,Ada\n", "--dsn", dsn, "import", "-")
		require.Equal(t, ExitOK, r.code, "%+v", r)

		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var out, errout syncBuffer
		code := make(chan int, 1)
		go func() {
			code <- run(ctx, []string{"--dsn", dsn, "serve", "--addr", "127.0.0.1:0", "--token", "s3cret"}, strings.NewReader(""), &out, &errout)
		}()
		addr := regexp.MustCompile(`http://127\.0\.0\.1:\d+`)
		require.Eventually(t, func() bool { return addr.MatchString(out.String()) }, 20*time.Second, 10*time.Millisecond, "%s %s", &out, &errout)
		require.Contains(t, out.String(), "not for production")
		base := addr.FindString(out.String())

		get := func(token string) (int, string) {
			req, err := http.NewRequest(http.MethodGet, base+"/contacts", nil)
			require.NoError(t, err)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			b, err := io.ReadAll(res.Body)
			require.NoError(t, err)
			return res.StatusCode, string(b)
		}
		status, body := get("s3cret")
		require.Equal(t, http.StatusOK, status, body)
		require.Contains(t, body, "ada@example.com")
		status, _ = get("wrong")
		require.Equal(t, http.StatusUnauthorized, status)
		status, _ = get("")
		require.Equal(t, http.StatusUnauthorized, status)

		cancel()
		select {
		case c := <-code:
			require.Equal(t, ExitOK, c, "%s %s", &out, &errout)
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not stop")
		}
		require.Contains(t, out.String(), "stopped")
	})
}

// Without --dsn the commands use $CRMKIT_DSN, which the help does not
// show (a DSN may hold a password).
func TestDSNFromTheEnvironment(t *testing.T) {
	eachDSN(t, func(t *testing.T, dsn string) {
		t.Setenv(EnvDSN, dsn)
		r := crmkit(t, "", "migrate")
		require.Equal(t, ExitOK, r.code, "%+v", r)
		r = crmkit(t, "email\nada@example.com\n", "import", "-")
		require.Equal(t, ExitOK, r.code, "%+v", r)
		n, err := open(t, dsn).Contacts.Count(context.Background(), filter.Expr{})
		require.NoError(t, err)
		require.Equal(t, int64(1), n)
		r = crmkit(t, "", "--help")
		require.NotContains(t, r.out, dsn)
	})
}

// On a terminal the import shows a progress bar on stderr (by bytes
// read, so a file larger than the 64 KiB the delimiter is detected from:
// a long column that is skipped), and the summary stays on stdout.
func TestImportShowsProgressOnATerminal(t *testing.T) {
	t.Parallel()
	dsn := migratedSQLite(t)
	for _, term := range []bool{false, true} {
		var rows strings.Builder
		rows.WriteString("email,remarks\n")
		remark := strings.Repeat("x", 1000)
		for i := range 150 {
			fmt.Fprintf(&rows, "p%d-%t@example.com,%s\n", i, term, remark)
		}
		root := newRoot(Options{}, func(io.Writer) bool { return term })
		var out, errout bytes.Buffer
		root.SetArgs([]string{"--dsn", dsn, "import", "--batch-size", "15", "--ignore-unknown-columns", write(t, "many.csv", rows.String())})
		root.SetOut(&out)
		root.SetErr(&errout)
		require.NoError(t, root.ExecuteContext(context.Background()))
		require.Contains(t, out.String(), "imported 150 rows: 150 created")
		if term {
			require.Contains(t, errout.String(), "importing")
			require.NotContains(t, out.String(), "importing")
		} else {
			require.Empty(t, errout.String())
		}
	}
}

func TestReadMapping(t *testing.T) {
	t.Parallel()
	m, err := readMapping(write(t, "m.json", ` {"E-Mail": "email", "Kundennummer": "external_id:shop"}`))
	require.NoError(t, err)
	require.Equal(t, map[string]string{"E-Mail": "email", "Kundennummer": "external_id:shop"}, m)
	m, err = readMapping(write(t, "m.map", "\ufeff# shop\n\nE-Mail = email\nTel. = phone\r\nNotiz=-\n"))
	require.NoError(t, err)
	require.Equal(t, map[string]string{"E-Mail": "email", "Tel.": "phone", "Notiz": "-"}, m)
	_, err = readMapping(write(t, "bad.map", "E-Mail = email\nVorname\n"))
	require.ErrorContains(t, err, "line 2")
	_, err = readMapping(write(t, "bad.json", `{"E-Mail": 1}`))
	require.ErrorContains(t, err, "JSON object")
	_, err = readMapping(filepath.Join(t.TempDir(), "missing.map"))
	require.Error(t, err)
	r := crmkit(t, "", "--dsn", "file:"+filepath.Join(t.TempDir(), "x.db"), "import", "--mapping", write(t, "bad.map", "Vorname\n"), "f.csv")
	require.Equal(t, ExitFailure, r.code)
	require.Contains(t, r.errout, "line 1")
}
