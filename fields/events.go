package fields

import "github.com/crmkit/crmkit/core"

// Event types of custom field definitions; the payload is the Definition.
const (
	EventDefined = "field.defined" // Definition
	EventRemoved = "field.removed" // Definition
)

// EventTypes is the fields facility's event catalogue.
func EventTypes() []core.EventType {
	return []core.EventType{
		{Type: EventDefined, Subject: "field", Payload: Definition{}, Doc: "a custom field was defined or redefined"},
		{Type: EventRemoved, Subject: "field", Payload: Definition{}, Doc: "a custom field definition was removed"},
	}
}
