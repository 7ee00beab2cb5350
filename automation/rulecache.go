package automation

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/store"
)

// tenantConfig is a process's copy of one tenant's enabled rules and
// webhooks, for the decision in the transaction of a change.
type tenantConfig struct {
	loaded time.Time
	rules  []*Rule
	// events holds each rule's Event condition bound for matching (nil:
	// none), by rule index.
	events []*filter.Matcher
	hooks  []hookSub
}

type hookSub struct {
	id    core.ID
	types []string
}

func (c *tenantConfig) empty() bool { return len(c.rules) == 0 && len(c.hooks) == 0 }

// config returns tenant's configuration, from the cache while it is
// fresh, else read through q.
func (e *Engine) config(ctx context.Context, q store.Q, tenant string) (*tenantConfig, error) {
	e.cacheMu.Lock()
	c, ok := e.cache[tenant]
	e.cacheMu.Unlock()
	if ok && time.Since(c.loaded) < e.opts.RuleCacheTTL {
		return c, nil
	}
	c, err := loadConfig(ctx, q, tenant, e.now())
	if err != nil {
		return nil, err
	}
	e.cacheMu.Lock()
	e.cache[tenant] = c
	e.cacheMu.Unlock()
	return c, nil
}

// invalidate drops tenant's cached configuration after a save.
func (e *Engine) invalidate(tenant string) {
	e.cacheMu.Lock()
	delete(e.cache, tenant)
	e.cacheMu.Unlock()
}

func loadConfig(ctx context.Context, q store.Q, tenant string, now time.Time) (*tenantConfig, error) {
	c := &tenantConfig{loaded: time.Now()}
	rows, err := q.Query(ctx, `SELECT `+ruleColumns+` FROM crm_rules r WHERE r.tenant_id = ? AND r.enabled ORDER BY r.created_at, r.id`, tenant)
	if err != nil {
		return nil, fmt.Errorf("crm: load rules: %w", err)
	}
	if err := store.EachRow(rows, func(s store.Scanner) error {
		r, err := scanRule(s)
		if err != nil {
			return err
		}
		var m *filter.Matcher
		if !r.Condition.Event.IsZero() {
			if m, err = eventSchema.Matcher(r.Condition.Event, now); err != nil {
				return fmt.Errorf("rule %s: %w", r.ID, err)
			}
		}
		c.rules, c.events = append(c.rules, r), append(c.events, m)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("crm: load rules: %w", err)
	}
	rows, err = q.Query(ctx, `SELECT id, event_types FROM crm_webhooks WHERE tenant_id = ? AND enabled`, tenant)
	if err != nil {
		return nil, fmt.Errorf("crm: load webhooks: %w", err)
	}
	if err := store.EachRow(rows, func(s store.Scanner) error {
		var h hookSub
		var types []byte
		if err := s.Scan(&h.id, &types); err != nil {
			return err
		}
		if err := json.Unmarshal(types, &h.types); err != nil {
			return err
		}
		c.hooks = append(c.hooks, h)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("crm: load webhooks: %w", err)
	}
	return c, nil
}

// triggered reports whether the i-th rule of c starts a run for ev as far
// as the event decides (its type and the Event condition).
func (c *tenantConfig) triggered(i int, ev core.Event, rec *eventRecord) bool {
	if !store.MatchesType(c.rules[i].Triggers, ev.Type) {
		return false
	}
	return c.events[i] == nil || c.events[i].Match(rec)
}
