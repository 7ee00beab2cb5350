package consent

import "github.com/crmkit/crmkit/core"

// Event types the consent module emits; the comment names the payload
// (Event.Data). A consent event's subject is the contact; its type is
// "consent." and the record's State.
const (
	EventConsentGranted   = "consent.granted"   // Record
	EventConsentWithdrawn = "consent.withdrawn" // Record
	EventConsentObjected  = "consent.objected"  // Record
	EventConsentPending   = "consent.pending"   // Record: a double opt-in was requested
	EventPurposeDefined   = "purpose.defined"   // Purpose
	EventContactErased    = "contact.erased"    // ErasureReceipt
)

// EventTypes is the consent module's event catalogue.
func EventTypes() []core.EventType {
	return []core.EventType{
		{Type: EventConsentGranted, Subject: "contact", Payload: Record{}, Doc: "a person gave consent to a purpose on a channel"},
		{Type: EventConsentWithdrawn, Subject: "contact", Payload: Record{}, Doc: "a person withdrew consent (or unsubscribed)"},
		{Type: EventConsentObjected, Subject: "contact", Payload: Record{}, Doc: "a person objected to processing (Art. 21)"},
		{Type: EventConsentPending, Subject: "contact", Payload: Record{}, Doc: "a double opt-in was requested and awaits confirmation"},
		{Type: EventPurposeDefined, Subject: "purpose", Payload: Purpose{}, Doc: "a purpose was defined, or its wording changed"},
		{Type: EventContactErased, Subject: "contact", Payload: ErasureReceipt{}, Doc: "a person was erased (Art. 17); the payload holds no personal data"},
	}
}
