package fields

import (
	"encoding/json"
	"slices"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
)

// Limits of a record's attributes (and of other free-form JSON objects
// such as an activity's properties).
const (
	MaxAttributes    = 100      // keys
	MaxAttributesLen = 64 << 10 // bytes as JSON
)

// storableJSON reports whether every string (and key) inside a decoded
// JSON value is storable text.
func storableJSON(v any) bool {
	switch x := v.(type) {
	case string:
		return core.StorableText(x)
	case map[string]any:
		for k, e := range x {
			if !core.StorableText(k) || !storableJSON(e) {
				return false
			}
		}
	case []any:
		for _, e := range x {
			if !storableJSON(e) {
				return false
			}
		}
	case []string:
		for _, e := range x {
			if !core.StorableText(e) {
				return false
			}
		}
	}
	return true
}

// checkAttributes checks keys and encodes the map; the JSON is returned for
// storage.
func checkAttributes(v *core.ValidationError, attrs map[string]any) []byte {
	if len(attrs) > MaxAttributes {
		v.Add("attributes", "has more than %d keys", MaxAttributes)
	}
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !filter.ValidAttributeKey(k) {
			v.Add("attributes", "%q is not a valid key (a lower-case letter, then lower-case letters, digits and _)", k)
		}
	}
	return checkMap(v, "attributes", attrs)
}

// checkJSONMap checks a free-form JSON object (properties, attributes).
func checkMap(v *core.ValidationError, field string, m map[string]any) []byte {
	if m == nil {
		m = map[string]any{}
	}
	b, err := json.Marshal(m)
	if err != nil {
		v.Add(field, "cannot be stored as JSON: %v", err)
		return nil
	}
	if len(b) > MaxAttributesLen {
		v.Add(field, "are larger than %d bytes as JSON", MaxAttributesLen)
	}
	if !storableJSON(m) {
		v.Add(field, "hold text that is not valid UTF-8 or has a NUL byte")
	}
	return b
}
