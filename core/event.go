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
	// Each module exports its types as constants (contacts.EventContactCreated,
	// …); the catalogue (crm.CRM.EventTypes) lists them all.
	Type string `json:"type"`
	// SubjectType and SubjectID name the record the event is about.
	SubjectType string `json:"subject_type"`
	SubjectID   ID     `json:"subject_id"`
	// ContactID is the contact the event is about, when there is one: the
	// subject of a contact's event, the contact of a deal, task, note,
	// activity or consent record. Nil for events about no person (a
	// pipeline, a rule).
	ContactID *ID `json:"contact_id,omitempty"`
	// ActorID is the id of the Actor in the context of the change, or "".
	ActorID    string    `json:"actor_id,omitempty"`
	OccurredAt time.Time `json:"occurred_at"`
	// Data is the event's JSON payload, of the type its EventType names:
	// e.g. the record after the change.
	Data json.RawMessage `json:"data,omitempty"`
}

// About returns a pointer to id for Event.ContactID, or nil for NilID.
func About(id ID) *ID {
	if id == NilID {
		return nil
	}
	return &id
}
