package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"

	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/core"
)

// Tx is one transaction crmkit writes in: its own, or the host's.
type Tx struct {
	rt  *Runtime
	bun bun.Tx
	q   Q
	own bool
	// conn is the connection of a transaction crmkit began, nil for a
	// host's; it is returned to the pool when the transaction ends.
	conn *sql.Conn

	mu         sync.Mutex
	pending    []core.Event
	savepoints int
	marks      map[any]bool // the caches whose values this transaction changed (Cached)
}

// Q returns the querier of the transaction.
func (t *Tx) Q() Q { return t.q }

// Bun returns the bun transaction, e.g. for River's InsertTx.
func (t *Tx) Bun() bun.Tx { return t.bun }

// Runtime returns the runtime the transaction belongs to.
func (t *Tx) Runtime() *Runtime { return t.rt }

// Emit appends ev to the outbox in this transaction. It fills in the id, the
// time (the clock's, unless set) and the actor from ctx, runs the before
// hooks (any error vetoes the change), and queues ev for the after-commit
// subscribers registered now.
func (t *Tx) Emit(ctx context.Context, ev core.Event) error {
	if err := t.fill(ctx, &ev); err != nil {
		return err
	}
	_, err := t.q.Exec(ctx, insertEventSQL, eventRow(ev)...)
	if err != nil {
		return fmt.Errorf("crm: append event %s: %w", ev.Type, err)
	}
	evs := []core.Event{ev}
	if err := t.rt.Hooks.runAppend(ctx, t, evs); err != nil {
		return err
	}
	t.queue(evs)
	return nil
}

// queue keeps evs for delivery after commit, those of types that have a
// subscriber now: events nobody listens to take no memory until the commit
// (a long transaction may emit millions).
func (t *Tx) queue(evs []core.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	lastType, subscribed := "", false
	for i, ev := range evs {
		if i == 0 || ev.Type != lastType {
			lastType, subscribed = ev.Type, t.rt.Hooks.hasSubscriber(ev.Type)
		}
		if subscribed {
			t.pending = append(t.pending, ev)
		}
	}
}

// fill completes ev for storing (id, time, actor, data) and runs the before
// hooks on it.
func (t *Tx) fill(ctx context.Context, ev *core.Event) error {
	if ev.ID == core.NilID {
		ev.ID = core.NewID()
	}
	if ev.OccurredAt.IsZero() {
		ev.OccurredAt = t.rt.Now()
	}
	ev.OccurredAt = core.NormalizeTime(ev.OccurredAt)
	if a, ok := core.ActorFrom(ctx); ok && ev.ActorID == "" {
		ev.ActorID = a.ID
	}
	if len(ev.Data) == 0 {
		ev.Data = json.RawMessage("{}")
	}
	if ev.ContactID == nil && ev.SubjectType == "contact" {
		ev.ContactID = core.About(ev.SubjectID)
	}
	return t.rt.Hooks.runBefore(ctx, t, *ev)
}

// run executes fn in t, which the caller began, and commits or rolls back.
// After a commit the queued events are delivered.
func (t *Tx) run(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	// The connection goes back to the pool as soon as the transaction ends,
	// before subscribers run (they may query, and a pool may have one
	// connection).
	release := func() {
		if t.conn != nil {
			_ = t.conn.Close()
		}
	}
	defer func() {
		if p := recover(); p != nil {
			_ = t.bun.Rollback()
			release()
			panic(p)
		}
	}()
	if err := fn(ctx); err != nil {
		_ = t.bun.Rollback()
		release()
		t.rt.prepareMissed(ctx)
		return err
	}
	err = t.bun.Commit()
	release()
	t.rt.prepareMissed(ctx)
	if err != nil {
		return fmt.Errorf("crm: commit: %w", err)
	}
	t.Committed(ctx)
	return nil
}

// savepoint runs fn inside a SAVEPOINT of t, so that when fn fails its
// statements (and its events) are undone while the enclosing transaction
// lives on.
func (t *Tx) savepoint(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	t.mu.Lock()
	t.savepoints++
	name := "crm_sp_" + strconv.Itoa(t.savepoints)
	mark := len(t.pending)
	t.mu.Unlock()

	if _, err := t.q.Exec(ctx, "SAVEPOINT "+name); err != nil {
		return fmt.Errorf("crm: savepoint: %w", err)
	}
	undo := func() {
		// ROLLBACK TO keeps the savepoint; RELEASE then drops it.
		_, _ = t.q.Exec(context.WithoutCancel(ctx), "ROLLBACK TO SAVEPOINT "+name)
		_, _ = t.q.Exec(context.WithoutCancel(ctx), "RELEASE SAVEPOINT "+name)
		t.mu.Lock()
		t.pending = t.pending[:mark]
		t.mu.Unlock()
	}
	defer func() {
		if p := recover(); p != nil {
			undo()
			panic(p)
		}
	}()
	if err := fn(ctx); err != nil {
		undo()
		return err
	}
	if _, err := t.q.Exec(ctx, "RELEASE SAVEPOINT "+name); err != nil {
		undo()
		return fmt.Errorf("crm: release savepoint: %w", err)
	}
	return nil
}

// Committed delivers the events queued in t to the after-commit
// subscribers and forgets them. crmkit calls it for its own transactions;
// a host that joined its own transaction calls it after committing.
// Subscribers run one after the other in the calling goroutine; a panic in
// one is recovered and logged and does not stop the others.
func (t *Tx) Committed(ctx context.Context) {
	t.mu.Lock()
	events := t.pending
	t.pending = nil
	t.mu.Unlock()
	ctx = context.WithoutCancel(ctx)
	for _, ev := range events {
		for _, fn := range t.rt.Hooks.subscribers(ev.Type) {
			t.deliver(ctx, fn, ev)
		}
	}
}

// Discard forgets queued events without delivering them, for a host
// transaction that was rolled back.
func (t *Tx) Discard() {
	t.mu.Lock()
	t.pending = nil
	t.mu.Unlock()
}

func (t *Tx) deliver(ctx context.Context, fn AfterFunc, ev core.Event) {
	defer func() {
		if p := recover(); p != nil {
			t.rt.Logger.ErrorContext(ctx, "crm: event subscriber panicked", "event", ev.Type, "id", ev.ID, "panic", p)
		}
	}()
	fn(ctx, ev)
}
