package automation

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/riverqueue/river"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// enqueueDelivery records a delivery of event to webhook (once per key)
// and queues its job, in tx.
func (e *Engine) enqueueDelivery(ctx context.Context, tx *store.Tx, tenant string, webhook, event core.ID, key string) (core.ID, error) {
	id := core.NewID()
	res, err := tx.Q().Exec(ctx, `INSERT INTO crm_webhook_deliveries (tenant_id, id, webhook_id, event_id, dedupe_key, status, created_at)
		VALUES (?, ?, ?, ?, ?, 'pending', ?) ON CONFLICT (tenant_id, dedupe_key) DO NOTHING`, tenant, id, webhook, event, key, e.now())
	if err != nil {
		return core.NilID, fmt.Errorf("crm: record delivery: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return core.NilID, err
	}
	_, err = e.client.InsertTx(ctx, tx.Bun().Tx, webhookArgs{payload: header(tenant), Delivery: id},
		&river.InsertOpts{Queue: QueueWebhooks, MaxAttempts: e.opts.Webhooks.MaxAttempts})
	if err != nil {
		return core.NilID, fmt.Errorf("crm: queue delivery: %w", err)
	}
	return id, nil
}

type webhookArgs struct {
	Delivery core.ID `json:"delivery"`
	payload
}

func (webhookArgs) Kind() string { return "crm.webhook" }

func (webhookArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueWebhooks}
}

func (a *webhookArgs) UnmarshalJSON(b []byte) error {
	type plain webhookArgs
	return lenient(b, (*plain)(a), &a.payload)
}

type webhookWorker struct {
	river.WorkerDefaults[webhookArgs]
	e *Engine
}

// Work makes one attempt of a delivery and logs it. A failure is retried
// by River with exponential backoff until MaxAttempts; enough failures in
// a row disable the webhook.
func (w *webhookWorker) Work(ctx context.Context, job *river.Job[webhookArgs]) error {
	a := job.Args
	e := w.e
	sc, err := a.open(e.rt)
	if err != nil {
		return err
	}
	q := sc.Q()
	d, err := scanDelivery(q.QueryRow(ctx, `SELECT `+deliveryColumns+` FROM crm_webhook_deliveries d WHERE d.tenant_id = ? AND d.id = ?`, a.Tenant, a.Delivery))
	if errors.Is(err, sql.ErrNoRows) {
		return river.JobCancel(fmt.Errorf("crm: delivery %s is gone", a.Delivery))
	}
	if err != nil {
		return err
	}
	if d.Status != "pending" {
		return nil
	}
	hook, err := getWebhook(ctx, q, a.Tenant, d.WebhookID)
	if errors.Is(err, core.ErrNotFound) || (err == nil && !hook.Enabled) {
		return e.finishDelivery(ctx, sc, d.ID, "cancelled", "webhook deleted or disabled", river.JobCancel(errors.New("crm: webhook deleted or disabled")))
	}
	if err != nil {
		return err
	}
	evs, err := loadEvents(ctx, sc, []core.ID{d.EventID})
	if err != nil {
		return err
	}
	if len(evs) == 0 {
		return e.finishDelivery(ctx, sc, d.ID, "cancelled", "event is gone", river.JobCancel(errors.New("crm: event is gone")))
	}
	body, err := json.Marshal(map[string]any{"delivery_id": d.ID, "event": evs[0]})
	if err != nil {
		return river.JobCancel(err)
	}
	status, latency, sendErr := e.send(ctx, hook, d, evs[0], body)
	ok := sendErr == nil && status >= 200 && status < 300
	final := !ok && job.Attempt >= job.MaxAttempts
	msg := ""
	if sendErr != nil {
		msg = sendErr.Error()
	} else if !ok {
		msg = "status " + strconv.Itoa(status)
	}
	var disabled bool
	err = sc.InTx(ctx, func(ctx context.Context, sc store.Scope) error {
		tx := sc.Tx()
		now := e.now()
		if _, err := tx.Q().Exec(ctx, `INSERT INTO crm_webhook_attempts (tenant_id, delivery_id, attempt, status_code, latency_ms, error, attempted_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, delivery_id, attempt) DO NOTHING`,
			a.Tenant, d.ID, job.Attempt, status, latency.Milliseconds(), msg, now); err != nil {
			return err
		}
		st := "pending"
		var finished *time.Time
		switch {
		case ok:
			st, finished = "delivered", &now
		case final:
			st, finished = "failed", &now
		}
		if _, err := tx.Q().Exec(ctx, `UPDATE crm_webhook_deliveries SET status = ?, attempts = ?, last_status = ?, last_error = ?, finished_at = ?
			WHERE tenant_id = ? AND id = ?`, st, job.Attempt, status, msg, finished, a.Tenant, d.ID); err != nil {
			return err
		}
		if ok {
			if _, err := tx.Q().Exec(ctx, `UPDATE crm_webhooks SET consecutive_failures = 0 WHERE tenant_id = ? AND id = ? AND consecutive_failures <> 0`,
				a.Tenant, hook.ID); err != nil {
				return err
			}
			return nil
		}
		var fails int64
		if err := tx.Q().QueryRow(ctx, `UPDATE crm_webhooks SET consecutive_failures = consecutive_failures + 1 WHERE tenant_id = ? AND id = ?
			RETURNING consecutive_failures`, a.Tenant, hook.ID).Scan(&fails); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return nil // deleted meanwhile
			}
			return err
		}
		if fails < int64(e.opts.Webhooks.DisableAfter) {
			return nil
		}
		reason := fmt.Sprintf("disabled after %d failed attempts in a row; last: %s", fails, msg)
		res, err := tx.Q().Exec(ctx, `UPDATE crm_webhooks SET enabled = ?, disabled_reason = ?, updated_at = ?, version = version + 1
			WHERE tenant_id = ? AND id = ? AND enabled`, false, reason, now, a.Tenant, hook.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			disabled = true
			return tx.Emit(ctx, core.Event{TenantID: a.Tenant, Type: EventWebhookDisabled, SubjectType: "webhook", SubjectID: hook.ID,
				Data: store.JSON(WebhookDisabled{ID: hook.ID, URL: hook.URL, Reason: reason, ConsecutiveFailures: fails})})
		}
		return nil
	})
	if err != nil {
		return err
	}
	if disabled {
		e.invalidate(a.Tenant)
	}
	switch {
	case ok:
		return nil
	case disabled:
		return e.finishDelivery(ctx, sc, d.ID, "cancelled", "webhook disabled", river.JobCancel(fmt.Errorf("crm: webhook disabled: %s", msg)))
	case final:
		return river.JobCancel(fmt.Errorf("crm: delivery failed after %d attempts: %s", job.Attempt, msg))
	}
	return fmt.Errorf("crm: delivery attempt %d: %s", job.Attempt, msg)
}

// finishDelivery ends a delivery without sending it, and returns ret.
func (e *Engine) finishDelivery(ctx context.Context, sc store.Scope, id core.ID, status, reason string, ret error) error {
	tenant, _ := sc.Tenant()
	if _, err := sc.Q().Exec(ctx, `UPDATE crm_webhook_deliveries SET status = ?, last_error = ?, finished_at = ? WHERE tenant_id = ? AND id = ?`,
		status, reason, e.now(), tenant, id); err != nil {
		return err
	}
	return ret
}

// send POSTs one attempt.
func (e *Engine) send(ctx context.Context, hook *Webhook, d *Delivery, ev core.Event, body []byte) (int, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, e.opts.Webhooks.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook.URL, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "crmkit-webhooks/1")
	req.Header.Set(SignatureHeader, Sign(hook.Secret, time.Now(), body))
	req.Header.Set(EventTypeHeader, ev.Type)
	req.Header.Set(EventIDHeader, ev.ID.String())
	req.Header.Set(DeliveryIDHeader, d.ID.String())
	start := time.Now()
	resp, err := e.http.Do(req)
	latency := time.Since(start)
	if err != nil {
		return 0, latency, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, latency, nil
}
