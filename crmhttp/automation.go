package crmhttp

import (
	"context"

	"github.com/danielgtaylor/huma/v2"

	"github.com/crmkit/crmkit/automation"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
)

// webhookInput is the body that creates or changes a webhook.
type webhookInput struct {
	URL        string   `json:"url"`
	EventTypes []string `json:"event_types,omitempty" doc:"Event types or patterns (deal.*); none: only what rules send."`
	Secret     string   `json:"secret,omitempty" doc:"At least 16 characters; generated when empty."`
}

func (w webhookInput) input() automation.WebhookInput {
	return automation.WebhookInput{URL: w.URL, EventTypes: w.EventTypes, Secret: w.Secret}
}

// ruleInput is the body that creates or saves a rule (automation.Rule's
// JSON form, without what the store sets).
type ruleInput struct {
	Name      string               `json:"name"`
	Enabled   bool                 `json:"enabled,omitempty"`
	Triggers  []string             `json:"triggers"`
	Condition automation.Condition `json:"condition,omitempty"`
	Actions   []automation.Action  `json:"actions"`
}

func (r ruleInput) rule() automation.Rule {
	return automation.Rule{Name: r.Name, Enabled: r.Enabled, Triggers: r.Triggers, Condition: r.Condition, Actions: r.Actions}
}

func registerAutomation(api huma.API) {
	register(api, resource[*automation.Rule, ruleInput, ruleInput]{path: "/rules", singular: "rule", plural: "rules",
		tag: "automation",
		list: func(ctx context.Context, c *crm.CRM, _ list) ([]*automation.Rule, string, error) {
			return all(c.Automation.Rules.List(ctx))
		},
		create: func(ctx context.Context, c *crm.CRM, in ruleInput) (*automation.Rule, int64, error) {
			return versioned(c.Automation.Rules.Create(ctx, in.rule()))
		},
		get: func(ctx context.Context, c *crm.CRM, id core.ID) (*automation.Rule, int64, error) {
			return versioned(c.Automation.Rules.Get(ctx, id))
		},
		update: func(ctx context.Context, c *crm.CRM, id core.ID, v int64, in ruleInput) (*automation.Rule, int64, error) {
			r := in.rule()
			r.Version = v
			return versioned(c.Automation.Rules.Update(ctx, id, r))
		},
		del: func(ctx context.Context, c *crm.CRM, id core.ID) error { return c.Automation.Rules.Delete(ctx, id) },
	})
	register(api, resource[*automation.Webhook, webhookInput, webhookInput]{path: "/webhooks", singular: "webhook", plural: "webhooks",
		tag: "automation",
		list: func(ctx context.Context, c *crm.CRM, _ list) ([]*automation.Webhook, string, error) {
			return all(c.Automation.Webhooks.List(ctx))
		},
		create: func(ctx context.Context, c *crm.CRM, in webhookInput) (*automation.Webhook, int64, error) {
			return versioned(c.Automation.Webhooks.Create(ctx, in.input()))
		},
		get: func(ctx context.Context, c *crm.CRM, id core.ID) (*automation.Webhook, int64, error) {
			return versioned(c.Automation.Webhooks.Get(ctx, id))
		},
		update: func(ctx context.Context, c *crm.CRM, id core.ID, v int64, in webhookInput) (*automation.Webhook, int64, error) {
			return versioned(c.Automation.Webhooks.Update(ctx, id, v, in.input()))
		},
		del: func(ctx context.Context, c *crm.CRM, id core.ID) error { return c.Automation.Webhooks.Delete(ctx, id) },
	})
}
