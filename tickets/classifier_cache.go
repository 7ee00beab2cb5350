package tickets

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/crmkit/crmkit/internal/store"
)

// The tenant's active models: their versions read each time, their
// contents decoded once per version and cached for the runtime.

// loadModels returns tenant's active models, read through q: the models'
// versions are looked up every time (another process may have trained),
// their contents decoded once per version and kept in the runtime's
// cache.
func loadModels(ctx context.Context, sc store.Scope, q store.Q, tenant string) (activeModels, error) {
	rows, err := q.Query(ctx, `SELECT target, version FROM crm_ticket_classifiers WHERE tenant_id = ?`, tenant)
	if err != nil {
		return nil, err
	}
	type ver struct {
		target  ClassifierTarget
		version int64
	}
	var vers []ver
	if err := store.EachRow(rows, func(r store.Scanner) error {
		var v ver
		err := r.Scan(&v.target, &v.version)
		vers = append(vers, v)
		return err
	}); err != nil {
		return nil, err
	}
	if len(vers) == 0 {
		return nil, nil
	}
	cache := optionsOf(sc).models
	out := activeModels{}
	for _, v := range vers {
		if cm := cache.get(tenant, v.target, v.version); cm != nil {
			out[v.target] = cm
			continue
		}
		var blob []byte
		cm := &cachedModel{}
		err := q.QueryRow(ctx, `SELECT version, model FROM crm_ticket_classifiers WHERE tenant_id = ? AND target = ?`, tenant, string(v.target)).
			Scan(&cm.version, &blob)
		if errors.Is(err, sql.ErrNoRows) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		if cm.model, err = unmarshalModel(blob); err != nil {
			return nil, fmt.Errorf("decode the %s model (version %d): %w", v.target, cm.version, err)
		}
		cache.put(tenant, v.target, cm)
		out[v.target] = cm
	}
	return out, nil
}

// cachedModel is a decoded model of one version.
type cachedModel struct {
	version int64
	model   *nbModel
}

// maxCachedModels bounds the models the cache holds (two per tenant).
const maxCachedModels = 256

// modelCache keeps the decoded models of one runtime, by tenant and
// target; a nil cache keeps nothing.
type modelCache struct {
	mu     sync.Mutex
	models map[string]*cachedModel
}

func newModelCache() *modelCache { return &modelCache{models: map[string]*cachedModel{}} }

func cacheKey(tenant string, target ClassifierTarget) string { return tenant + "\x00" + string(target) }

// get returns the cached model of tenant's target at version, or nil.
func (c *modelCache) get(tenant string, target ClassifierTarget, version int64) *cachedModel {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cm := c.models[cacheKey(tenant, target)]; cm != nil && cm.version == version {
		return cm
	}
	return nil
}

// put caches cm, evicting another model when the cache is full.
func (c *modelCache) put(tenant string, target ClassifierTarget, cm *cachedModel) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	key := cacheKey(tenant, target)
	if cur := c.models[key]; cur != nil && cur.version > cm.version {
		return
	}
	if _, ok := c.models[key]; !ok && len(c.models) >= maxCachedModels {
		for k := range c.models {
			delete(c.models, k)
			break
		}
	}
	c.models[key] = cm
}
