package automation

import "github.com/crmkit/crmkit/core"

// Event types the automation module emits; the comment names the payload
// (Event.Data).
const (
	EventRuleCreated     = "rule.created"     // Rule
	EventRuleUpdated     = "rule.updated"     // Rule
	EventRuleDeleted     = "rule.deleted"     // Deleted
	EventWebhookCreated  = "webhook.created"  // WebhookChanged
	EventWebhookUpdated  = "webhook.updated"  // WebhookChanged
	EventWebhookDeleted  = "webhook.deleted"  // Deleted
	EventWebhookDisabled = "webhook.disabled" // WebhookDisabled
)

// Deleted is the payload of deletions that carry only the record's id.
type Deleted struct {
	ID core.ID `json:"id"`
}

// WebhookChanged is the payload of "webhook.created" and "webhook.updated"
// (never the secret).
type WebhookChanged struct {
	ID         core.ID  `json:"id"`
	URL        string   `json:"url"`
	EventTypes []string `json:"event_types"`
}

// WebhookDisabled is the payload of "webhook.disabled": the subscription
// was switched off after ConsecutiveFailures failed attempts in a row.
type WebhookDisabled struct {
	ID                  core.ID `json:"id"`
	URL                 string  `json:"url"`
	Reason              string  `json:"reason"`
	ConsecutiveFailures int64   `json:"consecutive_failures"`
}

// EventTypes is the automation module's event catalogue.
func EventTypes() []core.EventType {
	return []core.EventType{
		{Type: EventRuleCreated, Subject: "rule", Payload: Rule{}, Doc: "a rule was created"},
		{Type: EventRuleUpdated, Subject: "rule", Payload: Rule{}, Doc: "a rule was changed (a new version)"},
		{Type: EventRuleDeleted, Subject: "rule", Payload: Deleted{}, Doc: "a rule was deleted"},
		{Type: EventWebhookCreated, Subject: "webhook", Payload: WebhookChanged{}, Doc: "a webhook subscription was created"},
		{Type: EventWebhookUpdated, Subject: "webhook", Payload: WebhookChanged{}, Doc: "a webhook subscription changed"},
		{Type: EventWebhookDeleted, Subject: "webhook", Payload: Deleted{}, Doc: "a webhook subscription was deleted"},
		{Type: EventWebhookDisabled, Subject: "webhook", Payload: WebhookDisabled{}, Doc: "a webhook was disabled after repeated failed deliveries"},
	}
}
