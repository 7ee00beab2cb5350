// Package store is the plumbing every crmkit module writes through: the
// runtime shared by all modules (database, dialect, clock, hooks), the tenant
// scope every repository is bound to, and transactions.
//
// A write runs in Scope.Write. Outside any transaction that begins one,
// commits it and then delivers the events it appended to in-process
// subscribers. Inside a transaction (crmkit's own from InTx, or the host's
// joined with Join) it runs in a SAVEPOINT, so a failed write leaves nothing
// behind in the enclosing transaction, and it never commits or rolls back a
// transaction it did not begin.
//
// Every event a write emits is inserted into crm_events in the write's
// transaction (a transactional outbox); "before" hooks run there and can veto
// the change by returning an error.
//
// Errors reach the host as core's sentinels, never as raw driver errors:
//
//   - Wrap, which every module method ends with, turns a missing crm_ or
//     river_ table into core.ErrNotMigrated and a foreign key refusal into
//     ErrInvalid (naming the column where PostgreSQL names the constraint).
//     Writes check the references they store first (CheckRefs), so that the
//     field is named on both databases.
//   - Q refuses, for every query, a string argument that no database can
//     hold (a NUL byte, invalid UTF-8) with ErrInvalid: such text was never
//     stored, so a read could only find nothing, and PostgreSQL would fail
//     the parameter with a driver error.
//   - Join refuses a transaction of another database (see Scope.Join).
//
// Observability: Scope.Span and Scope.SpanID start the span of a module's
// public operation with the runtime's Tracer and the scope's tenant (see
// internal/trace). Q, and Tx.InsertRows for what it sends past Q (COPY,
// prepared multi-row INSERTs), report every statement to the runtime's
// QueryHook after running it: text with placeholders, start, duration,
// rows (affected by a write, 0 or 1 for QueryRow, read when the row is
// scanned; -1 for Query, whose rows the caller reads later) and the
// driver's error, never the arguments. Without a hook Q takes no time
// stamps.
//
// Lists of values ("in" filters, event types) are bound as one JSON array
// parameter (dialect.InList), never one parameter per value.
//
// Single writes: settings a write reads on every call (field definitions,
// models, a tenant's switches) go through CacheOf, kept per tenant for
// Runtime.SettingsTTL and dropped by the events that change them, in the
// changing transaction and after its commit; a transaction that changed
// one reads through. On SQLite, statements that ran unprepared in a
// transaction are prepared once it ends (the statement cache), and small
// writes of one kind that arrive together share a commit
// (Scope.WriteGrouped: group commit, a savepoint each).
package store
