package core

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"
)

// EventType describes one type of event: its name, the kind of record it
// is about, and the Go type of its payload. Each module declares the types
// it emits; the catalogue of all of them validates rule triggers, webhook
// subscriptions and subscriber patterns, and documents payloads.
type EventType struct {
	// Type is the event's name, "module_entity.verb": "contact.created".
	Type string `json:"type"`
	// Subject is the SubjectType of events of this type: "contact".
	Subject string `json:"subject"`
	// Payload is a value of the type Event.Data decodes into (for example
	// contacts.Contact{}), or nil when events of the type carry no data.
	Payload any `json:"-"`
	// Doc says when the event is emitted.
	Doc string `json:"doc"`
}

// Fields lists the paths of the payload's fields, as rule conditions name
// them after "data." ("name", "deal.stage_id"). A path ending in ".*"
// stands for any key below it (a map such as attributes).
func (t EventType) Fields() []string {
	if t.Payload == nil {
		return nil
	}
	var out []string
	payloadPaths(reflect.TypeOf(t.Payload), "", &out, 0)
	sort.Strings(out)
	return slices.Compact(out)
}

var (
	timeType    = reflect.TypeOf(time.Time{})
	rawJSONType = reflect.TypeOf(json.RawMessage{})
	idType      = reflect.TypeOf(ID{})
)

// payloadPaths appends the JSON paths of t's fields below prefix.
func payloadPaths(t reflect.Type, prefix string, out *[]string, depth int) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	leaf := func() {
		if prefix != "" {
			*out = append(*out, strings.TrimSuffix(prefix, "."))
		}
	}
	switch {
	case t == timeType || t == idType || depth > 6:
		leaf()
		return
	case t == rawJSONType || t.Kind() == reflect.Map || t.Kind() == reflect.Interface:
		leaf()
		*out = append(*out, prefix+"*")
		return
	case t.Kind() != reflect.Struct:
		leaf()
		return
	}
	leaf() // the object itself: "exists data.deal"
	if _, ok := reflect.New(t).Interface().(json.Marshaler); ok {
		return // a value with its own JSON form (decimal): one leaf
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			payloadPaths(f.Type, prefix, out, depth+1)
			continue
		}
		if name == "" {
			name = f.Name
		}
		payloadPaths(f.Type, prefix+name+".", out, depth+1)
	}
}

// EventCatalogue is the set of event types a CRM emits. It is built once
// when the CRM is wired and read-only afterwards.
type EventCatalogue struct {
	types map[string]EventType
	order []string
}

// NewEventCatalogue builds a catalogue of types. A type declared twice is
// a programming error and panics.
func NewEventCatalogue(types ...EventType) *EventCatalogue {
	c := &EventCatalogue{types: map[string]EventType{}}
	for _, t := range types {
		if _, dup := c.types[t.Type]; dup {
			panic(fmt.Sprintf("crm: event type %q declared twice", t.Type))
		}
		c.types[t.Type] = t
		c.order = append(c.order, t.Type)
	}
	sort.Strings(c.order)
	return c
}

// Types returns every event type, by name.
func (c *EventCatalogue) Types() []EventType {
	out := make([]EventType, len(c.order))
	for i, n := range c.order {
		out[i] = c.types[n]
	}
	return out
}

// Matching returns the types a pattern selects: an exact type
// ("contact.created"), a prefix pattern ("contact.*"), or "*" for all.
func (c *EventCatalogue) Matching(pattern string) []EventType {
	var out []EventType
	for _, n := range c.order {
		if MatchesEventType(pattern, n) {
			out = append(out, c.types[n])
		}
	}
	return out
}

// Known reports whether pattern selects at least one event type.
func (c *EventCatalogue) Known(pattern string) bool { return len(c.Matching(pattern)) > 0 }

// CheckPatterns adds a problem to v (under field, indexed) for every
// pattern that selects no event type of the catalogue, so a misspelt
// "activty.tracked" is refused instead of never firing.
func (c *EventCatalogue) CheckPatterns(v *ValidationError, field string, patterns []string) {
	for i, p := range patterns {
		if !c.Known(p) {
			v.Add(fmt.Sprintf("%s[%d]", field, i), "%q is not an event type (see the event catalogue)", p)
		}
	}
}

// HasField reports whether path (below "data.") names a payload field of
// at least one of types.
func HasField(types []EventType, path string) bool {
	for _, t := range types {
		for _, f := range t.Fields() {
			if f == path || (strings.HasSuffix(f, ".*") && strings.HasPrefix(path, f[:len(f)-1])) ||
				(f == "*" && path != "") {
				return true
			}
		}
	}
	return false
}

// MatchesEventType reports whether event type t matches pattern: the type
// itself, a prefix pattern ("contact.*"), or "*".
func MatchesEventType(pattern, t string) bool {
	return pattern == t || pattern == "*" || (strings.HasSuffix(pattern, ".*") && strings.HasPrefix(t, pattern[:len(pattern)-1]))
}
