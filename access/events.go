package access

import "github.com/crmkit/crmkit/core"

// Event types of the access facility; the comment names the payload
// (Event.Data). Events about a user have subject type "user" and the
// subject id UserSubjectID(user id); those about teams and roles their
// ids. Payloads carry user ids, names and emails: users are the host's
// staff, not data subjects (see the package documentation).
const (
	EventUserCreated       = "user.created"        // User
	EventUserUpdated       = "user.updated"        // UserUpdated
	EventUserDeactivated   = "user.deactivated"    // User
	EventTeamCreated       = "team.created"        // Team
	EventTeamUpdated       = "team.updated"        // TeamUpdated
	EventTeamDeleted       = "team.deleted"        // TeamDeleted
	EventTeamMemberAdded   = "team.member_added"   // MemberChanged
	EventTeamMemberRemoved = "team.member_removed" // MemberChanged
	EventRoleCreated       = "role.created"        // Role
	EventRoleUpdated       = "role.updated"        // RoleUpdated
	EventRoleDeleted       = "role.deleted"        // RoleDeleted
)

// UserUpdated is the payload of "user.updated": the user after the change
// and the names of the fields that changed ("display_name", "email",
// "active", "time_zone", "working_hours", "out_of_office", "roles").
type UserUpdated struct {
	User    *User    `json:"user"`
	Changed []string `json:"changed"`
}

// TeamUpdated is the payload of "team.updated": the team after the change
// and what changed ("name", "description", "members" for a member's lead
// flag, capacity or skills).
type TeamUpdated struct {
	Team    *Team    `json:"team"`
	Changed []string `json:"changed"`
}

// TeamDeleted is the payload of "team.deleted": the team and the user
// ids of the members it had.
type TeamDeleted struct {
	ID      core.ID  `json:"id"`
	Name    string   `json:"name"`
	Members []string `json:"members"`
}

// MemberChanged is the payload of "team.member_added" and
// "team.member_removed".
type MemberChanged struct {
	TeamID core.ID `json:"team_id"`
	Member Member  `json:"member"`
}

// RoleUpdated is the payload of "role.updated": the role after the change
// and what changed ("name", "description", "permissions").
type RoleUpdated struct {
	Role    *Role    `json:"role"`
	Changed []string `json:"changed"`
}

// RoleDeleted is the payload of "role.deleted".
type RoleDeleted struct {
	ID   core.ID `json:"id"`
	Name string  `json:"name"`
}

// EventTypes is the access facility's event catalogue.
func EventTypes() []core.EventType {
	return []core.EventType{
		{Type: EventUserCreated, Subject: "user", Payload: User{}, Doc: "a user was added"},
		{Type: EventUserUpdated, Subject: "user", Payload: UserUpdated{}, Doc: "a user's fields or roles changed, or the user was activated again"},
		{Type: EventUserDeactivated, Subject: "user", Payload: User{}, Doc: "a user was deactivated"},
		{Type: EventTeamCreated, Subject: "team", Payload: Team{}, Doc: "a team was created"},
		{Type: EventTeamUpdated, Subject: "team", Payload: TeamUpdated{}, Doc: "a team was renamed or a member's lead flag, capacity or skills changed"},
		{Type: EventTeamDeleted, Subject: "team", Payload: TeamDeleted{}, Doc: "a team was deleted"},
		{Type: EventTeamMemberAdded, Subject: "team", Payload: MemberChanged{}, Doc: "a user joined a team"},
		{Type: EventTeamMemberRemoved, Subject: "team", Payload: MemberChanged{}, Doc: "a user left a team"},
		{Type: EventRoleCreated, Subject: "role", Payload: Role{}, Doc: "a role was created"},
		{Type: EventRoleUpdated, Subject: "role", Payload: RoleUpdated{}, Doc: "a role's name, description or permissions changed"},
		{Type: EventRoleDeleted, Subject: "role", Payload: RoleDeleted{}, Doc: "a role was deleted"},
	}
}
