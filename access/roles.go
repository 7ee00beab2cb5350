package access

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
)

// Limits of roles.
const (
	MaxRoleDescriptionLen = 1000
	MaxRoles              = 200
)

// Role is a named set of permissions of a tenant: per module, the
// actions it allows, the records it sees (own, team, all) and whether it
// sees personal data. Users hold roles by name.
type Role struct {
	ID          core.ID     `json:"id"`
	Name        string      `json:"name"`
	Description string      `json:"description,omitempty"`
	Permissions Permissions `json:"permissions"`
	CreatedAt   time.Time   `json:"created_at"`
	UpdatedAt   time.Time   `json:"updated_at"`
	Version     int64       `json:"version"`
}

// RoleInput is what Roles.Create and Roles.Update take.
type RoleInput struct {
	// Name: a lower-case letter, then lower-case letters, digits, _ and
	// -, at most 63 (ValidRoleName); unique in the tenant.
	Name        string
	Description string
	// Permissions by module name (Modules); a module not named grants
	// nothing.
	Permissions Permissions
}

// Roles manages the tenant's roles (c.Access.Roles).
type Roles struct {
	sc store.Scope
}

func (in *RoleInput) check() error {
	v := &core.ValidationError{}
	in.Description = strings.TrimSpace(in.Description)
	if !ValidRoleName(in.Name) {
		v.Add("name", "%q is not a role name (a lower-case letter, then lower-case letters, digits, _ and -; at most 63)", in.Name)
	}
	v.CheckText("description", in.Description, MaxRoleDescriptionLen)
	in.Permissions.check(v, "permissions")
	in.Permissions = in.Permissions.normalized()
	return v.Err()
}

// Create stores a new role and emits "role.created". A name that is
// taken is ErrConflict.
func (s *Roles) Create(ctx context.Context, in RoleInput) (_ *Role, err error) {
	ctx, span := s.sc.Span(ctx, "access.Roles.Create")
	defer span.End(&err)

	if err := in.check(); err != nil {
		return nil, err
	}
	g, err := check(ctx, s.sc, "role", core.NilID, Manage)
	if err != nil {
		return nil, err
	}
	if !g.within(in.Permissions) {
		return nil, g.done(ctx, g.forbid("role", core.NilID, "the role would grant more than the actor has"))
	}
	var out *Role
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		r, err := s.create(ctx, tx, in)
		out = r
		return err
	})
	return out, store.Wrap(err, "create role")
}

func (s *Roles) create(ctx context.Context, tx *store.Tx, in RoleInput) (*Role, error) {
	tenant, _ := s.sc.Tenant()
	q := tx.Q()
	var n int
	if err := q.QueryRow(ctx, `SELECT count(*) FROM crm_roles WHERE tenant_id = ?`, tenant).Scan(&n); err != nil {
		return nil, err
	}
	if n >= MaxRoles {
		return nil, core.Invalid("roles", "a tenant has at most %d roles", MaxRoles)
	}
	now := tx.Runtime().Now()
	r := &Role{ID: core.NewID(), Name: in.Name, Description: in.Description, Permissions: in.Permissions, CreatedAt: now, UpdatedAt: now, Version: 1}
	_, err := q.Exec(ctx, `INSERT INTO crm_roles (tenant_id, id, name, description, permissions, created_at, updated_at, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, tenant, r.ID, r.Name, r.Description, string(store.JSON(r.Permissions)), now, now, r.Version)
	if dialect.IsUniqueViolation(err) {
		return nil, fmt.Errorf("%w: a role named %q exists", core.ErrConflict, r.Name)
	}
	if err != nil {
		return nil, err
	}
	return r, tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventRoleCreated, SubjectType: "role", SubjectID: r.ID, OccurredAt: now, Data: store.JSON(r)})
}

// InstallBuiltins creates those of the built-in roles (Builtins) that the
// tenant has no role of that name of, and returns the roles created. It is
// idempotent: a role of the name, changed or not, is left as it is.
func (s *Roles) InstallBuiltins(ctx context.Context) (_ []*Role, err error) {
	ctx, span := s.sc.Span(ctx, "access.Roles.InstallBuiltins")
	defer span.End(&err)

	g, err := check(ctx, s.sc, "role", core.NilID, Manage)
	if err != nil {
		return nil, err
	}
	out := []*Role{}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		existing, err := listRoles(ctx, tx.Q(), tenant)
		if err != nil {
			return err
		}
		for _, b := range Builtins() {
			if slices.ContainsFunc(existing, func(r *Role) bool { return r.Name == b.Name }) {
				continue
			}
			in := RoleInput{Name: b.Name, Description: b.Description, Permissions: b.Permissions}
			if err := in.check(); err != nil {
				return err
			}
			if !g.within(in.Permissions) {
				return g.forbid("role", core.NilID, "built-in role "+b.Name+" grants more than the actor has")
			}
			// In a savepoint: a concurrent call that created the role
			// first makes this one's insert fail, and the role is then
			// there, as wanted.
			var r *Role
			err := s.sc.WithTx(tx).Write(ctx, func(ctx context.Context, tx *store.Tx) error {
				var err error
				r, err = s.create(ctx, tx, in)
				return err
			})
			if errors.Is(err, core.ErrConflict) {
				continue
			}
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, g.done(ctx, store.Wrap(err, "install built-in roles"))
	}
	return out, nil
}

// Get returns the role named name.
func (s *Roles) Get(ctx context.Context, name string) (_ *Role, err error) {
	ctx, span := s.sc.Span(ctx, "access.Roles.Get")
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	if !ValidRoleName(name) {
		return nil, core.Invalid("name", "%q is not a role name", name)
	}
	if _, err := check(ctx, s.sc, "role", core.NilID, Read); err != nil {
		return nil, err
	}
	r, err := getRole(ctx, s.sc.Q(), tenant, "name = ?", name, false)
	return r, store.Wrap(err, "get role")
}

// List returns the tenant's roles, by name.
func (s *Roles) List(ctx context.Context) (_ []*Role, err error) {
	ctx, span := s.sc.Span(ctx, "access.Roles.List")
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	if _, err := check(ctx, s.sc, "role", core.NilID, Read); err != nil {
		return nil, err
	}
	out, err := listRoles(ctx, s.sc.Q(), tenant)
	return out, store.Wrap(err, "list roles")
}

// Update replaces the role's name, description and permissions with in's
// if version is still the role's, and emits "role.updated". Renaming keeps
// the role's users (they hold it by id).
func (s *Roles) Update(ctx context.Context, id core.ID, version int64, in RoleInput) (_ *Role, err error) {
	ctx, span := s.sc.SpanID(ctx, "access.Roles.Update", id)
	defer span.End(&err)

	if err := core.CheckVersion(version); err != nil {
		return nil, err
	}
	if err := in.check(); err != nil {
		return nil, err
	}
	g, err := check(ctx, s.sc, "role", id, Manage)
	if err != nil {
		return nil, err
	}
	var out *Role
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		q := tx.Q()
		r, err := getRole(ctx, q, tenant, "id = ?", id, true)
		if err != nil {
			return err
		}
		if r.Version != version {
			return fmt.Errorf("%w: role %s is at version %d, not %d; read it again", core.ErrConflict, id, r.Version, version)
		}
		if !g.within(r.Permissions) || !g.within(in.Permissions) {
			return g.forbid("role", id, "the role grants, or would grant, more than the actor has")
		}
		changed := []string{}
		if r.Name != in.Name {
			changed = append(changed, "name")
		}
		if r.Description != in.Description {
			changed = append(changed, "description")
		}
		if string(store.JSON(r.Permissions)) != string(store.JSON(in.Permissions)) {
			changed = append(changed, "permissions")
		}
		r.Name, r.Description, r.Permissions = in.Name, in.Description, in.Permissions
		r.UpdatedAt = tx.Runtime().Now()
		r.Version++
		res, err := q.Exec(ctx, `UPDATE crm_roles SET name = ?, description = ?, permissions = ?, updated_at = ?, version = ?
			WHERE tenant_id = ? AND id = ? AND version = ?`, r.Name, r.Description, string(store.JSON(r.Permissions)), r.UpdatedAt, r.Version,
			tenant, id, version)
		if dialect.IsUniqueViolation(err) {
			return fmt.Errorf("%w: a role named %q exists", core.ErrConflict, r.Name)
		}
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return fmt.Errorf("%w: role %s was changed by someone else; read it again", core.ErrConflict, id)
		}
		if err := g.noWider(ctx, s.sc.WithTx(tx), "role", id); err != nil {
			return err
		}
		out = r
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventRoleUpdated, SubjectType: "role", SubjectID: id, OccurredAt: r.UpdatedAt,
			Data: store.JSON(RoleUpdated{Role: r, Changed: changed})})
	})
	if err != nil {
		return nil, g.done(ctx, store.Wrap(err, "update role"))
	}
	return out, nil
}

// Delete removes the role if version is still its version and emits
// "role.deleted". A role still assigned to a user is not deleted:
// ErrInvalid names the users (some of them) to take it from first.
func (s *Roles) Delete(ctx context.Context, id core.ID, version int64) (err error) {
	ctx, span := s.sc.SpanID(ctx, "access.Roles.Delete", id)
	defer span.End(&err)

	if err := core.CheckVersion(version); err != nil {
		return err
	}
	g, err := check(ctx, s.sc, "role", id, Manage)
	if err != nil {
		return err
	}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		q := tx.Q()
		r, err := getRole(ctx, q, tenant, "id = ?", id, true)
		if err != nil {
			return err
		}
		if r.Version != version {
			return fmt.Errorf("%w: role %s is at version %d, not %d; read it again", core.ErrConflict, id, r.Version, version)
		}
		if !g.within(r.Permissions) {
			return g.forbid("role", id, "the role grants more than the actor has")
		}
		rows, err := q.Query(ctx, `SELECT user_id FROM crm_user_roles WHERE tenant_id = ? AND role_id = ? ORDER BY user_id LIMIT 6`, tenant, id)
		if err != nil {
			return err
		}
		var users []string
		if err := store.EachRow(rows, func(r store.Scanner) error {
			var u string
			err := r.Scan(&u)
			users = append(users, u)
			return err
		}); err != nil {
			return err
		}
		if len(users) > 0 {
			list := strings.Join(users[:min(len(users), 5)], ", ")
			if len(users) > 5 {
				list += ", …"
			}
			return core.Invalid("role", "role %s is assigned to users (%s): take it from them first", id, list)
		}
		if _, err := q.Exec(ctx, `DELETE FROM crm_roles WHERE tenant_id = ? AND id = ?`, tenant, id); err != nil {
			return err
		}
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventRoleDeleted, SubjectType: "role", SubjectID: id,
			Data: store.JSON(RoleDeleted{ID: id, Name: r.Name})})
	})
	return g.done(ctx, store.Wrap(err, "delete role"))
}

const roleColumns = `id, name, description, permissions, created_at, updated_at, version`

func scanRole(row store.Scanner) (*Role, error) {
	var r Role
	var perms []byte
	if err := row.Scan(&r.ID, &r.Name, &r.Description, &perms, &r.CreatedAt, &r.UpdatedAt, &r.Version); err != nil {
		return nil, err
	}
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	if err := json.Unmarshal(perms, &r.Permissions); err != nil {
		return nil, fmt.Errorf("crm: role %s: decode permissions: %w", r.ID, err)
	}
	if r.Permissions == nil {
		r.Permissions = Permissions{}
	}
	return &r, nil
}

// getRole reads the role where cond (on one column, "name = ?" or "id =
// ?") holds for arg.
func getRole(ctx context.Context, q store.Q, tenant, cond string, arg any, lock bool) (*Role, error) {
	lockSQL := ""
	if lock {
		lockSQL = q.D.LockRows()
	}
	r, err := scanRole(q.QueryRow(ctx, `SELECT `+roleColumns+` FROM crm_roles WHERE tenant_id = ? AND `+cond+lockSQL, tenant, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.NotFound("role", arg)
	}
	return r, err
}

func listRoles(ctx context.Context, q store.Q, tenant string) ([]*Role, error) {
	rows, err := q.Query(ctx, `SELECT `+roleColumns+` FROM crm_roles WHERE tenant_id = ? ORDER BY name`, tenant)
	if err != nil {
		return nil, err
	}
	out := []*Role{}
	err = store.EachRow(rows, func(r store.Scanner) error {
		role, err := scanRole(r)
		if err == nil {
			out = append(out, role)
		}
		return err
	})
	return out, err
}

// merge folds the grants of roles into one Permissions: the union of the
// actions, the widest visibility, personal data if any role sees it.
func merge(roles []*Role) Permissions {
	out := Permissions{}
	for _, r := range roles {
		for _, m := range slices.Sorted(maps.Keys(r.Permissions)) {
			g := r.Permissions[m]
			cur, ok := out[m]
			if !ok {
				out[m] = Grant{Actions: slices.Clone(g.Actions), Visibility: g.Visibility, PersonalData: g.PersonalData}
				continue
			}
			for _, a := range g.Actions {
				if !cur.Allows(a) {
					cur.Actions = append(cur.Actions, a)
				}
			}
			if g.Visibility.rank() > cur.Visibility.rank() {
				cur.Visibility = g.Visibility
			}
			cur.PersonalData = cur.PersonalData || g.PersonalData
			out[m] = cur
		}
	}
	return out.normalized()
}
