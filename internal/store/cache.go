package store

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crmkit/crmkit/core"
)

// DefaultSettingsTTL is Runtime.SettingsTTL's default.
const DefaultSettingsTTL = time.Second

// maxCachedKeys bounds the entries of one cache: past it the cache starts
// afresh.
const maxCachedKeys = 10_000

// Cached keeps, per key (a tenant, or a tenant and an entity), a value that
// single writes read on every call and that changes rarely — a module's
// settings: custom field definitions, a scoring model, whether a tenant
// tracks segments. Reading it from the database cost every write a round
// trip.
//
// A change made through crmkit emits an event; the cache drops what it
// holds when one of its event types is appended (in the change's
// transaction) and again after the commit, so a value read in between is
// never kept. A transaction that appended such an event reads through the
// cache for the rest of its life (it must see its own change, which others
// must not). A change made by another process sharing the database, or by
// the host's own SQL, applies within the runtime's SettingsTTL.
//
// Values are shared between goroutines: callers must not change them.
type Cached[T any] struct {
	ttl   time.Duration
	types map[string]bool
	gen   atomic.Uint64
	mu    sync.Mutex
	m     map[string]cachedEntry[T]
}

type cachedEntry[T any] struct {
	v     T
	gen   uint64
	until time.Time
}

// CacheOf returns rt's cache called name, made on first use and dropped by
// the events of types, its values kept for rt.SettingsTTL. Every call for
// one name must give the same T and types.
func CacheOf[T any](rt *Runtime, name string, types ...string) *Cached[T] {
	ttl := rt.SettingsTTL
	if ttl == 0 {
		ttl = DefaultSettingsTTL
	}
	return CacheOfTTL[T](rt, name, ttl, types...)
}

// CacheOfTTL is CacheOf with values kept for ttl (negative: never kept).
func CacheOfTTL[T any](rt *Runtime, name string, ttl time.Duration, types ...string) *Cached[T] {
	if c, ok := rt.caches.Load(name); ok {
		return c.(*Cached[T])
	}
	c := &Cached[T]{ttl: ttl, types: map[string]bool{}, m: map[string]cachedEntry[T]{}}
	for _, t := range types {
		c.types[t] = true
	}
	got, loaded := rt.caches.LoadOrStore(name, c)
	if loaded {
		return got.(*Cached[T])
	}
	if ttl > 0 {
		rt.Hooks.OnAppend(func(ctx context.Context, tx *Tx, evs []core.Event) error {
			for _, ev := range evs {
				if c.types[ev.Type] {
					c.gen.Add(1)
					tx.mark(c)
					break
				}
			}
			return nil
		})
		rt.Hooks.Subscribe(types, func(ctx context.Context, ev core.Event) { c.gen.Add(1) })
	}
	return c
}

// Get returns key's value: the one kept, or load's (kept for the TTL).
// tx is the transaction the caller reads in, nil for none.
func (c *Cached[T]) Get(tx *Tx, key string, load func() (T, error)) (T, error) {
	if c.ttl < 0 || (tx != nil && tx.marked(c)) {
		return load()
	}
	gen := c.gen.Load()
	now := time.Now()
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok && e.gen == gen && now.Before(e.until) {
		return e.v, nil
	}
	v, err := load()
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	if len(c.m) >= maxCachedKeys {
		clear(c.m)
	}
	c.m[key] = cachedEntry[T]{v: v, gen: gen, until: now.Add(c.ttl)}
	c.mu.Unlock()
	return v, nil
}

// mark records that t appended an event that changes what cache c holds.
func (t *Tx) mark(c any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.marks == nil {
		t.marks = map[any]bool{}
	}
	t.marks[c] = true
}

// marked reports whether t appended an event that changes what cache c
// holds.
func (t *Tx) marked(c any) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.marks[c]
}
