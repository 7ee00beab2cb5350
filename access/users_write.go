package access

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
)

// Writing users: created, updated, deactivated and activated, each change
// versioned and announced by its event.

// Create stores a new, active user and emits "user.created". The id is
// the host's; one that is taken is ErrConflict. Every role must exist in
// the tenant.
func (s *Users) Create(ctx context.Context, in UserInput) (_ *User, err error) {
	ctx, span := s.sc.Span(ctx, "access.Users.Create")
	defer span.End(&err)

	v := &core.ValidationError{}
	checkUserID(v, "id", in.ID)
	in.normalize(v)
	in.Roles = slices.Clone(in.Roles)
	if in.OutOfOffice != nil {
		p := *in.OutOfOffice
		in.OutOfOffice = &p
	}
	g, err := check(ctx, s.sc, "user", UserSubjectID(in.ID), Manage)
	if err != nil {
		return nil, err
	}
	var out *User
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		q := tx.Q()
		roleIDs, err := roleIDsByName(ctx, q, tenant, v, in.Roles)
		if err != nil {
			return err
		}
		if err := v.Err(); err != nil {
			return err
		}
		if beyond, err := g.rolesWithin(ctx, q, tenant, in.Roles); err != nil || beyond != "" {
			if err != nil {
				return err
			}
			return g.forbid("user", UserSubjectID(in.ID), "role "+beyond+" grants more than the actor has")
		}
		now := tx.Runtime().Now()
		u := &User{ID: in.ID, DisplayName: in.DisplayName, Email: in.Email, Active: true, TimeZone: in.TimeZone,
			WorkingHours: in.WorkingHours, OutOfOffice: in.OutOfOffice, Roles: sortedRoles(in.Roles), CreatedAt: now, UpdatedAt: now, Version: 1}
		from, until := u.away()
		_, err = q.Exec(ctx, `INSERT INTO crm_users (tenant_id, id, display_name, email, active, time_zone, working_hours,
			away_from, away_until, created_at, updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			tenant, u.ID, u.DisplayName, u.Email, true, u.TimeZone, hoursJSON(u.WorkingHours), from, until, now, now, u.Version)
		if dialect.IsUniqueViolation(err) {
			return fmt.Errorf("%w: user %s exists", core.ErrConflict, u.ID)
		}
		if err != nil {
			return err
		}
		if err := setUserRoles(ctx, q, tenant, u.ID, roleIDs); err != nil {
			return err
		}
		if err := g.noWider(ctx, s.sc.WithTx(tx), "user", UserSubjectID(u.ID)); err != nil {
			return err
		}
		out = u
		return tx.Emit(ctx, userEvent(tenant, EventUserCreated, now, u))
	})
	if err != nil {
		return nil, g.done(ctx, store.Wrap(err, "create user"))
	}
	return out, nil
}

// Update replaces the user's fields with in's (its ID may be "" or the
// user's) if version is still the user's, and emits "user.updated" with
// the names of the fields that changed. A deactivated user gets no new
// roles.
func (s *Users) Update(ctx context.Context, id string, version int64, in UserInput) (_ *User, err error) {
	ctx, span := s.sc.Span(ctx, "access.Users.Update")
	defer span.End(&err)

	v := &core.ValidationError{}
	if in.ID != "" && in.ID != id {
		v.Add("id", "cannot change (it is the host's id of the user)")
	}
	in.normalize(v)
	in.Roles = slices.Clone(in.Roles)
	if in.OutOfOffice != nil {
		p := *in.OutOfOffice
		in.OutOfOffice = &p
	}
	return s.change(ctx, id, version, "update user", func(ctx context.Context, q store.Q, tenant string, u *User) ([]core.ID, error) {
		roleIDs, err := roleIDsByName(ctx, q, tenant, v, in.Roles)
		if err != nil {
			return nil, err
		}
		if !u.Active {
			for i, r := range in.Roles {
				if !slices.Contains(u.Roles, r) {
					v.Add(fmt.Sprintf("roles[%d]", i), "cannot be assigned: user %s is deactivated", id)
				}
			}
		}
		if err := v.Err(); err != nil {
			return nil, err
		}
		u.DisplayName, u.Email, u.TimeZone, u.WorkingHours, u.OutOfOffice = in.DisplayName, in.Email, in.TimeZone, in.WorkingHours, in.OutOfOffice
		u.Roles = sortedRoles(in.Roles)
		return roleIDs, nil
	})
}

// Deactivate marks the user inactive and emits "user.deactivated". The
// user keeps their roles and team memberships (records stay visible to
// their teams), but resolves to no permission and is passed over by team
// assignment; they get no new roles or memberships until activated.
func (s *Users) Deactivate(ctx context.Context, id string, version int64) (_ *User, err error) {
	ctx, span := s.sc.Span(ctx, "access.Users.Deactivate")
	defer span.End(&err)

	return s.setActive(ctx, id, version, false)
}

// Activate marks a deactivated user active again and emits "user.updated"
// (changed: active).
func (s *Users) Activate(ctx context.Context, id string, version int64) (_ *User, err error) {
	ctx, span := s.sc.Span(ctx, "access.Users.Activate")
	defer span.End(&err)

	return s.setActive(ctx, id, version, true)
}

func (s *Users) setActive(ctx context.Context, id string, version int64, active bool) (*User, error) {
	doing := "deactivate user"
	if active {
		doing = "activate user"
	}
	return s.change(ctx, id, version, doing, func(ctx context.Context, q store.Q, tenant string, u *User) ([]core.ID, error) {
		if u.Active == active {
			return nil, core.Invalid("active", "user %s is %s already", id, map[bool]string{true: "active", false: "deactivated"}[active])
		}
		u.Active = active
		return nil, nil
	})
}

// change runs fn on the user with id, locked, if version is still its
// version; fn edits u and returns the ids of its new roles (nil: the
// roles stay). The user is then written, the version bumped and the event
// emitted.
func (s *Users) change(ctx context.Context, id string, version int64, doing string,
	fn func(ctx context.Context, q store.Q, tenant string, u *User) ([]core.ID, error)) (*User, error) {
	if err := core.CheckVersion(version); err != nil {
		return nil, err
	}
	if !core.StorableText(id) {
		return nil, core.Invalid("id", "is not valid text")
	}
	g, err := check(ctx, s.sc, "user", UserSubjectID(id), Manage)
	if err != nil {
		return nil, err
	}
	var out *User
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		q := tx.Q()
		u, err := getUser(ctx, q, tenant, id, true)
		if err != nil {
			return err
		}
		if u.Version != version {
			return fmt.Errorf("%w: user %s is at version %d, not %d; read it again", core.ErrConflict, id, u.Version, version)
		}
		// An actor changes only users whose roles lie within their own
		// permissions, and gives only such roles.
		if beyond, err := g.rolesWithin(ctx, q, tenant, u.Roles); err != nil || beyond != "" {
			if err != nil {
				return err
			}
			return g.forbid("user", UserSubjectID(id), "the user holds role "+beyond+", which grants more than the actor has")
		}
		before := *u
		roleIDs, err := fn(ctx, q, tenant, u)
		if err != nil {
			return err
		}
		if beyond, err := g.rolesWithin(ctx, q, tenant, u.Roles); err != nil || beyond != "" {
			if err != nil {
				return err
			}
			return g.forbid("user", UserSubjectID(id), "role "+beyond+" grants more than the actor has")
		}
		u.UpdatedAt = tx.Runtime().Now()
		u.Version++
		from, until := u.away()
		res, err := q.Exec(ctx, `UPDATE crm_users SET display_name = ?, email = ?, active = ?, time_zone = ?, working_hours = ?,
			away_from = ?, away_until = ?, updated_at = ?, version = ? WHERE tenant_id = ? AND id = ? AND version = ?`,
			u.DisplayName, u.Email, u.Active, u.TimeZone, hoursJSON(u.WorkingHours), from, until, u.UpdatedAt, u.Version, tenant, id, version)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return fmt.Errorf("%w: user %s was changed by someone else; read it again", core.ErrConflict, id)
		}
		if roleIDs != nil {
			if err := setUserRoles(ctx, q, tenant, id, roleIDs); err != nil {
				return err
			}
		}
		if err := g.noWider(ctx, s.sc.WithTx(tx), "user", UserSubjectID(id)); err != nil {
			return err
		}
		out = u
		if before.Active && !u.Active {
			return tx.Emit(ctx, userEvent(tenant, EventUserDeactivated, u.UpdatedAt, u))
		}
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventUserUpdated, SubjectType: "user", SubjectID: UserSubjectID(id),
			OccurredAt: u.UpdatedAt, Data: store.JSON(UserUpdated{User: u, Changed: userChanges(&before, u)})})
	})
	if err != nil {
		return nil, g.done(ctx, store.Wrap(err, doing))
	}
	return out, nil
}

// userChanges names the fields that differ between a and b.
func userChanges(a, b *User) []string {
	changed := []string{}
	add := func(name string, differ bool) {
		if differ {
			changed = append(changed, name)
		}
	}
	add("display_name", a.DisplayName != b.DisplayName)
	add("email", a.Email != b.Email)
	add("active", a.Active != b.Active)
	add("time_zone", a.TimeZone != b.TimeZone)
	add("working_hours", hoursJSON(a.WorkingHours) != hoursJSON(b.WorkingHours))
	add("out_of_office", string(store.JSON(a.OutOfOffice)) != string(store.JSON(b.OutOfOffice)))
	add("roles", !slices.Equal(a.Roles, b.Roles))
	return changed
}

func userEvent(tenant, typ string, at time.Time, u *User) core.Event {
	return core.Event{TenantID: tenant, Type: typ, SubjectType: "user", SubjectID: UserSubjectID(u.ID), OccurredAt: at, Data: store.JSON(u)}
}

func sortedRoles(names []string) []string {
	out := slices.Clone(names)
	if out == nil {
		out = []string{}
	}
	slices.Sort(out)
	return out
}
