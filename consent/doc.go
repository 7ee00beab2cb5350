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
//     The host sends the confirmation link itself, with OptIn.Token in it:
//     crmhttp serves <mount>/public/confirm/{token}, whose GET shows
//     OptInPurpose (the purpose and the wording asked with) and whose POST
//     confirms.
//   - Unsubscribe: UnsubscribeToken and Unsubscribe (idempotent) for links
//     and RFC 8058 one-click unsubscribe.
//   - Preference centre: PreferencesToken signs a link (tenant and contact
//     id, no personal data; it expires after Options.PreferencesTTL, 30
//     days by default, and works any number of times) to a page where the
//     person sees their purposes on consent or legitimate interest
//     (Preferences) and switches them on or off per channel
//     (SetPreferences: grants and withdrawals, source
//     "preference_centre", only what changed, in one transaction). crmhttp
//     serves it at <mount>/public/preferences/{token}.
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
//     fields — never the data itself. Wired, the module sets
//     store.Runtime.Audit, through which other modules append entries
//     that are not events: the attempts their record access refused
//     (action "access.denied", detail "<module>:<action>").
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
// # Record access
//
// With an actor in the context (core.WithActor) every public method checks
// the actor's permissions on "consent" (package access); without one the
// call is the host's own code and may do everything, as before.
//
//   - Settings, "consent" manage: DefinePurpose, SetRetentionPolicy,
//     LiftSuppression (it overrides a person's protection), PurgeOptIns
//     and ReleaseHolds (housekeeping ApplyRetention runs), and the audit
//     log (Audit: who did what to whom across the tenant).
//   - Reading, "consent" read: Purpose, Wording and RetentionPolicy; the
//     consent log and its proofs (History, Status, Allowed, AllowedMany);
//     UnsubscribeToken(s); Suppressed and SuppressedAddresses (narrower
//     still, below); Erasure.
//   - Recording: Grant and RequestOptIn need "consent" create, Withdraw
//     and Object "consent" update, Suppress "consent" update.
//   - Export needs "consent" export; Erase and EraseWithHold "consent"
//     erase.
//
// Consent records belong to a contact, so which contacts' records an
// actor reads and writes follows the contacts module: a contact's log is
// visible when the actor sees the contact there (the "contacts" grant's
// visibility by owner: own, team or all) and, when the "consent" grant's
// own visibility is narrower than all, by that too. Both are SQL
// conditions on crm_contacts' owner column, which this module reads (it
// writes only its own tables). For an actor, a contact that does not
// exist or that they may not see is core.ErrNotFound in every call that
// names one (History, Status, Allowed, Grant, Withdraw, Object,
// RequestOptIn, UnsubscribeToken, Export, Erase, Erasure; in AllowedMany the
// contact's entry in the map; in UnsubscribeTokens the whole call); an
// actor without "contacts" read sees no contact's consent. An actor who
// sees every contact may erase what is left of a deleted one, as the host
// may. The permission is checked before visibility: lacking it is
// core.ErrForbidden whatever the contact. Refusals — ErrForbidden, and
// ErrNotFound for a contact that exists but is hidden — change nothing and
// are written to the audit log after the call's transaction (action
// "access.denied", the record kind and id, "consent:<action>"; no
// personal data).
//
// An erased contact stays as an anonymous row with its owner, so its
// erasure receipt (Erasure) follows the contact's visibility like its
// log; the receipt of a contact deleted since is read only by actors who
// see every contact.
//
// Personal data: a consent record's proof keeps the IP address and user
// agent when Options.RecordNetwork is set. For an actor whose roles do
// not grant personal data on "consent" they are the empty string in every
// record returned (History, Status, Grant, Withdraw, Object); the state,
// purpose, channel, source and times are not masked. The subject access
// export (Export, "consent" export) holds them whole.
//
// The suppression list holds keyed hashes of addresses and no contact, so
// it cannot be narrowed per contact, and its answer — that whoever has
// the address objected or was erased — is personal data about them.
// Suppressed and SuppressedAddresses therefore need, besides "consent"
// read, personal data on "consent" and every contact in view (the
// "contacts" and the "consent" grant's visibility both all); others get
// core.ErrForbidden, audited. There is no listing of the list: only
// addresses the caller already has are looked up. Suppress ("consent"
// update) answers nothing and is not narrowed; LiftSuppression is a
// setting (manage).
//
// The public paths that work by signed token — Confirm, OptInPurpose,
// Unsubscribe, TokenPurpose, Preferences, SetPreferences, TokenTenant —
// are not checked: the token is the authority, whatever actor the context
// carries. PreferencesToken, like UnsubscribeToken, needs "consent" read
// and a contact the actor sees.
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
