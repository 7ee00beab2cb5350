package pipeline_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/migrate"
	"github.com/crmkit/crmkit/internal/module"
	"github.com/crmkit/crmkit/internal/modules"
	"github.com/crmkit/crmkit/internal/store"
	"github.com/crmkit/crmkit/pipeline"
)

type bundle struct {
	db        *bun.DB
	rt        *store.Runtime
	sc        store.Scope
	pipelines *pipeline.Pipelines
	deals     *pipeline.Deals
	products  *pipeline.Products
	contacts  *contacts.Service
	companies *contacts.Companies
	fields    *fields.Service
	clock     *dbtest.Clock
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
	module.Wire(rt, []module.Module{contacts.Module.Declare(), pipeline.Module.Declare()})
	return forScope(db, rt, store.NewScope(rt), clock)
}

func forScope(db *bun.DB, rt *store.Runtime, sc store.Scope, clock *dbtest.Clock) *bundle {
	return &bundle{db: db, rt: rt, sc: sc, pipelines: pipeline.Module.Pipelines(sc), deals: pipeline.Module.Deals(sc),
		products: pipeline.Module.Products(sc), contacts: contacts.Module.Contacts(sc), companies: contacts.Module.Companies(sc),
		fields: fields.Module.Service(sc), clock: clock}
}

func (b *bundle) tenant(name string) *bundle {
	return forScope(b.db, b.rt, b.sc.WithTenant(name), b.clock)
}

// each runs fn on SQLite and PostgreSQL with a fresh bundle.
func each(t *testing.T, fn func(t *testing.T, b *bundle)) {
	migrated.Run(t, func(t *testing.T, db *bun.DB) { fn(t, setup(t, db)) })
}

func eur(s string) core.Money { return core.MustMoney(s, "EUR") }

func (b *bundle) eventTypes(t *testing.T, subject core.ID) []string {
	evs, err := b.sc.Events(context.Background(), store.EventQuery{SubjectID: subject, Limit: store.MaxLimit})
	require.NoError(t, err)
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Type
	}
	return out
}
