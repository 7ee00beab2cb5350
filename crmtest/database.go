package crmtest

import (
	"context"
	"testing"

	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/modules"
)

// template is the SQLite database every CRM on SQLite starts as a copy
// of: crmkit's and River's migrations, run once and kept under their
// fingerprint (see dbtest.Template).
var template = &dbtest.Template{Name: "crmtest", Sources: modules.Migrations(), Migrate: func(ctx context.Context, db *bun.DB) error {
	c, err := crm.New(db, crm.Config{})
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Migrate(ctx)
}}

// openSQLite returns a CRM on a copy of the template in tb.TempDir().
func openSQLite(tb testing.TB, cfg crm.Config) *crm.CRM {
	tb.Helper()
	db := template.SQLite(tb) // closed at tb's cleanup, after the CRM
	c, err := crm.New(db, cfg)
	if err != nil {
		tb.Fatalf("crmtest: %v", err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// postgresConns bounds each CRM's pool on PostgreSQL unless the
// configuration sets MaxOpenConns: parallel tests each hold a pool, and
// PostgreSQL admits 100 connections by default.
const postgresConns = 4

// openPostgres returns a CRM on a migrated schema of the database of dsn:
// one of the process's pool of migrated schemas (dbtest.Template), emptied
// and given back when tb ends — migrating a schema for every test took
// seconds.
func openPostgres(tb testing.TB, dsn string, cfg crm.Config) *crm.CRM {
	tb.Helper()
	ctx := context.Background()
	schema := template.PostgresSchemaAt(tb, dsn)
	cfg.DSN = withSearchPath(dsn, schema)
	if cfg.MaxOpenConns == 0 {
		cfg.MaxOpenConns = postgresConns
	}
	c, err := crm.Open(ctx, cfg)
	if err != nil {
		tb.Fatalf("crmtest: open PostgreSQL: %v", err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// withSearchPath returns dsn with its connections' search_path set to
// schema, in the DSN's own form (URL or keywords).
func withSearchPath(dsn, schema string) string { return dbtest.WithSearchPath(dsn, schema) }
