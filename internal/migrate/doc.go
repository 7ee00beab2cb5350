// Package migrate brings crmkit's tables up to date.
//
// Each module declares its own migrations (module.Module.Migrations): SQL
// files in the module's migrations/ folder, named NNNN_name.sql. Collect
// gathers them, with the store's own (sql/ here: the outbox, crm_events),
// into one history ordered by version; Up applies what is pending, each
// version recorded in crm_migrations. A version after SharedHistory
// belongs to one module: take the next number free across all modules (a
// clash is an error at Collect). Up to SharedHistory a version may have
// parts in several modules — the history from before each module held its
// own, kept under the versions existing databases recorded — and the
// parts run in the order of the module list. One file serves both databases:
// {{ID}}, {{JSON}}, {{TIME}}, {{BIGINT}}, {{BOOL}}, {{TEXT}} and {{FLOAT}}
// become the column types of the database, and a statement that starts
// with the comment "-- postgres only" or "-- sqlite only" runs on that
// database alone.
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
// schema of both databases and holds it to that. A link to a row another
// module owns is cleared by that module's service when the row is deleted
// (pipeline's Deals.Delete asks contacts to unlink the deal's tasks and
// activities, with their events); the key refuses a deletion that would
// leave one. PostgreSQL 15 or newer is needed (Up checks) for the ON DELETE
// SET NULL (column) of the history (0014).
package migrate
