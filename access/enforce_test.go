package access_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// audited records the entries the facility gives the runtime's audit log.
type audited struct {
	mu      sync.Mutex
	entries []store.AuditEntry
	actors  []string
}

func (b *bundle) audit() *audited {
	a := &audited{}
	b.rt.Audit = func(ctx context.Context, sc store.Scope, e store.AuditEntry) error {
		a.mu.Lock()
		defer a.mu.Unlock()
		actor, _ := core.ActorFrom(ctx)
		a.entries = append(a.entries, e)
		a.actors = append(a.actors, actor.ID)
		return nil
	}
	return a
}

// of returns the details of actor's denied attempts.
func (a *audited) of(actor string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for i, e := range a.entries {
		if a.actors[i] == actor && e.Action == access.AuditDenied {
			out = append(out, e.Detail)
		}
	}
	return out
}

func actorCtx(id string, roles ...string) context.Context {
	return core.WithActor(context.Background(), core.Actor{ID: id, Roles: roles})
}

// Each built-in role, and a user with none, walks the facility's public
// methods: reading users, teams and roles needs "access" read, changing
// them "access" manage; refusals are ErrForbidden, change nothing and are
// audited.
func TestRecordAccessByRole(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		_, err := b.svc.Roles.InstallBuiltins(ctx)
		require.NoError(t, err)
		log := b.audit()
		for _, u := range []struct{ id, role string }{
			{"root", access.RoleAdmin}, {"carol", access.RoleManager}, {"alice", access.RoleSales},
			{"dave", access.RoleSupport}, {"erin", access.RoleMarketing}, {"rita", access.RoleReadOnly}, {"nobody", ""},
		} {
			var roles []string
			if u.role != "" {
				roles = []string{u.role}
			}
			b.user(t, u.id, roles...)
		}
		east := b.team(t, "east", "alice")

		for _, tc := range []struct {
			user         string
			read, manage bool
		}{
			{user: "root", read: true, manage: true},
			{user: "carol", read: true},
			{user: "alice"}, {user: "dave"}, {user: "erin"}, {user: "rita"}, {user: "nobody"},
		} {
			t.Run(tc.user, func(t *testing.T) {
				ctx := actorCtx(tc.user)
				is := func(ok bool, err error) {
					t.Helper()
					if ok {
						require.NoError(t, err)
					} else {
						require.ErrorIs(t, err, core.ErrForbidden)
					}
				}
				_, err := b.svc.Users.Get(ctx, "alice")
				is(tc.read, err)
				page, err := b.svc.Users.List(ctx, access.UserListOptions{})
				is(tc.read, err)
				if tc.read {
					require.GreaterOrEqual(t, len(page.Items), 7)
				}
				_, err = b.svc.Teams.Get(ctx, east.ID)
				is(tc.read, err)
				_, err = b.svc.Teams.ByName(ctx, "east")
				is(tc.read, err)
				_, err = b.svc.Teams.List(ctx)
				is(tc.read, err)
				_, err = b.svc.Teams.OfUser(ctx, "alice")
				is(tc.read, err)
				_, err = b.svc.Teams.AvailableMembers(ctx, "east", b.clock.Now())
				is(tc.read, err)
				_, err = b.svc.Roles.Get(ctx, access.RoleSales)
				is(tc.read, err)
				_, err = b.svc.Roles.List(ctx)
				is(tc.read, err)

				before := []int{b.rows(t, "crm_users"), b.rows(t, "crm_teams"), b.rows(t, "crm_roles"), b.rows(t, "crm_team_members")}
				u, err := b.svc.Users.Create(ctx, access.UserInput{ID: "new-" + tc.user, DisplayName: "New", Roles: []string{access.RoleReadOnly}})
				is(tc.manage, err)
				if tc.manage {
					u, err = b.svc.Users.Update(ctx, u.ID, u.Version, access.UserInput{DisplayName: "Renamed"})
					require.NoError(t, err)
					u, err = b.svc.Users.Deactivate(ctx, u.ID, u.Version)
					require.NoError(t, err)
					_, err = b.svc.Users.Activate(ctx, u.ID, u.Version)
					require.NoError(t, err)
				}
				tm, err := b.svc.Teams.Create(ctx, access.TeamInput{Name: "team-" + tc.user})
				is(tc.manage, err)
				if tc.manage {
					tm, err = b.svc.Teams.Update(ctx, tm.ID, tm.Version, access.TeamInput{Name: "renamed-" + tc.user})
					require.NoError(t, err)
					tm, err = b.svc.Teams.AddMember(ctx, tm.ID, tm.Version, access.Member{UserID: "alice"})
					require.NoError(t, err)
					tm, err = b.svc.Teams.UpdateMember(ctx, tm.ID, tm.Version, access.Member{UserID: "alice", Capacity: 3})
					require.NoError(t, err)
					tm, err = b.svc.Teams.RemoveMember(ctx, tm.ID, tm.Version, "alice")
					require.NoError(t, err)
					require.NoError(t, b.svc.Teams.Delete(ctx, tm.ID, tm.Version))
				}
				r, err := b.svc.Roles.Create(ctx, access.RoleInput{Name: "role-" + tc.user, Permissions: access.Permissions{
					"contacts": {Actions: []access.Action{access.Read}, Visibility: access.VisibilityOwn}}})
				is(tc.manage, err)
				if tc.manage {
					r, err = b.svc.Roles.Update(ctx, r.ID, r.Version, access.RoleInput{Name: r.Name, Description: "changed", Permissions: r.Permissions})
					require.NoError(t, err)
					require.NoError(t, b.svc.Roles.Delete(ctx, r.ID, r.Version))
					_, err = b.svc.Roles.InstallBuiltins(ctx)
					require.NoError(t, err)
				}

				// What a refusal left: nothing written, on version 1 of
				// the records as well.
				alice, err := b.svc.Users.Get(context.Background(), "alice")
				require.NoError(t, err)
				_, err = b.svc.Users.Update(ctx, "alice", alice.Version, access.UserInput{DisplayName: "Changed", Roles: alice.Roles})
				is(tc.manage, err)
				sales, err := b.svc.Roles.Get(context.Background(), access.RoleSales)
				require.NoError(t, err)
				if !tc.manage {
					require.ErrorIs(t, b.svc.Roles.Delete(ctx, sales.ID, sales.Version), core.ErrForbidden)
					eastNow, err := b.svc.Teams.Get(context.Background(), east.ID)
					require.NoError(t, err)
					require.ErrorIs(t, b.svc.Teams.Delete(ctx, eastNow.ID, eastNow.Version), core.ErrForbidden)
					_, err = b.svc.Users.Deactivate(ctx, "alice", alice.Version)
					require.ErrorIs(t, err, core.ErrForbidden)
					_, err = b.svc.Roles.InstallBuiltins(ctx)
					require.ErrorIs(t, err, core.ErrForbidden)
					require.Equal(t, before, []int{b.rows(t, "crm_users"), b.rows(t, "crm_teams"), b.rows(t, "crm_roles"), b.rows(t, "crm_team_members")})
					require.Contains(t, log.of(tc.user), "access:manage")
				}
				if !tc.read {
					require.Contains(t, log.of(tc.user), "access:read")
				}
				if tc.read && tc.manage {
					require.Empty(t, log.of(tc.user))
				}
			})
		}

		// The host's own code (no actor) is not checked, nor audited.
		_, err = b.svc.Users.Create(ctx, access.UserInput{ID: "host-made", DisplayName: "Host", Roles: []string{access.RoleAdmin}})
		require.NoError(t, err)
		require.Empty(t, log.of(""))
	})
}

// An actor who may manage the facility never grants more than they have:
// not in a role they create or change, not in the roles they give a user,
// not to themselves through a team; and they cannot change a role or a
// user beyond their own permissions (the admin stays out of their reach).
func TestNoGrantBeyondOwnPermissions(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		_, err := b.svc.Roles.InstallBuiltins(ctx)
		require.NoError(t, err)
		log := b.audit()
		deskAdmin := b.role(t, "desk-admin", access.Permissions{
			"access":   {Actions: []access.Action{access.Read, access.Manage}, Visibility: access.VisibilityAll},
			"contacts": {Actions: []access.Action{access.Read, access.Update}, Visibility: access.VisibilityTeam},
		})
		b.user(t, "root", access.RoleAdmin)
		hank := b.user(t, "hank", "desk-admin")
		b.user(t, "ivy")
		b.user(t, "jo")
		desk := b.team(t, "desk", "hank")
		other := b.team(t, "other", "jo")
		as := actorCtx("hank")
		counts := func() []int {
			return []int{b.rows(t, "crm_users"), b.rows(t, "crm_user_roles"), b.rows(t, "crm_roles"), b.rows(t, "crm_teams"), b.rows(t, "crm_team_members")}
		}
		start := counts()

		forbidden := func(err error) {
			t.Helper()
			require.ErrorIs(t, err, core.ErrForbidden)
			require.NotErrorIs(t, err, core.ErrInvalid)
		}
		// Roles beyond theirs: more actions, wider visibility, personal
		// data, a module they have nothing in.
		for name, perms := range map[string]access.Permissions{
			"more-actions": {"contacts": {Actions: []access.Action{access.Read, access.Delete}, Visibility: access.VisibilityTeam}},
			"wider":        {"contacts": {Actions: []access.Action{access.Read}, Visibility: access.VisibilityAll}},
			"personal":     {"contacts": {Actions: []access.Action{access.Read}, Visibility: access.VisibilityOwn, PersonalData: true}},
			"elsewhere":    {"pipeline": {Actions: []access.Action{access.Read}, Visibility: access.VisibilityOwn}},
		} {
			_, err := b.svc.Roles.Create(as, access.RoleInput{Name: name, Permissions: perms})
			forbidden(err)
		}
		// Their own role, extended: refused.
		_, err = b.svc.Roles.Update(as, deskAdmin.ID, deskAdmin.Version, access.RoleInput{Name: deskAdmin.Name, Permissions: access.Permissions{
			"access":   deskAdmin.Permissions["access"],
			"contacts": {Actions: []access.Action{access.Read, access.Update}, Visibility: access.VisibilityAll},
		}})
		forbidden(err)
		// The admin role, out of reach: neither changed nor deleted.
		admin, err := b.svc.Roles.Get(ctx, access.RoleAdmin)
		require.NoError(t, err)
		_, err = b.svc.Roles.Update(as, admin.ID, admin.Version, access.RoleInput{Name: admin.Name, Permissions: access.Permissions{}})
		forbidden(err)
		forbidden(b.svc.Roles.Delete(as, admin.ID, admin.Version))
		// The built-in roles include admin: not theirs to install (in a
		// tenant that has none yet).
		fresh := b.tenant("fresh")
		fresh.role(t, "desk-admin", deskAdmin.Permissions)
		_, err = fresh.svc.Roles.InstallBuiltins(core.WithActor(ctx, core.Actor{ID: "ext", Roles: []string{"desk-admin"}}))
		forbidden(err)
		require.Equal(t, 1, fresh.rows(t, "crm_roles"))

		// Users: no role beyond theirs given, to another or to themselves;
		// the admin user out of reach.
		_, err = b.svc.Users.Create(as, access.UserInput{ID: "kim", DisplayName: "Kim", Roles: []string{access.RoleSales}})
		forbidden(err)
		_, err = b.svc.Users.Update(as, "hank", hank.Version, access.UserInput{DisplayName: hank.DisplayName, Roles: []string{"desk-admin", access.RoleAdmin}})
		forbidden(err)
		rootUser, err := b.svc.Users.Get(ctx, "root")
		require.NoError(t, err)
		_, err = b.svc.Users.Deactivate(as, "root", rootUser.Version)
		forbidden(err)
		_, err = b.svc.Users.Update(as, "root", rootUser.Version, access.UserInput{DisplayName: "Root", Roles: nil})
		forbidden(err)

		// Teams: joining one, or having another join theirs, widens what
		// they see by team; refused.
		_, err = b.svc.Teams.AddMember(as, other.ID, other.Version, access.Member{UserID: "hank"})
		forbidden(err)
		_, err = b.svc.Teams.AddMember(as, desk.ID, desk.Version, access.Member{UserID: "ivy"})
		forbidden(err)
		require.Equal(t, start, counts(), "a refusal writes nothing")

		// Within their permissions it all works.
		reader, err := b.svc.Roles.Create(as, access.RoleInput{Name: "reader", Permissions: access.Permissions{
			"contacts": {Actions: []access.Action{access.Read}, Visibility: access.VisibilityOwn}}})
		require.NoError(t, err)
		kim, err := b.svc.Users.Create(as, access.UserInput{ID: "kim", DisplayName: "Kim", Roles: []string{reader.Name}})
		require.NoError(t, err)
		_, err = b.svc.Users.Deactivate(as, kim.ID, kim.Version)
		require.NoError(t, err)
		other, err = b.svc.Teams.AddMember(as, other.ID, other.Version, access.Member{UserID: "ivy"})
		require.NoError(t, err)
		_, err = b.svc.Teams.RemoveMember(as, other.ID, other.Version, "ivy")
		require.NoError(t, err)
		desk, err = b.svc.Teams.Get(ctx, desk.ID)
		require.NoError(t, err)
		_, err = b.svc.Teams.RemoveMember(as, desk.ID, desk.Version, "hank") // narrows: allowed
		require.NoError(t, err)
		_, err = b.svc.Roles.Update(as, reader.ID, reader.Version, access.RoleInput{Name: "reader", Permissions: access.Permissions{
			"contacts": {Actions: []access.Action{access.Read, access.Update}, Visibility: access.VisibilityTeam}}})
		require.NoError(t, err)

		// An actor resolved from their Actor (not a stored user) whose
		// Teams name a team that does not exist yet may not create it nor
		// rename another to it: its members would become their team.
		ext := core.WithActor(ctx, core.Actor{ID: "ext", Roles: []string{"desk-admin"}, Teams: []string{"night"}})
		other, err = b.svc.Teams.Get(ctx, other.ID)
		require.NoError(t, err)
		_, err = b.svc.Teams.Update(ext, other.ID, other.Version, access.TeamInput{Name: "night"})
		forbidden(err)
		_, err = b.svc.Teams.Update(ext, other.ID, other.Version, access.TeamInput{Name: "day"})
		require.NoError(t, err)

		require.Len(t, log.of("hank"), 13)
		for _, d := range log.of("hank") {
			require.Equal(t, "access:manage", d)
		}
		require.Equal(t, []string{"access:manage", "access:manage"}, log.of("ext"))
	})
}
