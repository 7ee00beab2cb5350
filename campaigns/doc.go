// Package campaigns is crmkit's marketing mail: segments of contacts,
// templates, and campaigns sent over SMTP with consent checked for every
// recipient (c.Segments, c.Templates, c.Campaigns).
//
// # Segments
//
// A segment is a saved filter over contacts in the one filter language
// (custom fields as "attributes.<key>", purchase facts such as
// purchase_count and purchase_total): Count and Members evaluate it in
// SQL; its members are the matching contacts that have an email and are
// not restricted.
//
// # Templates
//
// A template is a subject and an HTML body in Go's html/template, with an
// optional text part (made from the HTML when empty). They see Data:
// {{.Contact.FirstName}}, {{.Contact.Attributes.plan}},
// {{.Campaign.Name}}, {{.UnsubscribeURL}}, and the function default for
// fallbacks: {{.Contact.FirstName | default "there"}}. The HTML's <style>
// rules are inlined into style attributes (mail clients drop <style>;
// github.com/vanng822/go-premailer), once per version, around the
// template's actions. A template that does not parse, names a field a
// contact does not have (an attribute that is no custom field included),
// or fails to run for a sample contact is refused when saved (ErrInvalid),
// never found out when sending. Every save is a new version; Preview
// renders it for a contact.
//
// # Sending
//
// Campaigns.Start takes the template's latest version and queues the
// campaign's jobs (durable, on the workers of the processes that call
// crm.CRM.Start): one snapshots the segment's members into the
// campaign's recipients in batches of Options.BatchSize (about 2,000
// recipients per transaction), and queues a send job per batch — never one
// job per recipient. For each recipient, when
// their message goes, the contact must still exist, not be restricted,
// have consent for the campaign's purpose over email (consent.Allowed:
// the consent log and the suppression list) and be under the frequency
// cap; else they are skipped with the reason. Every message carries RFC
// 8058 one-click unsubscribe (List-Unsubscribe with the signed link,
// and a mailto: when configured, and List-Unsubscribe-Post), a
// Message-ID of its recipient, and a return path tagged with the
// recipient (bounces+<recipient id>@…). The mailer is Options.Mailer:
// SMTP (github.com/wneessen/go-mail, a pool of connections) or the host's
// own. campaigns.SMTP signs with DKIM when given a key (SMTP.DKIM).
//
// Each recipient has a state (queued, sending, sent, failed, skipped),
// recorded in its own transaction right after the mail server answers.
// A crash resumes where it stopped; the one window in which a person can
// get a second copy is between the server's acceptance of their message
// and the commit of that record (milliseconds, one message per worker):
// the copy then carries the same Message-ID. A 5xx refusal fails the
// recipient ("email.failed"); a 4xx or a broken connection leaves them
// to the job's retry (River's backoff), five times at most. Pause stops
// a campaign between messages, Resume queues what is left, Cancel skips
// it.
//
// Sent and refused messages are events about the contact ("email.sent",
// "email.failed"): on the timeline, for rules and webhooks. The
// recipients are personal data: exported with the person, and erased (or
// deleted with the contact) down to an anonymous row, so the campaign's
// counts stay.
//
// # Automated campaigns and drips
//
// An Automated campaign has no segment: rules name its recipients with
// the module's rule action "send_email" ({"campaign": "<name>"}), once
// per contact; a drip is a rule of such actions with waits and branches
// between them (see ActionSendEmail). Each message is its own job, with
// the same checks and records as a broadcast's.
//
// # Tracking
//
// With Options.TrackingURL, the links of a message's HTML go through
// signed links of its recipient and an image counts openings (see Open
// and Click, which the host's HTTP handlers call). The redirect goes only
// to the URL the message held. Programs are told apart from people and
// kept out of the counts and events: HEAD requests, scanners' user
// agents, Apple's Mail Privacy Protection (its network, 17.0.0.0/8),
// clicks within five seconds of sending.
//
// # Bounces and complaints
//
// Inbound reads the mail that comes back to the return path: delivery
// status notifications (RFC 3464) and feedback reports (ARF, RFC 5965),
// parsed with github.com/emersion/go-message; Record takes what a mail
// provider's webhook reports. A hard bounce suppresses the address, three
// soft bounces of the contact's latest three messages do too, a
// complaint withdraws the consent to the campaign's purpose and
// suppresses. Mail that is no usable report is kept 30 days for
// inspection (InboundReports), never an error.
//
// # A/B tests
//
// A broadcast with Variants and a Test sends each variant (its template is
// variant 0) to an equal part of Test.Share percent of the segment — the
// part chosen by a hash of each contact's id — and holds the rest. After
// Test.Wait the variant whose recipients, as people, opened (or clicked)
// most per message sent goes to those held ("campaign.winner_picked");
// Stats counts each variant. Revenue per campaign is analytics'
// (Service.Campaigns).
//
// # Tracked segments
//
// A Tracked segment keeps its members: each computation compares, in SQL,
// the contacts its filter selects with those kept and emits
// "segment.entered" and "segment.left" (about the contact) for the
// difference, 5,000 a transaction. A change of a tenant's contacts queues
// the computation 30 seconds later (one at a time per tenant: a burst is
// one computation); the workers also compute every 15 minutes (periodic
// work "segments"), and Segments.Recompute does it now. Rules start drips
// on "segment.entered".
//
// # Related conditions
//
// Segments (and contact lists) filter by related records with related
// conditions of the filter language, each read by the SQL of the module
// that owns the records: the contacts module's purchases (a count, in a
// period, of a SKU) and purchase_amount (a sum in one currency), and this
// module's opened_campaign, clicked_campaign and in_segment (a tracked
// segment's members as last computed: one segment builds on another
// without inlining its filter). Rules, which match in memory, refuse them.
//
// Rates: SMTP.Rate bounds a mail server's messages per second and
// Options.TenantRate a tenant's, each in every process that sends (not
// across processes).
//
// # Record access
//
// With an actor in the context (core.WithActor) every public method checks
// the actor's permissions on "campaigns" (package access; no actor is the
// host's own trusted code, which may do everything, as before roles
// existed). Lacking the permission is core.ErrForbidden:
//
//   - read: Segments.Get, List, Count, Members; Templates.Get, Version,
//     List, Preview; Campaigns.Get, List, Stats, Recipients,
//     InboundReports.
//   - create: Segments.Create, Templates.Create, Campaigns.Create.
//   - update: Segments.Update, Recompute; Templates.Update;
//     Campaigns.Start, Pause, Resume, Cancel (starting, pausing,
//     resuming and cancelling a send is changing the campaign);
//     Campaigns.Inbound and Record (what a bounce does to a recipient).
//   - delete: Segments.Delete, Templates.Delete.
//
// Segments, templates and campaigns have no owner: anyone allowed to read
// the module reads them all, and a campaign's Stats count all its
// recipients. The people they hold are the contacts module's, and it
// decides which of them an actor is shown: Segments.Count and Members and
// Campaigns.Recipients apply the actor's "contacts" visibility in SQL (the
// contact's owner is the actor, own; a member of their teams, team; or
// all), so a sales rep who sees their own contacts counts and pages only
// those; a recipient whose contact is gone (erased, deleted) is shown
// only to actors who see every contact. For an actor without personal
// data on "contacts" a member's and a recipient's Email is empty, as is a
// kept inbound mail's Raw text (it holds addresses), and a segment filter
// naming a personal field — email, phone, or a custom field of contacts
// marked personal (fields.Definition.Personal), itself or a part of it
// ("attributes.salary.amount"), as the contacts module names them — is
// refused (core.ErrForbidden, audited) on Create and Update, and so are
// Count and Members of a segment whose stored filter names one (made by
// the host or by an actor who sees personal data): counts would tell the
// masked values. Likewise Campaigns.Recipients of a campaign whose segment
// (as it is now) names one. Get and List still show such a segment and
// its filter; a campaign's Stats still count its recipients.
// Preview reads the contact
// through the contacts module, whose access applies (a contact the actor
// does not see is core.ErrNotFound; a masked one renders without its
// email and phone).
//
// Sending is checked once, when the campaign is started (or resumed): the
// jobs that snapshot the segment and send run as the host's trusted
// background work and reach every consenting member of the segment,
// whoever started it. Open, Click and LinkTenant take a signed token and
// no actor: the public tracking and unsubscribe endpoints keep working.
//
// Refused attempts are written to the audit log through
// store.Runtime.Audit (the consent module's crm_audit, when wired): action
// AuditDenied ("access.denied"), the record kind and id ("segment",
// "template", "campaign", "recipient", "inbound_report"; core.NilID when
// the call named none) and the detail "campaigns:<action>" — ids only.
package campaigns
