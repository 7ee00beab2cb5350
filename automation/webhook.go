package automation

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// Webhook is a subscription: events of these types are POSTed to URL,
// signed with Secret.
type Webhook struct {
	ID         core.ID  `json:"id"`
	URL        string   `json:"url"`
	EventTypes []string `json:"event_types"`
	// Secret signs the deliveries (see SignatureHeader). Generated when
	// not given.
	Secret  string `json:"secret"`
	Enabled bool   `json:"enabled"`
	// ConsecutiveFailures counts failed attempts since the last success.
	ConsecutiveFailures int64     `json:"consecutive_failures"`
	DisabledReason      string    `json:"disabled_reason,omitempty"`
	CreatedAt           time.Time `json:"created_at"`
	UpdatedAt           time.Time `json:"updated_at"`
	Version             int64     `json:"version"`
}

// WebhookInput creates or changes a webhook.
type WebhookInput struct {
	URL string
	// EventTypes are event types or patterns ("deal.*"). A webhook with
	// none receives only what rules send it (the "webhook" action).
	EventTypes []string
	// Secret, at least 16 characters; generated when empty.
	Secret string
}

// Delivery is one event sent (or being sent) to one webhook.
type Delivery struct {
	ID         core.ID    `json:"id"`
	WebhookID  core.ID    `json:"webhook_id"`
	EventID    core.ID    `json:"event_id"`
	Status     string     `json:"status"` // pending, delivered, failed, cancelled
	Attempts   int        `json:"attempts"`
	LastStatus int        `json:"last_status"`
	LastError  string     `json:"last_error,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	// Log holds every attempt, filled in by Webhooks.Delivery.
	Log []Attempt `json:"log,omitempty"`
}

// Attempt is one HTTP request of a delivery.
type Attempt struct {
	Attempt     int       `json:"attempt"`
	StatusCode  int       `json:"status_code"` // 0: no response
	Latency     int64     `json:"latency_ms"`
	Error       string    `json:"error,omitempty"`
	AttemptedAt time.Time `json:"attempted_at"`
}

// Webhooks manages one tenant's webhooks (c.Automation.Webhooks).
type Webhooks struct {
	sc store.Scope
	e  *Engine
}

const webhookColumns = `w.id, w.url, w.event_types, w.secret, w.enabled, w.consecutive_failures, w.disabled_reason, w.created_at, w.updated_at, w.version`

func scanWebhook(s store.Scanner) (*Webhook, error) {
	var w Webhook
	var types []byte
	if err := s.Scan(&w.ID, &w.URL, &types, &w.Secret, &w.Enabled, &w.ConsecutiveFailures, &w.DisabledReason, &w.CreatedAt, &w.UpdatedAt, &w.Version); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(types, &w.EventTypes); err != nil {
		return nil, err
	}
	w.CreatedAt, w.UpdatedAt = w.CreatedAt.UTC(), w.UpdatedAt.UTC()
	return &w, nil
}

func getWebhook(ctx context.Context, q store.Q, tenant string, id core.ID) (*Webhook, error) {
	w, err := scanWebhook(q.QueryRow(ctx, `SELECT `+webhookColumns+` FROM crm_webhooks w WHERE w.tenant_id = ? AND w.id = ?`, tenant, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.NotFound("webhook", id)
	}
	return w, err
}

// check validates in and fills in a generated secret.
func (s *Webhooks) check(ctx context.Context, in *WebhookInput) error {
	v := &core.ValidationError{}
	if err := s.e.checkURL(ctx, in.URL); err != nil {
		v.Add("url", "%v", err)
	}
	if len(in.EventTypes) > MaxTriggers {
		v.Add("event_types", "at most %d", MaxTriggers)
	}
	for i, t := range in.EventTypes {
		if !eventTypePattern.MatchString(t) {
			v.Add(fmt.Sprintf("event_types[%d]", i), "%q is not an event type or pattern", t)
		} else if s.e.rt.Events != nil && !s.e.rt.Events.Known(t) {
			v.Add(fmt.Sprintf("event_types[%d]", i), "%q is not an event type (see the event catalogue)", t)
		}
	}
	if in.Secret == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		in.Secret = "whsec_" + hex.EncodeToString(b)
	} else if len(in.Secret) < 16 || len(in.Secret) > 200 {
		v.Add("secret", "must be 16 to 200 characters")
	}
	v.CheckText("secret", in.Secret, 200)
	if in.EventTypes == nil {
		in.EventTypes = []string{}
	}
	return v.Err()
}

// Create subscribes a URL to events. The URL must be http(s) and, unless
// the engine's WebhookOptions allow it, reach a public address.
func (s *Webhooks) Create(ctx context.Context, in WebhookInput) (_ *Webhook, err error) {
	ctx, span := s.sc.Span(ctx, "automation.Webhooks.Create")
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	if err := check(ctx, s.sc, "webhook", core.NilID, access.Manage); err != nil {
		return nil, err
	}
	if err := s.check(ctx, &in); err != nil {
		return nil, err
	}
	now := s.sc.Runtime().Now()
	w := &Webhook{ID: core.NewID(), URL: in.URL, EventTypes: in.EventTypes, Secret: in.Secret, Enabled: true, CreatedAt: now, UpdatedAt: now, Version: 1}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		if _, err := tx.Q().Exec(ctx, `INSERT INTO crm_webhooks (tenant_id, id, url, event_types, secret, enabled, created_at, updated_at, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, tenant, w.ID, w.URL, string(store.JSON(w.EventTypes)), w.Secret, true, now, now, 1); err != nil {
			return err
		}
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventWebhookCreated, SubjectType: "webhook", SubjectID: w.ID,
			Data: store.JSON(WebhookChanged{ID: w.ID, URL: w.URL, EventTypes: w.EventTypes})})
	})
	s.e.invalidate(tenant)
	if err != nil {
		return nil, store.Wrap(err, "create webhook")
	}
	return w, nil
}

// Get returns a webhook.
func (s *Webhooks) Get(ctx context.Context, id core.ID) (_ *Webhook, err error) {
	ctx, span := s.sc.SpanID(ctx, "automation.Webhooks.Get", id)
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	if err := check(ctx, s.sc, "webhook", id, access.Read); err != nil {
		return nil, err
	}
	w, err := getWebhook(ctx, s.sc.Q(), tenant, id)
	return w, store.Wrap(err, "get webhook")
}

// List returns the tenant's webhooks.
func (s *Webhooks) List(ctx context.Context) (_ []*Webhook, err error) {
	ctx, span := s.sc.Span(ctx, "automation.Webhooks.List")
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	if err := check(ctx, s.sc, "webhook", core.NilID, access.Read); err != nil {
		return nil, err
	}
	rows, err := s.sc.Q().Query(ctx, `SELECT `+webhookColumns+` FROM crm_webhooks w WHERE w.tenant_id = ? ORDER BY w.created_at, w.id`, tenant)
	if err != nil {
		return nil, store.Wrap(err, "list webhooks")
	}
	var out []*Webhook
	err = store.EachRow(rows, func(sc store.Scanner) error {
		w, err := scanWebhook(sc)
		if err == nil {
			out = append(out, w)
		}
		return err
	})
	return out, store.Wrap(err, "list webhooks")
}

// Update changes a webhook's URL, event types and secret; version is the
// version read. Updating re-enables a disabled webhook and clears its
// failure count.
func (s *Webhooks) Update(ctx context.Context, id core.ID, version int64, in WebhookInput) (_ *Webhook, err error) {
	ctx, span := s.sc.SpanID(ctx, "automation.Webhooks.Update", id)
	defer span.End(&err)

	if err := core.CheckVersion(version); err != nil {
		return nil, err
	}
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	if err := check(ctx, s.sc, "webhook", id, access.Manage); err != nil {
		return nil, err
	}
	if err := s.check(ctx, &in); err != nil {
		return nil, err
	}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		res, err := tx.Q().Exec(ctx, `UPDATE crm_webhooks SET url = ?, event_types = ?, secret = ?, enabled = ?, consecutive_failures = 0,
			disabled_reason = '', updated_at = ?, version = version + 1 WHERE tenant_id = ? AND id = ? AND version = ?`,
			in.URL, string(store.JSON(in.EventTypes)), in.Secret, true, s.sc.Runtime().Now(), tenant, id, version)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			if _, err := getWebhook(ctx, tx.Q(), tenant, id); err != nil {
				return err
			}
			return fmt.Errorf("%w: webhook %s is not at version %d", core.ErrConflict, id, version)
		}
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventWebhookUpdated, SubjectType: "webhook", SubjectID: id,
			Data: store.JSON(WebhookChanged{ID: id, URL: in.URL, EventTypes: in.EventTypes})})
	})
	s.e.invalidate(tenant)
	if err != nil {
		return nil, store.Wrap(err, "update webhook")
	}
	return s.Get(ctx, id)
}

// Delete removes a webhook; its pending deliveries are cancelled when
// their turn comes. The delivery log stays.
func (s *Webhooks) Delete(ctx context.Context, id core.ID) (err error) {
	ctx, span := s.sc.SpanID(ctx, "automation.Webhooks.Delete", id)
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return err
	}
	if err := check(ctx, s.sc, "webhook", id, access.Manage); err != nil {
		return err
	}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		res, err := tx.Q().Exec(ctx, `DELETE FROM crm_webhooks WHERE tenant_id = ? AND id = ?`, tenant, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return core.NotFound("webhook", id)
		}
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventWebhookDeleted, SubjectType: "webhook", SubjectID: id, Data: store.JSON(Deleted{ID: id})})
	})
	s.e.invalidate(tenant)
	return store.Wrap(err, "delete webhook")
}

const deliveryColumns = `d.id, d.webhook_id, d.event_id, d.status, d.attempts, d.last_status, d.last_error, d.created_at, d.finished_at`

func scanDelivery(s store.Scanner) (*Delivery, error) {
	var d Delivery
	if err := s.Scan(&d.ID, &d.WebhookID, &d.EventID, &d.Status, &d.Attempts, &d.LastStatus, &d.LastError, &d.CreatedAt, &d.FinishedAt); err != nil {
		return nil, err
	}
	d.CreatedAt = d.CreatedAt.UTC()
	return &d, nil
}

// Deliveries lists a webhook's deliveries, newest first (at most limit,
// default 50).
func (s *Webhooks) Deliveries(ctx context.Context, webhookID core.ID, limit int) (_ []*Delivery, err error) {
	ctx, span := s.sc.SpanID(ctx, "automation.Webhooks.Deliveries", webhookID)
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	if err := check(ctx, s.sc, "webhook", webhookID, access.Read); err != nil {
		return nil, err
	}
	if limit == 0 {
		limit = 50
	}
	if limit < 0 || limit > 1000 {
		return nil, core.Invalid("limit", "must be between 1 and 1000")
	}
	rows, err := s.sc.Q().Query(ctx, `SELECT `+deliveryColumns+` FROM crm_webhook_deliveries d WHERE d.tenant_id = ? AND d.webhook_id = ?
		ORDER BY d.created_at DESC, d.id DESC LIMIT ?`, tenant, webhookID, limit)
	if err != nil {
		return nil, store.Wrap(err, "list deliveries")
	}
	var out []*Delivery
	err = store.EachRow(rows, func(sc store.Scanner) error {
		d, err := scanDelivery(sc)
		if err == nil {
			out = append(out, d)
		}
		return err
	})
	return out, store.Wrap(err, "list deliveries")
}

// Delivery returns one delivery with the log of its attempts.
func (s *Webhooks) Delivery(ctx context.Context, id core.ID) (_ *Delivery, err error) {
	ctx, span := s.sc.SpanID(ctx, "automation.Webhooks.Delivery", id)
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	if err := check(ctx, s.sc, "delivery", id, access.Read); err != nil {
		return nil, err
	}
	d, err := scanDelivery(s.sc.Q().QueryRow(ctx, `SELECT `+deliveryColumns+` FROM crm_webhook_deliveries d WHERE d.tenant_id = ? AND d.id = ?`, tenant, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.NotFound("webhook delivery", id)
	}
	if err != nil {
		return nil, store.Wrap(err, "get delivery")
	}
	rows, err := s.sc.Q().Query(ctx, `SELECT attempt, status_code, latency_ms, error, attempted_at FROM crm_webhook_attempts
		WHERE tenant_id = ? AND delivery_id = ? ORDER BY attempt`, tenant, id)
	if err != nil {
		return nil, store.Wrap(err, "get delivery")
	}
	err = store.EachRow(rows, func(sc store.Scanner) error {
		var a Attempt
		err := sc.Scan(&a.Attempt, &a.StatusCode, &a.Latency, &a.Error, &a.AttemptedAt)
		a.AttemptedAt = a.AttemptedAt.UTC()
		d.Log = append(d.Log, a)
		return err
	})
	return d, store.Wrap(err, "get delivery")
}
