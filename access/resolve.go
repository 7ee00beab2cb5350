package access

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
)

// Effective are an actor's effective permissions in one tenant: what
// Service.Resolve makes of a core.Actor and the tenant's users, roles and
// teams. The modules ask it before they act (Can, Require) and narrow
// their queries with it (Visibility, Condition). It is a snapshot: resolve
// again to see later changes.
type Effective struct {
	actor   string
	trusted bool
	stored  bool
	grants  Permissions
	// members are the user ids the actor sees with "team" visibility: the
	// members of the actor's teams and the actor, sorted; nil when no
	// grant has team visibility.
	members []string
	d       *dialect.Dialect
}

// Actor returns the id of the actor resolved ("" for the host's own code).
func (e *Effective) Actor() string { return e.actor }

// Trusted reports whether e is the host's own code (no actor in the
// context): it may do everything and sees every record.
func (e *Effective) Trusted() bool { return e.trusted }

// Stored reports whether the actor is a stored user of the tenant (whose
// roles and teams were read from the tenant), rather than resolved from
// the Actor's own Roles and Teams.
func (e *Effective) Stored() bool { return e.stored }

// Grant returns the actor's merged grant on module (the zero Grant when
// none of their roles names it).
func (e *Effective) Grant(module string) Grant {
	g := e.grants[module]
	g.Actions = slices.Clone(g.Actions)
	return g
}

// Can reports whether the actor may do action in module.
func (e *Effective) Can(module string, action Action) bool {
	return e.trusted || e.grants[module].Allows(action)
}

// Require returns nil when the actor may do action in module, and an
// error matching core.ErrForbidden otherwise (naming the actor's id, the
// action and the module).
func (e *Effective) Require(module string, action Action) error {
	if e.Can(module, action) {
		return nil
	}
	return fmt.Errorf("%w: user %s may not %s in %s", core.ErrForbidden, e.actor, action, module)
}

// SeesPersonalData reports whether the actor sees the personal fields of
// module's records (others see them masked).
func (e *Effective) SeesPersonalData(module string) bool {
	return e.trusted || (e.grants[module].PersonalData && e.grants[module].Allows(Read))
}

// Visibility returns which of module's records the actor sees, and for
// VisibilityOwn and VisibilityTeam the user ids whose records those are
// (the owner or the assignee is one of them): for VisibilityOwn the
// actor, for VisibilityTeam every member of the actor's teams and the
// actor. VisibilityAll returns no ids; VisibilityNone (the actor may not
// read the module) neither.
func (e *Effective) Visibility(module string) (Visibility, []string) {
	if e.trusted {
		return VisibilityAll, nil
	}
	g := e.grants[module]
	if !g.Allows(Read) {
		return VisibilityNone, nil
	}
	switch g.Visibility {
	case VisibilityAll:
		return VisibilityAll, nil
	case VisibilityTeam:
		return VisibilityTeam, slices.Clone(e.members)
	default:
		if e.actor == "" {
			return VisibilityOwn, []string{}
		}
		return VisibilityOwn, []string{e.actor}
	}
}

// Condition returns the SQL condition a module appends to the WHERE of a
// query over its records (AND …) so that it returns only those the actor
// sees, with its bound arguments (? placeholders, as crmkit's queries
// write them). columns are the record's owner and assignee columns
// ("c.owner_id", "t.assignee_id"), trusted SQL of the module's own: a
// record is visible when one of them holds one of the ids Visibility
// returns. The ids are one list parameter per column, so a team of any
// size is one statement. VisibilityAll is "1 = 1"; VisibilityNone, and
// VisibilityOwn or VisibilityTeam with no columns, is "1 = 0".
func (e *Effective) Condition(module string, columns ...string) (string, []any) {
	vis, ids := e.Visibility(module)
	switch {
	case vis == VisibilityAll:
		return "1 = 1", nil
	case vis == VisibilityNone || len(columns) == 0:
		return "1 = 0", nil
	}
	parts := make([]string, len(columns))
	args := make([]any, len(columns))
	list := e.d.ListArg(ids)
	for i, col := range columns {
		parts[i] = e.d.InList(col, "text")
		args[i] = list
	}
	return "(" + strings.Join(parts, " OR ") + ")", args
}

// trusted is what the host's own code resolves to.
func trustedEffective(d *dialect.Dialect) *Effective {
	return &Effective{trusted: true, grants: Permissions{}, d: d}
}

// resolve works out actor's permissions in sc's tenant. A stored user of
// the tenant resolves from their stored roles and team memberships (the
// Actor's Roles and Teams are ignored); a deactivated one to nothing. An
// actor who is not a stored user resolves from the Actor's Roles (names of
// the tenant's roles; others grant nothing) and Teams (names or ids of
// the tenant's teams; others are ignored).
func resolve(ctx context.Context, sc store.Scope, actor core.Actor) (*Effective, error) {
	tenant, err := sc.Tenant()
	if err != nil {
		return nil, err
	}
	for _, s := range append(append([]string{actor.ID}, actor.Roles...), actor.Teams...) {
		if !core.StorableText(s) {
			return nil, core.Invalid("actor", "holds text that is not valid UTF-8 or has NUL bytes")
		}
	}
	q := sc.Q()
	d := q.D
	e := &Effective{actor: actor.ID, grants: Permissions{}, d: d}
	if actor.ID != "" {
		// A stored user, in one statement: every call of a module resolves
		// its actor, and round trips are most of what resolving costs.
		stored, err := resolveStored(ctx, q, tenant, e)
		if err != nil || stored {
			return e, err
		}
	}
	// Not a stored user: the Actor's Roles and Teams name what applies.
	var roles []*Role
	if len(actor.Roles) > 0 {
		roles, err = rolesWhere(ctx, q, tenant, d.InList("name", "text"), d.ListArg(actor.Roles))
	}
	if err != nil {
		return nil, store.Wrap(err, "resolve permissions")
	}
	e.grants = merge(roles)
	if !slices.ContainsFunc(slicesOf(e.grants), func(g Grant) bool { return g.Visibility == VisibilityTeam }) {
		return e, nil
	}

	// The members of the actor's teams, in one query.
	query := `SELECT DISTINCT o.user_id FROM crm_teams t
		JOIN crm_team_members o ON o.tenant_id = t.tenant_id AND o.team_id = t.id
		WHERE t.tenant_id = ? AND (` + d.InList("t.name", "text") + ` OR ` + d.InList("CAST(t.id AS TEXT)", "text") + `) ORDER BY o.user_id`
	rows, err := q.Query(ctx, query, tenant, d.ListArg(actor.Teams), d.ListArg(actor.Teams))
	if err != nil {
		return nil, store.Wrap(err, "resolve team members")
	}
	e.members = []string{}
	if err := store.EachRow(rows, func(r store.Scanner) error {
		var u string
		err := r.Scan(&u)
		e.members = append(e.members, u)
		return err
	}); err != nil {
		return nil, store.Wrap(err, "resolve team members")
	}
	if actor.ID != "" && !slices.Contains(e.members, actor.ID) {
		e.members = append(e.members, actor.ID)
		slices.Sort(e.members)
	}
	return e, nil
}

// resolveStored resolves e's actor when they are a stored user of tenant
// (and reports whether they are), reading their active flag, their roles'
// permissions and the members of their teams in one statement. A
// deactivated user resolves to no permission.
func resolveStored(ctx context.Context, q store.Q, tenant string, e *Effective) (bool, error) {
	rows, err := q.Query(ctx, `SELECT 'u', CASE WHEN u.active THEN 'y' ELSE 'n' END FROM crm_users u WHERE u.tenant_id = ? AND u.id = ?
		UNION ALL SELECT 'r', CAST(r.permissions AS TEXT) FROM crm_user_roles ur
			JOIN crm_roles r ON r.tenant_id = ur.tenant_id AND r.id = ur.role_id WHERE ur.tenant_id = ? AND ur.user_id = ?
		UNION ALL SELECT 'm', o.user_id FROM crm_team_members m
			JOIN crm_team_members o ON o.tenant_id = m.tenant_id AND o.team_id = m.team_id WHERE m.tenant_id = ? AND m.user_id = ?`,
		tenant, e.actor, tenant, e.actor, tenant, e.actor)
	if err != nil {
		return false, store.Wrap(err, "resolve permissions")
	}
	var (
		found, active bool
		roles         []*Role
		members       []string
	)
	err = store.EachRow(rows, func(r store.Scanner) error {
		var kind, value string
		if err := r.Scan(&kind, &value); err != nil {
			return err
		}
		switch kind {
		case "u":
			found, active = true, value == "y"
		case "r":
			role := &Role{}
			if err := json.Unmarshal([]byte(value), &role.Permissions); err != nil {
				return fmt.Errorf("crm: a role of user %s: decode permissions: %w", e.actor, err)
			}
			roles = append(roles, role)
		case "m":
			members = append(members, value)
		}
		return nil
	})
	if err != nil || !found {
		return false, store.Wrap(err, "resolve permissions")
	}
	e.stored = true
	if !active {
		return true, nil // deactivated: no permission
	}
	e.grants = merge(roles)
	if !slices.ContainsFunc(slicesOf(e.grants), func(g Grant) bool { return g.Visibility == VisibilityTeam }) {
		return true, nil
	}
	members = append(members, e.actor)
	slices.Sort(members)
	e.members = slices.Compact(members)
	return true, nil
}

func slicesOf(p Permissions) []Grant {
	out := make([]Grant, 0, len(p))
	for _, g := range p {
		out = append(out, g)
	}
	return out
}

// rolesWhere reads the roles of tenant where cond holds.
func rolesWhere(ctx context.Context, q store.Q, tenant, cond string, args ...any) ([]*Role, error) {
	rows, err := q.Query(ctx, `SELECT `+roleColumns+` FROM crm_roles WHERE tenant_id = ? AND `+cond+` ORDER BY name`,
		append([]any{tenant}, args...)...)
	if err != nil {
		return nil, err
	}
	var out []*Role
	err = store.EachRow(rows, func(r store.Scanner) error {
		role, err := scanRole(r)
		if err == nil {
			out = append(out, role)
		}
		return err
	})
	return out, err
}
