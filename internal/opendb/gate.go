package opendb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// An SQLite database has one writer at a time. Writers of one process
// that collide wait in SQLite's busy handler, which sleeps and retries:
// it is not fair, so under load (host writes, several workers, River's
// own bookkeeping) one writer can lose every retry until its busy timeout
// ends in SQLITE_BUSY. The gate queues the writers of the process in Go
// instead, first come first served: every transaction and every writing
// statement outside one passes it. SQLite's busy timeout then only covers
// other processes.

// errGateTimeout is returned when a writer waited for the gate as long as
// the busy timeout.
var errGateTimeout = errors.New("crm: sqlite: database is locked: waited the busy timeout for this process's other writers (SQLITE_BUSY)")

// gate admits one writer at a time.
type gate struct {
	ch      chan struct{}
	timeout time.Duration
}

func newGate(timeout time.Duration) *gate {
	return &gate{ch: make(chan struct{}, 1), timeout: timeout}
}

func (g *gate) acquire(ctx context.Context) error {
	select {
	case g.ch <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(g.timeout)
	defer t.Stop()
	select {
	case g.ch <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return errGateTimeout
	}
}

func (g *gate) release() { <-g.ch }

// gatedConnector opens connections of drv that pass the gate to write.
type gatedConnector struct {
	drv  driver.Driver
	dsn  string
	gate *gate
}

func (c *gatedConnector) Connect(context.Context) (driver.Conn, error) {
	raw, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return &gatedConn{raw: raw, gate: c.gate}, nil
}

func (c *gatedConnector) Driver() driver.Driver { return c.drv }

// connectors remembers the connector of each SQLite pool Open made, so
// that a second pool can share its gate (see Sibling).
var connectors sync.Map // *sql.DB → *gatedConnector

// Sibling opens a second pool of n connections on the SQLite database of
// db, whose writers queue at the same gate as db's: for a component with
// its own steady traffic (River's fetching and bookkeeping) that must not
// wait for a connection behind the host's goroutines. ok is false when db
// was not opened by OpenSQLite.
func Sibling(db *sql.DB, n int) (sib *sql.DB, ok bool) {
	c, found := connectors.Load(db)
	if !found {
		return nil, false
	}
	sib = sql.OpenDB(c.(*gatedConnector))
	sib.SetMaxOpenConns(n)
	sib.SetMaxIdleConns(n)
	return sib, true
}

// The interfaces of modernc's connection the gated one passes on.
type fullConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
}

type gatedConn struct {
	raw   driver.Conn
	gate  *gate
	inTx  bool
	stmts connStmts // see stmts.go
}

func (c *gatedConn) full() (fullConn, error) {
	f, ok := c.raw.(fullConn)
	if !ok {
		return nil, fmt.Errorf("crm: sqlite driver connection %T lacks context methods", c.raw)
	}
	return f, nil
}

func (c *gatedConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *gatedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	f, err := c.full()
	if err != nil {
		return nil, err
	}
	s, err := f.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return &gatedStmt{raw: s, conn: c, write: writes(query)}, nil
}

func (c *gatedConn) Close() error {
	c.closeStmts()
	return c.raw.Close()
}

func (c *gatedConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

// BeginTx passes the gate: crmkit's SQLite transactions take the write
// lock at BEGIN (_txlock=immediate), so each is a writer. The gate is
// held until Commit or Rollback.
func (c *gatedConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	f, err := c.full()
	if err != nil {
		return nil, err
	}
	if err := c.gate.acquire(ctx); err != nil {
		return nil, err
	}
	tx, err := f.BeginTx(ctx, opts)
	if err != nil {
		c.gate.release()
		return nil, err
	}
	c.inTx = true
	return &gatedTx{raw: tx, conn: c}, nil
}

// enter passes the gate for a statement outside a transaction that
// writes; leave is then called when it is done.
func (c *gatedConn) enter(ctx context.Context, write bool) (leave func(), err error) {
	if c.inTx || !write {
		return func() {}, nil
	}
	if err := c.gate.acquire(ctx); err != nil {
		return nil, err
	}
	return c.gate.release, nil
}

func (c *gatedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	f, err := c.full()
	if err != nil {
		return nil, err
	}
	if len(args) > 0 {
		if k := c.kept(ctx, f, query); k != nil {
			return c.exec(ctx, k.write, func() (driver.Result, error) { return k.st.ExecContext(ctx, args) })
		}
	}
	return c.exec(ctx, writes(query), func() (driver.Result, error) { return f.ExecContext(ctx, query, args) })
}

func (c *gatedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	f, err := c.full()
	if err != nil {
		return nil, err
	}
	if len(args) > 0 {
		if k := c.kept(ctx, f, query); k != nil {
			k.open = true
			rows, err := c.query(ctx, k.write, func() (driver.Rows, error) { return k.st.QueryContext(ctx, args) })
			if err != nil {
				k.open = false
				return nil, err
			}
			return &keptRows{passedRows: passedRows{rows}, k: k}, nil
		}
	}
	return c.query(ctx, writes(query), func() (driver.Rows, error) { return f.QueryContext(ctx, query, args) })
}

// exec runs a statement, through the gate when it writes.
func (c *gatedConn) exec(ctx context.Context, write bool, run func() (driver.Result, error)) (driver.Result, error) {
	leave, err := c.enter(ctx, write)
	if err != nil {
		return nil, err
	}
	defer leave()
	return run()
}

// query runs a query, through the gate when it writes: a writing query
// (UPDATE … RETURNING) holds the gate until its rows are read or closed.
func (c *gatedConn) query(ctx context.Context, write bool, run func() (driver.Rows, error)) (driver.Rows, error) {
	leave, err := c.enter(ctx, write)
	if err != nil {
		return nil, err
	}
	rows, err := run()
	if err != nil {
		leave()
		return nil, err
	}
	if !write || c.inTx {
		return rows, nil
	}
	return &gatedRows{passedRows: passedRows{rows}, leave: leave}, nil
}

func (c *gatedConn) Ping(ctx context.Context) error {
	if p, ok := c.raw.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *gatedConn) ResetSession(ctx context.Context) error {
	if r, ok := c.raw.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *gatedConn) IsValid() bool {
	if v, ok := c.raw.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

type gatedTx struct {
	raw  driver.Tx
	conn *gatedConn
}

func (t *gatedTx) end(err error) error {
	t.conn.inTx = false
	t.conn.gate.release()
	return err
}

func (t *gatedTx) Commit() error   { return t.end(t.raw.Commit()) }
func (t *gatedTx) Rollback() error { return t.end(t.raw.Rollback()) }

type fullStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

type gatedStmt struct {
	raw   driver.Stmt
	conn  *gatedConn
	write bool
}

func (s *gatedStmt) full() (fullStmt, error) {
	f, ok := s.raw.(fullStmt)
	if !ok {
		return nil, fmt.Errorf("crm: sqlite driver statement %T lacks context methods", s.raw)
	}
	return f, nil
}

func (s *gatedStmt) Close() error  { return s.raw.Close() }
func (s *gatedStmt) NumInput() int { return s.raw.NumInput() }

func (s *gatedStmt) Exec(args []driver.Value) (driver.Result, error) {
	return nil, errors.New("crm: sqlite: Exec without context is not supported")
}

func (s *gatedStmt) Query(args []driver.Value) (driver.Rows, error) {
	return nil, errors.New("crm: sqlite: Query without context is not supported")
}

func (s *gatedStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	f, err := s.full()
	if err != nil {
		return nil, err
	}
	return s.conn.exec(ctx, s.write, func() (driver.Result, error) { return f.ExecContext(ctx, args) })
}

func (s *gatedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	f, err := s.full()
	if err != nil {
		return nil, err
	}
	return s.conn.query(ctx, s.write, func() (driver.Rows, error) { return f.QueryContext(ctx, args) })
}

// gatedRows are the rows of a writing query outside a transaction: the
// gate is held until they are read to the end or closed.
type gatedRows struct {
	passedRows // the column type methods, see rows.go
	leave      func()
	done       bool
}

func (r *gatedRows) Close() error {
	err := r.Rows.Close()
	if !r.done {
		r.done = true
		r.leave()
	}
	return err
}

func (r *gatedRows) Next(dest []driver.Value) error {
	err := r.Rows.Next(dest)
	if err == io.EOF && !r.done {
		// Stepped to the end: SQLite has finished the statement.
		r.done = true
		r.leave()
	}
	return err
}

// writes reports whether a statement may write: anything but a plain
// SELECT, EXPLAIN or VALUES (a WITH is a writer when it names INSERT,
// UPDATE, DELETE or REPLACE).
func writes(query string) bool {
	q := strings.TrimSpace(stripComments(query))
	word, rest, _ := strings.Cut(q, " ")
	word = strings.ToUpper(strings.TrimRight(word, "(\n\t"))
	switch word {
	case "SELECT", "EXPLAIN", "VALUES":
		return false
	case "WITH":
		up := strings.ToUpper(rest)
		for _, w := range []string{"INSERT", "UPDATE", "DELETE", "REPLACE"} {
			if strings.Contains(up, w) {
				return true
			}
		}
		return false
	}
	return true
}

// stripComments drops the leading "--" and "/* */" comments of a query.
func stripComments(q string) string {
	for {
		q = strings.TrimSpace(q)
		switch {
		case strings.HasPrefix(q, "--"):
			_, after, ok := strings.Cut(q, "\n")
			if !ok {
				return ""
			}
			q = after
		case strings.HasPrefix(q, "/*"):
			_, after, ok := strings.Cut(q, "*/")
			if !ok {
				return ""
			}
			q = after
		default:
			return q
		}
	}
}
