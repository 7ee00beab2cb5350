package faultdb

import (
	"context"
	"database/sql/driver"
	"errors"
	"sync"
)

// ErrInjected is the error a failed statement or commit returns.
var ErrInjected = errors.New("faultdb: injected failure")

// Injector fails the n-th statement or the next commit of the connections
// it wraps, once, when armed. It is safe for concurrent use; a test arms
// it around one call, with no other work on the pool.
type Injector struct {
	mu     sync.Mutex
	left   int  // statements to let pass before failing; 0: not armed
	commit bool // fail the next commit
	fired  bool
	seen   int // statements counted since the last Arm or ArmCommit
}

// Arm makes the n-th statement from now fail (n ≥ 1) and clears Fired.
func (in *Injector) Arm(n int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.left, in.commit, in.fired, in.seen = n, false, false, 0
}

// ArmCommit makes the next commit fail: the transaction is rolled back
// and its Commit returns ErrInjected, as when the server refuses a commit.
func (in *Injector) ArmCommit() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.left, in.commit, in.fired, in.seen = 0, true, false, 0
}

// Disarm cancels a pending failure.
func (in *Injector) Disarm() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.left, in.commit = 0, false
}

// Fired reports whether the armed failure happened.
func (in *Injector) Fired() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.fired
}

// Seen is the number of statements run since the last Arm or ArmCommit.
func (in *Injector) Seen() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.seen
}

// statement counts one statement and reports whether it is to fail.
func (in *Injector) statement() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.seen++
	if in.left == 0 {
		return nil
	}
	in.left--
	if in.left > 0 {
		return nil
	}
	in.fired = true
	return ErrInjected
}

// commitFails reports whether this commit is to fail.
func (in *Injector) commitFails() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if !in.commit {
		return false
	}
	in.commit, in.fired = false, true
	return true
}

// Wrap returns a connector whose connections pass every statement and
// commit through in first.
func (in *Injector) Wrap(c driver.Connector) driver.Connector {
	return &connector{raw: c, in: in}
}

type connector struct {
	raw driver.Connector
	in  *Injector
}

func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	raw, err := c.raw.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &conn{raw: raw, in: c.in}, nil
}

func (c *connector) Driver() driver.Driver { return c.raw.Driver() }

// conn passes on the optional interfaces of the drivers crmkit uses
// (pgx's stdlib and modernc's sqlite behind crmkit's gate); where the
// wrapped connection lacks one, it answers driver.ErrSkip so that
// database/sql falls back as it would without the wrapper.
type conn struct {
	raw driver.Conn
	in  *Injector
}

func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	var (
		s   driver.Stmt
		err error
	)
	if p, ok := c.raw.(driver.ConnPrepareContext); ok {
		s, err = p.PrepareContext(ctx, query)
	} else {
		s, err = c.raw.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	return &stmt{raw: s, conn: c}, nil
}

func (c *conn) Close() error { return c.raw.Close() }

func (c *conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	b, ok := c.raw.(driver.ConnBeginTx)
	if !ok {
		return nil, errors.New("faultdb: the wrapped connection lacks BeginTx")
	}
	tx, err := b.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &txn{raw: tx, in: c.in}, nil
}

func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := c.raw.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	if err := c.in.statement(); err != nil {
		return nil, err
	}
	return e.ExecContext(ctx, query, args)
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := c.raw.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	if err := c.in.statement(); err != nil {
		return nil, err
	}
	return q.QueryContext(ctx, query, args)
}

func (c *conn) CheckNamedValue(v *driver.NamedValue) error {
	if n, ok := c.raw.(driver.NamedValueChecker); ok {
		return n.CheckNamedValue(v)
	}
	return driver.ErrSkip
}

func (c *conn) Ping(ctx context.Context) error {
	if p, ok := c.raw.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *conn) ResetSession(ctx context.Context) error {
	if r, ok := c.raw.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *conn) IsValid() bool {
	if v, ok := c.raw.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

type txn struct {
	raw driver.Tx
	in  *Injector
}

func (t *txn) Commit() error {
	if t.in.commitFails() {
		if err := t.raw.Rollback(); err != nil {
			return errors.Join(ErrInjected, err)
		}
		return ErrInjected
	}
	return t.raw.Commit()
}

func (t *txn) Rollback() error { return t.raw.Rollback() }

type stmt struct {
	raw  driver.Stmt
	conn *conn
}

func (s *stmt) Close() error  { return s.raw.Close() }
func (s *stmt) NumInput() int { return s.raw.NumInput() }

func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	if err := s.conn.in.statement(); err != nil {
		return nil, err
	}
	return s.raw.Exec(args) //nolint:staticcheck // the driver's own fallback
}

func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	if err := s.conn.in.statement(); err != nil {
		return nil, err
	}
	return s.raw.Query(args) //nolint:staticcheck // the driver's own fallback
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	e, ok := s.raw.(driver.StmtExecContext)
	if !ok {
		return nil, errors.New("faultdb: the wrapped statement lacks ExecContext")
	}
	if err := s.conn.in.statement(); err != nil {
		return nil, err
	}
	return e.ExecContext(ctx, args)
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := s.raw.(driver.StmtQueryContext)
	if !ok {
		return nil, errors.New("faultdb: the wrapped statement lacks QueryContext")
	}
	if err := s.conn.in.statement(); err != nil {
		return nil, err
	}
	return q.QueryContext(ctx, args)
}

// CheckNamedValue is the statement's check, else its connection's:
// database/sql asks the statement first and would skip the connection's.
func (s *stmt) CheckNamedValue(v *driver.NamedValue) error {
	if n, ok := s.raw.(driver.NamedValueChecker); ok {
		return n.CheckNamedValue(v)
	}
	return s.conn.CheckNamedValue(v)
}
