package automation

import (
	"context"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/internal/store"
)

// overRate reports whether the tenant started RateLimit runs in the last
// RateWindow. The count is read from the run log (so it covers every
// process) at most once a second per tenant and process; in between this
// process adds the runs it starts itself.
func (e *Engine) overRate(ctx context.Context, sc store.Scope) (bool, error) {
	tenant, _ := sc.Tenant()
	e.rateMu.Lock()
	r, ok := e.rates[tenant]
	e.rateMu.Unlock()
	if !ok || time.Since(r.read) > time.Second {
		// Never hold rateMu during a query: every worker of every tenant
		// would queue behind it.
		began := time.Now()
		var n int
		err := sc.Q().QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM crm_rule_runs WHERE tenant_id = ? AND started_at > ? LIMIT ?) recent`,
			tenant, e.now().Add(-e.opts.RateWindow), e.opts.RateLimit).Scan(&n)
		if err != nil {
			return false, fmt.Errorf("crm: rate limit: %w", err)
		}
		e.rateMu.Lock()
		// A count read by another worker after this one began is as fresh
		// and holds their reservations: keep it.
		if cur, ok := e.rates[tenant]; !ok || cur.read.Before(began) {
			e.rates[tenant] = &rate{read: time.Now(), count: n}
		}
		e.rateMu.Unlock()
	}
	e.rateMu.Lock()
	defer e.rateMu.Unlock()
	r = e.rates[tenant]
	if r.count >= e.opts.RateLimit {
		return true, nil
	}
	// Reserve the job's first run now, so that workers checking at the
	// same moment do not all pass (see started).
	r.count++
	return false, nil
}

// rate is a tenant's recent run count as this process knows it.
type rate struct {
	read  time.Time
	count int
}

// started counts the runs a dispatch job started beyond the one it
// reserved (or gives the reservation back when it started none).
func (e *Engine) started(tenant string, runs int) {
	e.rateMu.Lock()
	defer e.rateMu.Unlock()
	if r, ok := e.rates[tenant]; ok {
		r.count += runs - 1
	}
}
