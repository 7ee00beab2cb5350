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
package store
