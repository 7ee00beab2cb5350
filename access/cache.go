package access

import (
	"context"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// Options configure the access facility (crm.Config.Access).
type Options struct {
	// ResolveTTL is how long a process reuses an actor's resolved
	// permissions — their roles' grants and their teams' members — for
	// the modules' checks, instead of reading them on every call (which
	// costs a list a third of its time). A change of users, roles or
	// teams made through crmkit in the process applies at once: it drops
	// what the process kept. One made by another process sharing the
	// database (PostgreSQL), or by SQL of the host's own, applies within
	// ResolveTTL. Service.Resolve always reads. Default 1s; negative:
	// read on every call.
	ResolveTTL time.Duration
}

// DefaultResolveTTL is Options.ResolveTTL's default.
const DefaultResolveTTL = time.Second

// cacheOption is the key of the resolve cache in the runtime's module
// options, and its name among the runtime's caches.
const cacheOption = "access.resolve"

// Configure gives the facility its options on rt, before the runtime is
// used: crm calls it when it wires the modules. Without it (a module's own
// tests) every call resolves its actor anew. Resolved actors are kept in a
// store.Cached, dropped by every change of users, roles or teams in its
// transaction and again after its commit, so that a call that read the
// old state in between cannot keep it.
func (declaration) Configure(rt *store.Runtime, o Options) {
	if o.ResolveTTL == 0 {
		o.ResolveTTL = DefaultResolveTTL
	}
	if o.ResolveTTL < 0 {
		return
	}
	types := make([]string, 0, len(EventTypes()))
	for _, t := range EventTypes() {
		types = append(types, t.Type)
	}
	if rt.ModuleOptions == nil {
		rt.ModuleOptions = map[string]any{}
	}
	rt.ModuleOptions[cacheOption] = store.CacheOfTTL[*Effective](rt, cacheOption, o.ResolveTTL, types...)
}

// cachedResolve is resolve through sc's runtime cache, when there is one
// and sc is not in a transaction (whose own changes the cache cannot see).
func cachedResolve(ctx context.Context, sc store.Scope, actor core.Actor) (*Effective, error) {
	c, _ := sc.Runtime().ModuleOptions[cacheOption].(*store.Cached[*Effective])
	if c == nil || sc.Tx() != nil {
		return resolve(ctx, sc, actor)
	}
	tenant, err := sc.Tenant()
	if err != nil {
		return nil, err
	}
	// Each part quoted: no two actors share a key.
	key := fmt.Sprintf("%q %q %q %q", tenant, actor.ID, actor.Roles, actor.Teams)
	return c.Get(nil, key, func() (*Effective, error) { return resolve(ctx, sc, actor) })
}
