package access

import (
	"context"
	"time"

	"github.com/crmkit/crmkit/core"
)

// AccessAPI is what *Service (c.Access) does, as an interface, for hosts
// that substitute it: a fake in their tests, a wrapper that adds caching or
// metrics. See *Service for each method.
type AccessAPI interface {
	ForContext(ctx context.Context) (*Effective, error)
	Resolve(ctx context.Context, actor core.Actor) (*Effective, error)
}

// UsersAPI is what *Users (c.Access.Users) does, as an interface, for hosts
// that substitute it: a fake in their tests, a wrapper that adds caching or
// metrics. See *Users for each method.
type UsersAPI interface {
	Activate(ctx context.Context, id string, version int64) (*User, error)
	Create(ctx context.Context, in UserInput) (*User, error)
	Deactivate(ctx context.Context, id string, version int64) (*User, error)
	Get(ctx context.Context, id string) (*User, error)
	List(ctx context.Context, opts UserListOptions) (core.Page[*User], error)
	Update(ctx context.Context, id string, version int64, in UserInput) (*User, error)
}

// TeamsAPI is what *Teams (c.Access.Teams) does, as an interface, for hosts
// that substitute it: a fake in their tests, a wrapper that adds caching or
// metrics. See *Teams for each method.
type TeamsAPI interface {
	AddMember(ctx context.Context, teamID core.ID, version int64, m Member) (*Team, error)
	AvailableMembers(ctx context.Context, name string, t time.Time) ([]Member, error)
	ByName(ctx context.Context, name string) (*Team, error)
	Create(ctx context.Context, in TeamInput) (*Team, error)
	Delete(ctx context.Context, id core.ID, version int64) error
	Get(ctx context.Context, id core.ID) (*Team, error)
	List(ctx context.Context) ([]*Team, error)
	OfUser(ctx context.Context, userID string) ([]*Team, error)
	RemoveMember(ctx context.Context, teamID core.ID, version int64, userID string) (*Team, error)
	Update(ctx context.Context, id core.ID, version int64, in TeamInput) (*Team, error)
	UpdateMember(ctx context.Context, teamID core.ID, version int64, m Member) (*Team, error)
}

// RolesAPI is what *Roles (c.Access.Roles) does, as an interface, for hosts
// that substitute it: a fake in their tests, a wrapper that adds caching or
// metrics. See *Roles for each method.
type RolesAPI interface {
	Create(ctx context.Context, in RoleInput) (*Role, error)
	Delete(ctx context.Context, id core.ID, version int64) error
	Get(ctx context.Context, name string) (*Role, error)
	InstallBuiltins(ctx context.Context) ([]*Role, error)
	List(ctx context.Context) ([]*Role, error)
	Update(ctx context.Context, id core.ID, version int64, in RoleInput) (*Role, error)
}

// The services satisfy their interfaces.
var (
	_ AccessAPI = (*Service)(nil)
	_ UsersAPI  = (*Users)(nil)
	_ TeamsAPI  = (*Teams)(nil)
	_ RolesAPI  = (*Roles)(nil)
)
