package opendb

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
)

// EnvSQLLog names the environment variable that turns the statement log on:
// when it names a directory, every PostgreSQL pool Open makes writes each
// distinct statement it sends to a file of that directory (one file per
// process, <program>-<pid>.jsonl), with the crmkit functions that sent it.
// The test suite runs with it in CI, and internal/tenantcheck then checks
// that every statement on a tenant-scoped table is bound to one tenant.
// Unset (the default), nothing is traced.
const EnvSQLLog = "CRM_TEST_SQL_LOG"

// LoggedStatement is one line of the statement log.
type LoggedStatement struct {
	// SQL is the statement's text as sent (a COPY is written as
	// "COPY table (columns) FROM STDIN").
	SQL string `json:"sql"`
	// Origin is the innermost crmkit frames (function file:line) that
	// sent it, innermost first; empty when no crmkit code was on the stack
	// (River's own goroutines).
	Origin []string `json:"origin,omitempty"`
	// Test is true when the innermost crmkit frame is in a _test.go file:
	// the statement is a test's own SQL, not crmkit's.
	Test bool `json:"test,omitempty"`
}

// sqlLog is the process's statement log of one directory. Its file stays
// open while the process lives.
type sqlLog struct {
	mu   sync.Mutex
	f    *os.File
	seen map[string]bool // statement + origin function
}

// sqlLogs holds the process's open logs by directory.
var (
	sqlLogsMu sync.Mutex
	sqlLogs   = map[string]*sqlLog{}
)

// sqlLogger returns the process's log of the directory EnvSQLLog names, or
// nil when it is unset.
func sqlLogger() (*sqlLog, error) {
	dir := os.Getenv(EnvSQLLog)
	if dir == "" {
		return nil, nil
	}
	sqlLogsMu.Lock()
	defer sqlLogsMu.Unlock()
	if l, ok := sqlLogs[dir]; ok {
		return l, nil
	}
	name := fmt.Sprintf("%s-%d.jsonl", filepath.Base(os.Args[0]), os.Getpid())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("crm: open the statement log of %s: %w", EnvSQLLog, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("crm: open the statement log of %s: %w", EnvSQLLog, err)
	}
	l := &sqlLog{f: f, seen: map[string]bool{}}
	sqlLogs[dir] = l
	return l, nil
}

// modulePath prefixes the functions of crmkit's own packages.
const modulePath = "github.com/crmkit/crmkit/"

// record writes sql once per distinct origin.
func (l *sqlLog) record(sql string) {
	pcs := make([]uintptr, 64)
	n := runtime.Callers(3, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	var st LoggedStatement
	st.SQL = sql
	for {
		fr, more := frames.Next()
		// opendb records and internal/faultdb passes statements on: neither
		// is the code that sent them.
		if strings.HasPrefix(fr.Function, modulePath) && !strings.HasPrefix(fr.Function, modulePath+"internal/opendb.") &&
			!strings.HasPrefix(fr.Function, modulePath+"internal/faultdb.") {
			if len(st.Origin) == 0 {
				st.Test = strings.HasSuffix(fr.File, "_test.go")
			}
			st.Origin = append(st.Origin, fmt.Sprintf("%s %s:%d", strings.TrimPrefix(fr.Function, modulePath), filepath.Base(fr.File), fr.Line))
			if len(st.Origin) == 4 {
				break
			}
		}
		if !more {
			break
		}
	}
	key := sql
	if len(st.Origin) > 0 {
		// The function, not the line: one entry per statement and caller.
		key += "\x00" + st.Origin[0][:strings.IndexByte(st.Origin[0], ' ')]
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen[key] {
		return
	}
	l.seen[key] = true
	line, err := json.Marshal(st)
	if err != nil {
		return
	}
	_, _ = l.f.Write(append(line, '\n'))
}

// TraceQueryStart implements pgx.QueryTracer.
func (l *sqlLog) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	l.record(data.SQL)
	return ctx
}

// TraceQueryEnd implements pgx.QueryTracer.
func (l *sqlLog) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TraceCopyFromStart implements pgx.CopyFromTracer.
func (l *sqlLog) TraceCopyFromStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceCopyFromStartData) context.Context {
	cols := make([]string, len(data.ColumnNames))
	for i, c := range data.ColumnNames {
		cols[i] = pgx.Identifier{c}.Sanitize()
	}
	l.record("COPY " + data.TableName.Sanitize() + " (" + strings.Join(cols, ", ") + ") FROM STDIN")
	return ctx
}

// TraceCopyFromEnd implements pgx.CopyFromTracer.
func (l *sqlLog) TraceCopyFromEnd(context.Context, *pgx.Conn, pgx.TraceCopyFromEndData) {}

// TraceBatchStart implements pgx.BatchTracer.
func (l *sqlLog) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}

// TraceBatchQuery implements pgx.BatchTracer.
func (l *sqlLog) TraceBatchQuery(_ context.Context, _ *pgx.Conn, data pgx.TraceBatchQueryData) {
	l.record(data.SQL)
}

// TraceBatchEnd implements pgx.BatchTracer.
func (l *sqlLog) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

var (
	_ pgx.QueryTracer    = (*sqlLog)(nil)
	_ pgx.CopyFromTracer = (*sqlLog)(nil)
	_ pgx.BatchTracer    = (*sqlLog)(nil)
)
