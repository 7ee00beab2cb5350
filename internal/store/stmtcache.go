package store

import (
	"container/list"
	"context"
	"database/sql"
	"sync"
	"time"
)

// stmtCache keeps the most recently used prepared statements of one pool,
// for drivers that re-parse every query otherwise (SQLite: parsing and
// planning a lookup costs more than running it). database/sql prepares a
// cached *sql.Stmt lazily on each connection it runs on. The cache is
// bounded, because filters produce many query shapes; an evicted statement
// is closed once no query uses it.
type stmtCache struct {
	db  *sql.DB
	max int

	mu    sync.Mutex
	order *list.List // of *cachedStmt, most recent first
	byKey map[string]*list.Element
	// missed are queries run unprepared in a transaction, to prepare
	// once a connection is free (prepareMissed).
	missed map[string]bool
}

// maxMissed bounds the queries waiting to be prepared.
const maxMissed = 64

type cachedStmt struct {
	query string
	stmt  *sql.Stmt
}

func newStmtCache(db *sql.DB, max int) *stmtCache {
	return &stmtCache{db: db, max: max, order: list.New(), byKey: map[string]*list.Element{}, missed: map[string]bool{}}
}

// lookup returns the cached statement of query, or nil.
func (c *stmtCache) lookup(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[query]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*cachedStmt).stmt
	}
	return nil
}

// miss records that query ran unprepared in a transaction.
func (c *stmtCache) miss(query string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.missed) < maxMissed {
		c.missed[query] = true
	}
}

// prepareMissed prepares the queries that ran unprepared in transactions,
// so that the next transaction runs them prepared: writes run in
// transactions, and without this their statements would be parsed anew
// every time. Call it with no transaction open on this goroutine.
func (c *stmtCache) prepareMissed(ctx context.Context) {
	c.mu.Lock()
	// Preparing takes a connection: never wait long for one.
	if len(c.missed) == 0 || c.db.Stats().Idle == 0 {
		c.mu.Unlock()
		return
	}
	queries := make([]string, 0, len(c.missed))
	for q := range c.missed {
		queries = append(queries, q)
	}
	clear(c.missed)
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	for _, q := range queries {
		// A query that fails to prepare runs unprepared, as before.
		_, _ = c.get(ctx, q)
	}
}

// get returns the prepared statement of query, preparing it on the pool on
// first use. It needs a free connection: never call it inside a
// transaction (with one connection it would wait forever).
func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	if st := c.lookup(query); st != nil {
		return st, nil
	}

	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[query]; ok { // prepared concurrently
		_ = st.Close()
		c.order.MoveToFront(e)
		return e.Value.(*cachedStmt).stmt, nil
	}
	c.byKey[query] = c.order.PushFront(&cachedStmt{query: query, stmt: st})
	for c.order.Len() > c.max {
		last := c.order.Back()
		old := c.order.Remove(last).(*cachedStmt)
		delete(c.byKey, old.query)
		// database/sql defers closing the driver statement until the
		// connection that runs it is released.
		_ = old.stmt.Close()
	}
	return st, nil
}

// cachedConn runs queries through the statement cache: on the pool
// directly, or, with tx set, inside that transaction.
type cachedConn struct {
	cache *stmtCache
	tx    *sql.Tx
}

// stmt returns the statement to run query with, or nil to run it
// unprepared: inside a transaction a statement not yet cached is not
// prepared (that needs a second connection); a cached one is bound to the
// transaction's connection, where database/sql reuses or prepares it.
func (c cachedConn) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if c.tx == nil {
		return c.cache.get(ctx, query)
	}
	if st := c.cache.lookup(query); st != nil {
		return c.tx.StmtContext(ctx, st), nil
	}
	c.cache.miss(query)
	return nil, nil
}

func (c cachedConn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := c.stmt(ctx, query)
	switch {
	case err != nil:
		return nil, err
	case st == nil:
		return c.tx.ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}

func (c cachedConn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := c.stmt(ctx, query)
	switch {
	case err != nil:
		return nil, err
	case st == nil:
		return c.tx.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

func (c cachedConn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := c.stmt(ctx, query)
	switch {
	case err != nil:
		// A *sql.Row cannot carry an error made outside database/sql; run
		// the query unprepared to report it.
		return c.cache.db.QueryRowContext(ctx, query, args...)
	case st == nil:
		return c.tx.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}
