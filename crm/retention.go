package crm

import (
	"context"
	"time"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
)

// RetentionReport says what ApplyRetention did.
type RetentionReport struct {
	// HoldsReleased counts erasures completed because their legal hold
	// ended.
	HoldsReleased     int64 `json:"holds_released"`
	OptInsPurged      int64 `json:"opt_ins_purged"`
	LeadsErased       int64 `json:"leads_erased"`
	ActivitiesDeleted int64 `json:"activities_deleted"`
}

// ApplyRetention carries out the tenant's retention policy
// (c.Consent.SetRetentionPolicy) as of now: it completes erasures whose
// legal hold ended, purges expired opt-in
// requests, erases inactive leads (each an erasure with reason
// "retention", receipt and audit entry included) and deletes old web
// activities, and reports what it did. It runs across several
// transactions; run it again after an error, it picks up where it
// stopped. The automation module schedules it.
func (c *CRM) ApplyRetention(ctx context.Context, now time.Time) (_ RetentionReport, err error) {
	ctx, span := c.sc.Span(ctx, "crm.ApplyRetention")
	defer span.End(&err)
	var r RetentionReport
	if err := core.CheckTime("now", now); err != nil {
		return r, err
	}
	p, err := c.Consent.RetentionPolicy(ctx)
	if err != nil {
		return r, err
	}
	now = core.NormalizeTime(now)
	if r.HoldsReleased, err = c.Consent.ReleaseHolds(ctx, now); err != nil {
		return r, err
	}
	optIns, leads, web := p.Cutoffs(now)
	if !optIns.IsZero() {
		if r.OptInsPurged, err = c.Consent.PurgeOptIns(ctx, optIns); err != nil {
			return r, err
		}
	}
	if !leads.IsZero() {
		after := core.NilID
		for {
			ids, err := c.Contacts.InactiveLeads(ctx, leads, after, 500)
			if err != nil {
				return r, err
			}
			for _, id := range ids {
				if _, err := c.Consent.Erase(ctx, id, "retention"); err != nil {
					return r, err
				}
				r.LeadsErased++
			}
			if len(ids) < 500 {
				break
			}
			after = ids[len(ids)-1]
		}
	}
	if !web.IsZero() {
		if r.ActivitiesDeleted, err = c.Contacts.DeleteActivities(ctx, contacts.KindWeb, web); err != nil {
			return r, err
		}
	}
	return r, nil
}
