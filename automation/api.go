package automation

import (
	"context"

	"github.com/crmkit/crmkit/core"
)

// RulesAPI is what *Rules (c.Automation.Rules) does, as an interface, for
// hosts that substitute it: a fake in their tests, a wrapper that adds
// caching or metrics. See *Rules for each method.
type RulesAPI interface {
	Create(ctx context.Context, r Rule) (*Rule, error)
	Delete(ctx context.Context, id core.ID) error
	Get(ctx context.Context, id core.ID) (*Rule, error)
	List(ctx context.Context) ([]*Rule, error)
	SetEnabled(ctx context.Context, id core.ID, version int64, enabled bool) (*Rule, error)
	Update(ctx context.Context, id core.ID, r Rule) (*Rule, error)
}

// RunsAPI is what *Runs (c.Automation.Runs) does, as an interface, for hosts
// that substitute it: a fake in their tests, a wrapper that adds caching or
// metrics. See *Runs for each method.
type RunsAPI interface {
	Get(ctx context.Context, id core.ID) (*Run, error)
	List(ctx context.Context, rq RunQuery) ([]*Run, error)
}

// WebhooksAPI is what *Webhooks (c.Automation.Webhooks) does, as an
// interface, for hosts that substitute it: a fake in their tests, a wrapper
// that adds caching or metrics. See *Webhooks for each method.
type WebhooksAPI interface {
	Create(ctx context.Context, in WebhookInput) (*Webhook, error)
	Delete(ctx context.Context, id core.ID) error
	Deliveries(ctx context.Context, webhookID core.ID, limit int) ([]*Delivery, error)
	Delivery(ctx context.Context, id core.ID) (*Delivery, error)
	Get(ctx context.Context, id core.ID) (*Webhook, error)
	List(ctx context.Context) ([]*Webhook, error)
	Update(ctx context.Context, id core.ID, version int64, in WebhookInput) (*Webhook, error)
}

// The services satisfy their interfaces.
var (
	_ RulesAPI    = (*Rules)(nil)
	_ RunsAPI     = (*Runs)(nil)
	_ WebhooksAPI = (*Webhooks)(nil)
)
