package campaigns

import (
	"context"
	"encoding/json"
	"time"

	"github.com/crmkit/crmkit/access"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// Tracked segments: their members are kept in crm_segment_members; a
// computation compares the members the filter selects now with those
// kept, in SQL, and emits "segment.entered" and "segment.left" for the
// difference (events about the contact: rules start drips on them). A
// tenant's tracked segments are computed by a job queued soon after its
// contacts change (one job at a time per tenant, so a burst of changes is
// one computation), every 15 minutes (periodic work "segments"), and by
// Recompute.

// jobRecompute computes a tenant's tracked segments.
const jobRecompute = "campaigns.recompute"

// recomputeDelay gathers the changes of a burst into one computation.
const recomputeDelay = 30 * time.Second

// enqueueRecompute queues the computation of the tenant's tracked
// segments (at most one waits).
func enqueueRecompute(ctx context.Context, tx *store.Tx, tenant string, now time.Time) error {
	return tx.Enqueue(ctx, store.NewJob{Kind: jobRecompute, Tenant: tenant, At: now.Add(recomputeDelay), UniqueKey: "segments"})
}

// onContactChange queues the computation when a contact changes, in the
// change's transaction, for tenants with a tracked segment.
func onContactChange(ctx context.Context, tx *store.Tx, ev core.Event) error {
	if tx.Runtime().Jobs == nil {
		return nil
	}
	// Whether the tenant tracks a segment is kept for the runtime's
	// SettingsTTL (store.Cached): every change of a contact asks.
	tracks := store.CacheOf[bool](tx.Runtime(), "campaigns.tracked_segments", EventSegmentCreated, EventSegmentUpdated, EventSegmentDeleted)
	yes, err := tracks.Get(tx, ev.TenantID, func() (bool, error) {
		var n int
		err := tx.Q().QueryRow(ctx, `SELECT count(*) FROM crm_segments WHERE tenant_id = ? AND tracked`, ev.TenantID).Scan(&n)
		return n > 0, err
	})
	if err != nil || !yes {
		return err
	}
	return enqueueRecompute(ctx, tx, ev.TenantID, tx.Runtime().Now())
}

// SegmentChanged is the payload of "segment.entered" and "segment.left".
type SegmentChanged struct {
	SegmentID core.ID `json:"segment_id"`
	Name      string  `json:"name"`
}

// Recompute computes the tenant's tracked segments now (one, or all when
// id is zero) and returns how many contacts entered and left them.
func (s *Segments) Recompute(ctx context.Context, id core.ID) (entered, left int64, err error) {
	ctx, span := s.sc.SpanID(ctx, "campaigns.Segments.Recompute", id)
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "segment", id, access.Update); err != nil {
		return 0, 0, err
	}
	tenant, err := s.sc.Tenant()
	if err != nil {
		return 0, 0, err
	}
	q := s.sc.Q()
	where, args := "tenant_id = ? AND tracked", []any{tenant}
	if id != core.NilID {
		where, args = where+" AND id = ?", append(args, id)
	}
	rows, err := q.Query(ctx, `SELECT id FROM crm_segments WHERE `+where+` ORDER BY id`, args...)
	if err != nil {
		return 0, 0, store.Wrap(err, "recompute segments")
	}
	ids, err := store.ScanIDs(rows)
	if err != nil {
		return 0, 0, store.Wrap(err, "recompute segments")
	}
	if id != core.NilID && len(ids) == 0 {
		if _, err := getSegment(ctx, q, tenant, id); err != nil {
			return 0, 0, store.Wrap(err, "recompute segment")
		}
		return 0, 0, core.Invalid("segment", "segment %s is not tracked", id)
	}
	for _, sid := range ids {
		e, l, err := s.recompute(ctx, sid)
		if err != nil {
			return entered, left, err
		}
		entered, left = entered+e, left+l
	}
	return entered, left, nil
}

// recomputeChunk bounds the members one transaction adds or removes.
const recomputeChunk = 5000

// recompute computes one segment, recomputeChunk changes per transaction.
func (s *Segments) recompute(ctx context.Context, id core.ID) (entered, left int64, err error) {
	tenant, _ := s.sc.Tenant()
	for {
		var e, l int64
		err := s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
			q := tx.Q()
			seg, err := getSegment(ctx, q, tenant, id)
			if err != nil || !seg.Tracked {
				return err
			}
			query, args, err := contacts.Module.Recipients(ctx, s.sc.WithTx(tx), seg.Filter)
			if err != nil {
				return err
			}
			now := tx.Runtime().Now()
			var evs []core.Event
			payload := store.JSON(SegmentChanged{SegmentID: seg.ID, Name: seg.Name})
			// Who entered: selected now, not kept.
			rows, err := q.PlanPerCall().Query(ctx, `SELECT r.id FROM (`+query+`) r WHERE NOT EXISTS (SELECT 1 FROM crm_segment_members m
				WHERE m.tenant_id = ? AND m.segment_id = ? AND m.contact_id = r.id) ORDER BY r.id LIMIT ?`,
				append(args, tenant, id, recomputeChunk)...)
			if err != nil {
				return err
			}
			in, err := store.ScanIDs(rows)
			if err != nil {
				return err
			}
			insert := make([][]any, len(in))
			for i, c := range in {
				insert[i] = []any{tenant, id, c, now}
				cid := c
				evs = append(evs, core.Event{TenantID: tenant, Type: EventSegmentEntered, SubjectType: "contact", SubjectID: cid,
					OccurredAt: now, Data: payload})
			}
			if err := tx.InsertRows(ctx, "crm_segment_members", []string{"tenant_id", "segment_id", "contact_id", "since"}, insert); err != nil {
				return err
			}
			// Who left: kept, not selected now.
			rows, err = q.PlanPerCall().Query(ctx, `SELECT m.contact_id FROM crm_segment_members m WHERE m.tenant_id = ? AND m.segment_id = ?
				AND NOT EXISTS (SELECT 1 FROM (`+query+`) r WHERE r.id = m.contact_id) ORDER BY m.contact_id LIMIT ?`,
				append(append([]any{tenant, id}, args...), recomputeChunk)...)
			if err != nil {
				return err
			}
			out, err := store.ScanIDs(rows)
			if err != nil {
				return err
			}
			if len(out) > 0 {
				if _, err := q.Exec(ctx, `DELETE FROM crm_segment_members WHERE tenant_id = ? AND segment_id = ? AND `+
					q.D.InList("contact_id", "uuid"), tenant, id, q.D.IDsArg(out)); err != nil {
					return err
				}
			}
			for _, c := range out {
				evs = append(evs, core.Event{TenantID: tenant, Type: EventSegmentLeft, SubjectType: "contact", SubjectID: c,
					OccurredAt: now, Data: payload})
			}
			if _, err := q.Exec(ctx, `UPDATE crm_segments SET computed_at = ? WHERE tenant_id = ? AND id = ?`, now, tenant, id); err != nil {
				return err
			}
			e, l = int64(len(in)), int64(len(out))
			if len(evs) == 0 {
				return nil
			}
			return tx.EmitAll(ctx, evs)
		})
		if err != nil {
			return entered, left, store.Wrap(err, "recompute segment")
		}
		entered, left = entered+e, left+l
		if e < recomputeChunk && l < recomputeChunk {
			return entered, left, nil
		}
	}
}

// recomputeJob is the job (and the periodic work) that computes a
// tenant's tracked segments.
func recomputeJob(ctx context.Context, sc store.Scope, _ json.RawMessage) error {
	_, _, err := newSegments(sc).Recompute(ctx, core.NilID)
	return err
}

func recomputePeriodic(ctx context.Context, sc store.Scope) error { return recomputeJob(ctx, sc, nil) }
