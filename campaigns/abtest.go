package campaigns

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"hash/fnv"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// An A/B test sends each variant to an equal part of the test group —
// Share percent of the segment, chosen by a hash of the contact's id, so
// the choice is the same however the snapshot is taken — and holds the
// rest. At StartedAt + Wait the decide job picks the variant whose
// recipients opened (or clicked) the most, as people, per message sent,
// and sends it to those held.

// jobDecide picks an A/B test's winner.
const jobDecide = "campaigns.decide"

// testGroup returns whether a contact is in the test group of share
// percent, and the variant (of n) it gets.
func testGroup(contact core.ID, share, n int) (RecipientState, int) {
	h := fnv.New64a()
	h.Write(contact[:])
	x := h.Sum64()
	if int(x%100) >= share {
		return RecipientHeld, 0
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], x)
	h.Reset()
	h.Write(b[:])
	return RecipientQueued, int(h.Sum64() % uint64(n))
}

func enqueueDecide(ctx context.Context, tx *store.Tx, tenant string, c *Campaign) error {
	at := c.StartedAt.Add(c.Test.Wait)
	if now := tx.Runtime().Now(); at.Before(now) {
		at = now
	}
	return tx.Enqueue(ctx, store.NewJob{Kind: jobDecide, Tenant: tenant, Args: jobArgs{Campaign: c.ID}, At: at,
		UniqueKey: c.ID.String()})
}

// decide picks the winner of a campaign's test and queues the held
// recipients with it. A paused campaign decides when resumed.
func decide(ctx context.Context, sc store.Scope, raw json.RawMessage) error {
	var a jobArgs
	if err := json.Unmarshal(raw, &a); err != nil {
		return core.Invalid("args", "%v", err)
	}
	tenant, err := sc.Tenant()
	if err != nil {
		return err
	}
	return sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		q := tx.Q()
		c, err := getCampaign(ctx, q, tenant, a.Campaign, true)
		if err != nil {
			return err
		}
		if c.Test == nil || c.Winner != nil || c.Status != StatusSending {
			return nil
		}
		per, err := variantStats(ctx, q, tenant, c)
		if err != nil {
			return err
		}
		winner, best := 0, -1.0
		for _, v := range per {
			n := v.Opened
			if c.Test.Metric == MetricClicks {
				n = v.Clicked
			}
			rate := 0.0
			if v.Sent > 0 {
				rate = float64(n) / float64(v.Sent)
			}
			if rate > best {
				winner, best = v.Variant, rate
			}
		}
		now := tx.Runtime().Now()
		c.Winner = &winner
		c.UpdatedAt = now
		c.Version++
		if _, err := q.Exec(ctx, `UPDATE crm_campaigns SET winner = ?, updated_at = ?, version = ? WHERE tenant_id = ? AND id = ?`,
			winner, now, c.Version, tenant, c.ID); err != nil {
			return err
		}
		rows, err := q.Query(ctx, `SELECT DISTINCT batch FROM crm_campaign_recipients WHERE tenant_id = ? AND campaign_id = ? AND state = 'held'
			ORDER BY batch`, tenant, c.ID)
		if err != nil {
			return err
		}
		var batches []int64
		if err := store.EachRow(rows, func(r store.Scanner) error {
			var b int64
			err := r.Scan(&b)
			batches = append(batches, b)
			return err
		}); err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `UPDATE crm_campaign_recipients SET state = 'queued', variant = ?, updated_at = ?
			WHERE tenant_id = ? AND campaign_id = ? AND state = 'held'`, winner, now, tenant, c.ID); err != nil {
			return err
		}
		for _, b := range batches {
			if err := enqueueBatch(ctx, tx, tenant, c.ID, b); err != nil {
				return err
			}
		}
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventCampaignWinnerPicked, SubjectType: "campaign", SubjectID: c.ID,
			OccurredAt: now, Data: store.JSON(WinnerPicked{Campaign: c, Variants: per})})
	})
}

// variantStats counts each variant's messages sent and the people who
// opened and clicked them.
func variantStats(ctx context.Context, q store.Q, tenant string, c *Campaign) ([]VariantStats, error) {
	out := make([]VariantStats, len(c.Variants)+1)
	for i := range out {
		out[i].Variant = i
		if i == 0 {
			out[i].Name = "A"
		} else {
			out[i].Name = c.Variants[i-1].Name
		}
	}
	rows, err := q.Query(ctx, `SELECT r.variant, count(*),
		count(DISTINCT CASE WHEN EXISTS (SELECT 1 FROM crm_campaign_interactions i WHERE i.tenant_id = r.tenant_id AND i.recipient_id = r.id
			AND i.machine = '') THEN r.id END),
		count(DISTINCT CASE WHEN EXISTS (SELECT 1 FROM crm_campaign_interactions i WHERE i.tenant_id = r.tenant_id AND i.recipient_id = r.id
			AND i.machine = '' AND i.kind = 'click') THEN r.id END)
		FROM crm_campaign_recipients r WHERE r.tenant_id = ? AND r.campaign_id = ? AND r.state = 'sent' GROUP BY r.variant`, tenant, c.ID)
	if err != nil {
		return nil, err
	}
	err = store.EachRow(rows, func(r store.Scanner) error {
		var v int
		var sent, opened, clicked int64
		if err := r.Scan(&v, &sent, &opened, &clicked); err != nil {
			return err
		}
		if v >= 0 && v < len(out) {
			out[v].Sent, out[v].Opened, out[v].Clicked = sent, opened, clicked
		}
		return nil
	})
	return out, err
}
