package access_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
)

// A stored user resolves from their stored roles and teams (the Actor's
// are ignored): the union of their roles' actions, the widest visibility,
// personal data if any role has it, and for team visibility the members
// of all their teams.
func TestResolveStoredUser(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		b.role(t, "rep", access.Permissions{
			"contacts": {Actions: []access.Action{access.Read, access.Create}, Visibility: access.VisibilityOwn, PersonalData: true},
			"pipeline": {Actions: []access.Action{access.Read}, Visibility: access.VisibilityTeam},
		})
		b.role(t, "helper", access.Permissions{
			"contacts": {Actions: []access.Action{access.Update}, Visibility: access.VisibilityTeam},
			"consent":  {Actions: []access.Action{access.Export}, Visibility: access.VisibilityAll, PersonalData: true},
		})
		b.role(t, "boss", access.Permissions{"contacts": readAll})
		for _, id := range []string{"ben", "carl", "dora", "emil"} {
			b.user(t, id)
		}
		b.user(t, "anna", "rep", "helper")
		b.team(t, "north", "anna", "ben")
		b.team(t, "south", "carl", "anna")
		b.team(t, "west", "dora")

		eff, err := b.svc.Resolve(ctx, core.Actor{ID: "anna", Roles: []string{"boss"}, Teams: []string{"west"}})
		require.NoError(t, err)
		require.True(t, eff.Stored())
		require.False(t, eff.Trusted())
		require.Equal(t, "anna", eff.Actor())
		for _, a := range []access.Action{access.Read, access.Create, access.Update} {
			require.True(t, eff.Can("contacts", a), a)
		}
		require.False(t, eff.Can("contacts", access.Delete))
		require.True(t, eff.Can("consent", access.Export))
		require.False(t, eff.Can("consent", access.Read))
		require.False(t, eff.Can("tickets", access.Read))
		require.NoError(t, eff.Require("pipeline", access.Read))
		err = eff.Require("pipeline", access.Delete)
		require.ErrorIs(t, err, core.ErrForbidden)
		require.ErrorContains(t, err, "anna")

		vis, ids := eff.Visibility("contacts")
		require.Equal(t, access.VisibilityTeam, vis, "the widest of own and team")
		require.Equal(t, []string{"anna", "ben", "carl"}, ids, "both teams, not the Actor's west")
		vis, ids = eff.Visibility("pipeline")
		require.Equal(t, access.VisibilityTeam, vis)
		require.Equal(t, []string{"anna", "ben", "carl"}, ids)
		vis, ids = eff.Visibility("consent")
		require.Equal(t, access.VisibilityNone, vis, "export without read sees nothing")
		require.Nil(t, ids)
		vis, _ = eff.Visibility("tickets")
		require.Equal(t, access.VisibilityNone, vis)

		require.True(t, eff.SeesPersonalData("contacts"))
		require.False(t, eff.SeesPersonalData("pipeline"))
		require.False(t, eff.SeesPersonalData("consent"), "personal data needs read")
		require.Equal(t, []access.Action{access.Read, access.Create, access.Update}, eff.Grant("contacts").Actions)

		// A user in no team with team visibility sees their own records.
		b.user(t, "solo", "rep")
		eff, err = b.svc.Resolve(ctx, core.Actor{ID: "solo"})
		require.NoError(t, err)
		_, ids = eff.Visibility("pipeline")
		require.Equal(t, []string{"solo"}, ids)
		vis, ids = eff.Visibility("contacts")
		require.Equal(t, access.VisibilityOwn, vis)
		require.Equal(t, []string{"solo"}, ids)

		// Changes show in the next resolution.
		anna, err := b.svc.Users.Get(ctx, "anna")
		require.NoError(t, err)
		_, err = b.svc.Users.Update(ctx, "anna", anna.Version, access.UserInput{DisplayName: "A", Roles: []string{"boss"}})
		require.NoError(t, err)
		eff, err = b.svc.Resolve(ctx, core.Actor{ID: "anna"})
		require.NoError(t, err)
		vis, ids = eff.Visibility("contacts")
		require.Equal(t, access.VisibilityAll, vis)
		require.Nil(t, ids)
		require.False(t, eff.Can("pipeline", access.Read))

		// A deactivated user may do nothing, whatever the Actor says.
		anna, err = b.svc.Users.Get(ctx, "anna")
		require.NoError(t, err)
		_, err = b.svc.Users.Deactivate(ctx, "anna", anna.Version)
		require.NoError(t, err)
		eff, err = b.svc.Resolve(ctx, core.Actor{ID: "anna", Roles: []string{"boss"}})
		require.NoError(t, err)
		require.True(t, eff.Stored())
		require.False(t, eff.Can("contacts", access.Read))
		vis, _ = eff.Visibility("contacts")
		require.Equal(t, access.VisibilityNone, vis)
	})
}

// An actor who is not a stored user resolves from the Actor's Roles and
// Teams, as names of the tenant's roles and teams (teams also by id);
// names the tenant does not have grant nothing. Without an actor in the
// context, the call is the host's trusted code.
func TestResolveActorWithoutUser(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		b.role(t, "lead", access.Permissions{"pipeline": {Actions: []access.Action{access.Read, access.Update}, Visibility: access.VisibilityTeam}})
		b.user(t, "anna")
		b.user(t, "ben")
		b.user(t, "carl")
		north := b.team(t, "north", "anna")
		b.team(t, "south", "ben")
		b.team(t, "west", "carl")

		eff, err := b.svc.Resolve(ctx, core.Actor{ID: "system:import", Roles: []string{"lead", "ghost"}, Teams: []string{north.ID.String(), "south", "nowhere"}})
		require.NoError(t, err)
		require.False(t, eff.Stored())
		require.True(t, eff.Can("pipeline", access.Update))
		require.False(t, eff.Can("contacts", access.Read))
		vis, ids := eff.Visibility("pipeline")
		require.Equal(t, access.VisibilityTeam, vis)
		require.Equal(t, []string{"anna", "ben", "system:import"}, ids)

		eff, err = b.svc.Resolve(ctx, core.Actor{ID: "x", Roles: []string{"ghost"}})
		require.NoError(t, err)
		require.False(t, eff.Can("pipeline", access.Read), "an unknown role grants nothing")
		eff, err = b.svc.Resolve(ctx, core.Actor{})
		require.NoError(t, err)
		require.False(t, eff.Can("pipeline", access.Read))

		// An actor without an id sees no record as their own: records
		// without an owner have "".
		eff, err = b.svc.Resolve(ctx, core.Actor{Roles: []string{"lead"}})
		require.NoError(t, err)
		_, ids = eff.Visibility("pipeline")
		require.Empty(t, ids)

		eff, err = b.svc.ForContext(ctx)
		require.NoError(t, err)
		require.True(t, eff.Trusted())
		require.True(t, eff.Can("consent", access.Erase))
		require.True(t, eff.SeesPersonalData("contacts"))
		vis, _ = eff.Visibility("tickets")
		require.Equal(t, access.VisibilityAll, vis)
		cond, args := eff.Condition("contacts", "owner_id")
		require.Equal(t, "1 = 1", cond)
		require.Empty(t, args)

		eff, err = b.svc.ForContext(core.WithActor(ctx, core.Actor{ID: "anna", Roles: []string{"lead"}}))
		require.NoError(t, err)
		require.True(t, eff.Stored())
		require.False(t, eff.Can("pipeline", access.Read), "anna is stored without roles")

		_, err = b.svc.Resolve(ctx, core.Actor{ID: "bad\x00id"})
		require.ErrorIs(t, err, core.ErrInvalid)
		_, err = access.Module.Service(b.sc.WithTenant("bad tenant!")).ForContext(ctx)
		require.ErrorIs(t, err, core.ErrInvalid)
	})
}

// layout is a random arrangement of users in teams and records with
// owners and assignees, for the visibility property test.
type layout struct {
	users   []string
	teams   [][]string // members of each team
	records []record
}

type record struct {
	id              int
	owner, assignee *string // nil: NULL
}

func randomLayout(r *rand.Rand) layout {
	var l layout
	nUsers := 1 + r.IntN(8)
	for i := range nUsers {
		l.users = append(l.users, fmt.Sprintf("u%d", i))
	}
	for range r.IntN(4) {
		var members []string
		for _, u := range l.users {
			if r.IntN(3) == 0 {
				members = append(members, u)
			}
		}
		l.teams = append(l.teams, members)
	}
	pick := func() *string {
		switch n := r.IntN(len(l.users) + 3); {
		case n == len(l.users):
			return nil
		case n == len(l.users)+1:
			s := ""
			return &s
		case n == len(l.users)+2:
			s := "outsider"
			return &s
		default:
			return &l.users[n]
		}
	}
	for i := range r.IntN(30) {
		l.records = append(l.records, record{id: i, owner: pick(), assignee: pick()})
	}
	return l
}

// visible is the in-memory reference: the records the actor sees with
// visibility vis, from the layout itself.
func (l layout) visible(actor string, vis access.Visibility) []int {
	who := map[string]bool{}
	switch vis {
	case access.VisibilityOwn:
		who[actor] = true
	case access.VisibilityTeam:
		who[actor] = true
		for _, members := range l.teams {
			if slices.Contains(members, actor) {
				for _, m := range members {
					who[m] = true
				}
			}
		}
	}
	out := []int{}
	for _, rec := range l.records {
		sees := vis == access.VisibilityAll
		for _, col := range []*string{rec.owner, rec.assignee} {
			sees = sees || (col != nil && *col != "" && who[*col])
		}
		if sees {
			out = append(out, rec.id)
		}
	}
	return out
}

// For random ownership and team layouts, the SQL condition of a resolved
// actor selects exactly the records the in-memory reference selects, for
// each visibility, on both databases.
func TestVisibilityConditionMatchesReference(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		q := b.sc.Q()
		_, err := q.Exec(ctx, `CREATE TABLE visibility_records (tenant_id TEXT NOT NULL, id INTEGER NOT NULL,
			owner_id TEXT, assignee_id TEXT, PRIMARY KEY (tenant_id, id))`)
		require.NoError(t, err)
		seed := rand.Uint64()
		r := rand.New(rand.NewPCG(seed, 13))
		visibilities := []access.Visibility{access.VisibilityOwn, access.VisibilityTeam, access.VisibilityAll}
		for round := range 30 {
			tb := b.tenant(fmt.Sprintf("p%d", round))
			l := randomLayout(r)
			for _, u := range l.users {
				tb.user(t, u)
			}
			for i, members := range l.teams {
				tb.team(t, fmt.Sprintf("team-%d", i), members...)
			}
			for _, v := range visibilities {
				tb.role(t, "see-"+string(v), access.Permissions{"contacts": {Actions: []access.Action{access.Read}, Visibility: v}})
			}
			tb.role(t, "blind", access.Permissions{"contacts": {Actions: []access.Action{access.Create}, Visibility: access.VisibilityAll}})
			for _, rec := range l.records {
				_, err := q.Exec(ctx, `INSERT INTO visibility_records (tenant_id, id, owner_id, assignee_id) VALUES (?, ?, ?, ?)`,
					tb.sc.TenantName(), rec.id, rec.owner, rec.assignee)
				require.NoError(t, err)
			}
			for _, v := range append(visibilities, access.VisibilityNone) {
				actor := l.users[r.IntN(len(l.users))]
				role := "see-" + string(v)
				if v == access.VisibilityNone {
					role = "blind"
				}
				u, err := tb.svc.Users.Get(ctx, actor)
				require.NoError(t, err)
				_, err = tb.svc.Users.Update(ctx, actor, u.Version, access.UserInput{DisplayName: u.DisplayName, Roles: []string{role}})
				require.NoError(t, err)
				eff, err := tb.svc.Resolve(ctx, core.Actor{ID: actor})
				require.NoError(t, err)
				cond, args := eff.Condition("contacts", "r.owner_id", "r.assignee_id")
				rows, err := q.Query(ctx, `SELECT r.id FROM visibility_records r WHERE r.tenant_id = ? AND `+cond+` ORDER BY r.id`,
					append([]any{tb.sc.TenantName()}, args...)...)
				require.NoError(t, err)
				got := []int{}
				for rows.Next() {
					var id int
					require.NoError(t, rows.Scan(&id))
					got = append(got, id)
				}
				require.NoError(t, rows.Err())
				require.NoError(t, rows.Close())
				want := l.visible(actor, v)
				if v == access.VisibilityNone {
					want = []int{}
				}
				require.Equal(t, want, got, "seed %d round %d: actor %s with %s visibility; teams %v; condition %s", seed, round, actor, v, l.teams, cond)
			}
		}
	})
}

// A team of any size is one bound parameter per column.
func TestConditionBindsOneListPerColumn(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		b.role(t, "team", access.Permissions{"pipeline": {Actions: []access.Action{access.Read}, Visibility: access.VisibilityTeam}})
		var ids []string
		for i := range 120 {
			ids = append(ids, fmt.Sprintf("user-%03d", i))
			b.user(t, ids[i])
		}
		b.team(t, "big", ids...)
		u, err := b.svc.Users.Get(ctx, "user-007")
		require.NoError(t, err)
		_, err = b.svc.Users.Update(ctx, u.ID, u.Version, access.UserInput{DisplayName: u.DisplayName, Roles: []string{"team"}})
		require.NoError(t, err)
		eff, err := b.svc.Resolve(ctx, core.Actor{ID: "user-007"})
		require.NoError(t, err)
		_, members := eff.Visibility("pipeline")
		require.Equal(t, ids, members)
		cond, args := eff.Condition("pipeline", "d.owner_id", "d.assignee_id")
		require.Len(t, args, 2)
		require.Equal(t, 2, strings.Count(cond, "?"))
		require.Equal(t, b.rt.Dialect.ListArg(ids), args[0])
		d := b.rt.Dialect
		require.Equal(t, "("+d.InList("d.owner_id", "text")+" OR "+d.InList("d.assignee_id", "text")+")", cond)
		none, noArgs := eff.Condition("tickets", "t.owner_id")
		require.Equal(t, "1 = 0", none)
		require.Empty(t, noArgs)
		empty, _ := eff.Condition("pipeline")
		require.Equal(t, "1 = 0", empty, "no columns: nothing is the actor's")
	})
}
