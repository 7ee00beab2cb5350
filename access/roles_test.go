package access_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/modules"
)

var (
	readOwn = access.Grant{Actions: []access.Action{access.Read}, Visibility: access.VisibilityOwn}
	readAll = access.Grant{Actions: []access.Action{access.Read}, Visibility: access.VisibilityAll}
)

// A role is created, read, renamed (its users keep it), refused a taken
// name, and deleted once no user holds it; each change is versioned and
// emits its event.
func TestRolesLifecycle(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		r, err := b.svc.Roles.Create(ctx, access.RoleInput{Name: "closer", Description: "Closes deals", Permissions: access.Permissions{
			"pipeline": {Actions: []access.Action{access.Update, access.Read}, Visibility: access.VisibilityTeam, PersonalData: true}}})
		require.NoError(t, err)
		require.Equal(t, []access.Action{access.Read, access.Update}, r.Permissions["pipeline"].Actions, "actions in canonical order")
		got, err := b.svc.Roles.Get(ctx, "closer")
		require.NoError(t, err)
		require.Equal(t, r, got)

		_, err = b.svc.Roles.Create(ctx, access.RoleInput{Name: "closer"})
		require.ErrorIs(t, err, core.ErrConflict)
		_, err = b.svc.Roles.Get(ctx, "ghost")
		require.ErrorIs(t, err, core.ErrNotFound)

		b.user(t, "u1", "closer")
		renamed, err := b.svc.Roles.Update(ctx, r.ID, r.Version, access.RoleInput{Name: "deal-closer", Permissions: r.Permissions})
		require.NoError(t, err)
		require.Equal(t, int64(2), renamed.Version)
		u, err := b.svc.Users.Get(ctx, "u1")
		require.NoError(t, err)
		require.Equal(t, []string{"deal-closer"}, u.Roles)
		_, err = b.svc.Roles.Update(ctx, r.ID, r.Version, access.RoleInput{Name: "stale"})
		require.ErrorIs(t, err, core.ErrConflict)
		_, err = b.svc.Roles.Update(ctx, r.ID, 0, access.RoleInput{Name: "x"})
		require.Equal(t, []string{"version"}, problems(t, err))
		other := b.role(t, "other", nil)
		_, err = b.svc.Roles.Update(ctx, other.ID, other.Version, access.RoleInput{Name: "deal-closer"})
		require.ErrorIs(t, err, core.ErrConflict)

		// Still assigned: refused, naming the user; nothing deleted.
		err = b.svc.Roles.Delete(ctx, r.ID, renamed.Version)
		require.Equal(t, []string{"role"}, problems(t, err))
		require.ErrorContains(t, err, "u1")
		require.Equal(t, 2, b.rows(t, "crm_roles"))
		_, err = b.svc.Users.Update(ctx, "u1", u.Version, access.UserInput{DisplayName: "U"})
		require.NoError(t, err)
		require.ErrorIs(t, b.svc.Roles.Delete(ctx, r.ID, 1), core.ErrConflict)
		require.ErrorIs(t, b.svc.Roles.Delete(ctx, r.ID, 0), core.ErrInvalid)
		require.NoError(t, b.svc.Roles.Delete(ctx, r.ID, renamed.Version))
		_, err = b.svc.Roles.Get(ctx, "deal-closer")
		require.ErrorIs(t, err, core.ErrNotFound)
		require.ErrorIs(t, b.svc.Roles.Delete(ctx, r.ID, renamed.Version), core.ErrNotFound)

		var roleEvents []string
		evs := b.events(t)
		for _, ev := range evs {
			if ev.SubjectID == r.ID {
				roleEvents = append(roleEvents, ev.Type)
			}
		}
		require.Equal(t, []string{access.EventRoleCreated, access.EventRoleUpdated, access.EventRoleDeleted}, roleEvents)
		for _, ev := range evs {
			switch {
			case ev.SubjectID == r.ID && ev.Type == access.EventRoleUpdated:
				p := decode[access.RoleUpdated](t, ev)
				require.Equal(t, []string{"name", "description"}, p.Changed)
				require.Equal(t, "deal-closer", p.Role.Name)
			case ev.SubjectID == r.ID && ev.Type == access.EventRoleDeleted:
				require.Equal(t, access.RoleDeleted{ID: r.ID, Name: "deal-closer"}, decode[access.RoleDeleted](t, ev))
			case ev.Type == access.EventRoleCreated && ev.SubjectID == r.ID:
				require.Equal(t, "closer", decode[access.Role](t, ev).Name)
			}
		}
	})
}

// Unknown modules, actions and visibilities and bad names are listed
// together, and nothing is written.
func TestRoleBadInput(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		_, err := b.svc.Roles.Create(ctx, access.RoleInput{Name: "Bad Name", Permissions: access.Permissions{
			"contacts": {Actions: []access.Action{access.Read, "fly", access.Read}, Visibility: "everyone"},
			"invoices": readAll,
			"pipeline": {Actions: []access.Action{access.Read}},
		}})
		require.Equal(t, []string{"name", "permissions.contacts.actions[1]", "permissions.contacts.actions[2]",
			"permissions.contacts.visibility", "permissions.invoices", "permissions.pipeline.visibility"}, problems(t, err))
		require.ErrorContains(t, err, `"invoices" is not a module`)
		require.Equal(t, 0, b.rows(t, "crm_roles"))
		require.Empty(t, b.events(t))

		r := b.role(t, "ok", access.Permissions{"contacts": readOwn})
		_, err = b.svc.Roles.Update(ctx, r.ID, r.Version, access.RoleInput{Name: "ok", Permissions: access.Permissions{"tickets": {Visibility: "none"}}})
		require.Equal(t, []string{"permissions.tickets.visibility"}, problems(t, err))
		got, err := b.svc.Roles.Get(ctx, "ok")
		require.NoError(t, err)
		require.Equal(t, r, got, "nothing written")
	})
}

// The built-in roles install once per tenant: a second call adds
// nothing and leaves a changed built-in role as it is; another tenant
// gets its own.
func TestInstallBuiltins(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		roles, err := b.svc.Roles.InstallBuiltins(ctx)
		require.NoError(t, err)
		var names []string
		for _, r := range roles {
			names = append(names, r.Name)
		}
		require.Equal(t, []string{"admin", "manager", "sales", "support", "marketing", "read-only"}, names)
		sales, err := b.svc.Roles.Get(ctx, access.RoleSales)
		require.NoError(t, err)
		sales, err = b.svc.Roles.Update(ctx, sales.ID, sales.Version, access.RoleInput{Name: "sales", Permissions: access.Permissions{"contacts": readAll}})
		require.NoError(t, err)
		ro, err := b.svc.Roles.Get(ctx, access.RoleReadOnly)
		require.NoError(t, err)
		require.NoError(t, b.svc.Roles.Delete(ctx, ro.ID, ro.Version))

		again, err := b.svc.Roles.InstallBuiltins(ctx)
		require.NoError(t, err)
		require.Len(t, again, 1, "only the deleted one comes back")
		require.Equal(t, access.RoleReadOnly, again[0].Name)
		again, err = b.svc.Roles.InstallBuiltins(ctx)
		require.NoError(t, err)
		require.Empty(t, again)
		got, err := b.svc.Roles.Get(ctx, access.RoleSales)
		require.NoError(t, err)
		require.Equal(t, sales, got, "a changed built-in role is left alone")
		require.Equal(t, 6, b.rows(t, "crm_roles"))

		n := 0
		for _, ev := range b.events(t) {
			if ev.Type == access.EventRoleCreated {
				n++
			}
		}
		require.Equal(t, 7, n)

		other := b.tenant("other")
		roles, err = other.svc.Roles.InstallBuiltins(ctx)
		require.NoError(t, err)
		require.Len(t, roles, 6)
		all, err := other.svc.Roles.List(ctx)
		require.NoError(t, err)
		require.Len(t, all, 6)
		for _, r := range all {
			b := slices.IndexFunc(access.Builtins(), func(x access.BuiltinRole) bool { return x.Name == r.Name })
			require.GreaterOrEqual(t, b, 0)
			require.Equal(t, access.Builtins()[b].Permissions, r.Permissions, r.Name)
		}
	})
}

// The built-in roles say what the package documentation's table says.
func TestBuiltinPermissions(t *testing.T) {
	t.Parallel()
	byName := map[string]access.Permissions{}
	for _, r := range access.Builtins() {
		byName[r.Name] = r.Permissions
	}
	short := map[string]string{"read,create,update,delete,export,erase,manage": "every", "read,create,update,delete,export": "CRUD+export",
		"read,create,update,delete": "CRUD", "read,create,update": "CRU", "read,update": "read+upd.", "read": "read"}
	summary := func(role string) []string {
		var out []string
		for _, m := range []string{"contacts", "pipeline", "consent", "tickets", "campaigns", "automation", "fields", "analytics", "access"} {
			g, ok := byName[role][m]
			if !ok {
				out = append(out, "—")
				continue
			}
			var acts []string
			for _, a := range g.Actions {
				acts = append(acts, string(a))
			}
			s := string(g.Visibility) + ", " + short[strings.Join(acts, ",")]
			if g.PersonalData {
				s += ", PD"
			}
			out = append(out, s)
		}
		return out
	}
	every := "all, every, PD"
	require.Equal(t, []string{every, every, every, every, every, every, every, every, every}, summary("admin"))
	require.Equal(t, []string{"team, CRUD+export, PD", "team, CRUD+export, PD", "all, read, PD", "team, CRUD, PD", "all, read", "all, read",
		"all, read", "all, read", "all, read"}, summary("manager"))
	require.Equal(t, []string{"own, CRU, PD", "own, CRU", "all, read", "—", "—", "—", "—", "—", "—"}, summary("sales"))
	require.Equal(t, []string{"team, read+upd., PD", "—", "all, read, PD", "team, CRU, PD", "—", "—", "—", "—", "—"}, summary("support"))
	require.Equal(t, []string{"all, read+upd.", "—", "all, read", "—", "all, CRUD", "all, read", "all, read", "all, read", "—"}, summary("marketing"))
	require.Equal(t, []string{"all, read", "all, read", "all, read", "all, read", "all, read", "all, read", "all, read", "all, read", "—"}, summary("read-only"))
	for _, m := range access.Modules() {
		require.Len(t, byName["admin"][m].Actions, len(access.Actions), m)
		require.True(t, byName["admin"][m].PersonalData, m)
		for name, p := range byName {
			if name != "admin" {
				require.False(t, p[m].Allows(access.Erase), "%s may erase in %s", name, m)
				require.False(t, p[m].Allows(access.Manage), "%s may manage %s", name, m)
			}
		}
		if m != "access" {
			require.Equal(t, readAll, byName["read-only"][m], m)
		}
	}
	require.Equal(t, access.VisibilityOwn, byName["sales"]["contacts"].Visibility)
	require.Equal(t, access.VisibilityTeam, byName["manager"]["pipeline"].Visibility)
	require.NotContains(t, byName["support"], "pipeline", "support sees no revenue")
	require.False(t, byName["marketing"]["contacts"].PersonalData)
	// A caller cannot change the table.
	byName["admin"]["contacts"] = access.Grant{}
	require.NotEmpty(t, access.Builtins()[0].Permissions["contacts"].Actions)
}

// Every module crm wires names only permissions access knows, and its own
// name is one of them: a new module adds itself to access's list.
func TestModulesArePermissionNames(t *testing.T) {
	t.Parallel()
	known := access.Modules()
	for _, m := range modules.All() {
		require.Contains(t, known, m.Name, "add %s to access's list of modules", m.Name)
		for _, p := range m.Permissions {
			require.Contains(t, known, p, m.Name)
		}
	}
	access.Modules()[0] = "changed"
	require.Equal(t, known, access.Modules(), "the list is the package's, not the caller's")
}

// Processes that install the built-in roles at once get one set: each
// role is created by one of them, and none fails.
func TestInstallBuiltinsConcurrently(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		const callers = 4
		created := make(chan int, callers)
		errs := make(chan error, callers)
		for range callers {
			go func() {
				roles, err := b.svc.Roles.InstallBuiltins(ctx)
				created <- len(roles)
				errs <- err
			}()
		}
		total := 0
		for range callers {
			total += <-created
			require.NoError(t, <-errs)
		}
		require.Equal(t, len(access.Builtins()), total)
		require.Equal(t, len(access.Builtins()), b.rows(t, "crm_roles"))
	})
}
