package tenantcheck

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/crmkit/crmkit/internal/opendb"
)

// EnvCheck names the environment variable of the directory
// TestSuiteStatements checks: the statement log a test run wrote with
// opendb.EnvSQLLog.
const EnvCheck = "CRM_TEST_SQL_CHECK"

// ReadLog reads every statement of the log files in dir (see
// opendb.EnvSQLLog), dropping repeats. A line cut short (a test binary
// killed while writing) is skipped.
func ReadLog(dir string) ([]opendb.LoggedStatement, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []opendb.LoggedStatement
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
		for sc.Scan() {
			var st opendb.LoggedStatement
			if json.Unmarshal(sc.Bytes(), &st) != nil {
				continue
			}
			key := st.SQL + "\x00" + strings.Join(st.Origin, "\x00")
			if seen[key] {
				continue
			}
			seen[key] = true
			out = append(out, st)
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
	}
	return out, nil
}

// InScope reports whether a recorded statement is crmkit's own SQL: not a
// test's (its innermost crmkit frame in a _test.go file), not the test
// harness's (internal/dbtest: making, emptying and dropping schemas), not
// the migrations' (DDL, data fixes across all tenants, and their
// bookkeeping), and not River's own goroutines' (no crmkit frame).
func InScope(st opendb.LoggedStatement) bool {
	if st.Test || len(st.Origin) == 0 {
		return false
	}
	fn := st.Origin[0]
	return !strings.HasPrefix(fn, "internal/dbtest.") && !strings.HasPrefix(fn, "internal/migrate.")
}
