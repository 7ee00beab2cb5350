package opendb

import (
	"container/list"
	"context"
)

// SQLite parses and plans every statement it is given as text; for the
// short statements of a CRM that costs more than running them. database/sql
// passes a query with arguments straight to the connection (ExecerContext,
// QueryerContext), so nothing is prepared unless the caller prepares it —
// and River's SQLite driver, whose bookkeeping is a large part of the
// background work, never does. Each connection therefore keeps its most
// recently used statements prepared, keyed by their text. Only statements
// with arguments are kept (those without are DDL and scripts, run rarely).

// maxConnStmts bounds the statements one connection keeps prepared.
const maxConnStmts = 128

// connStmts is one connection's prepared statements, most recent first.
// A connection is used by one goroutine at a time, so it needs no lock.
type connStmts struct {
	order *list.List // of *keptStmt
	byKey map[string]*list.Element
}

type keptStmt struct {
	query string
	st    fullStmt
	write bool
	// open: rows of the statement are being read; a second use of the
	// same query meanwhile (a nested loop on one connection) runs it
	// unprepared. closeAfter: evicted while open, closed with its rows.
	open, closeAfter bool
}

// kept returns the statement of query prepared on c, preparing it on first
// use, or nil when it cannot be used now (in use, or not preparable).
func (c *gatedConn) kept(ctx context.Context, f fullConn, query string) *keptStmt {
	if c.stmts.byKey == nil {
		c.stmts = connStmts{order: list.New(), byKey: map[string]*list.Element{}}
	}
	if e, ok := c.stmts.byKey[query]; ok {
		k := e.Value.(*keptStmt)
		if k.open {
			return nil
		}
		c.stmts.order.MoveToFront(e)
		return k
	}
	s, err := f.PrepareContext(ctx, query)
	if err != nil {
		return nil // run unprepared: the error is reported there
	}
	st, ok := s.(fullStmt)
	if !ok {
		_ = s.Close()
		return nil
	}
	k := &keptStmt{query: query, st: st, write: writes(query)}
	c.stmts.byKey[query] = c.stmts.order.PushFront(k)
	for c.stmts.order.Len() > maxConnStmts {
		old := c.stmts.order.Remove(c.stmts.order.Back()).(*keptStmt)
		delete(c.stmts.byKey, old.query)
		if old.open {
			old.closeAfter = true
		} else {
			_ = old.st.Close()
		}
	}
	return k
}

// closeStmts closes the statements c keeps, before c closes.
func (c *gatedConn) closeStmts() {
	if c.stmts.order == nil {
		return
	}
	for e := c.stmts.order.Front(); e != nil; e = e.Next() {
		_ = e.Value.(*keptStmt).st.Close()
	}
	c.stmts = connStmts{}
}

// keptRows are the rows of a kept statement: closing them frees it.
type keptRows struct {
	passedRows // the column type methods, see rows.go
	k          *keptStmt
	done       bool
}

func (r *keptRows) Close() error {
	err := r.Rows.Close()
	if !r.done {
		r.done = true
		r.k.open = false
		if r.k.closeAfter {
			_ = r.k.st.Close()
		}
	}
	return err
}
