package access

import (
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// Limits of users.
const (
	MaxUserIDLen      = 200
	MaxDisplayNameLen = 200
	MaxEmailLen       = 254
	MaxUserRoles      = 20
	MaxFramesPerDay   = 6
)

// User is one of the tenant's staff: someone who acts in the CRM (an
// Actor's ID names them), owns records and works in teams. crmkit does
// no login: the host gives the id and says who is acting.
type User struct {
	// ID is the host's id for the user ("user-42"), the Actor.ID of their
	// calls.
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
	Email       string `json:"email,omitempty"`
	// Active users may act, be assigned roles and join teams; a user is
	// deactivated (Users.Deactivate) rather than deleted, so the records
	// they own keep their owner.
	Active bool `json:"active"`
	// TimeZone is an IANA zone name ("Europe/Berlin"); WorkingHours are in
	// it.
	TimeZone     string       `json:"time_zone"`
	WorkingHours WorkingHours `json:"working_hours,omitempty"`
	// OutOfOffice is an absence, when one is planned.
	OutOfOffice *Period `json:"out_of_office,omitempty"`
	// Roles are the names of the user's roles, sorted.
	Roles     []string  `json:"roles"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Version   int64     `json:"version"`
}

// UserInput is what Users.Create and Users.Update take. Update replaces
// every field with the input's.
type UserInput struct {
	// ID is the host's id for the user (Create only; Update takes it
	// apart): 1 to 200 characters, no control characters.
	ID          string
	DisplayName string
	Email       string
	// TimeZone defaults to "UTC".
	TimeZone     string
	WorkingHours WorkingHours
	OutOfOffice  *Period
	// Roles names roles of the tenant.
	Roles []string
}

// UserSubjectID is the Event.SubjectID of the events about the user with
// the host's id (user ids are the host's strings, event subjects are
// ids): a name-based UUID of it.
func UserSubjectID(id string) core.ID {
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte("crmkit-user\x00"+id))
}

// checkUserID adds a problem for field unless id can be a user's id.
func checkUserID(v *core.ValidationError, field, id string) {
	if strings.TrimSpace(id) == "" {
		v.Add(field, "is required")
		return
	}
	v.CheckText(field, id, MaxUserIDLen)
}

// Users manages the tenant's users (c.Access.Users).
type Users struct {
	sc store.Scope
}

// normalize trims in and checks it; the problems are added to v.
func (in *UserInput) normalize(v *core.ValidationError) {
	in.DisplayName = strings.TrimSpace(in.DisplayName)
	in.Email = strings.TrimSpace(in.Email)
	in.TimeZone = strings.TrimSpace(in.TimeZone)
	if in.TimeZone == "" {
		in.TimeZone = "UTC"
	}
	if in.DisplayName == "" {
		v.Add("display_name", "is required")
	}
	v.CheckText("display_name", in.DisplayName, MaxDisplayNameLen)
	if in.Email != "" {
		a, err := mail.ParseAddress(in.Email)
		if err != nil || a.Address != in.Email || len(in.Email) > MaxEmailLen || !core.StorableText(in.Email) {
			v.Add("email", "is not a valid address")
		}
	}
	if _, err := time.LoadLocation(in.TimeZone); err != nil || !core.StorableText(in.TimeZone) || strings.EqualFold(in.TimeZone, "local") {
		v.Add("time_zone", "is not an IANA time zone name such as Europe/Berlin")
	}
	in.WorkingHours.check(v, "working_hours")
	if p := in.OutOfOffice; p != nil {
		v.CheckTime("out_of_office.from", p.From)
		v.CheckTime("out_of_office.until", p.Until)
		if !p.From.Before(p.Until) {
			v.Add("out_of_office", "from must be before until")
		}
		p.From, p.Until = core.NormalizeTime(p.From), core.NormalizeTime(p.Until)
	}
	if len(in.Roles) > MaxUserRoles {
		v.Add("roles", "at most %d", MaxUserRoles)
	}
	for i, r := range in.Roles {
		if !ValidRoleName(r) {
			v.Add(fmt.Sprintf("roles[%d]", i), "%q is not a role name", r)
		} else if slices.Contains(in.Roles[:i], r) {
			v.Add(fmt.Sprintf("roles[%d]", i), "%q is listed twice", r)
		}
	}
}
