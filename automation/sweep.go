package automation

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// erasedColumn tells, for an event e, whether the person it is about has
// been erased (consent's erasure receipts, read only): rules do not act
// on an erased person's past events, whose runs the erasure deleted.
const erasedColumn = `EXISTS (SELECT 1 FROM crm_erasures x WHERE x.tenant_id = e.tenant_id AND x.contact_id = e.contact_id)`

// sweepBatch is how many events one sweep transaction looks at.
const sweepBatch = 1000

// Sweep finds the events that an enabled rule or webhook wants but that
// never got a dispatch job, and queues them. Normally there are none: the
// job is inserted in the transaction of the change. But a process decides
// that with its copy of the tenant's rules, which may be up to
// Options.RuleCacheTTL old when another process has just saved a rule.
// Sweep looks at every event once (a watermark per tenant), leaving out
// the last Options.SweepLag (of the wall clock, which the time-ordered
// ids follow) so that transactions still open can commit; an event counts
// as missed for a rule created before it that has no run for it (and for a
// webhook, no delivery). Dispatch is idempotent, so an
// event queued twice still acts once. Start runs it every
// Options.SweepEvery.
func (e *Engine) Sweep(ctx context.Context) error {
	// A tenant listing (see internal/tenantcheck): the tenants to sweep.
	rows, err := store.NewScope(e.rt).Q().Query(ctx, `SELECT tenant_id FROM crm_rules WHERE enabled
		UNION SELECT tenant_id FROM crm_webhooks WHERE enabled ORDER BY 1 /* crm:tenant-listing */`)
	if err != nil {
		return fmt.Errorf("crm: sweep: %w", err)
	}
	var tenants []string
	if err := store.EachRow(rows, func(s store.Scanner) error {
		var t string
		err := s.Scan(&t)
		tenants = append(tenants, t)
		return err
	}); err != nil {
		return fmt.Errorf("crm: sweep: %w", err)
	}
	var errs []error
	for _, t := range tenants {
		if _, err := e.sweepTenant(ctx, t); err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", t, err))
		}
	}
	return errors.Join(errs...)
}

// idAt is the smallest UUIDv7 of wall-clock time t: events with a smaller
// id were created before t.
func idAt(t time.Time) core.ID {
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(t.UnixMilli()))
	var id core.ID
	copy(id[:6], ms[2:])
	return msFloor(id)
}

// sweepTenant sweeps one tenant and returns how many events it queued.
func (e *Engine) sweepTenant(ctx context.Context, tenant string) (int, error) {
	sc := store.NewScope(e.rt).WithTenant(tenant)
	cfg, err := loadConfig(ctx, sc.Q(), tenant, e.now())
	if err != nil || cfg.empty() {
		return 0, err
	}
	// Start at the watermark, or at the oldest rule or webhook: earlier
	// events cannot be wanted.
	var mark core.ID
	err = sc.Q().QueryRow(ctx, `SELECT last_event_id FROM crm_automation_sweeps WHERE tenant_id = ?`, tenant).Scan(&mark)
	if errors.Is(err, sql.ErrNoRows) {
		// Ids are UUIDv7 of the wall clock: the oldest rule's or webhook's
		// id, cut to its millisecond, is where wanted events can begin.
		oldest := idAt(time.Now())
		for _, r := range cfg.rules {
			oldest = minID(oldest, r.ID)
		}
		for _, h := range cfg.hooks {
			oldest = minID(oldest, h.id)
		}
		mark, err = msFloor(oldest), nil
	}
	if err != nil {
		return 0, err
	}
	until, err := e.sweepUntil(ctx, sc)
	if err != nil {
		return 0, err
	}
	queued := 0
	for {
		var n int
		err := sc.InTx(ctx, func(ctx context.Context, sc store.Scope) error {
			var missed []core.ID
			var err error
			n, mark, missed, err = e.sweepBatch(ctx, sc, cfg, mark, until)
			if err != nil {
				return err
			}
			if len(missed) > 0 {
				if _, err := e.client.InsertTx(ctx, sc.Tx().Bun().Tx, dispatchArgs{payload: header(tenant), Events: missed}, nil); err != nil {
					return err
				}
				e.log.WarnContext(ctx, "crm: sweep queued events that had no automation job", "tenant", tenant, "events", len(missed))
				queued += len(missed)
			}
			_, err = sc.Q().Exec(ctx, `INSERT INTO crm_automation_sweeps (tenant_id, last_event_id, swept_at) VALUES (?, ?, ?)
				ON CONFLICT (tenant_id) DO UPDATE SET last_event_id = excluded.last_event_id, swept_at = excluded.swept_at`,
				tenant, mark, e.now())
			return err
		})
		if err != nil {
			return queued, fmt.Errorf("crm: sweep: %w", err)
		}
		if n < sweepBatch {
			return queued, nil
		}
	}
}

// sweepUntil is where a sweep stops: SweepLag ago, or earlier while
// dispatch jobs wait in River (a backlog): their events have jobs, and
// queueing them again would only add work.
func (e *Engine) sweepUntil(ctx context.Context, sc store.Scope) (core.ID, error) {
	until := time.Now().Add(-e.opts.SweepLag)
	// The column itself, not min() of it: SQLite returns an aggregate of a
	// timestamp as text.
	var oldest time.Time
	err := sc.Q().QueryRow(ctx, `SELECT created_at FROM river_job WHERE kind = 'crm.dispatch'
		AND state IN ('available', 'pending', 'retryable', 'running', 'scheduled') ORDER BY created_at LIMIT 1`).Scan(&oldest)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return core.NilID, fmt.Errorf("oldest waiting job: %w", err)
	case oldest.Before(until):
		until = oldest
	}
	return idAt(until), nil
}

func minID(a, b core.ID) core.ID {
	if bytes.Compare(b[:], a[:]) < 0 {
		return b
	}
	return a
}

// msFloor is the smallest UUIDv7 of the millisecond of id.
func msFloor(id core.ID) core.ID {
	var out core.ID
	copy(out[:6], id[:6])
	out[6], out[8] = 0x70, 0x80
	return out
}

// sweepBatch reads up to sweepBatch events after mark (and before until)
// and returns how many it read, the new mark and the ids of those missed.
func (e *Engine) sweepBatch(ctx context.Context, sc store.Scope, cfg *tenantConfig, mark, until core.ID) (int, core.ID, []core.ID, error) {
	tenant, _ := sc.Tenant()
	rows, err := sc.Q().Query(ctx, `SELECT `+store.EventColumns("e")+`, `+erasedColumn+` FROM crm_events e
		WHERE e.tenant_id = ? AND e.id > ? AND e.id < ? ORDER BY e.id LIMIT ?`, tenant, mark, until, sweepBatch)
	if err != nil {
		return 0, mark, nil, err
	}
	var all, evs []core.Event
	if err := store.EachRow(rows, func(s store.Scanner) error {
		var erased bool
		ev, err := store.ScanEvent(s, &erased)
		all = append(all, ev)
		if !erased {
			evs = append(evs, ev)
		}
		return err
	}); err != nil {
		return 0, mark, nil, err
	}
	if len(all) == 0 {
		return 0, mark, nil, nil
	}
	mark = all[len(all)-1].ID
	if len(evs) == 0 {
		return len(all), mark, nil, nil
	}
	// What each event should have: a run per rule, a delivery per webhook.
	type want struct {
		ev    core.Event
		rules []core.ID
		keys  []string
	}
	var wants []want
	var ids []string
	for _, ev := range evs {
		rec := &eventRecord{ev: ev}
		w := want{ev: ev}
		for i, r := range cfg.rules {
			// Only rules that existed when the event happened (ids are
			// time-ordered).
			if bytes.Compare(r.ID[:], ev.ID[:]) < 0 && cfg.triggered(i, ev, rec) {
				w.rules = append(w.rules, r.ID)
			}
		}
		for _, h := range cfg.hooks {
			if bytes.Compare(h.id[:], ev.ID[:]) < 0 && store.MatchesType(h.types, ev.Type) {
				w.keys = append(w.keys, deliveryKey(h.id, ev.ID))
			}
		}
		if len(w.rules)+len(w.keys) > 0 {
			wants = append(wants, w)
			ids = append(ids, ev.ID.String())
		}
	}
	if len(wants) == 0 {
		return len(all), mark, nil, nil
	}
	d := sc.Runtime().Dialect
	have := map[string]bool{}
	rows, err = sc.Q().Query(ctx, `SELECT rule_id, event_id FROM crm_rule_runs WHERE tenant_id = ? AND `+d.InList("event_id", "uuid"),
		tenant, d.ListArg(ids))
	if err != nil {
		return 0, mark, nil, err
	}
	if err := store.EachRow(rows, func(s store.Scanner) error {
		var rule, ev core.ID
		err := s.Scan(&rule, &ev)
		have[rule.String()+":"+ev.String()] = true
		return err
	}); err != nil {
		return 0, mark, nil, err
	}
	rows, err = sc.Q().Query(ctx, `SELECT dedupe_key FROM crm_webhook_deliveries WHERE tenant_id = ? AND `+d.InList("event_id", "uuid"),
		tenant, d.ListArg(ids))
	if err != nil {
		return 0, mark, nil, err
	}
	if err := store.EachRow(rows, func(s store.Scanner) error {
		var key string
		err := s.Scan(&key)
		have[key] = true
		return err
	}); err != nil {
		return 0, mark, nil, err
	}
	var missed []core.ID
	for _, w := range wants {
		lacking := false
		for _, r := range w.rules {
			lacking = lacking || !have[r.String()+":"+w.ev.ID.String()]
		}
		for _, k := range w.keys {
			lacking = lacking || !have[k]
		}
		if lacking {
			missed = append(missed, w.ev.ID)
		}
	}
	return len(all), mark, missed, nil
}

// deliveryKey is the dedupe key of the delivery of event to a webhook
// subscribed to it.
func deliveryKey(webhook, event core.ID) string {
	return "event:" + webhook.String() + ":" + event.String()
}
