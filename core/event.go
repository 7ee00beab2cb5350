package core

import (
	"encoding/json"
	"time"
)

// Event records one successful change. Every write appends its events to the
// crm_events table in the same transaction as the change (a transactional
// outbox), so an event exists if and only if its change committed.
type Event struct {
	ID       ID     `json:"id"`
	TenantID string `json:"tenant_id"`
	// Type names what happened: "contact.created", "deal.stage_changed", …
	Type string `json:"type"`
	// SubjectType and SubjectID name the record the event is about.
	SubjectType string `json:"subject_type"`
	SubjectID   ID     `json:"subject_id"`
	// ActorID is the id of the Actor in the context of the change, or "".
	ActorID    string    `json:"actor_id,omitempty"`
	OccurredAt time.Time `json:"occurred_at"`
	// Data is the event's JSON payload, e.g. the record after the change.
	Data json.RawMessage `json:"data,omitempty"`
}
