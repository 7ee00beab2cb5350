package access_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/migrate"
	"github.com/crmkit/crmkit/internal/module"
	"github.com/crmkit/crmkit/internal/modules"
	"github.com/crmkit/crmkit/internal/store"
)

// bundle is what an access test works with.
type bundle struct {
	db    *bun.DB
	rt    *store.Runtime
	sc    store.Scope
	svc   *access.Service
	clock *dbtest.Clock
}

// migrated is the template database of these tests: crmkit's migrations,
// run once per test binary (see dbtest.Template).
var migrated = &dbtest.Template{Name: "store", Sources: modules.Migrations(), Migrate: func(ctx context.Context, db *bun.DB) error {
	_, err := migrate.Up(ctx, db, modules.Migrations())
	return err
}}

func setup(t testing.TB, db *bun.DB) *bundle {
	t.Helper()
	_, err := migrate.Up(context.Background(), db, modules.Migrations())
	require.NoError(t, err)
	clock := dbtest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	rt, err := store.NewRuntime(db, clock, []byte("test-secret-test-secret-test-secret!"), slog.Default())
	require.NoError(t, err)
	module.Wire(rt, []module.Module{access.Module.Declare()})
	sc := store.NewScope(rt)
	return &bundle{db: db, rt: rt, sc: sc, svc: access.Module.Service(sc), clock: clock}
}

// tenant returns the bundle of another tenant on the same database.
func (b *bundle) tenant(name string) *bundle {
	sc := b.sc.WithTenant(name)
	return &bundle{db: b.db, rt: b.rt, sc: sc, svc: access.Module.Service(sc), clock: b.clock}
}

// each runs fn on SQLite and PostgreSQL with a fresh bundle.
func each(t *testing.T, fn func(t *testing.T, b *bundle)) {
	t.Helper()
	migrated.Run(t, func(t *testing.T, db *bun.DB) { fn(t, setup(t, db)) })
}

// events returns the tenant's stored events, in order.
func (b *bundle) events(t *testing.T) []core.Event {
	t.Helper()
	evs, err := b.sc.Events(context.Background(), store.EventQuery{Limit: store.MaxLimit})
	require.NoError(t, err)
	return evs
}

// eventTypes returns the types of the tenant's events, in order.
func (b *bundle) eventTypes(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, ev := range b.events(t) {
		out = append(out, ev.Type)
	}
	return out
}

// rows counts the tenant's rows of table.
func (b *bundle) rows(t *testing.T, table string) int {
	t.Helper()
	var n int
	require.NoError(t, b.sc.Q().QueryRow(context.Background(), `SELECT count(*) FROM `+table+` WHERE tenant_id = ?`, b.sc.TenantName()).Scan(&n))
	return n
}

// problems returns the fields a ValidationError names, sorted.
func problems(t *testing.T, err error) []string {
	t.Helper()
	var ve *core.ValidationError
	require.True(t, errors.As(err, &ve), "not a validation error: %v", err)
	require.ErrorIs(t, err, core.ErrInvalid)
	var out []string
	for _, f := range ve.Fields {
		out = append(out, f.Field)
	}
	sort.Strings(out)
	return out
}

// decode unmarshals an event's data into a value of type T.
func decode[T any](t *testing.T, ev core.Event) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(ev.Data, &v), ev.Type)
	return v
}

// user creates an active user with roles.
func (b *bundle) user(t *testing.T, id string, roles ...string) *access.User {
	t.Helper()
	u, err := b.svc.Users.Create(context.Background(), access.UserInput{ID: id, DisplayName: "User " + id, Roles: roles})
	require.NoError(t, err)
	return u
}

// team creates a team with members (user ids, which must exist).
func (b *bundle) team(t *testing.T, name string, members ...string) *access.Team {
	t.Helper()
	ctx := context.Background()
	tm, err := b.svc.Teams.Create(ctx, access.TeamInput{Name: name})
	require.NoError(t, err)
	for _, m := range members {
		tm, err = b.svc.Teams.AddMember(ctx, tm.ID, tm.Version, access.Member{UserID: m})
		require.NoError(t, err)
	}
	return tm
}

// role creates a role granting perms.
func (b *bundle) role(t *testing.T, name string, perms access.Permissions) *access.Role {
	t.Helper()
	r, err := b.svc.Roles.Create(context.Background(), access.RoleInput{Name: name, Permissions: perms})
	require.NoError(t, err)
	return r
}
