package automation_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/automation"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/pipeline"
)

// receiver is a webhook endpoint that verifies what it gets.
type receiver struct {
	t      *testing.T
	secret atomic.Value // string
	mu     sync.Mutex
	got    []receivedHook
	// answer decides the response to the n-th request (1-based).
	answer func(n int, w http.ResponseWriter)
	n      atomic.Int32
}

type receivedHook struct {
	Type       string
	DeliveryID string
	Body       map[string]any
	Verified   error
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	secret, _ := rc.secret.Load().(string)
	h := receivedHook{Type: r.Header.Get(automation.EventTypeHeader), DeliveryID: r.Header.Get(automation.DeliveryIDHeader),
		Verified: automation.VerifySignature(secret, r.Header.Get(automation.SignatureHeader), body, time.Now(), 5*time.Minute)}
	_ = json.Unmarshal(body, &h.Body)
	rc.mu.Lock()
	rc.got = append(rc.got, h)
	rc.mu.Unlock()
	n := int(rc.n.Add(1))
	if rc.answer != nil {
		rc.answer(n, w)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) received() []receivedHook {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]receivedHook(nil), rc.got...)
}

func loopbackConfig() crm.Config {
	return crm.Config{Automation: automation.Options{Webhooks: automation.WebhookOptions{AllowLoopback: true,
		Timeout: 300 * time.Millisecond, RetryBase: 10 * time.Millisecond}}}
}

// Acceptance: a rule on deal.stage_changed to Negotiation notifies a
// webhook, and the receiver verifies the signature.
func TestNegotiationNotifiesWebhook(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		rc := &receiver{t: t}
		srv := httptest.NewServer(rc)
		defer srv.Close()
		c := idle(t, db, loopbackConfig())

		hook, err := c.Automation.Webhooks.Create(ctx, automation.WebhookInput{URL: srv.URL + "/crm"})
		require.NoError(t, err)
		rc.secret.Store(hook.Secret)
		p, err := c.Pipelines.Default(ctx)
		require.NoError(t, err)
		var negotiation core.ID
		for _, st := range p.Stages {
			if st.Name == "Negotiation" {
				negotiation = st.ID
			}
		}
		require.NotEqual(t, core.NilID, negotiation)
		_, err = c.Automation.Rules.Create(ctx, automation.Rule{Name: "Tell the shop about negotiations", Enabled: true,
			Triggers:  []string{"deal.stage_changed"},
			Condition: automation.Condition{Event: filter.Eq("data.to_stage", negotiation.String())},
			Actions:   []automation.Action{{Type: automation.ActionWebhook, WebhookID: hook.ID}}})
		require.NoError(t, err)

		deal, err := c.Deals.Create(ctx, pipeline.NewDeal{Title: "50 seats", Amount: core.MustMoney("5000", "EUR")})
		require.NoError(t, err)
		// A move to another stage sends nothing.
		deal, err = c.Deals.MoveStage(ctx, deal.ID, deal.Version, p.Stages[1].ID)
		require.NoError(t, err)
		_, err = c.Deals.MoveStage(ctx, deal.ID, deal.Version, negotiation)
		require.NoError(t, err)

		// The rule's run, then the delivery it queued.
		require.Equal(t, 2, automation.WorkQueued(t, c.Automation))
		require.Len(t, rc.received(), 1, "delivered once")
		got := rc.received()[0]
		require.NoError(t, got.Verified)
		require.Equal(t, "deal.stage_changed", got.Type)
		ev := got.Body["event"].(map[string]any)
		require.Equal(t, negotiation.String(), ev["data"].(map[string]any)["to_stage"])
		require.Equal(t, got.DeliveryID, got.Body["delivery_id"])
		// A forged body does not verify.
		require.ErrorIs(t, automation.VerifySignature(hook.Secret, "t=1,v1=00", []byte("{}"), time.Unix(1, 0), time.Minute), automation.ErrBadSignature)

		ds, err := c.Automation.Webhooks.Deliveries(ctx, hook.ID, 0)
		require.NoError(t, err)
		require.Len(t, ds, 1)
		require.Equal(t, "delivered", ds[0].Status)
	})
}

// A receiver that fails, then times out, then recovers gets the event on
// the third attempt; every attempt is logged.
func TestWebhookRetriesUntilTheReceiverRecovers(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		rc := &receiver{t: t, answer: func(n int, w http.ResponseWriter) {
			switch n {
			case 1:
				w.WriteHeader(http.StatusInternalServerError)
			case 2:
				time.Sleep(time.Second) // beyond the 300ms timeout
				w.WriteHeader(http.StatusOK)
			default:
				w.WriteHeader(http.StatusOK)
			}
		}}
		srv := httptest.NewServer(rc)
		defer srv.Close()
		c, clock := retrying(t, db, loopbackConfig())
		hook, err := c.Automation.Webhooks.Create(ctx, automation.WebhookInput{URL: srv.URL, EventTypes: []string{"company.*"}})
		require.NoError(t, err)
		rc.secret.Store(hook.Secret)
		_, err = c.Companies.Create(ctx, contactsCompany("Acme"))
		require.NoError(t, err)

		// The event's job, then the first attempt; each later attempt
		// when its retry is due.
		require.Equal(t, 2, automation.WorkQueued(t, c.Automation))
		status := func() string {
			ds, err := c.Automation.Webhooks.Deliveries(ctx, hook.ID, 0)
			require.NoError(t, err)
			require.Len(t, ds, 1)
			return ds[0].Status
		}
		for attempt := 2; attempt <= 3; attempt++ {
			require.Equal(t, "pending", status())
			require.Zero(t, automation.WorkDue(t, c.Automation), "not yet due")
			clock.Jump(time.Hour)
			require.Equal(t, 1, automation.WorkDue(t, c.Automation))
		}
		require.Equal(t, "delivered", status())
		ds, err := c.Automation.Webhooks.Deliveries(ctx, hook.ID, 0)
		require.NoError(t, err)
		d, err := c.Automation.Webhooks.Delivery(ctx, ds[0].ID)
		require.NoError(t, err)
		require.Len(t, d.Log, 3)
		require.Equal(t, 500, d.Log[0].StatusCode)
		require.Equal(t, 0, d.Log[1].StatusCode)
		require.Contains(t, d.Log[1].Error, "deadline")
		require.Equal(t, 200, d.Log[2].StatusCode)
		require.Equal(t, 3, d.Attempts)
		for _, h := range rc.received() {
			require.NoError(t, h.Verified)
		}
		hook, err = c.Automation.Webhooks.Get(ctx, hook.ID)
		require.NoError(t, err)
		require.Zero(t, hook.ConsecutiveFailures)
		require.True(t, hook.Enabled)
	})
}

// A webhook that keeps failing is disabled after DisableAfter attempts in
// a row, with an event, and its delivery is cancelled.
func TestFailingWebhookIsDisabled(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		rc := &receiver{t: t, answer: func(int, http.ResponseWriter) {}}
		rc.answer = func(_ int, w http.ResponseWriter) { w.WriteHeader(http.StatusBadGateway) }
		srv := httptest.NewServer(rc)
		defer srv.Close()
		cfg := loopbackConfig()
		cfg.Automation.Webhooks.DisableAfter = 3
		c, clock := retrying(t, db, cfg)
		hook, err := c.Automation.Webhooks.Create(ctx, automation.WebhookInput{URL: srv.URL, EventTypes: []string{"company.created"}})
		require.NoError(t, err)
		_, err = c.Companies.Create(ctx, contactsCompany("Acme"))
		require.NoError(t, err)

		require.Equal(t, 2, automation.WorkQueued(t, c.Automation)) // the event's job, the first attempt
		for attempt := 2; attempt <= 3; attempt++ {
			h, err := c.Automation.Webhooks.Get(ctx, hook.ID)
			require.NoError(t, err)
			require.True(t, h.Enabled, "enabled after %d failed attempts", attempt-1)
			clock.Jump(time.Hour)
			require.Equal(t, 1, automation.WorkDue(t, c.Automation))
		}
		h, err := c.Automation.Webhooks.Get(ctx, hook.ID)
		require.NoError(t, err)
		require.False(t, h.Enabled)
		require.Contains(t, h.DisabledReason, "3 failed attempts")
		evs, err := c.Events(ctx, crm.EventQuery{Types: []string{"webhook.disabled"}})
		require.NoError(t, err)
		require.Len(t, evs, 1)
		require.Equal(t, hook.ID, evs[0].SubjectID)
		ds, err := c.Automation.Webhooks.Deliveries(ctx, hook.ID, 0)
		require.NoError(t, err)
		require.Len(t, ds, 1)
		require.Equal(t, "cancelled", ds[0].Status)
		clock.Jump(24 * time.Hour)
		require.Zero(t, automation.WorkDue(t, c.Automation), "the delivery is not retried")
		require.Len(t, rc.received(), 3)

		// A new event is not sent to a disabled webhook; Update enables it.
		_, err = c.Companies.Create(ctx, contactsCompany("Beta"))
		require.NoError(t, err)
		require.Zero(t, automation.WorkQueued(t, c.Automation))
		h, err = c.Automation.Webhooks.Update(ctx, h.ID, h.Version, automation.WebhookInput{URL: srv.URL, EventTypes: h.EventTypes, Secret: h.Secret})
		require.NoError(t, err)
		require.True(t, h.Enabled)
		ds, err = c.Automation.Webhooks.Deliveries(ctx, hook.ID, 0)
		require.NoError(t, err)
		require.Len(t, ds, 1)
	})
}

// retrying returns a CRM without workers (see idle) on a clock the test
// moves, whose failed deliveries are retried a minute later, then two,
// and so on: a retry is due when the test has moved the clock past it.
func retrying(t *testing.T, db *bun.DB, cfg crm.Config) (*crm.CRM, *movingClock) {
	clock := newMovingClock(time.Now())
	cfg.Clock = clock
	cfg.Automation.Webhooks.RetryBase = time.Minute
	return idle(t, db, cfg), clock
}

func contactsCompany(name string) contacts.NewCompany { return contacts.NewCompany{Name: name} }
