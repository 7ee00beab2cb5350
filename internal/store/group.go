package store

import (
	"context"
	"sync"

	"github.com/crmkit/crmkit/internal/dialect"
)

// SQLite has one writer, and every transaction pays for its commit (the
// WAL frames of every page it dirtied). Small independent writes that
// arrive together — a campaign's clicks and opens, one request each — are
// cheaper committed together: WriteGrouped runs each in a savepoint of a
// transaction shared with the writes of its kind waiting at that moment
// (group commit). Each write still succeeds or fails alone, and returns
// only once the transaction that holds it committed.

// maxGroup bounds the writes of one grouped transaction, and leaderRounds
// how many transactions one caller runs for others before it hands the
// work on (its own call waits for them).
const (
	maxGroup     = 64
	leaderRounds = 4
)

// writeGroup is the queue of grouped writes of one kind.
type writeGroup struct {
	mu      sync.Mutex
	pending []*groupedWrite
	running bool
}

type groupedWrite struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx *Tx) error
	done chan groupResult
}

// groupResult ends a grouped write: its error, or lead: the caller is to
// run the next transactions.
type groupResult struct {
	err  error
	lead bool
}

// WriteGrouped is Write for small writes of one kind (key) that arrive
// together and need not share anything but the commit: on SQLite, writes
// waiting at the same time run in one transaction, each in a savepoint of
// its own. fn must not begin, commit or wait for other work. In a
// transaction of the caller's, and on PostgreSQL (which commits
// concurrent transactions side by side), it is Write.
func (s Scope) WriteGrouped(ctx context.Context, key string, fn func(ctx context.Context, tx *Tx) error) error {
	if s.err != nil {
		return s.err
	}
	if s.tx != nil || s.rt.Dialect.Kind != dialect.SQLite {
		return s.Write(ctx, fn)
	}
	v, _ := s.rt.groups.LoadOrStore(key, &writeGroup{})
	g := v.(*writeGroup)
	w := &groupedWrite{ctx: ctx, fn: fn, done: make(chan groupResult, 1)}
	g.mu.Lock()
	g.pending = append(g.pending, w)
	lead := !g.running
	g.running = true
	g.mu.Unlock()
	for {
		if lead {
			s.rt.leadGroup(g)
		}
		r := <-w.done
		if !r.lead {
			return r.err
		}
		lead = true
	}
}

// leadGroup runs transactions of g's pending writes, up to leaderRounds,
// then hands the rest to the first of them that waits.
func (rt *Runtime) leadGroup(g *writeGroup) {
	for round := 0; ; round++ {
		g.mu.Lock()
		if len(g.pending) == 0 {
			g.running = false
			g.mu.Unlock()
			return
		}
		if round == leaderRounds {
			// Hand over: the first waiting write leads from here.
			next := g.pending[0]
			g.mu.Unlock()
			next.done <- groupResult{lead: true}
			return
		}
		n := min(len(g.pending), maxGroup)
		batch := g.pending[:n:n]
		g.pending = g.pending[n:]
		g.mu.Unlock()
		rt.runGroup(batch)
	}
}

// runGroup runs batch in one transaction and tells each write its result.
func (rt *Runtime) runGroup(batch []*groupedWrite) {
	errs := make([]error, len(batch))
	ctx := context.WithoutCancel(batch[0].ctx)
	tx, err := rt.begin(ctx)
	if err == nil {
		err = tx.run(ctx, func(ctx context.Context) error {
			for i, w := range batch {
				if err := w.ctx.Err(); err != nil {
					errs[i] = err
					continue
				}
				errs[i] = tx.savepoint(w.ctx, func(ctx context.Context) error { return w.fn(ctx, tx) })
			}
			return nil
		})
	}
	for i, w := range batch {
		if err != nil && errs[i] == nil {
			errs[i] = err // the transaction failed: nothing of it was written
		}
		w.done <- groupResult{err: errs[i]}
	}
}
