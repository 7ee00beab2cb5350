// Package crm is crmkit's entry point: it opens or embeds the database,
// runs migrations, binds a tenant, runs transactions and hooks, and wires the
// modules (c.Contacts, c.Companies, …) together.
//
// Ten lines to embed:
//
//	c, err := crm.Open(ctx, crm.Config{DSN: "file:crm.db"})
//	if err != nil { … }
//	defer c.Close()
//	if err := c.Migrate(ctx); err != nil { … }
//	ada, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com", FirstName: "Ada"})
//	found, err := c.Contacts.GetByEmail(ctx, "ADA@example.com")
//
// # Databases
//
// A DSN starting with postgres:// opens PostgreSQL through pgx; anything
// else is an SQLite file name or URI (modernc.org/sqlite, pure Go, no cgo),
// ":memory:" a private in-memory database. New embeds into a *bun.DB the
// host already owns; Close never closes a database crmkit did not open.
//
// Copy moves a whole CRM to another database — from SQLite to PostgreSQL
// when a host outgrows the file, or back: every tenant's rows of every
// table and the background jobs not yet done, in one transaction of the
// destination, checked table by table (rows and a checksum of their
// content) before it commits.
//
// # Tenants
//
// A CRM is bound to one tenant: the default one ("default"), or the one of
// the copy c.Tenant("acme") returns. Every query is filtered by tenant; no
// method reads across tenants.
//
// # Transactions
//
// Each write is atomic on its own. InTx runs several in one crmkit
// transaction. To make crmkit's writes part of a transaction the host holds
// (the host's order and the CRM update commit together), bind it with
// WithTx; crmkit never commits or rolls back a transaction it did not begin.
//
// # Events and hooks
//
// Every change appends an event to crm_events in its transaction. Before
// hooks run inside that transaction and veto the change by returning an
// error; subscribers run after the commit. Each module exports its event
// types as constants (contacts.EventContactCreated, pipeline.EventDealWon,
// …) with a payload type per event; EventTypes lists the whole catalogue
// with the field paths of each payload. Subscribe, Before, rule triggers,
// rule conditions on "data.<path>" and webhook subscriptions are checked
// against it, so a misspelt type or path is refused instead of never
// matching. Events about a person's records name the contact
// (core.Event.ContactID; EventQuery.ContactID selects them).
//
// # Modules
//
// crm wires its modules (contacts, consent, pipeline, automation) through
// one contract: each module package declares its migrations, tables, event
// catalogue, personal data, hooks on contacts (merge, delete), periodic work
// and custom-field entities in one value, and crm loops over the list in
// internal/modules. A module writes only its own tables (a test reads every
// package's SQL); docs/modules.md describes how to add one.
//
// # Observability
//
// Config.TracerProvider (default: the global provider, a no-op until the
// host installs one) receives an OpenTelemetry span for every public
// operation: "<module>.<Method>" for a module's main service
// ("contacts.Create", "consent.Grant"), "<module>.<Type>.<Method>" for its
// other services ("pipeline.Deals.Update"), "crm.<Method>" for the CRM's
// own (Migrate, InTx, Events, ApplyRetention, SweepEvents,
// PruneAutomationLogs, and Copy through CopyOptions.TracerProvider). Spans
// are children of the caller's span, carry crm.tenant and, where the
// method takes the record's id, crm.id, and end with status Error and an
// error.type ("not_found", "invalid", "conflict", …, "_OTHER") when the
// method fails. River's otelriver middleware, on the same provider, makes
// "river.insert_many" spans for the jobs an operation queues and a
// "river.work/<kind>" span per job worked, linked to its insert. Analytics
// reports are not traced yet.
//
// Config.QueryHook sees every SQL statement crmkit runs for the modules
// (core.QueryInfo: text with placeholders, timing, rows, error), with the
// operation's span in its context, never the argument values. Logs go to
// Config.Logger (log/slog) with the operation's context.
//
// # Background work
//
// Rules, webhooks, waits and periodic work (retention, rescoring, the
// stored customer scores) run as River jobs (see package automation).
// The events a rule or webhook listens to become jobs in the change's own
// transaction, in every process; Start runs workers in the processes that
// should do the work, Stop and Close stop them. RegisterAction adds the
// host's own rule actions. In tests, package crmtest runs the jobs that are due without
// workers (its RunDue, through JobWorker), on a clock the test moves.
package crm
