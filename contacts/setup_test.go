package contacts_test

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/migrate"
	"github.com/crmkit/crmkit/internal/modules"
	"github.com/crmkit/crmkit/internal/store"
)

// bundle is what a contacts test works with.
type bundle struct {
	db        *bun.DB
	rt        *store.Runtime
	sc        store.Scope
	svc       *contacts.Service
	companies *contacts.Companies
	notes     *contacts.Notes
	tasks     *contacts.Tasks
	fields    *fields.Service
	clock     *dbtest.Clock
}

// forTenant returns services of another tenant on the same database.
func (b *bundle) forTenant(t string) (*contacts.Service, *contacts.Companies) {
	sc := b.sc.WithTenant(t)
	return contacts.Module.Contacts(sc), contacts.Module.Companies(sc)
}

// events returns the stored events of the default tenant, but for those
// of the roles a test installed to act as a user (see as).
func (b *bundle) events(t *testing.T) []core.Event {
	evs, err := b.sc.Events(context.Background(), store.EventQuery{Limit: store.MaxLimit})
	require.NoError(t, err)
	return slices.DeleteFunc(evs, func(ev core.Event) bool { return ev.Type == access.EventRoleCreated })
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
	clock := dbtest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	rt, err := store.NewRuntime(db, clock, []byte("test-secret-test-secret-test-secret!"), slog.Default())
	require.NoError(t, err)
	sc := store.NewScope(rt)
	return &bundle{db: db, rt: rt, sc: sc, svc: contacts.Module.Contacts(sc), companies: contacts.Module.Companies(sc), notes: contacts.Module.Notes(sc), tasks: contacts.Module.Tasks(sc), fields: fields.Module.Service(sc), clock: clock}
}

// each runs fn on SQLite and PostgreSQL with a fresh bundle.
func each(t *testing.T, fn func(t *testing.T, b *bundle)) {
	migrated.Run(t, func(t *testing.T, db *bun.DB) { fn(t, setup(t, db)) })
}

func eventsOf(id core.ID) store.EventQuery {
	return store.EventQuery{SubjectID: id, Limit: store.MaxLimit}
}

// eventTypesOf returns the types of the events about subject, in order.
func (b *bundle) eventTypesOf(t *testing.T, subject core.ID) []string {
	evs, err := b.sc.Events(context.Background(), eventsOf(subject))
	require.NoError(t, err)
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Type
	}
	return out
}

// as returns a context whose actor is id with roles, the tenant's built-in
// roles installed (access.Roles.InstallBuiltins): for tests that act as a
// user, whose calls the module's record access then checks.
func (b *bundle) as(t testing.TB, id string, roles ...string) context.Context {
	t.Helper()
	_, err := access.Module.Service(b.sc).Roles.InstallBuiltins(context.Background())
	require.NoError(t, err)
	return core.WithActor(context.Background(), core.Actor{ID: id, Roles: roles})
}
