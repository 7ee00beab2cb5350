package automation

import (
	"context"
	"fmt"

	"github.com/crmkit/crmkit/internal/store"
)

// pruneBatch is how many log rows one prune statement deletes.
const pruneBatch = 5000

// PruneLogs deletes, in every tenant, the runs (with their steps) and the
// webhook deliveries (with their attempts) that finished more than
// Options.LogRetention ago, in batches; runs that wait and deliveries
// still pending are kept. Start runs it daily. It returns how many runs
// and deliveries it deleted.
func (e *Engine) PruneLogs(ctx context.Context) (runs, deliveries int64, err error) {
	if e.opts.LogRetention < 0 {
		return 0, 0, nil
	}
	cutoff := e.now().Add(-e.opts.LogRetention)
	q := store.NewScope(e.rt).Q()
	for _, t := range []struct {
		table string
		n     *int64
	}{{"crm_rule_runs", &runs}, {"crm_webhook_deliveries", &deliveries}} {
		// Tenant by tenant, so that each statement stays within one
		// tenant's rows (see internal/tenantcheck). Steps and attempts go
		// with them (ON DELETE CASCADE).
		tenants, err := e.rt.TenantsWithRows(ctx, t.table)
		if err != nil {
			return runs, deliveries, fmt.Errorf("crm: prune %s: %w", t.table, err)
		}
		stmt := `DELETE FROM ` + t.table + ` WHERE tenant_id = ? AND id IN
			(SELECT id FROM ` + t.table + ` WHERE tenant_id = ? AND finished_at IS NOT NULL AND finished_at < ? LIMIT ?)`
		for _, tenant := range tenants {
			for {
				res, err := q.Exec(ctx, stmt, tenant, tenant, cutoff, pruneBatch)
				if err != nil {
					return runs, deliveries, fmt.Errorf("crm: prune %s of tenant %s: %w", t.table, tenant, err)
				}
				n, err := res.RowsAffected()
				if err != nil {
					return runs, deliveries, err
				}
				*t.n += n
				if n < pruneBatch {
					break
				}
			}
		}
	}
	return runs, deliveries, nil
}
