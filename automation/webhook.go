package automation

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/riverqueue/river"

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

// Headers of a delivery.
const (
	// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256>"; the
	// MAC is over "<t>.<body>" keyed with the webhook's secret. Verify it
	// with VerifySignature.
	SignatureHeader  = "Crm-Signature"
	EventTypeHeader  = "Crm-Event-Type"
	EventIDHeader    = "Crm-Event-Id"
	DeliveryIDHeader = "Crm-Delivery-Id"
)

// Sign returns the SignatureHeader value for body sent at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// ErrBadSignature: a delivery's signature does not verify.
var ErrBadSignature = errors.New("crm: webhook signature does not verify")

// VerifySignature checks a received delivery: header is the
// SignatureHeader value, body the raw request body. It refuses a
// signature older (or newer) than tolerance against now, which stops
// replays; 5 minutes is usual. Receivers should also dedupe by the
// DeliveryIDHeader: a delivery may arrive more than once.
func VerifySignature(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return fmt.Errorf("%w: malformed header", ErrBadSignature)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: timestamp outside the tolerance", ErrBadSignature)
	}
	want := Sign(secret, time.Unix(sec, 0), body)
	_, wantSig, _ := strings.Cut(want, ",v1=")
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(wantSig)) {
			return nil
		}
	}
	return ErrBadSignature
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
func (s *Webhooks) Create(ctx context.Context, in WebhookInput) (*Webhook, error) {
	tenant, err := s.sc.Tenant()
	if err != nil {
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
func (s *Webhooks) Get(ctx context.Context, id core.ID) (*Webhook, error) {
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	w, err := getWebhook(ctx, s.sc.Q(), tenant, id)
	return w, store.Wrap(err, "get webhook")
}

// List returns the tenant's webhooks.
func (s *Webhooks) List(ctx context.Context) ([]*Webhook, error) {
	tenant, err := s.sc.Tenant()
	if err != nil {
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
func (s *Webhooks) Update(ctx context.Context, id core.ID, version int64, in WebhookInput) (*Webhook, error) {
	if err := core.CheckVersion(version); err != nil {
		return nil, err
	}
	tenant, err := s.sc.Tenant()
	if err != nil {
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
func (s *Webhooks) Delete(ctx context.Context, id core.ID) error {
	tenant, err := s.sc.Tenant()
	if err != nil {
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
func (s *Webhooks) Deliveries(ctx context.Context, webhookID core.ID, limit int) ([]*Delivery, error) {
	tenant, err := s.sc.Tenant()
	if err != nil {
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
func (s *Webhooks) Delivery(ctx context.Context, id core.ID) (*Delivery, error) {
	tenant, err := s.sc.Tenant()
	if err != nil {
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

// errForbiddenTarget: a webhook URL reaches an address the options do not
// allow.
var errForbiddenTarget = errors.New("is a forbidden target")

// allowedIP reports whether the options permit connecting to ip.
func (o WebhookOptions) allowedIP(ip netip.Addr) bool {
	ip = ip.Unmap()
	switch {
	case ip.IsLoopback():
		return o.AllowLoopback
	case ip.IsUnspecified(), ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		return false
	case ip.IsPrivate(), ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast(), !ip.IsGlobalUnicast():
		return o.AllowPrivate
	}
	return true
}

func (o WebhookOptions) allowedHost(host string) bool {
	return slices.ContainsFunc(o.AllowedHosts, func(h string) bool { return strings.EqualFold(h, host) })
}

// checkURL validates a webhook URL at save time: http(s), a host, no
// credentials, and every address it resolves to allowed.
func (e *Engine) checkURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || raw == "" {
		return errors.New("is not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("must be http or https, not %q", u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return errors.New("has no host")
	}
	if u.User != nil {
		return errors.New("must not carry credentials (use the signing secret)")
	}
	if len(raw) > 2000 {
		return errors.New("is longer than 2000 characters")
	}
	o := e.opts.Webhooks
	host := u.Hostname()
	if o.allowedHost(host) {
		return nil
	}
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		if !o.AllowLoopback {
			return fmt.Errorf("%w (loopback; allow it with AllowLoopback)", errForbiddenTarget)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("does not resolve: %v", err)
	}
	for _, a := range addrs {
		if !o.allowedIP(a) {
			return fmt.Errorf("%w: %s resolves to %s (allow private or loopback addresses, or the host, in the webhook options)", errForbiddenTarget, host, a)
		}
	}
	return nil
}

// newHTTPClient returns the client of deliveries: it checks each address
// it connects to (so a name that resolves differently later is caught)
// and does not follow redirects.
func newHTTPClient(o WebhookOptions) *http.Client {
	var t *http.Transport
	if o.Transport != nil {
		t = o.Transport.Clone()
	} else {
		t = http.DefaultTransport.(*http.Transport).Clone()
	}
	guarded := &net.Dialer{Timeout: 10 * time.Second, Control: func(network, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return err
		}
		ip, err := netip.ParseAddr(host)
		if err != nil || !o.allowedIP(ip) {
			return fmt.Errorf("crm: webhook target %s %w", host, errForbiddenTarget)
		}
		return nil
	}}
	plain := &net.Dialer{Timeout: 10 * time.Second}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, _ := net.SplitHostPort(addr)
		if o.allowedHost(host) {
			return plain.DialContext(ctx, network, addr)
		}
		return guarded.DialContext(ctx, network, addr)
	}
	t.Proxy = nil
	return &http.Client{Transport: t, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
