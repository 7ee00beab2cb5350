// Package contacts is the Customer 360 of crmkit: the people and companies a
// CRM knows, everything that happened with them, and the work around them.
//
//   - Contacts (c.Contacts): email, phone, names, company, lifecycle stage,
//     owner, tags, custom attributes, external ids (how a shop links its own
//     customer record); Create, Get/GetByEmail/GetByExternalID, Update with
//     optimistic concurrency, Upsert, Delete, List, Count, Search.
//   - Activities (c.Contacts.Track): calls, emails, meetings, web events,
//     purchases, support contacts, anything the host names; idempotent by key;
//     they keep the contact's Facts current (last activity, purchase count and
//     total, first and last purchase), which filters can use.
//   - The timeline (c.Contacts.Timeline): activities, notes and events about a
//     contact merged, newest first, keyset-paginated.
//   - Companies (c.Companies), notes (c.Notes), tasks (c.Tasks: my open,
//     overdue, due soon), custom field values checked against the definitions of package fields (c.Fields).
//   - Search (c.Contacts.Search): full-text over names, email, phone, company,
//     tags and domains, word prefixes for type-ahead, ranked: SQLite FTS5 or
//     PostgreSQL tsvector with GIN, kept in sync by every write;
//     RebuildSearchIndex repairs it after rows were written around crmkit.
//   - Lead scoring (c.Scoring): a model per tenant of fit rules (filters
//     over the contact) and engagement rules (points per activity of a kind
//     and name, halved every half-life); thresholds advance the lifecycle
//     stage (lead → MQL) and emit "contact.score_threshold_crossed". Track
//     rescores its contact; Rescore recomputes all in SQL, 5,000 contacts
//     per transaction. The score is a fact: filterable and sortable
//     ("score").
//   - Customer scores (c.Scoring.SetCustomerScores, written by
//     c.Analytics.StoreScores and its nightly refresh): each purchasing
//     contact's RFM quintiles, RFM segment, P(alive) and whether they are
//     overdue, stored as Facts.Customer and filterable like the other
//     facts ("rfm_segment" = "at_risk", "churn_overdue" = true, "p_alive"
//     < 0.3 — sortable —, "rfm_r", "rfm_f", "rfm_m", "customer_scored_at"),
//     in lists, segments and rule conditions.
//   - Dedupe and merge: FindDuplicates proposes groups with a score and the
//     reasons; Merge folds contacts into one in a transaction, and later
//     modules re-point their rows in their OnContactMerge hook.
//   - Import and export: ImportCSV and Import (upsert by external id or
//     email, per-row errors, dry run, all-or-nothing, progress; CSV in
//     UTF-8 or Windows-1252, its delimiter and encoding detected on request
//     with SniffCSV), ExportCSV and ExportJSONL, in constant memory. New contacts are written in bulk:
//     COPY on PostgreSQL, multi-row INSERTs on SQLite, events and search
//     documents included.
//
// Hosts reach it through the crm facade:
//
//	c, _ := crm.Open(ctx, crm.Config{DSN: "file:crm.db"})
//	defer c.Close()
//	_ = c.Migrate(ctx)
//	ada, _ := c.Contacts.Create(ctx, contacts.NewContact{
//		Email:       "ada@example.com",
//		FirstName:   "Ada",
//		ExternalIDs: []contacts.ExternalID{{Source: "shop", ID: "customer-1042"}},
//	})
//	_, _ = c.Contacts.Track(ctx, contacts.ByExternalID("shop", "customer-1042"), contacts.NewActivity{
//		Kind: contacts.KindWeb, Name: "pricing_calculator_used", IdempotencyKey: "evt-981",
//	})
//	page, _ := c.Contacts.List(ctx, contacts.ListOptions{
//		Filter: filter.And(filter.Eq("lifecycle_stage", "lead"), filter.Gte("last_activity_at", "now-7d")),
//	})
//
// Every method is scoped to the tenant of the facade it was reached through.
// Writes validate all input first and report every problem at once
// (core.ErrInvalid); an update names the version it read, and a stale
// version fails with core.ErrConflict instead of overwriting a concurrent
// change. Each change appends an event ("contact.created",
// "contact.updated", "activity.tracked", "task.completed", …) in its
// transaction.
//
// Decisions worth knowing:
//   - Emails are stored trimmed and lower-case and are unique per tenant when
//     given; (source, external id) pairs are unique per tenant. Upsert finds a
//     contact by external id, then by email, and is idempotent.
//   - A contact's purchases share one currency; a purchase in another is
//     refused. Facts do not change a contact's Version.
//   - Attributes without a field definition are free-form; a definition
//     checks its key on every write (type, options, required) and makes it
//     filterable with its type and sortable (missing values sort first).
//   - Notes belong to contacts; tasks outlive the contact or company they
//     were about (the link is cleared).
//   - Search matches whole words by prefix, case-insensitively and
//     accent-sensitively ("muller" does not find "Müller") on both databases.
//   - Import reports a repeated email or external id as an error on the
//     later row, however far apart the rows are. Within a batch a map of
//     the batch's keys tells; across batches the contact's ImportID does
//     (each import marks the contacts it writes), so memory stays flat.
//     Rows that match an existing contact are upserted one by one (with
//     Upsert's locking); only new contacts take the bulk path, so an import
//     of updates is far slower than one of new contacts.
//   - Lead scoring lives here, not in the pipeline package: it reads and
//     writes contacts and activities only. Stages only advance by score;
//     attribute changes count at the next Rescore (or ScoreContact).
//   - Customer scores are computed by analytics (floor 5) and stored here,
//     by the module that owns crm_contacts. SetCustomerScores replaces the
//     tenant's whole set in one transaction (statements of 512 contacts):
//     the contacts given get theirs, every other loses its own, so a
//     contact whose purchases went keeps no stale segment. Restricted
//     contacts keep what they had (neither written nor cleared); erased
//     ones get none (erasure removes them and marks the row, checked by
//     the statement that writes). No event is emitted and Version does not
//     move, as for the other facts. The segment names live here
//     (RFMSegments, the values "rfm_segment" accepts): analytics names
//     the same eleven (analytics.SegmentOf) and its tests hold them
//     equal. P(alive) is an 8-byte float on both databases, stored as
//     the model computed it (nil when the model could not be fitted):
//     filters compare it as Match does, and a scaled integer would have
//     rounded it for no gain in exactness. Scores describe the data as
//     of ScoredAt and go stale between refreshes (a merge, a new
//     purchase).
//   - The subject access export holds the stored scores (the contact's
//     Facts); erasure removes them with the rest of the contact's
//     profile.
//   - Money fields filter and sort as "attributes.<key>.amount" (a number,
//     whatever the currency) and "attributes.<key>.currency"; amounts are
//     written in plain decimals ("1200.50", not "1.2005e3").
//
// # Record access
//
// With no core.Actor in the context a call is the host's own trusted code
// and may do everything. With one, every public method of Service,
// Companies, Notes, Tasks and Scoring checks the actor's permissions on
// the module "contacts" (package access): reads need read; Create and
// Notes/Tasks.Create create; Update, LinkExternalID, Track, Restrict,
// LiftRestriction, ScoreContact, Adjust and the task changes update (Track
// with CreateContact create too); Delete delete; ExportJSONL and ExportCSV
// read and export; Upsert and Import create and update; Scoring.SetModel,
// Rescore and RebuildSearchIndex manage. A missing permission is
// core.ErrForbidden.
//
// Which records an actor sees is applied in SQL, so pages and counts are
// right: contacts by their owner (own: the actor; team: a member of one of
// the actor's teams, the actor included; all), tasks by their assignee,
// notes and activities through their contact (and so the timeline, which
// needs its contact visible), search hits of contacts likewise. Companies
// have no owner: any actor who may read the module sees them all. A record
// the actor does not see is core.ErrNotFound, as a missing one; one they
// see but may not change is core.ErrForbidden. A page's cursor is bound
// to the actor: another actor's (or the host's) cursor is core.ErrInvalid.
// Writes keep records in the writer's view: with own or team visibility a
// new contact without an owner (a task without an assignee) becomes the
// actor's, and an owner or assignee outside the actor's view is refused.
// Operations across the whole tenant — Import, FindDuplicates,
// DeleteActivities, Companies.Delete (which unlinks contacts),
// Scoring.SetPredictedScores and SetCustomerScores (update) — need
// visibility of all contacts (Import and
// FindDuplicates personal data too), as an Upsert whose keys match a
// contact the actor does not see is refused.
//
// Personal fields are email and phone, and the contact's custom fields
// whose definition is marked personal (fields.Definition.Personal). For
// an actor whose roles do not grant personal data on "contacts" email and
// phone are the empty string and personal custom fields are left out of
// Attributes (their keys are absent) in every result (lists, gets,
// exports — a CSV export's column of such a field is empty —, Upsert and
// Update results), events in the timeline carry no payload (their Data
// is nil: payloads hold contacts as they were), and filtering, sorting
// or looking up by them ("attributes.<key>" and its parts, such as
// "attributes.salary.amount"; GetByEmail, Track by email) is
// core.ErrForbidden, as is writing them (setting or removing a personal
// custom field): such an actor could otherwise learn the values by
// trying. Attributes are merged on update, so the personal values they do
// not see stay as they are when they write others. They search companies
// only, since a contact's search document holds its email and phone.
// Companies' custom fields marked personal are treated the same way:
// left out of the Attributes of Companies.Get, GetByDomain, List, Create
// and Update results, and filtering, sorting or writing them is
// core.ErrForbidden.
//
// A refused attempt — ErrForbidden, or ErrNotFound for a record that
// exists but is hidden — is written to the audit log through
// store.Runtime.Audit (set by the consent module, which owns the log):
// the actor, AuditDenied, the record kind and id (the nil id when the call
// named none) and "contacts:<action>"; no personal data.
package contacts
