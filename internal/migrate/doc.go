// Package migrate brings crmkit's tables up to date.
//
// Migrations are SQL files embedded from sql/, named NNNN_name.sql and applied
// in order, each recorded in crm_migrations. One file serves both databases:
// {{ID}}, {{JSON}}, {{TIME}}, {{BIGINT}} and {{BOOL}} become the column types
// of the database, and a statement that starts with the comment
// "-- postgres only" or "-- sqlite only" runs on that database alone.
// Statements are separated by a line that ends with ";".
//
// Up is idempotent and safe when several processes run it at once: all
// pending migrations run in one transaction that first takes a lock (a
// transaction-scoped advisory lock on PostgreSQL, the database write lock on
// SQLite, recorded in crm_migration_locks), so a second process waits, then
// finds nothing left to do. bun's migrate package was not used because its
// lock fails instead of waiting.
//
// References: every id column that points at a row of another crm_ table
// is part of a composite foreign key (tenant_id, x_id) → crm_x (tenant_id,
// id), so the database refuses a reference across tenants or to nothing.
// The exceptions, with their reasons, are Unreferenced; a test reads the
// schema of both databases and holds it to that. Optional links to a row
// another module owns are cleared by the database when that row is
// deleted: ON DELETE SET NULL (column) on PostgreSQL, which needs
// PostgreSQL 15 or newer (Up checks), a BEFORE DELETE trigger on SQLite,
// whose SET NULL would null tenant_id too.
package migrate
