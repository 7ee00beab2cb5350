package core

import "github.com/google/uuid"

// ID identifies every crmkit record. Ids are UUIDv7: time-ordered, so new rows
// land at the end of an index instead of at random places in it.
type ID = uuid.UUID

// NilID is the zero ID; no record has it.
var NilID ID

// NewID returns a new UUIDv7. Within one process successive ids are strictly
// increasing.
func NewID() ID {
	return uuid.Must(uuid.NewV7())
}

// ParseID parses the text form of an ID. Malformed input returns an error
// matching ErrInvalid.
func ParseID(s string) (ID, error) {
	id, err := uuid.Parse(s)
	if err != nil {
		return NilID, Invalid("id", "is not a valid id")
	}
	return id, nil
}
