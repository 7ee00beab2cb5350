package consent

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// RetentionPolicy is how long a tenant keeps data; zero keeps it forever.
// crm.CRM.ApplyRetention carries it out (the automation module schedules
// it).
type RetentionPolicy struct {
	// PurgeOptInsAfterDays deletes unconfirmed opt-in requests this many
	// days after they expired.
	PurgeOptInsAfterDays int `json:"purge_opt_ins_after_days,omitempty"`
	// EraseInactiveLeadsAfterMonths erases subscribers and leads without
	// any activity (or, with none, since they were created) for this many
	// months. Restricted contacts are kept.
	EraseInactiveLeadsAfterMonths int `json:"erase_inactive_leads_after_months,omitempty"`
	// DeleteWebActivitiesAfterMonths deletes web activities (page views,
	// forms) older than this.
	DeleteWebActivitiesAfterMonths int `json:"delete_web_activities_after_months,omitempty"`
}

// SetRetentionPolicy stores the tenant's retention policy.
func (s *Service) SetRetentionPolicy(ctx context.Context, p RetentionPolicy) (err error) {
	ctx, span := s.sc.Span(ctx, "consent.SetRetentionPolicy")
	defer span.End(&err)

	if p.PurgeOptInsAfterDays < 0 || p.EraseInactiveLeadsAfterMonths < 0 || p.DeleteWebActivitiesAfterMonths < 0 {
		return core.Invalid("policy", "periods must not be negative")
	}
	if _, err := check(ctx, s.sc, "retention_policy", core.NilID, access.Manage); err != nil {
		return err
	}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		_, err := tx.Q().Exec(ctx, `INSERT INTO crm_retention_policies (tenant_id, policy, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (tenant_id) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at`,
			tenant, string(store.JSON(p)), tx.Runtime().Now())
		return err
	})
	return store.Wrap(err, "set retention policy")
}

// RetentionPolicy returns the tenant's retention policy (zero: keep all).
func (s *Service) RetentionPolicy(ctx context.Context) (_ RetentionPolicy, err error) {
	ctx, span := s.sc.Span(ctx, "consent.RetentionPolicy")
	defer span.End(&err)

	var p RetentionPolicy
	tenant, err := s.sc.Tenant()
	if err != nil {
		return p, err
	}
	if _, err := check(ctx, s.sc, "retention_policy", core.NilID, access.Read); err != nil {
		return p, err
	}
	var raw []byte
	err = s.sc.Q().QueryRow(ctx, `SELECT policy FROM crm_retention_policies WHERE tenant_id = ?`, tenant).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return p, nil
	}
	if err != nil {
		return p, store.Wrap(err, "retention policy")
	}
	return p, store.Wrap(json.Unmarshal(raw, &p), "retention policy")
}

// monthsBefore is now less n months.
func monthsBefore(now time.Time, n int) time.Time { return now.AddDate(0, -n, 0) }

// Cutoffs returns the times before which the policy removes data, as of
// now; a zero time means "keep".
func (p RetentionPolicy) Cutoffs(now time.Time) (optIns, inactiveLeads, webActivities time.Time) {
	if p.PurgeOptInsAfterDays > 0 {
		optIns = now.AddDate(0, 0, -p.PurgeOptInsAfterDays)
	}
	if p.EraseInactiveLeadsAfterMonths > 0 {
		inactiveLeads = monthsBefore(now, p.EraseInactiveLeadsAfterMonths)
	}
	if p.DeleteWebActivitiesAfterMonths > 0 {
		webActivities = monthsBefore(now, p.DeleteWebActivitiesAfterMonths)
	}
	return
}
