package core

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Sentinel errors. Every error crmkit returns for an expected condition
// matches one of them with errors.Is; messages start with "crm:".
var (
	// ErrNotFound: the record does not exist in this tenant.
	ErrNotFound = errors.New("crm: not found")
	// ErrConflict: a concurrent writer changed the record first (stale
	// version), or a unique value is already taken.
	ErrConflict = errors.New("crm: conflict")
	// ErrInvalid: the input was rejected. The error is usually a
	// *ValidationError listing every problem.
	ErrInvalid = errors.New("crm: invalid input")
	// ErrForbidden: the acting user may not do this.
	ErrForbidden = errors.New("crm: forbidden")
	// ErrNoConsent: the person has not consented to this purpose.
	ErrNoConsent = errors.New("crm: no consent")
)

// NotFoundError says which record was not found: "crm: not found: contact
// 0190…". It matches ErrNotFound with errors.Is; build it with NotFound.
type NotFoundError struct {
	// Entity names the kind of record: "contact", "deal", "rule", …
	Entity string
	// ID is the id or key that was looked up, or "" when the lookup was by
	// a personal value (an email address), which errors never carry.
	ID string
}

// NotFound returns the error for a record of entity that does not exist in
// this tenant. id is the id or key looked up (a core.ID, a purpose key, …);
// pass nil when the lookup was by a personal value such as an email address,
// which must not reach the message.
func NotFound(entity string, id any) error {
	e := &NotFoundError{Entity: entity}
	if id != nil {
		e.ID = fmt.Sprint(id)
	}
	return e
}

// Error returns "crm: not found: contact 0190…".
func (e *NotFoundError) Error() string {
	msg := ErrNotFound.Error() + ": " + e.Entity
	if e.ID != "" {
		msg += " " + e.ID
	}
	return msg
}

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// FieldError is one problem with one input field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e FieldError) String() string { return e.Field + " " + e.Message }

// ValidationError lists every problem found in one input. It matches
// ErrInvalid with errors.Is.
type ValidationError struct {
	Fields []FieldError `json:"fields"`
}

// Error reports all problems: "crm: invalid input: email is not a valid
// address; first_name is longer than 200 characters".
func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.String()
	}
	return ErrInvalid.Error() + ": " + strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// Add records a problem with field.
func (e *ValidationError) Add(field, format string, args ...any) {
	e.Fields = append(e.Fields, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Has reports whether a problem with field was recorded.
func (e *ValidationError) Has(field string) bool {
	for _, f := range e.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}

// Err returns e when it holds a problem and nil otherwise, so a validator can
// end with `return v.Err()`.
func (e *ValidationError) Err() error {
	if e == nil || len(e.Fields) == 0 {
		return nil
	}
	return e
}

// Invalid returns a ValidationError with a single problem.
func Invalid(field, format string, args ...any) error {
	v := &ValidationError{}
	v.Add(field, format, args...)
	return v
}

// CheckText adds a problem for field unless s is acceptable free text:
// valid UTF-8, no control characters, at most max characters.
func (e *ValidationError) CheckText(field, s string, max int) {
	if !utf8.ValidString(s) {
		e.Add(field, "is not valid UTF-8")
		return
	}
	if utf8.RuneCountInString(s) > max {
		e.Add(field, "is longer than %d characters", max)
		return
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		e.Add(field, "contains control characters")
	}
}

// CheckVersion returns ErrInvalid naming "version" unless version is one a
// record can have (1 or more). Every versioned change takes the version the
// caller read; 0 means the caller did not pass it, which is a mistake in the
// call, not a concurrent change (ErrConflict).
func CheckVersion(version int64) error {
	if version < 1 {
		return Invalid("version", "is required: pass the version you read")
	}
	return nil
}

// StorableText reports whether s can be stored and compared as text on
// both databases: valid UTF-8 without NUL bytes (PostgreSQL refuses both).
func StorableText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

var codePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// ValidCode reports whether s is a code: a lower-case letter, then
// lower-case letters, digits and _, at most 63 in all. Attribute keys,
// purpose keys and reason codes are codes.
func ValidCode(s string) bool { return codePattern.MatchString(s) }

// ErrNotMigrated: crmkit's tables are missing or older than this version
// of crmkit needs: call CRM.Migrate.
var ErrNotMigrated = errors.New("crm: the schema is not migrated: call Migrate")
