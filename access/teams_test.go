package access_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
)

// A team is created, gets members (lead, capacity, skills in canonical
// form), changes a member, loses one, is renamed and deleted; each change
// bumps its version and emits its event with the right payload.
func TestTeamsLifecycle(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		b.user(t, "anna")
		b.user(t, "ben")
		tm, err := b.svc.Teams.Create(ctx, access.TeamInput{Name: " sales-emea ", Description: "Europe"})
		require.NoError(t, err)
		require.Equal(t, "sales-emea", tm.Name)
		require.Empty(t, tm.Members)
		_, err = b.svc.Teams.Create(ctx, access.TeamInput{Name: "sales-emea"})
		require.ErrorIs(t, err, core.ErrConflict)
		require.ErrorContains(t, err, tm.ID.String())

		lead := access.Member{UserID: "ben", Lead: true, Capacity: 20,
			Skills: access.Skills{Languages: []string{"de-ch", "en", "EN"}, ProductLines: []string{"pro", "starter"}}}
		tm, err = b.svc.Teams.AddMember(ctx, tm.ID, tm.Version, lead)
		require.NoError(t, err)
		tm, err = b.svc.Teams.AddMember(ctx, tm.ID, tm.Version, access.Member{UserID: "anna"})
		require.NoError(t, err)
		require.Equal(t, int64(3), tm.Version)
		require.Len(t, tm.Members, 2)
		require.Equal(t, "anna", tm.Members[0].UserID, "members by user id")
		require.Equal(t, []string{"de-CH", "en"}, tm.Members[1].Skills.Languages, "canonical, once each")
		require.Equal(t, 20, tm.Members[1].Capacity)
		require.True(t, tm.Members[1].Lead)
		got, err := b.svc.Teams.Get(ctx, tm.ID)
		require.NoError(t, err)
		require.Equal(t, tm, got)
		byName, err := b.svc.Teams.ByName(ctx, "sales-emea")
		require.NoError(t, err)
		require.Equal(t, tm, byName)
		_, err = b.svc.Teams.ByName(ctx, "nobody")
		require.ErrorIs(t, err, core.ErrNotFound)

		_, err = b.svc.Teams.AddMember(ctx, tm.ID, 1, access.Member{UserID: "anna"})
		require.ErrorIs(t, err, core.ErrConflict)
		_, err = b.svc.Teams.AddMember(ctx, tm.ID, 0, access.Member{UserID: "anna"})
		require.ErrorIs(t, err, core.ErrInvalid)
		_, err = b.svc.Teams.AddMember(ctx, tm.ID, tm.Version, access.Member{UserID: "anna"})
		require.Equal(t, []string{"user_id"}, problems(t, err))

		tm, err = b.svc.Teams.UpdateMember(ctx, tm.ID, tm.Version, access.Member{UserID: "anna", Capacity: 5})
		require.NoError(t, err)
		require.Equal(t, 5, tm.Members[0].Capacity)
		_, err = b.svc.Teams.UpdateMember(ctx, tm.ID, tm.Version, access.Member{UserID: "carl"})
		require.Equal(t, []string{"user_id"}, problems(t, err))

		mine, err := b.svc.Teams.OfUser(ctx, "anna")
		require.NoError(t, err)
		require.Len(t, mine, 1)
		require.Equal(t, tm.ID, mine[0].ID)

		tm, err = b.svc.Teams.RemoveMember(ctx, tm.ID, tm.Version, "ben")
		require.NoError(t, err)
		require.Len(t, tm.Members, 1)
		_, err = b.svc.Teams.RemoveMember(ctx, tm.ID, tm.Version, "ben")
		require.Equal(t, []string{"user_id"}, problems(t, err))

		tm, err = b.svc.Teams.Update(ctx, tm.ID, tm.Version, access.TeamInput{Name: "sales-europe", Description: "Europe"})
		require.NoError(t, err)
		list, err := b.svc.Teams.List(ctx)
		require.NoError(t, err)
		require.Equal(t, []*access.Team{tm}, list)

		require.ErrorIs(t, b.svc.Teams.Delete(ctx, tm.ID, tm.Version-1), core.ErrConflict)
		require.NoError(t, b.svc.Teams.Delete(ctx, tm.ID, tm.Version))
		_, err = b.svc.Teams.Get(ctx, tm.ID)
		require.ErrorIs(t, err, core.ErrNotFound)
		require.Equal(t, 0, b.rows(t, "crm_team_members"))

		var evs []core.Event
		for _, ev := range b.events(t) {
			if ev.SubjectID == tm.ID {
				evs = append(evs, ev)
			}
		}
		var types []string
		for _, ev := range evs {
			types = append(types, ev.Type)
			require.Equal(t, "team", ev.SubjectType)
		}
		require.Equal(t, []string{access.EventTeamCreated, access.EventTeamMemberAdded, access.EventTeamMemberAdded, access.EventTeamUpdated,
			access.EventTeamMemberRemoved, access.EventTeamUpdated, access.EventTeamDeleted}, types)
		require.Equal(t, "sales-emea", decode[access.Team](t, evs[0]).Name)
		added := decode[access.MemberChanged](t, evs[1])
		require.Equal(t, tm.ID, added.TeamID)
		require.Equal(t, "ben", added.Member.UserID)
		require.Equal(t, []string{"de-CH", "en"}, added.Member.Skills.Languages)
		require.Equal(t, []string{"members"}, decode[access.TeamUpdated](t, evs[3]).Changed)
		require.Equal(t, "ben", decode[access.MemberChanged](t, evs[4]).Member.UserID)
		require.Equal(t, []string{"name"}, decode[access.TeamUpdated](t, evs[5]).Changed)
		require.Equal(t, access.TeamDeleted{ID: tm.ID, Name: "sales-europe", Members: []string{"anna"}}, decode[access.TeamDeleted](t, evs[6]))
	})
}

// Members are active users of the tenant: not unknown ids, not teams
// (teams do not nest), not deactivated users; bad capacities and skills
// are listed together. Nothing is written.
func TestTeamMemberBadInput(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		b.user(t, "anna")
		gone := b.user(t, "gone")
		_, err := b.svc.Users.Deactivate(ctx, "gone", gone.Version)
		require.NoError(t, err)
		tm := b.team(t, "support")
		other := b.team(t, "backoffice")

		cases := map[string]struct {
			m    access.Member
			want []string
			says string
		}{
			"no user":            {access.Member{}, []string{"user_id"}, "is required"},
			"unknown user":       {access.Member{UserID: "carl"}, []string{"user_id"}, "no such user carl"},
			"itself by id":       {access.Member{UserID: tm.ID.String()}, []string{"user_id"}, "teams do not nest"},
			"itself by name":     {access.Member{UserID: "support"}, []string{"user_id"}, "teams do not nest"},
			"another team":       {access.Member{UserID: other.ID.String()}, []string{"user_id"}, "teams do not nest"},
			"deactivated":        {access.Member{UserID: "gone"}, []string{"user_id"}, "gone is deactivated"},
			"negative capacity":  {access.Member{UserID: "anna", Capacity: -1}, []string{"capacity"}, "0 (no cap) or more"},
			"not a language":     {access.Member{UserID: "anna", Skills: access.Skills{Languages: []string{"en", "english!"}}}, []string{"skills.languages[1]"}, "BCP 47"},
			"empty language":     {access.Member{UserID: "anna", Skills: access.Skills{Languages: []string{""}}}, []string{"skills.languages[0]"}, "BCP 47"},
			"not a product line": {access.Member{UserID: "anna", Skills: access.Skills{ProductLines: []string{"Pro Line"}}}, []string{"skills.product_lines[0]"}, "code"},
			"everything": {access.Member{UserID: "gone", Capacity: -3, Skills: access.Skills{Languages: []string{"x-"}, ProductLines: []string{"a", "a"}}},
				[]string{"capacity", "skills.languages[0]", "skills.product_lines[1]", "user_id"}, "deactivated"},
		}
		for name, c := range cases {
			_, err := b.svc.Teams.AddMember(ctx, tm.ID, tm.Version, c.m)
			require.Equal(t, c.want, problems(t, err), name)
			require.ErrorContains(t, err, c.says, name)
		}
		got, err := b.svc.Teams.Get(ctx, tm.ID)
		require.NoError(t, err)
		require.Equal(t, tm, got, "nothing written")
		require.Equal(t, 0, b.rows(t, "crm_team_members"))

		_, err = b.svc.Teams.Create(ctx, access.TeamInput{Name: "  "})
		require.Equal(t, []string{"name"}, problems(t, err))
		_, err = b.svc.Teams.Update(ctx, tm.ID, tm.Version, access.TeamInput{Name: "backoffice"})
		require.ErrorIs(t, err, core.ErrConflict)
		require.ErrorContains(t, err, other.ID.String())
	})
}

// Available members are the active ones not out of office at the time.
func TestAvailableMembers(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		at := time.Date(2026, 3, 12, 10, 0, 0, 0, time.UTC)
		b.user(t, "anna")
		b.user(t, "ben")
		b.user(t, "carl")
		_, err := b.svc.Users.Create(ctx, access.UserInput{ID: "dora", DisplayName: "D",
			OutOfOffice: &access.Period{From: at.Add(-time.Hour), Until: at.Add(time.Hour)}})
		require.NoError(t, err)
		_, err = b.svc.Users.Create(ctx, access.UserInput{ID: "emil", DisplayName: "E",
			OutOfOffice: &access.Period{From: at.Add(time.Second), Until: at.Add(time.Hour)}})
		require.NoError(t, err)
		tm := b.team(t, "desk", "anna", "ben", "carl", "dora", "emil")
		b.team(t, "other", "anna")
		ben, err := b.svc.Users.Get(ctx, "ben")
		require.NoError(t, err)
		_, err = b.svc.Users.Deactivate(ctx, "ben", ben.Version)
		require.NoError(t, err)

		ids := func(ms []access.Member) []string {
			var out []string
			for _, m := range ms {
				out = append(out, m.UserID)
			}
			return out
		}
		got, err := b.svc.Teams.AvailableMembers(ctx, "desk", at)
		require.NoError(t, err)
		require.Equal(t, []string{"anna", "carl", "emil"}, ids(got))
		got, err = b.svc.Teams.AvailableMembers(ctx, "desk", at.Add(2*time.Hour))
		require.NoError(t, err)
		require.Equal(t, []string{"anna", "carl", "dora", "emil"}, ids(got))
		_, err = b.svc.Teams.AvailableMembers(ctx, "nobody", at)
		require.ErrorIs(t, err, core.ErrNotFound)
		_, err = b.tenant("t2").svc.Teams.AvailableMembers(ctx, "desk", at)
		require.ErrorIs(t, err, core.ErrNotFound)
		require.Len(t, tm.Members, 5)
	})
}

// Users, teams and roles of one tenant are invisible and unusable from
// another: not found, not assignable, not members.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *bundle) {
		ctx := context.Background()
		role := a.role(t, "sales", access.Permissions{"contacts": readAll})
		u := a.user(t, "anna", "sales")
		tm := a.team(t, "desk", "anna")
		b := a.tenant("tenant-b")

		_, err := b.svc.Users.Get(ctx, "anna")
		require.ErrorIs(t, err, core.ErrNotFound)
		_, err = b.svc.Users.Update(ctx, "anna", u.Version, access.UserInput{DisplayName: "X"})
		require.ErrorIs(t, err, core.ErrNotFound)
		_, err = b.svc.Users.Deactivate(ctx, "anna", u.Version)
		require.ErrorIs(t, err, core.ErrNotFound)
		page, err := b.svc.Users.List(ctx, access.UserListOptions{})
		require.NoError(t, err)
		require.Empty(t, page.Items)

		_, err = b.svc.Teams.Get(ctx, tm.ID)
		require.ErrorIs(t, err, core.ErrNotFound)
		_, err = b.svc.Teams.AddMember(ctx, tm.ID, tm.Version, access.Member{UserID: "anna"})
		require.ErrorIs(t, err, core.ErrNotFound)
		require.ErrorIs(t, b.svc.Teams.Delete(ctx, tm.ID, tm.Version), core.ErrNotFound)
		teams, err := b.svc.Teams.List(ctx)
		require.NoError(t, err)
		require.Empty(t, teams)

		_, err = b.svc.Roles.Get(ctx, "sales")
		require.ErrorIs(t, err, core.ErrNotFound)
		_, err = b.svc.Roles.Update(ctx, role.ID, role.Version, access.RoleInput{Name: "x"})
		require.ErrorIs(t, err, core.ErrNotFound)
		require.ErrorIs(t, b.svc.Roles.Delete(ctx, role.ID, role.Version), core.ErrNotFound)

		// A's role cannot be given to B's user, nor A's user join B's team.
		_, err = b.svc.Users.Create(ctx, access.UserInput{ID: "bert", DisplayName: "B", Roles: []string{"sales"}})
		require.Equal(t, []string{"roles[0]"}, problems(t, err))
		bt := b.team(t, "desk")
		_, err = b.svc.Teams.AddMember(ctx, bt.ID, bt.Version, access.Member{UserID: "anna"})
		require.Equal(t, []string{"user_id"}, problems(t, err))
		require.ErrorContains(t, err, "no such user anna")
		require.Equal(t, 0, b.rows(t, "crm_users"))

		// B's id "anna" is B's own: A's is untouched by it.
		b.user(t, "anna")
		got, err := a.svc.Users.Get(ctx, "anna")
		require.NoError(t, err)
		require.Equal(t, u, got)

		// A's user resolves in B as B's user of that id, who has no role.
		eff, err := b.svc.Resolve(ctx, core.Actor{ID: "anna"})
		require.NoError(t, err)
		require.False(t, eff.Can("contacts", access.Read))
		// An actor of B naming A's role and team gets nothing from them.
		eff, err = b.svc.Resolve(ctx, core.Actor{ID: "stranger", Roles: []string{"sales"}, Teams: []string{tm.ID.String()}})
		require.NoError(t, err)
		require.False(t, eff.Can("contacts", access.Read))
		for _, ev := range b.events(t) {
			require.NotEqual(t, tm.ID, ev.SubjectID)
		}
	})
}
