package access_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
)

// A user is created active, read back as written, listed page by page,
// updated (the event names what changed), deactivated and activated
// again; every change bumps the version and emits its event.
func TestUsersLifecycle(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		b.role(t, "sales", access.Permissions{"contacts": {Actions: []access.Action{access.Read}, Visibility: access.VisibilityOwn}})
		b.role(t, "support", access.Permissions{"tickets": {Actions: []access.Action{access.Read}, Visibility: access.VisibilityTeam}})
		away := &access.Period{From: time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 3, 17, 0, 0, 0, 0, time.UTC)}
		hours := access.WorkingHours{"mon": {{Start: "09:00", End: "12:00"}, {Start: "13:00", End: "17:30"}}, "fri": {{Start: "08:00", End: "24:00"}}}
		u, err := b.svc.Users.Create(ctx, access.UserInput{ID: "user-42", DisplayName: " Anna Berg ", Email: "anna@example.com",
			TimeZone: "Europe/Berlin", WorkingHours: hours, OutOfOffice: away, Roles: []string{"support", "sales"}})
		require.NoError(t, err)
		require.Equal(t, "Anna Berg", u.DisplayName)
		require.True(t, u.Active)
		require.Equal(t, int64(1), u.Version)
		require.Equal(t, []string{"sales", "support"}, u.Roles)

		got, err := b.svc.Users.Get(ctx, "user-42")
		require.NoError(t, err)
		require.Equal(t, u, got)
		require.Equal(t, hours, got.WorkingHours)
		require.Equal(t, away, got.OutOfOffice)

		_, err = b.svc.Users.Create(ctx, access.UserInput{ID: "user-42", DisplayName: "Other"})
		require.ErrorIs(t, err, core.ErrConflict)
		require.ErrorContains(t, err, "user-42")
		_, err = b.svc.Users.Get(ctx, "nobody")
		require.ErrorIs(t, err, core.ErrNotFound)

		// Without a time zone: UTC.
		b.user(t, "user-7")
		plain, err := b.svc.Users.Get(ctx, "user-7")
		require.NoError(t, err)
		require.Equal(t, "UTC", plain.TimeZone)
		require.Empty(t, plain.Roles)
		require.Nil(t, plain.OutOfOffice)

		up, err := b.svc.Users.Update(ctx, "user-42", u.Version, access.UserInput{DisplayName: "Anna Berg", Email: "anna.berg@example.com",
			TimeZone: "Europe/Berlin", WorkingHours: hours, Roles: []string{"sales"}})
		require.NoError(t, err)
		require.Equal(t, int64(2), up.Version)
		require.Equal(t, []string{"sales"}, up.Roles)
		require.Nil(t, up.OutOfOffice)
		got, err = b.svc.Users.Get(ctx, "user-42")
		require.NoError(t, err)
		require.Equal(t, up, got)

		_, err = b.svc.Users.Update(ctx, "user-42", 1, access.UserInput{DisplayName: "Stale"})
		require.ErrorIs(t, err, core.ErrConflict)
		_, err = b.svc.Users.Update(ctx, "user-42", 0, access.UserInput{DisplayName: "No version"})
		require.Equal(t, []string{"version"}, problems(t, err))
		_, err = b.svc.Users.Update(ctx, "user-42", up.Version, access.UserInput{ID: "user-43", DisplayName: "Anna"})
		require.Equal(t, []string{"id"}, problems(t, err))

		off, err := b.svc.Users.Deactivate(ctx, "user-42", up.Version)
		require.NoError(t, err)
		require.False(t, off.Active)
		require.Equal(t, []string{"sales"}, off.Roles, "a deactivated user keeps their roles")
		_, err = b.svc.Users.Deactivate(ctx, "user-42", off.Version)
		require.Equal(t, []string{"active"}, problems(t, err))
		on, err := b.svc.Users.Activate(ctx, "user-42", off.Version)
		require.NoError(t, err)
		require.True(t, on.Active)
		require.Equal(t, int64(4), on.Version)

		evs := b.events(t)
		var types []string
		for _, ev := range evs {
			types = append(types, ev.Type)
		}
		require.Equal(t, []string{"role.created", "role.created", access.EventUserCreated, access.EventUserCreated,
			access.EventUserUpdated, access.EventUserDeactivated, access.EventUserUpdated}, types)
		created := decode[access.User](t, evs[2])
		require.Equal(t, "user-42", created.ID)
		require.Equal(t, access.UserSubjectID("user-42"), evs[2].SubjectID)
		require.Equal(t, "user", evs[2].SubjectType)
		updated := decode[access.UserUpdated](t, evs[4])
		require.Equal(t, []string{"email", "out_of_office", "roles"}, updated.Changed)
		require.Equal(t, int64(2), updated.User.Version)
		require.False(t, decode[access.User](t, evs[5]).Active)
		require.Equal(t, []string{"active"}, decode[access.UserUpdated](t, evs[6]).Changed)
		for _, ev := range evs {
			require.Nil(t, ev.ContactID, "users are not contacts")
		}
	})
}

// Users are listed by id, a page at a time; a cursor belongs to its list.
func TestUsersList(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		for _, id := range []string{"d", "a", "c", "b", "e"} {
			b.user(t, id)
		}
		u, err := b.svc.Users.Get(ctx, "c")
		require.NoError(t, err)
		_, err = b.svc.Users.Deactivate(ctx, "c", u.Version)
		require.NoError(t, err)

		var ids []string
		opts := access.UserListOptions{Limit: 2}
		for {
			page, err := b.svc.Users.List(ctx, opts)
			require.NoError(t, err)
			require.LessOrEqual(t, len(page.Items), 2)
			for _, u := range page.Items {
				ids = append(ids, u.ID)
			}
			if page.Next == "" {
				break
			}
			opts.Cursor = page.Next
		}
		require.Equal(t, []string{"a", "b", "c", "d", "e"}, ids)

		page, err := b.svc.Users.List(ctx, access.UserListOptions{ActiveOnly: true})
		require.NoError(t, err)
		require.Len(t, page.Items, 4)
		require.False(t, slices.ContainsFunc(page.Items, func(u *access.User) bool { return u.ID == "c" }))

		first, err := b.svc.Users.List(ctx, access.UserListOptions{Limit: 1})
		require.NoError(t, err)
		_, err = b.svc.Users.List(ctx, access.UserListOptions{ActiveOnly: true, Cursor: first.Next})
		require.ErrorIs(t, err, core.ErrInvalid, "a cursor of another list")
		_, err = b.tenant("other").svc.Users.List(ctx, access.UserListOptions{Limit: 1, Cursor: first.Next})
		require.ErrorIs(t, err, core.ErrInvalid, "a cursor of another tenant")
		_, err = b.svc.Users.List(ctx, access.UserListOptions{Limit: 1001})
		require.ErrorIs(t, err, core.ErrInvalid)
	})
}

// Every problem of a user's input is listed at once, and nothing is
// written.
func TestUserBadInput(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		b.role(t, "sales", access.Permissions{})
		t0 := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
		cases := map[string]struct {
			in   access.UserInput
			want []string
		}{
			"no id":           {access.UserInput{DisplayName: "A"}, []string{"id"}},
			"blank id":        {access.UserInput{ID: "  ", DisplayName: "A"}, []string{"id"}},
			"long id":         {access.UserInput{ID: strings.Repeat("x", 201), DisplayName: "A"}, []string{"id"}},
			"control in id":   {access.UserInput{ID: "a\nb", DisplayName: "A"}, []string{"id"}},
			"no name":         {access.UserInput{ID: "u"}, []string{"display_name"}},
			"bad email":       {access.UserInput{ID: "u", DisplayName: "A", Email: "Anna <anna@example.com>"}, []string{"email"}},
			"not an email":    {access.UserInput{ID: "u", DisplayName: "A", Email: "anna"}, []string{"email"}},
			"bad time zone":   {access.UserInput{ID: "u", DisplayName: "A", TimeZone: "Mars/Olympus"}, []string{"time_zone"}},
			"local time zone": {access.UserInput{ID: "u", DisplayName: "A", TimeZone: "Local"}, []string{"time_zone"}},
			"unknown role":    {access.UserInput{ID: "u", DisplayName: "A", Roles: []string{"sales", "ghost"}}, []string{"roles[1]"}},
			"twice a role":    {access.UserInput{ID: "u", DisplayName: "A", Roles: []string{"sales", "sales"}}, []string{"roles[1]"}},
			"bad role name":   {access.UserInput{ID: "u", DisplayName: "A", Roles: []string{"Sales!"}}, []string{"roles[0]"}},
			"away backwards": {access.UserInput{ID: "u", DisplayName: "A", OutOfOffice: &access.Period{From: t0, Until: t0}},
				[]string{"out_of_office"}},
			"no weekday": {access.UserInput{ID: "u", DisplayName: "A", WorkingHours: access.WorkingHours{"monday": {{Start: "09:00", End: "17:00"}}}},
				[]string{"working_hours.monday"}},
			"start after end": {access.UserInput{ID: "u", DisplayName: "A", WorkingHours: access.WorkingHours{"mon": {{Start: "17:00", End: "09:00"}}}},
				[]string{"working_hours.mon[0]"}},
			"empty frame": {access.UserInput{ID: "u", DisplayName: "A", WorkingHours: access.WorkingHours{"mon": {{Start: "09:00", End: "09:00"}}}},
				[]string{"working_hours.mon[0]"}},
			"not a time": {access.UserInput{ID: "u", DisplayName: "A", WorkingHours: access.WorkingHours{"tue": {{Start: "9:00", End: "25:00"}}}},
				[]string{"working_hours.tue[0]"}},
			"start at 24": {access.UserInput{ID: "u", DisplayName: "A", WorkingHours: access.WorkingHours{"tue": {{Start: "24:00", End: "24:00"}}}},
				[]string{"working_hours.tue[0]"}},
			"overlap": {access.UserInput{ID: "u", DisplayName: "A", WorkingHours: access.WorkingHours{
				"wed": {{Start: "13:00", End: "17:00"}, {Start: "09:00", End: "13:30"}}}}, []string{"working_hours.wed[0]"}},
			"no frames": {access.UserInput{ID: "u", DisplayName: "A", WorkingHours: access.WorkingHours{"thu": {}}}, []string{"working_hours.thu"}},
			"everything": {access.UserInput{ID: "", Email: "x", TimeZone: "Nowhere", Roles: []string{"ghost"}},
				[]string{"display_name", "email", "id", "roles[0]", "time_zone"}},
		}
		for name, c := range cases {
			_, err := b.svc.Users.Create(ctx, c.in)
			require.Equal(t, c.want, problems(t, err), name)
		}
		// Touching frames do not overlap.
		_, err := b.svc.Users.Create(ctx, access.UserInput{ID: "ok", DisplayName: "A",
			WorkingHours: access.WorkingHours{"wed": {{Start: "13:00", End: "17:00"}, {Start: "09:00", End: "13:00"}}}})
		require.NoError(t, err)
		require.Equal(t, 1, b.rows(t, "crm_users"), "nothing but the good user was written")
		require.Equal(t, 0, b.rows(t, "crm_user_roles"))
		require.Equal(t, []string{"role.created", "user.created"}, b.eventTypes(t))

		// Messages name ids, never names or emails.
		_, err = b.svc.Users.Create(ctx, access.UserInput{ID: "ok", DisplayName: "Secret Name", Email: "secret@example.com"})
		require.ErrorIs(t, err, core.ErrConflict)
		require.NotContains(t, err.Error(), "Secret")
		require.NotContains(t, err.Error(), "secret@")
		_, err = b.svc.Users.Create(ctx, access.UserInput{ID: "u2", DisplayName: "Secret Name", Email: "secret@@example.com"})
		require.NotContains(t, err.Error(), "secret")
	})
}

// A deactivated user gets no new roles; their roles may be taken away.
func TestDeactivatedUserGetsNoRoles(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		b.role(t, "sales", access.Permissions{})
		b.role(t, "support", access.Permissions{})
		u := b.user(t, "u1", "sales")
		u, err := b.svc.Users.Deactivate(ctx, "u1", u.Version)
		require.NoError(t, err)
		_, err = b.svc.Users.Update(ctx, "u1", u.Version, access.UserInput{DisplayName: "U", Roles: []string{"sales", "support"}})
		require.Equal(t, []string{"roles[1]"}, problems(t, err))
		require.ErrorContains(t, err, "u1 is deactivated")
		got, err := b.svc.Users.Get(ctx, "u1")
		require.NoError(t, err)
		require.Equal(t, []string{"sales"}, got.Roles)
		require.Equal(t, u.Version, got.Version, "nothing written")
		u, err = b.svc.Users.Update(ctx, "u1", u.Version, access.UserInput{DisplayName: "U"})
		require.NoError(t, err)
		require.Empty(t, u.Roles)
	})
}

// Working hours are read in the user's time zone; out of office is a
// half-open period.
func TestUserAvailability(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	u := &access.User{Active: true, TimeZone: "Europe/Berlin", WorkingHours: access.WorkingHours{"mon": {{Start: "09:00", End: "17:00"}}},
		OutOfOffice: &access.Period{From: time.Date(2026, 3, 16, 0, 0, 0, 0, berlin), Until: time.Date(2026, 3, 17, 0, 0, 0, 0, berlin)}}
	monday := time.Date(2026, 3, 9, 0, 0, 0, 0, berlin)
	require.False(t, u.Working(monday.Add(8*time.Hour+59*time.Minute)))
	require.True(t, u.Working(monday.Add(9*time.Hour)))
	require.True(t, u.Working(monday.Add(9*time.Hour).UTC()), "the time zone decides, not the time's location")
	require.False(t, u.Working(monday.Add(17*time.Hour)))
	require.False(t, u.Working(monday.Add(24*time.Hour+10*time.Hour)), "tuesday is off")
	require.True(t, u.Available(monday))
	require.False(t, u.Available(time.Date(2026, 3, 16, 12, 0, 0, 0, berlin)))
	require.True(t, u.Available(time.Date(2026, 3, 17, 0, 0, 0, 0, berlin)), "until is excluded")
	u.Active = false
	require.False(t, u.Available(monday))
	require.True(t, (&access.User{}).Working(monday), "no hours: always")
}
