package store

import (
	"context"
	"sync"

	"github.com/crmkit/crmkit/core"
)

// BeforeFunc runs inside the transaction of a change, before the change's
// event is stored. Returning an error vetoes the change: the whole write is
// rolled back and the error returned to the caller.
type BeforeFunc func(ctx context.Context, tx *Tx, ev core.Event) error

// AfterFunc runs after the transaction that produced ev committed.
type AfterFunc func(ctx context.Context, ev core.Event)

// AppendFunc runs inside a transaction after events were appended to the
// outbox in it (once per Emit, once per EmitAll batch). Returning an error
// vetoes the change.
type AppendFunc func(ctx context.Context, tx *Tx, evs []core.Event) error

type hook[F any] struct {
	id    int
	types []string
	fn    F
}

// Hooks holds the before hooks and after-commit subscribers of one CRM.
// It is safe for concurrent use.
type Hooks struct {
	mu     sync.RWMutex
	nextID int
	before []hook[BeforeFunc]
	after  []hook[AfterFunc]
	append []hook[AppendFunc]
}

// Before registers fn for events whose type matches one of types (an exact
// type, a "contact.*" prefix pattern, or, when types is empty, every event).
// The returned function unregisters it.
func (h *Hooks) Before(types []string, fn BeforeFunc) (remove func()) {
	return register(h, &h.before, types, fn)
}

// Subscribe registers fn to run after commit for events matching types.
func (h *Hooks) Subscribe(types []string, fn AfterFunc) (remove func()) {
	return register(h, &h.after, types, fn)
}

// OnAppend registers fn to run in the transaction after every append of
// events (automation turns them into jobs there).
func (h *Hooks) OnAppend(fn AppendFunc) (remove func()) {
	return register(h, &h.append, nil, fn)
}

func (h *Hooks) runAppend(ctx context.Context, tx *Tx, evs []core.Event) error {
	h.mu.RLock()
	list := h.append
	h.mu.RUnlock()
	for _, e := range list {
		if err := e.fn(ctx, tx, evs); err != nil {
			return err
		}
	}
	return nil
}

func register[F any](h *Hooks, list *[]hook[F], types []string, fn F) func() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.nextID++
	id := h.nextID
	*list = append(*list, hook[F]{id: id, types: append([]string(nil), types...), fn: fn})
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		kept := (*list)[:0:0]
		for _, e := range *list {
			if e.id != id {
				kept = append(kept, e)
			}
		}
		*list = kept
	}
}

// matches reports whether a hook registered for types (none: every
// event) wants an event of type t.
func matches(types []string, t string) bool {
	return len(types) == 0 || MatchesType(types, t)
}

// MatchesType reports whether event type t matches one of patterns: an
// exact type ("contact.created"), a prefix pattern ("contact.*") or "*".
func MatchesType(patterns []string, t string) bool {
	for _, p := range patterns {
		if core.MatchesEventType(p, t) {
			return true
		}
	}
	return false
}

func (h *Hooks) runBefore(ctx context.Context, tx *Tx, ev core.Event) error {
	h.mu.RLock()
	list := h.before
	h.mu.RUnlock()
	for _, e := range list {
		if matches(e.types, ev.Type) {
			if err := e.fn(ctx, tx, ev); err != nil {
				return err
			}
		}
	}
	return nil
}

func (h *Hooks) subscribers(t string) []AfterFunc {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var out []AfterFunc
	for _, e := range h.after {
		if matches(e.types, t) {
			out = append(out, e.fn)
		}
	}
	return out
}

func (h *Hooks) hasSubscriber(t string) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, e := range h.after {
		if matches(e.types, t) {
			return true
		}
	}
	return false
}
