package campaigns

import (
	"context"
	"fmt"
	"net/url"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// A campaign's life after its draft: started, paused, resumed and
// cancelled, each a versioned transition of its status.

// transition moves the campaign from one of the statuses from to status
// to in one transaction, with the version check, then runs then (when
// set) in the same transaction and emits event. The caller has checked
// that the actor may update the campaign.
func (s *Campaigns) transition(ctx context.Context, id core.ID, version int64, doing string, from []Status, to Status, event string,
	then func(ctx context.Context, tx *store.Tx, c *Campaign) error) (*Campaign, error) {
	if err := core.CheckVersion(version); err != nil {
		return nil, err
	}
	var out *Campaign
	err := s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		c, err := getCampaign(ctx, tx.Q(), tenant, id, true)
		if err != nil {
			return err
		}
		if c.Version != version {
			return fmt.Errorf("%w: campaign %s is at version %d, not %d", core.ErrConflict, id, c.Version, version)
		}
		ok := false
		for _, st := range from {
			ok = ok || c.Status == st
		}
		if !ok {
			return core.Invalid("status", "campaign %s is %s: it cannot be %s", id, c.Status, doing)
		}
		now := tx.Runtime().Now()
		c.Status, c.UpdatedAt = to, now
		c.Version++
		if then != nil {
			if err := then(ctx, tx, c); err != nil {
				return err
			}
		}
		if _, err := tx.Q().Exec(ctx, `UPDATE crm_campaigns SET status = ?, template_version = ?, started_at = ?, updated_at = ?,
			version = ? WHERE tenant_id = ? AND id = ?`, string(c.Status), c.TemplateVersion, c.StartedAt, now, c.Version, tenant, id); err != nil {
			return err
		}
		out = c
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: event, SubjectType: "campaign", SubjectID: id, OccurredAt: now,
			Data: store.JSON(c)})
	})
	if err != nil {
		return nil, store.Wrap(err, doing+" campaign")
	}
	return out, nil
}

// Start sends a draft campaign: it takes the template's latest version,
// emits "campaign.started", and queues the job that snapshots the
// segment's members and queues their batches. An automated campaign then
// sends to the contacts rules name (the "send_email" action) until it is
// paused or cancelled. It needs Options.Mailer
// and Options.UnsubscribeURL. version is the campaign's version the
// caller read.
func (s *Campaigns) Start(ctx context.Context, id core.ID, version int64) (_ *Campaign, err error) {
	ctx, span := s.sc.SpanID(ctx, "campaigns.Campaigns.Start", id)
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "campaign", id, access.Update); err != nil {
		return nil, err
	}
	o := optionsOf(s.sc)
	v := &core.ValidationError{}
	if o.Mailer == nil {
		v.Add("mailer", "no mailer is configured (crm.Config.Campaigns.Mailer)")
	}
	if u, err := url.Parse(o.UnsubscribeURL); err != nil || u.Scheme != "https" || u.Host == "" {
		v.Add("unsubscribe_url", "crm.Config.Campaigns.UnsubscribeURL must be an https URL (RFC 8058)")
	}
	if u, err := url.Parse(o.TrackingURL); o.TrackingURL != "" && (err != nil || u.Scheme != "https" || u.Host == "") {
		v.Add("tracking_url", "crm.Config.Campaigns.TrackingURL must be an https URL")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return s.transition(ctx, id, version, "started", []Status{StatusDraft}, StatusSending, EventCampaignStarted,
		func(ctx context.Context, tx *store.Tx, c *Campaign) error {
			tenant, _ := s.sc.Tenant()
			if err := newCampaigns(s.sc.WithTx(tx), s.cache).check(ctx, c); err != nil {
				return err
			}
			t, err := getTemplate(ctx, tx.Q(), tenant, c.TemplateID)
			if err != nil {
				return err
			}
			if _, err := s.cache.get(tenant, t); err != nil {
				return err
			}
			c.TemplateVersion = t.Version
			for i := range c.Variants {
				vt, err := getTemplate(ctx, tx.Q(), tenant, c.Variants[i].TemplateID)
				if err != nil {
					return err
				}
				if _, err := s.cache.get(tenant, vt); err != nil {
					return err
				}
				c.Variants[i].TemplateVersion = vt.Version
				if _, err := tx.Q().Exec(ctx, `UPDATE crm_campaign_variants SET template_version = ? WHERE tenant_id = ? AND campaign_id = ? AND position = ?`,
					vt.Version, tenant, c.ID, i+1); err != nil {
					return err
				}
			}
			now := tx.Runtime().Now()
			c.StartedAt = &now
			if c.Kind == Automated {
				return nil // rules' send_email actions name the recipients
			}
			return tx.Enqueue(ctx, store.NewJob{Kind: jobPrepare, Tenant: tenant, Args: jobArgs{Campaign: c.ID},
				UniqueKey: c.ID.String()})
		})
}

// Pause stops a sending campaign after the messages in flight; Resume
// goes on where it stopped.
func (s *Campaigns) Pause(ctx context.Context, id core.ID, version int64) (_ *Campaign, err error) {
	ctx, span := s.sc.SpanID(ctx, "campaigns.Campaigns.Pause", id)
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "campaign", id, access.Update); err != nil {
		return nil, err
	}
	return s.transition(ctx, id, version, "paused", []Status{StatusSending}, StatusPaused, EventCampaignPaused, nil)
}

// Resume goes on with a paused campaign: its remaining batches are
// queued again.
func (s *Campaigns) Resume(ctx context.Context, id core.ID, version int64) (_ *Campaign, err error) {
	ctx, span := s.sc.SpanID(ctx, "campaigns.Campaigns.Resume", id)
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "campaign", id, access.Update); err != nil {
		return nil, err
	}
	return s.transition(ctx, id, version, "resumed", []Status{StatusPaused}, StatusSending, EventCampaignResumed,
		func(ctx context.Context, tx *store.Tx, c *Campaign) error {
			tenant, _ := s.sc.Tenant()
			if c.Kind == Automated {
				return enqueueWaiting(ctx, tx, tenant, c.ID)
			}
			if c.Test != nil && c.Winner == nil && c.StartedAt != nil {
				if err := enqueueDecide(ctx, tx, tenant, c); err != nil {
					return err
				}
			}
			// The snapshot goes on where it stopped (a no-op when done), and
			// every batch with recipients left is queued.
			if err := tx.Enqueue(ctx, store.NewJob{Kind: jobPrepare, Tenant: tenant, Args: jobArgs{Campaign: c.ID},
				UniqueKey: c.ID.String()}); err != nil {
				return err
			}
			rows, err := tx.Q().Query(ctx, `SELECT DISTINCT batch FROM crm_campaign_recipients WHERE tenant_id = ? AND campaign_id = ?
				AND state IN ('queued', 'sending') ORDER BY batch`, tenant, c.ID)
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
			for _, b := range batches {
				if err := enqueueBatch(ctx, tx, tenant, c.ID, b); err != nil {
					return err
				}
			}
			return nil
		})
}

// Cancel ends a campaign that has not finished: recipients not yet sent
// are skipped ("cancelled"); messages in flight may still go.
func (s *Campaigns) Cancel(ctx context.Context, id core.ID, version int64) (_ *Campaign, err error) {
	ctx, span := s.sc.SpanID(ctx, "campaigns.Campaigns.Cancel", id)
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "campaign", id, access.Update); err != nil {
		return nil, err
	}
	return s.transition(ctx, id, version, "cancelled", []Status{StatusDraft, StatusSending, StatusPaused}, StatusCancelled,
		EventCampaignCancelled, func(ctx context.Context, tx *store.Tx, c *Campaign) error {
			tenant, _ := s.sc.Tenant()
			_, err := tx.Q().Exec(ctx, `UPDATE crm_campaign_recipients SET state = 'skipped', reason = 'cancelled', updated_at = ?
				WHERE tenant_id = ? AND campaign_id = ? AND state IN ('queued', 'held')`, c.UpdatedAt, tenant, c.ID)
			return err
		})
}
