package access

import (
	"context"
	"time"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// Service is the access facility of one tenant (c.Access): its users,
// teams and roles, and the resolution of an actor's permissions.
type Service struct {
	Users *Users
	Teams *Teams
	Roles *Roles

	sc store.Scope
}

// newService returns the service of scope sc. Hosts use crm.CRM.Access.
func newService(sc store.Scope) *Service {
	return &Service{Users: &Users{sc: sc}, Teams: &Teams{sc: sc}, Roles: &Roles{sc: sc}, sc: sc}
}

// Resolve works out actor's effective permissions in the tenant.
//
// When actor.ID is a stored user of the tenant, the stored user is the
// source of truth: their roles and team memberships decide, and the
// Actor's Roles and Teams are ignored; a deactivated user resolves to no
// permission at all. When it is not (the host keeps no users here, or
// the actor is a system component), the Actor's Roles name the tenant's
// roles that apply and its Teams the tenant's teams (by name or id) whose
// members count as the actor's team; names the tenant does not have grant
// nothing. An actor with no roles may do nothing.
func (s *Service) Resolve(ctx context.Context, actor core.Actor) (_ *Effective, err error) {
	ctx, span := s.sc.Span(ctx, "access.Resolve")
	defer span.End(&err)

	return resolve(ctx, s.sc, actor)
}

// ForContext resolves the Actor in ctx (core.WithActor). Without one the
// call is the host's own trusted code: the result may do everything and
// sees every record (Effective.Trusted), as crmkit behaved before roles
// existed.
func (s *Service) ForContext(ctx context.Context) (_ *Effective, err error) {
	a, ok := core.ActorFrom(ctx)
	if !ok {
		// Nothing to resolve, and no span: every guarded method calls this.
		if _, err := s.sc.Tenant(); err != nil {
			return nil, err
		}
		return trustedEffective(s.sc.Runtime().Dialect), nil
	}
	ctx, span := s.sc.Span(ctx, "access.ForContext")
	defer span.End(&err)
	return cachedResolve(ctx, s.sc, a)
}

// AvailableMembers returns the members of the team named name who can
// take work at t: active users who are not out of office then, by user
// id. A team the tenant does not have is ErrNotFound. An actor needs
// "access" read.
func (s *Teams) AvailableMembers(ctx context.Context, name string, t time.Time) (_ []Member, err error) {
	ctx, span := s.sc.Span(ctx, "access.Teams.AvailableMembers")
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	if !core.StorableText(name) {
		return nil, core.Invalid("name", "is not valid text")
	}
	if _, err := check(ctx, s.sc, "team", core.NilID, Read); err != nil {
		return nil, err
	}
	return availableMembers(ctx, s.sc.Q(), tenant, name, t)
}

// availableMembers is Teams.AvailableMembers of tenant, read through q.
func availableMembers(ctx context.Context, q store.Q, tenant, name string, t time.Time) ([]Member, error) {
	team, err := getTeam(ctx, q, tenant, "name = ?", name, false)
	if err != nil {
		return nil, store.Wrap(err, "get team")
	}
	rows, err := q.Query(ctx, `SELECT u.id FROM crm_team_members m JOIN crm_users u ON u.tenant_id = m.tenant_id AND u.id = m.user_id
		WHERE m.tenant_id = ? AND m.team_id = ? AND u.active = `+q.D.True()+`
		AND NOT (u.away_from IS NOT NULL AND u.away_from <= ? AND u.away_until > ?) ORDER BY u.id`, tenant, team.ID, t, t)
	if err != nil {
		return nil, store.Wrap(err, "read available members")
	}
	available := map[string]bool{}
	if err := store.EachRow(rows, func(r store.Scanner) error {
		var id string
		err := r.Scan(&id)
		available[id] = true
		return err
	}); err != nil {
		return nil, store.Wrap(err, "read available members")
	}
	out := []Member{}
	for _, m := range team.Members {
		if available[m.UserID] {
			out = append(out, m)
		}
	}
	return out, nil
}
