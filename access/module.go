package access

import (
	"context"
	"embed"
	"time"

	"github.com/crmkit/crmkit/core"

	"github.com/crmkit/crmkit/internal/module"
	"github.com/crmkit/crmkit/internal/store"
)

// migrations are the facility's schema migrations (module.Module.Migrations).
//
//go:embed migrations/*.sql
var migrations embed.FS

// Module declares the access facility to package crm, which wires it (see
// internal/module); hosts use c.Access. The other modules get the
// service of their scope from it to resolve actors and read teams.
var Module declaration

type declaration struct{}

// Declare returns the facility's contract: its tables and events.
func (declaration) Declare() module.Module {
	return module.Module{
		Name:        "access",
		Migrations:  module.Files(migrations),
		Tables:      []string{"crm_users", "crm_roles", "crm_user_roles", "crm_teams", "crm_team_members"},
		Events:      EventTypes(),
		Permissions: []string{"access"},
	}
}

// Service returns the users, teams and roles of sc's tenant.
func (declaration) Service(sc store.Scope) *Service { return newService(sc) }

// TeamExists reports whether tenant has a team named name, reading
// through q (a module's transaction): for rules that name teams.
func (declaration) TeamExists(ctx context.Context, q store.Q, tenant, name string) (bool, error) {
	var n int
	err := q.QueryRow(ctx, `SELECT count(*) FROM crm_teams WHERE tenant_id = ? AND name = ?`, tenant, name).Scan(&n)
	return n == 1, err
}

// Team returns the team of tenant with id, reading through q (a module's
// transaction), whatever the actor in ctx may read of the facility: for
// modules that keep a team given by id under its name. A team the tenant
// does not have is ErrNotFound.
func (declaration) Team(ctx context.Context, q store.Q, tenant string, id core.ID) (*Team, error) {
	t, err := getTeam(ctx, q, tenant, "id = ?", id, false)
	return t, store.Wrap(err, "get team")
}

// AvailableMembers is Teams.AvailableMembers of tenant read through q,
// whatever the actor in ctx may read of the facility: for modules that
// assign work to a team's members (rule actions, routing).
func (declaration) AvailableMembers(ctx context.Context, q store.Q, tenant, name string, t time.Time) ([]Member, error) {
	return availableMembers(ctx, q, tenant, name, t)
}
