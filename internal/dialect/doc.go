// Package dialect holds every difference between SQLite and PostgreSQL that
// crmkit's SQL has to know about: placeholders, how times and JSON are
// stored and read, column types for migrations, and how driver errors for
// expected conditions (unique violations) are recognised.
//
// Callers branch on a Dialect's capabilities and helpers, never on the
// database's name; adding a third database means filling in one value here.
package dialect
