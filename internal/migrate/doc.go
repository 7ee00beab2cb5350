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
package migrate
