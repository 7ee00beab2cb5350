package tickets

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
)

// The tenant's classifier settings: the threshold of confidence at which
// suggestions are applied.

// Settings returns the tenant's classifier settings (threshold 0,
// version 0 before the first SetSettings). It needs "tickets" read.
func (s *Classifier) Settings(ctx context.Context) (_ *ClassifierSettings, err error) {
	ctx, span := s.sc.Span(ctx, "tickets.Classifier.Settings")
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "ticket_classifier", core.NilID, access.Read); err != nil {
		return nil, err
	}
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	set, err := readClassifierSettings(ctx, s.sc.Q(), tenant, false)
	return set, store.Wrap(err, "get ticket classifier settings")
}

// readClassifierSettings reads tenant's settings (locked when lock is
// set); the defaults when it has none.
func readClassifierSettings(ctx context.Context, q store.Q, tenant string, lock bool) (*ClassifierSettings, error) {
	query := `SELECT settings, updated_at, version FROM crm_ticket_classifier_settings WHERE tenant_id = ?`
	if lock {
		query += q.D.LockRows()
	}
	set := &ClassifierSettings{}
	var raw []byte
	err := q.QueryRow(ctx, query, tenant).Scan(&raw, &set.UpdatedAt, &set.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return &ClassifierSettings{}, nil
	}
	if err != nil {
		return nil, err
	}
	set.UpdatedAt = set.UpdatedAt.UTC()
	if err := json.Unmarshal(raw, set); err != nil {
		return nil, fmt.Errorf("decode ticket classifier settings: %w", err)
	}
	return set, nil
}

// SetSettings replaces the tenant's classifier settings if version is
// still theirs (0 before the first; stale is ErrConflict) and emits
// "ticket_classifier.updated". A threshold outside 0 to 1 is ErrInvalid.
// It needs "tickets" manage.
func (s *Classifier) SetSettings(ctx context.Context, version int64, in ClassifierSettingsInput) (_ *ClassifierSettings, err error) {
	ctx, span := s.sc.Span(ctx, "tickets.Classifier.SetSettings")
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "ticket_classifier", core.NilID, access.Manage); err != nil {
		return nil, err
	}
	v := &core.ValidationError{}
	if version < 0 {
		v.Add("version", "must be 0 (no settings yet) or the version read")
	}
	if math.IsNaN(in.Threshold) || in.Threshold < 0 || in.Threshold > 1 {
		v.Add("threshold", "must be 0 (off) or more than 0 up to 1")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *ClassifierSettings
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		q := tx.Q()
		now := tx.Runtime().Now()
		cur, err := readClassifierSettings(ctx, q, tenant, true)
		if err != nil {
			return err
		}
		if cur.Version != version {
			return fmt.Errorf("%w: the ticket classifier settings are at version %d, not %d; read them again", core.ErrConflict, cur.Version, version)
		}
		set := &ClassifierSettings{Threshold: in.Threshold, UpdatedAt: now, Version: version + 1}
		raw := string(store.JSON(struct {
			Threshold float64 `json:"threshold"`
		}{set.Threshold}))
		if version == 0 {
			_, err = q.Exec(ctx, `INSERT INTO crm_ticket_classifier_settings (tenant_id, settings, updated_at, version) VALUES (?, ?, ?, ?)`,
				tenant, raw, now, set.Version)
		} else {
			_, err = q.Exec(ctx, `UPDATE crm_ticket_classifier_settings SET settings = ?, updated_at = ?, version = ? WHERE tenant_id = ? AND version = ?`,
				raw, now, set.Version, tenant, version)
		}
		if dialect.IsUniqueViolation(err) {
			return fmt.Errorf("%w: the ticket classifier settings were set concurrently; read them again", core.ErrConflict)
		}
		if err != nil {
			return err
		}
		out = set
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventClassifierUpdated, SubjectType: "ticket_classifier",
			SubjectID: core.NilID, OccurredAt: now, Data: store.JSON(out)})
	})
	if err != nil {
		return nil, store.Wrap(err, "set ticket classifier settings")
	}
	return out, nil
}
