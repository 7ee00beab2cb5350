// Package consent is crmkit's data protection (GDPR/DSGVO) module: the
// purposes a tenant processes personal data for, and the proof of what each
// person agreed to.
//   - Purposes (DefinePurpose): key, label, legal basis (consent, contract,
//     legitimate interest, legal obligation), channels (email, phone, sms,
//     post) and the wording people are shown. A new wording is a new
//     version; every proof points at the version it was given under
//     (Wording returns its text).
//   - The consent log: Grant, Withdraw and Object append records — state,
//     source, wording version, actor, and the IP address and user agent only
//     when Options.RecordNetwork is set. Records are never changed. Status
//     returns the record that decides; Allowed is what every marketing send
//     asks, and answers core.ErrNoConsent with the reason. A withdrawal
//     takes effect at once.
//   - Double opt-in: RequestOptIn records a pending consent and returns a
//     signed token (HMAC-SHA256 with the first of Options.Keys; all keys
//     verify, so keys rotate) that expires (Options.OptInTTL) and works
//     once; Confirm turns it into a grant. Forged, expired, used and
//     foreign-tenant tokens are ErrTokenInvalid, ErrTokenExpired,
//     ErrTokenUsed and ErrTokenTenant. PurgeOptIns removes stale requests.
//   - Unsubscribe: UnsubscribeToken and Unsubscribe (idempotent) for links
//     and RFC 8058 one-click unsubscribe.
//   - Subject access export (Export, Art. 15/20): one JSON-ready document
//     with everything every registered module holds about the person, read
//     in one transaction. Each module declares its share (contacts,
//     activities, notes, tasks, merges, deals, consents, rule runs and
//     events are covered); a test
//     fails when a crm_ table that refers to contacts is not covered. The
//     export of an erased contact shows what was kept on purpose (below):
//     under a legal hold, the held sections with the name and addresses in
//     them; after it, the anonymous contact and its purchases. A deleted
//     contact has nothing left to export (core.ErrNotFound).
//   - The audit log (Audit): exports and every change of contacts and
//     consents, with actor, action, subject and the names of changed
//     fields — never the data itself.
//   - The suppression list (Suppress, Suppressed): addresses never to be
//     marketed to again, kept as HMAC hashes under a random per-tenant key;
//     Allowed, Grant, RequestOptIn and Confirm refuse them (ErrSuppressed).
//     LiftSuppression takes an address off the list when — and only when —
//     the person themself asks to be contactable again (a returning
//     customer), with the acting user and proof (where they asked, what
//     they asked), written to the audit log; a host never lifts one on its
//     own. A new consent is still needed after a lift.
//   - Erasure (Erase, Art. 17): one transaction across every registered
//     module — personal fields removed, free text (task and deal titles,
//     activity names) scrubbed of every name, email and phone the person
//     and the contacts merged into them ever had (read from the history of
//     their events), the events of the person and of their records emptied
//     — records deleted before included, found by the contact id in their
//     events' payloads — the consent log deleted, the address suppressed —
//     keeping what is not personal (a deal's amount, unlinked; purchases on
//     the anonymous contact; every event's type, subject and time) and a
//     receipt without personal data (Erasure). On SQLite the full-text
//     index drops the person's words at once (FTS5 secure-delete). A test
//     scans every column of every crm_ table afterwards as raw bytes —
//     FTS5's shadow tables and PostgreSQL's tsvector columns included — and
//     finds nothing of the person.
//   - Kept on purpose: under a legal hold (EraseWithHold) the held sections
//     keep what they hold — an invoice's purchase activity keeps the name
//     and address it was made out to — and the contact keeps its identity
//     (email, phone, names) and its own events, restricted, until the hold
//     ends and ApplyRetention erases them. Always kept: the suppression
//     list's keyed hashes of the email and phone (so the address is not
//     marketed to again), the erasure receipt and the audit log (ids,
//     actions, field names, reasons; no personal data).
//   - Deletion (contacts.Service.Delete) keeps nothing personal either:
//     every registered eraser runs on the contact before it goes (event
//     payloads emptied, search document removed, the deals and tasks that
//     outlive it unlinked and scrubbed); the event types and times stay.
//     Unlike Erase it writes no receipt and suppresses nothing. Erase of a
//     deleted contact's id still succeeds: it scrubs whatever is left by
//     that id and writes the receipt; it cannot suppress the address (the
//     deletion kept none), so call Suppress with the address the person
//     gives. The id of a contact merged into another is core.ErrNotFound
//     naming the one to erase.
//   - Restriction (Art. 18): contacts.Service.Restrict and LiftRestriction
//     flag a contact that is kept but not processed: Allowed refuses it
//     (ErrRestricted), rule scoring and lead models skip it, retention keeps
//     it; both are logged in the audit log with their reason.
//   - Retention: a policy per tenant (SetRetentionPolicy: purge unconfirmed
//     opt-ins, erase inactive leads, delete old web activities) that
//     crm.CRM.ApplyRetention carries out and reports on.
//   - Legal holds: EraseWithHold keeps the sections the host must keep
//     (invoices: "activities") with the identity, restricted, until the hold
//     ends; ApplyRetention then completes the erasure (ReleaseHolds).
//
// Not built yet: exports to third parties (no webhooks exist yet), so
// restriction and the export's recipients have nothing to cover there.
// Erasure works on rows, not on the database files: deleted rows may stay
// in free pages (SQLite without PRAGMA secure_delete), as dead tuples
// until VACUUM (PostgreSQL), in the WAL and in backups. Finding the events
// of deleted records reads every event of their types in the tenant,
// until events carry a contact column.
//
// Decisions: the records of a contact merged into another stay as they
// were and count for the winner (Status, History, Allowed); deleting a
// contact deletes its consent log with it (its erasers run), without the
// suppression and receipt of Erase. An erased contact stays as an
// anonymous row so that its purchases still count. Purposes on
// legitimate interest, contract or legal obligation are allowed until the
// person objects or withdraws; consent-based ones need a grant.
package consent
