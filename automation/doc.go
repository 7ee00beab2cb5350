// Package automation is crmkit's engine of rules, durable jobs and
// webhooks (c.Automation, c.Start, c.RegisterAction).
//
// # How an event becomes work
//
// Every change appends its events to the outbox (crm_events) in its
// transaction. In that same transaction the engine looks at the tenant's
// enabled rules and webhooks (a per-process copy, refreshed every
// Options.RuleCacheTTL and at once after a save in this process): if a
// rule's trigger and Event condition accept an event, or a webhook
// subscribes to its type, one River job ("crm.dispatch") is inserted with
// InsertTx, in the same transaction. A rolled-back change leaves no job; a
// committed one always has its job. No process polls the outbox for this.
// One gap remains by design: a process's copy of the rules may be up to
// RuleCacheTTL old when another process has just saved a rule, so an
// event in that moment gets no job; the sweeper (Engine.Sweep, every
// Options.SweepEvery in the workers) reads each event once, a minute
// behind, and queues those that a rule or webhook wanted but that have no
// run or delivery.
//
// Workers (c.Start, in any number of processes) take the jobs. A dispatch
// job, in one transaction, decides the Contact condition of each rule,
// records a run per (rule, event) — a unique key, so a retried job starts
// nothing twice —, runs the steps (each recorded with its result; a step
// recorded done is never run again) and queues webhook deliveries (one
// per subscription and event, by a unique key). A job is never half done
// (one transaction) and a job run twice — its worker died after the
// commit, before River recorded the completion — finds its work recorded
// and does nothing twice. A wait step ends the transaction with a
// "crm.run" job scheduled for the end of the wait, which continues the run
// with the rule version it started with. A worker killed mid-job leaves its transaction
// uncommitted; River runs the job again after Options.RescueAfter.
//
// Errors: an action whose input or state is wrong (a contact without an
// owner, a host action's error) fails the run — the step's error is in the
// run log — and is not retried. Anything else (the database, a timeout,
// ErrRetryLater from a host action) fails the job, which River retries
// with backoff. A job whose payload no longer parses is cancelled and
// logged, never retried.
//
// # Rules
//
// A rule is stored as JSON:
//
//	{
//	  "name": "Follow up price calculator users",
//	  "enabled": true,
//	  "triggers": ["activity.tracked"],
//	  "condition": {
//	    "event":   {"field": "data.name", "op": "eq", "value": "pricing_calculator_used"},
//	    "contact": {"field": "lifecycle_stage", "op": "in", "value": ["lead", "mql"]}
//	  },
//	  "actions": [
//	    {"type": "create_task", "title": "Call {{contact.first_name}}", "due_in": "1d",
//	     "assignee": {"round_robin": ["anna", "ben"]}},
//	    {"type": "wait", "for": "2d"},
//	    {"type": "branch", "if": {"contact": {"field": "tags", "op": "contains", "value": "replied"}},
//	     "else": [{"type": "send_mail", "params": {"template": "nudge"}}]}
//	  ]
//	}
//
// Conditions use crmkit's one filter language: "event" over the event
// (type, subject_type, actor_id, and data.<path> into its JSON data),
// "contact" over the contact the event is about (its subject, or the
// contact_id in its data or in its deal, task, note or activity). The
// actions are listed at Action. A task's assignee is the contact's owner,
// a user, a list of users taken in turn or by load, or a team of package
// access ({"team": "sales-emea", "strategy": "round_robin"} or
// "least_loaded"), whose available members take it (see Assignee).
// Saving checks everything at once — unknown actions, filters, durations,
// assignees and their teams, webhook ids, a host action's params — and
// reports every problem as a *core.ValidationError.
// Every save is a new version; Runs.List and Runs.Get read the run log
// (each step's start, end, result and error).
//
// Besides the built-in actions, modules offer actions of their own (the
// pipeline module's "create_deal" opens a deal for the contact): each
// module declares them in its contract, with a check of the params that
// runs when a rule is saved, in the rule's tenant. They run like the
// built-ins: an error the store knows fails the run, any other is retried.
//
// Host actions are Go functions registered by name (c.RegisterAction).
// They run in the step's transaction: their database writes happen
// exactly once. For outside effects (mail) they get an idempotency key
// that is the same for every attempt of the step.
//
// The run log and the delivery log keep what finished for
// Options.LogRetention (90 days); the workers prune older entries daily
// (Engine.PruneLogs).
//
// # Loops and storms
//
// Events caused by a rule's actions carry the depth of the chain; a run
// deeper than Options.MaxDepth (default 5) is not started but logged as a
// "stopped" run. A tenant starts at most Options.RateLimit runs per
// Options.RateWindow (default 6000 a minute); beyond that dispatch jobs
// wait (River snooze), none is dropped.
//
// # Webhooks
//
// A webhook subscribes a URL to event types, and rules can send to it
// (the "webhook" action). Each delivery is a River job: a POST of
//
//	{"delivery_id": "…", "event": {"id": "…", "type": "deal.stage_changed", "tenant_id": "…", …}}
//
// with the headers Crm-Event-Type, Crm-Event-Id, Crm-Delivery-Id and
// Crm-Signature: "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>"
// keyed with the webhook's secret>". Receivers check it with
// VerifySignature (or the same three lines in any language), refuse old
// timestamps, and dedupe by delivery id (delivery is at least once). A 2xx
// answer delivers; anything else, or no answer within the timeout, is
// retried with exponential backoff up to WebhookOptions.MaxAttempts.
// Every attempt is logged (status, latency, error; Webhooks.Delivery).
// After WebhookOptions.DisableAfter failed attempts in a row a webhook is
// disabled, with a "webhook.disabled" event; Update enables it again.
//
// URLs must be http or https and, unless WebhookOptions allow it, reach
// public addresses only: loopback, private, link-local and other special
// addresses are refused when the webhook is saved and checked again at
// every connection (a name that resolves elsewhere later is caught).
// Redirects are not followed.
//
// # Record access
//
// With an actor in the context (core.WithActor) every public method of
// Rules, Runs and Webhooks checks the actor's permissions on
// "automation" (package access); without one the call is the host's own
// code and may do everything. Rules and webhooks are the module's
// settings: Rules.Get, Rules.List, Webhooks.Get, Webhooks.List need read;
// Rules.Create, Update, SetEnabled, Delete and Webhooks.Create, Update,
// Delete need manage. The run log and the deliveries (Runs.List,
// Runs.Get, Webhooks.Deliveries, Webhooks.Delivery) need read. Rules,
// webhooks and deliveries are not narrowed by visibility: an actor who
// may read the module reads all of them (a delivery holds ids, status
// codes and errors, not the event's data).
//
// Runs are about records, and their steps' results may name the person,
// so the run log follows the records' own visibility, in SQL (pages,
// filters and Before stay right): an actor sees a run when they see its
// contact (Run.ContactID, when it has one) in the contacts module and its
// event's subject in that subject's module — a contact or a task in
// contacts, a deal in pipeline, a ticket in tickets, by the condition
// each module writes for its records (contacts.Module.Visible and
// VisibleTask, pipeline.Module.Visible, tickets.Module.Visible: owner,
// assignee, team), and a record of any other kind (a campaign, a
// company, a segment) when they may read its module. A run whose record
// is gone is shown only to actors who see every record of its kind; the
// host's own code, and an actor who sees every record, see every run.
// Runs.Get of a run the actor does not see is ErrNotFound, as a missing
// one, and is recorded in the audit log.
//
// Lacking the permission is ErrForbidden, changes
// nothing, and the attempt is recorded in the audit log (action
// "access.denied", detail "automation:read" or "automation:manage", the
// record's id). Rule runs and deliveries are worked by the engine without
// an actor; the actions they take are the rule's, not a user's.
//
// # Several processes
//
// Jobs live in River's tables in the CRM's database, so every process
// that calls Start shares them; River locks each job for one worker. On
// PostgreSQL, processes are told of new jobs by LISTEN/NOTIFY (Open sets
// up a one-connection pgx pool for it; without one they poll every
// Options.PollInterval). On SQLite, River polls a notification table; use
// one process with several worker goroutines. Periodic work (retention,
// rescoring; AddPeriodic) is scheduled by River's elected leader, so it
// runs once per interval however many processes run.
//
// River's tables are named river_*; crmkit's jobs use the queues
// crm_rules and crm_webhooks, so a host that uses River for its own jobs
// in the same database keeps them apart (use the same River version).
//
// # Tracing
//
// The River client carries River's OpenTelemetry middleware (otelriver)
// on Options.TracerProvider (crm passes Config.TracerProvider; default the
// global provider): a "river.insert_many" span for each batch of jobs
// inserted, a child of the operation that queued them, and a
// "river.work/<kind>" span for each job worked. A job may run minutes or
// days after its insert, so its span is not the insert's child but is
// linked to it: the insert's W3C trace context is written into the job's
// metadata (only when a span is recording; without a provider the
// metadata is unchanged). What the job does through the modules'
// services (a rule's actions) makes spans under the work span. River's
// metrics go to the global meter provider. The package's public
// operations (Rules, Runs, Webhooks) make spans of their own, as every
// module's do.
package automation
