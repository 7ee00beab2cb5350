package tickets

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// How a ticket changes: locked at the version read, changed, its SLA
// brought up to date, written with the next version, its events emitted.

// clone copies t deeply enough for a change.
func (t *Ticket) clone() *Ticket {
	n := *t
	n.Tags = slices.Clone(t.Tags)
	n.Attributes = maps.Clone(t.Attributes)
	n.SLA = nil
	return &n
}

// anyVersion makes change take the ticket at whatever version it is (an
// appended message), locked.
const anyVersion = -1

// change runs fn on the locked ticket id at version, then brings its SLA
// up to date, writes it with the next version and emits the events fn
// returns (each built from the ticket after the change). fn returning no
// events means nothing changed: nothing is written.
func (s *Tickets) change(ctx context.Context, id core.ID, version int64, doing string, routes bool,
	fn func(ctx context.Context, tx *store.Tx, g *guard, t *Ticket, now time.Time) ([]func(t *Ticket) (string, any), error)) (*Ticket, error) {
	if version != anyVersion {
		if err := core.CheckVersion(version); err != nil {
			return nil, err
		}
	}
	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return nil, err
	}
	return s.changeAs(ctx, g, id, version, doing, routes, fn)
}

// changeAs is change with the record access of g.
func (s *Tickets) changeAs(ctx context.Context, g *guard, id core.ID, version int64, doing string, routes bool,
	fn func(ctx context.Context, tx *store.Tx, g *guard, t *Ticket, now time.Time) ([]func(t *Ticket) (string, any), error)) (*Ticket, error) {
	var out *Ticket
	err := s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		now := tx.Runtime().Now()
		if routes {
			// The routing first: every transaction that routes locks it
			// before any ticket.
			var err error
			if g.route, err = lockRouter(ctx, s.sc.WithTx(tx), tx, tenant); err != nil {
				return err
			}
		}
		cur, err := g.ticket(ctx, tx.Q(), tenant, id, access.Update, true)
		if err != nil {
			return err
		}
		if g.route != nil {
			g.route.exclude = cur.ID
		}
		if version != anyVersion && cur.Version != version {
			return fmt.Errorf("%w: ticket %s is at version %d, not %d; read it again", core.ErrConflict, id, cur.Version, version)
		}
		next := cur.clone()
		events, err := fn(ctx, tx, g, next, now)
		if err != nil {
			return err
		}
		env, err := loadSLA(ctx, s.sc.WithTx(tx), now)
		if err != nil {
			return err
		}
		if len(events) == 0 {
			out = cur
			return env.fill(ctx, out, now)
		}
		if err := env.apply(ctx, next, now); err != nil {
			return err
		}
		next.UpdatedAt = now
		next.Version = cur.Version + 1
		if err := updateTicket(ctx, tx.Q(), tenant, next, cur.Version); err != nil {
			return err
		}
		if err := schedule(ctx, tx, tenant, next, env.policy(next.clock.policyID)); err != nil {
			return err
		}
		if err := env.fill(ctx, next, now); err != nil {
			return err
		}
		for _, ev := range events {
			typ, data := ev(next)
			if err := tx.Emit(ctx, ticketEvent(tenant, typ, next, now, data)); err != nil {
				return err
			}
		}
		out = next
		if r := g.route; r != nil {
			r.stored()
			if frees(cur, next) {
				if err := r.freed(ctx); err != nil {
					return err
				}
			}
			return r.save(ctx)
		}
		return nil
	})
	if err != nil {
		return nil, store.Wrap(g.done(ctx, err), doing)
	}
	return out, nil
}
