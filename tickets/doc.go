// Package tickets is crmkit's service desk: tickets with a per-tenant
// number and their public and internal messages; SLA policies that give
// each ticket due times in the business hours of a calendar; routing that
// gives new tickets a team and an agent; mail that becomes tickets and
// messages; macros, canned replies; a classifier that learns each
// tenant's categories and teams from its solved tickets; and a knowledge
// base of help articles (c.Tickets, c.Calendars, c.SLAPolicies,
// c.Routing, c.Tickets.Macros(), c.Classifier, c.KnowledgeBase).
//
//	cal, _ := c.Calendars.Create(ctx, tickets.NewCalendar{Name: "Office", TimeZone: "Europe/Berlin", Country: "DE",
//		Windows: []tickets.Window{{Weekday: time.Monday, Start: "09:00", End: "17:00"}, …}})
//	_, _ = c.SLAPolicies.Create(ctx, tickets.NewPolicy{Name: "urgent", Condition: filter.Eq("priority", "urgent"),
//		CalendarID: cal.ID, FirstResponseMinutes: 60, NextResponseMinutes: 120, ResolutionMinutes: 480})
//	_, _ = c.Routing.Set(ctx, 0, tickets.RoutingInput{
//		Rules: []tickets.RoutingRule{{Name: "german", Condition: filter.Eq("language", "de"), Team: "dach"}},
//		Teams: map[string]tickets.AssignMode{"dach": tickets.AssignRoundRobin}})
//	t, _ := c.Tickets.Create(ctx, tickets.NewTicket{Subject: "Portal down", ContactID: ada.ID, Priority: tickets.PriorityUrgent,
//		Message: &tickets.NewMessage{Public: true, AuthorKind: tickets.AuthorCustomer, Body: "…"}})
//	fmt.Println(t.Number, t.SLA.FirstResponse.Due, t.SLA.FirstResponse.RemainingMinutes)
//	queue, _ := c.Tickets.List(ctx, tickets.ListOptions{
//		Filter: filter.And(filter.Eq("team", "support"), filter.Eq("status", "open")), Sort: "sla_due"})
//	link, _ := c.Tickets.Survey(ctx, t.ID, tickets.SurveyCSAT) // once solved; the customer's answer:
//	_, _ = c.Tickets.AnswerSurvey(ctx, link.Token, 5)
//	report, _ := c.Classifier.Train(ctx, tickets.TrainOptions{}) // from the solved tickets
//	fmt.Println(*report.Models[0].Metrics.Accuracy)
//	_, _ = c.Classifier.SetSettings(ctx, 0, tickets.ClassifierSettingsInput{Threshold: 0.8}) // new tickets take confident suggestions
//	a, _ := c.KnowledgeBase.Create(ctx, tickets.NewArticle{Title: "Rückerstattung", Locale: "de", Body: "…"})
//	_, _ = c.KnowledgeBase.Publish(ctx, a.ID, a.Version)
//	hits, _ := c.KnowledgeBase.SuggestArticles(ctx, t.Subject, "…the customer's message…", 3)
//	res, _ := c.Tickets.Inbound(ctx, rawMail, tickets.InboundOptions{}) // the support mailbox's mail
//	fmt.Println(res.Outcome, res.TicketID)                              // created, appended, ignored, duplicate
//	solve, _ := c.Tickets.Macros().Create(ctx, tickets.NewMacro{Name: "Solved", Public: true,
//		Body: "Hello {{.Contact.FirstName}}, ticket #{{.Ticket.Number}} is solved.", Changes: tickets.MacroChanges{Status: tickets.StatusSolved}})
//	_, _ = c.Tickets.ApplyMacro(agentCtx, t.ID, solve.ID, t.Version)
//
// # Tickets
//
// A ticket belongs to a contact of the tenant (required; unlinked only
// when the contact is deleted) and optionally a company. Its Number (#1042)
// is unique in the tenant: creation takes the next value of the tenant's
// counter row with UPDATE … RETURNING in its own transaction, so
// concurrent creations never share a number (a rolled-back creation
// leaves a gap). Channel, Priority, Category (a code), Tags, custom fields
// (fields.Definition{Entity: "ticket"}), the agent (AssigneeID, the
// host's user id, not checked: a host may keep its users elsewhere) and
// the Team (an access team of the tenant, given by name or id, kept by
// name) complete it. Every change takes the version the caller
// read: stale is core.ErrConflict, 0 is core.ErrInvalid.
//
// Statuses change along Transitions:
//
//	new      → open, pending, on_hold, solved, closed
//	open     → pending, on_hold, solved, closed
//	pending  → open, pending (another reminder), on_hold, solved, closed
//	on_hold  → open, pending, solved, closed
//	solved   → open (reopened), closed
//	closed   → open (reopened)
//
// Nothing returns to new; pending needs a reminder time in the future.
//
// A ticket may carry the customer's Language (a BCP 47 tag, kept in
// canonical form) and a ProductLine (a code), which routing matches
// against the skills of team members.
//
// Messages are public or internal, from the customer (always public; the
// author is the ticket's contact) or an agent (with the user's id), with
// attachment metadata: the bytes are the host's, under the storage key it
// gives. An agent's public reply opens a new ticket; a customer's message
// reopens a pending, on-hold or solved ticket. A closed ticket takes no
// messages: open a new one. Merge moves a duplicate's messages to the
// target and closes the duplicate with a reference (Ticket.MergedInto).
//
// Every change emits a typed event (EventTypes) about the ticket's
// contact (core.Event.ContactID), so tickets are on the contact's
// timeline, and rules and webhooks can follow them.
//
// # Calendars
//
// A Calendar has an IANA time zone, working windows per weekday (several
// per day, none overlapping; a window whose end is not after its start
// runs past midnight), holidays — fixed dates and a country's national
// public holidays (the holiday rules of github.com/rickar/cal/v2, and
// nothing else of it) — and one-off closures. Hours (Calendar.Compile)
// does the arithmetic: AddBusiness and BusinessBetween. Windows are laid
// out with time.Date in the calendar's zone, so 09:00–17:00 is 09:00–17:00
// on the wall clock on the days the clocks change too, and a night shift
// across a change is an hour shorter or longer in real time. A window
// belongs to the day it starts on: a holiday closes the night shift that
// starts on it.
//
// # SLA policies
//
// A Policy has a condition over tickets (TicketSchema with the custom
// fields; empty matches all), a calendar and targets in business minutes
// for first response (from creation to the first public agent reply),
// next response (from the oldest unanswered customer message after the
// first response to the next public agent reply) and resolution (from
// creation to solved). The first policy by Position that matches applies,
// chosen again at every change of the ticket (a new priority can switch
// it). The clock stops while the ticket is pending, on hold, solved or
// closed: the business time of each stop is added to the due times when
// it runs again; while it stands, the remaining time stands still and
// nothing new is breached. A met target keeps its due time. Ticket.SLA
// shows, as of the read, each target's due time, when it was met, the
// business minutes remaining (negative: overdue) and whether it is
// breached.
//
// # Timers
//
// A policy with WarningMinutes warns that many minutes (wall clock)
// before each due time. Every change of a ticket whose clock runs queues
// a durable job (on the workers of crm.CRM.Start, in the change's
// transaction) for its next warning or due time; the job runs CheckSLA,
// which emits "ticket.sla_warning" and "ticket.sla_breached" (payload
// SLAAlert: the target and its due time) and queues the next. Each is
// emitted once, recorded with its event in one transaction: the warning
// and breach of the first response and the resolution once per ticket,
// those of the next response once per customer message waiting for an
// answer. Nothing is emitted while the clock stands. Automation rules
// follow these events to escalate (reassign, raise the priority, notify).
//
// The earliest due time of the running targets is stored (sla_due;
// 9999-12-31 when no clock runs) with an index on (tenant, team, status,
// sla_due), so a team's queue ordered by due time is one indexed query.
// Changes of policies and calendars reach a ticket at its next change
// (a deleted policy leaves its tickets without one until then).
//
// # Routing
//
// A tenant's routing (Routing.Set, one versioned settings record) has
// rules and a mode per team. A ticket created without team and agent
// takes the team of the first rule, in order, whose condition
// (TicketSchema) matches it, and that rule's priority and category when it
// sets them; a rule whose team was deleted since is passed over. Then,
// and also for a ticket created with a team and no agent, or assigned
// (Tickets.Assign) to a team without an agent, the team's mode gives it
// to a member:
//
//   - round_robin: the members take turns in the order of their user ids,
//     from the one after the member last given a ticket of the team; a
//     member who cannot take this ticket is passed over and keeps their
//     place, so the spread stays even (within one) among those who can.
//   - least_loaded: the member with the fewest open tickets, the turn
//     order breaking ties.
//   - manual (a team without a mode): nobody; the ticket stays unassigned
//     in the team.
//
// A member can take a ticket when their user is active, not out of office
// and within their working hours (access.User.Available, Working: at the
// time of routing), their skills cover it, and they have fewer open
// tickets (any status but solved and closed, in any team) than the
// capacity of their membership (0: no cap). Skills: a ticket carries a
// Language (a BCP 47 tag) and a ProductLine (a code); a member who lists
// languages takes tickets in those, compared by base language ("de" and
// "de-CH" are one), and tickets without a language; a member who lists
// none takes every language. Product lines likewise, by equal code.
//
// When no member can take it, the ticket waits in the team's queue
// (Ticket.QueuedAt, "ticket.queued"). A ticket that frees capacity —
// solved, closed, merged into another, or given to someone else — serves
// the queues in the same transaction: the waiting tickets of each team
// with a mode, oldest first, each to a member who can take it; one nobody
// can take keeps its place and is offered first next time, so a younger
// ticket never passes an older one that the same members could take, and
// none starves while capacity frees. A drain looks at the 500 oldest
// waiting tickets of each team: past 500 tickets that nobody present can
// take (a language nobody speaks), younger ones wait too. What frees capacity without a
// ticket changing — a shift starts, someone comes back, a capacity is
// raised — is served by the module's periodic work every minute
// (Routing.Drain, which a host may call too).
//
// An assignment by routing emits "ticket.assigned" with its Mode. Routing
// locks the tenant's routing row in the transaction that routes, before
// any ticket, so the routings of a tenant run one at a time and the loads
// they count are true: no member gets more than their capacity however
// many tickets arrive at once. A reopened ticket keeps its agent, even
// one at capacity; one without an agent is routed again (SetStatus; a
// customer's message that reopens a ticket does not route).
//
// Routing.Get needs "tickets" read, Set "tickets" manage (it is a
// setting), Drain "tickets" update. The routing a call of an actor causes
// runs whatever the actor sees: a support agent's new ticket may go to a
// team they do not see (a ticket an actor with own or team visibility
// creates, that routing leaves without team and agent, is theirs).
//
// # Satisfaction surveys
//
// Once a ticket is solved (or closed), Tickets.Survey issues a link for a
// CSAT (1–5) or NPS (0–10) score: a token the host puts in a URL of its
// own and sends. The token is MAC'd (HMAC-SHA256 with a key derived from
// crm.Config.TokenKeys, as campaigns' tracking links are, under a label
// of its own so that no token of one kind verifies as another) and names
// the tenant, the survey and its expiry (Options.SurveyTTL, 14 days by
// default). Tickets.AnswerSurvey, the host's public handler, takes the
// token and the score: it needs no permission (the token is the
// authority; SurveyTenant tells the handler which tenant to bind first).
// Each link answers once: its row is marked answered in the transaction
// that writes the score, so of answers arriving together one wins. A
// used, expired, altered or forged token, one of another tenant, and one
// replaced by a newer link of its kind (Survey replaces the ticket's
// unanswered links of the kind) are ErrSurveyInvalid, an ErrInvalid. The
// latest answer of each kind is the ticket's CSAT or NPS (a new version,
// "ticket.rated"), filterable as "csat" and "nps". Scores are not personal
// data. SubmitSurvey takes the customer's comment with the score: it
// becomes a public customer message of the ticket (Rated.CommentID names
// it; exported and erased with the ticket's messages) that neither reopens
// the ticket nor moves its clocks. SurveyQuestion tells a page what a
// link asks (or that it is no longer answerable) without writing; crmhttp
// serves both at /public/survey/{token}.
//
// # Classifier
//
// Classifier.Train learns, per tenant, a model of each target — the
// category and the team — from the tenant's solved and closed tickets
// (not merged into another) that have one: the words of the subject and
// of the first customer message, labelled with the ticket's category or
// team. It is multinomial naive Bayes with Laplace (add-one) smoothing,
// written here (no text-classification library is served). Naive Bayes
// rather than logistic regression: it trains in one streaming pass of
// counting, so memory holds the vocabulary's counts per class and never
// the tickets, where logistic regression iterates over the documents
// (keep them in memory or read them many times); it learns well from the
// few dozen tickets per class a small tenant has; and a model is its
// counts, stored as JSON and read back without refitting. Its known
// weakness, overconfident posteriors (the words are not independent), is
// corrected by calibration, below.
//
// Words are Tokenize's (see there): Unicode lower case, German umlauts
// and ß folded (ä → ae, so both spellings are one word) and other
// diacritics removed, URLs, e-mail addresses and numbers dropped, the
// English and German stop words dropped, one inflection ending removed by
// a light suffix stemmer; German compounds are not split. A document is
// at most its first 1,000 words. The vocabulary is the words of at least
// two training tickets, at most MaxVocabulary (50,000), the most frequent:
// a name or an order reference of one ticket is not kept in the model,
// though a word frequent enough (a customer's company name) can be;
// training again after an erasure drops what the erasure scrubbed from
// the tickets.
//
// Train reads the rows in SQL bound to the tenant, streamed twice: the
// first pass counts the words of each class, for the training share and
// for all; a deterministic share of the tickets (HoldoutPercent, 20% by
// default, chosen by an FNV-1a hash of the ticket's id, so the same
// tickets every time) is held out. The model of the training share then
// labels the held-out tickets in the second pass: accuracy, the accuracy
// of always answering the majority class (Baseline), per-class counts and
// a confusion matrix go to ClassifierMetrics. The stored model is that of
// all the tickets. Tickets solved between the passes may be held out
// without having been counted: they are measured all the same. The models
// of one training replace the active ones in one transaction
// (crm_ticket_classifiers, a version per target;
// "ticket_classifier.trained"). A target without tickets, with one class
// only, or without a word in two tickets is skipped (TrainReport.Skipped)
// and keeps its model; when every target is, Train returns
// ErrNotEnoughData. Words a model never saw are ignored when predicting:
// a text of only such words has no prediction.
//
// Confidence is the posterior probability of the best class, tempered:
// softmax(log-posterior / T). T is fitted on the held-out tickets (at most
// 5,000 of them, so memory stays bounded) by minimising their negative
// log-likelihood — temperature scaling, which keeps the ranking of the
// classes and only makes the probabilities honest. The log-likelihood is
// convex in 1/T; T is at least 1 (naive Bayes is overconfident, never
// underconfident in need of sharpening), and 1 when fewer than 20 tickets
// were held out. Trained on labels the words say nothing about, T grows
// large and the confidences fall to near chance; on clear topics T stays
// 1. The result is calibrated-ish: fitted on the split model, applied to
// the model of all tickets, one T for every length of text.
//
// Classifier.Suggest returns the category and team for a subject and body
// (nil for a target without a model or a text without a known word).
// Decoded models are cached per process (by tenant, target and version;
// at most 256); each call looks the versions up, so a training in another
// process is seen at once.
//
// On Tickets.Create the classifier runs in the creation's transaction,
// after the input is checked and before the routing rules: not after the
// commit, because what it applies must be there when the rules match
// (a rule on the category sees the suggested one), when routing assigns
// within the suggested team, when the SLA policy is chosen (a policy on
// the category), and in "ticket.created" — a hook or job after the commit
// would write a second version of every new ticket and route it twice. It
// reads the subject and the first message when it is the customer's, and
// stores the suggestion on the ticket (Ticket.Suggestion; a tenant without
// models costs one indexed lookup and stores nothing). When the tenant's
// threshold (ClassifierSettings.Threshold; 0, off, by default) is met, a
// ticket created without a category takes the suggested one, and one
// created with neither team nor agent the suggested team, if that team
// still exists (Prediction.Applied). A team applied so counts as given: the
// routing rules pass over the ticket and the team's mode assigns it
// within the team, as for a ticket created with that team.
//
// # Knowledge base
//
// The KnowledgeBase keeps a tenant's help articles: a title, a body
// (Markdown or plain text, stored as given), a category (a code), a locale
// (a BCP 47 tag of a known language, kept in canonical form, parsed with
// golang.org/x/text/language) and the author, as drafts or published,
// each change with the version read (stale is core.ErrConflict). Every
// change emits its event ("kb.article_created", "kb.article_updated",
// "kb.article_published", "kb.article_unpublished", "kb.article_deleted").
// A published article that changes stays published: the change is live.
//
// Search and SuggestArticles search the published articles only: each
// published article has a search document (crm_kb_search) of the words
// Tokenize gives its title and body, written when it is published or
// changed while published and removed when it is unpublished or deleted;
// the database's full-text index serves it (PostgreSQL: a generated
// tsvector of the 'simple' configuration under a GIN index; SQLite: an
// FTS5 table with the documents as external content, secure-delete on),
// queried through the dialect's full-text helper. Because documents and
// queries are Tokenize's words, both databases match alike, whatever
// the database's locale: "Rückerstattung", "Rueckerstattung" and
// "RÜCKERSTATTUNGEN" are one word. The title weighs more than the body
// (PostgreSQL: setweight A and B with ts_rank; SQLite: bm25 with weights
// 4 and 1). Search needs every word of the query, each also as a prefix;
// SuggestArticles any of a ticket's significant words (those of the
// subject, then the body's most frequent, at most 24), ranked: self-service
// deflection before a ticket is opened, or an agent's reading list after.
// A locale selects by base language ("de": de, de-CH, de-AT) or, with a
// region or more, exactly.
// # Mail
//
// Tickets.Inbound takes the raw mail of the host's support mailbox (one
// RFC 5322 message, as an MTA pipe, an IMAP fetch or a provider's webhook
// delivers it) and files it:
//
//   - Machines' mail is ignored, never a ticket and never answered, so
//     nothing loops: Auto-Submitted other than "no" (RFC 3834),
//     X-Autoreply and X-Autorespond, Precedence bulk, junk, list or
//     auto_reply, delivery status notifications (multipart/report;
//     report-type=delivery-status) and other reports, mail from
//     MAILER-DAEMON or postmaster, an empty return path (Return-Path: <>),
//     optionally mailing lists (List-Id), mail from the host's own
//     addresses, and mail whose Message-ID the host sent itself. The
//     result says why (IgnoreReason), and the log says so with the
//     tenant, never an address.
//   - A mail is keyed by its Message-ID (crm_ticket_mail; one without
//     gets a digest of its content): a second delivery adds nothing and
//     says so (duplicate), concurrent deliveries included.
//   - A reply finds its ticket by In-Reply-To, then References (nearest
//     first), among the Message-IDs of the mails that came in and those
//     the host sent about a ticket (Tickets.MailSent: record the
//     Message-ID of every reply you send), then by the ticket's token in
//     its subject: "[#1042]" by default (SubjectToken, MailSubject;
//     InboundOptions.TicketHook changes "#"). A number is easy to guess,
//     so a token alone threads only mail from the ticket's contact; mail
//     from another address with a token (a forward) opens a ticket of its
//     own that refers to the named one (LinkRefersTo), unless
//     InboundOptions.TokenFromAnyone. A ticket merged into another leads to
//     that one. The mail becomes the customer's public message; written
//     by a contact other than the ticket's (someone in the thread), it
//     names them (Message.AuthorID). As any customer message, it reopens
//     a pending, on-hold or solved ticket. A reply to a closed ticket opens
//     a follow-up ticket linked to it (LinkFollowUp, the default), or
//     reopens it (InboundOptions.Closed = ClosedReopen). The message keeps
//     what the reply adds: the quoted conversation below it ("On …
//     wrote:" / "Am … schrieb" and the quote, Outlook's separator or
//     "From:/Sent:" block, an original or forwarded message) and a "-- "
//     signature are left out, as the ticket holds them; answers written
//     between the quoted lines keep the reply whole, as does
//     InboundOptions.KeepQuoted.
//   - Any other mail opens a ticket (channel email, the mail's
//     Content-Language as its language, InboundOptions.Team as its team,
//     else routing) for the sender's contact, found by address or created
//     with the name the mail gives ("Lovelace, Ada" too), with the mail as
//     its first message. Ticket tokens of other tickets leave the subject.
//
// Everything a mail does is one transaction with the events of any
// ticket change ("ticket.created", "ticket.message_added",
// "ticket.status_changed"; contact.created for a new sender), so a new
// ticket from mail is about its contact like any other. Links are read
// with Tickets.Links.
//
// ParseMail, the part that needs no database (fuzzed), reads at most
// InboundOptions.MaxSize bytes (DefaultMaxMailSize, 32 MiB) through an
// io.LimitReader: a larger mail is ErrInvalid, as are a mail without a
// From address, a header that does not parse and a broken MIME structure
// (a multipart without its boundaries, a part that does not decode,
// nesting deeper than 16 or more than 500 parts). The body is the
// text/plain part (of a multipart/alternative, the plain alternative),
// else the HTML part made text; text is decoded from its charset
// (quoted-printable and base64 too), with ISO-8859-1 read as the
// Windows-1252 mailers mean by it and undeclared 8-bit text as
// Windows-1252, and is cut, with a note, at MaxBodyLen. Attachments (a
// Content-Disposition of attachment, a file name, or a type other than
// text/plain and text/html) are recorded as metadata: name (RFC 2047 and
// 2231 names decoded), type and decoded size. Their bytes go to
// InboundOptions.Attachments, the host's store, which returns the
// storage key; without one the key is "mail:<Message-ID>#<part>", where
// the file is in the raw mail the host keeps. Nothing is half-written: a
// failing store, or any error, leaves no ticket, message or contact.
//
// # Macros
//
// A macro (c.Tickets.Macros(), migration 0031) is a canned reply of the
// tenant: a name, a body — a text/template over MacroData: the ticket
// (.Ticket: number, subject, status, priority, category, channel, tags,
// team, assignee, language, product line, creation time and custom
// fields, Attributes), its contact's names (.Contact: FirstName,
// LastName, Name; not the address or phone) and the agent (.Agent: ID,
// Name), with the functions default and join — that becomes a public
// reply or an internal note, and field changes (MacroChanges: status,
// with a reminder for pending; priority; category; tags to add and to
// remove; team; assignee, MacroAgent for the agent applying it). A body
// that does not parse, or names a field or custom field that does not
// exist, is ErrInvalid on "body" when the macro is saved; one that fails
// for a ticket (an index past the end of its tags) fails when applied.
// Tickets.ApplyMacro applies one to a ticket at the version the agent read,
// as the agent in the context: the changes (the status along Transitions),
// the reply rendered for the ticket as the macro leaves it, and the
// routing an assignment without agent or a reopening asks for, in one
// change with its events. A transition Transitions refuses, a body that
// does not render (or renders empty, or longer than MaxBodyLen), a closed
// ticket a replying macro does not reopen, or a field the ticket refuses
// is ErrInvalid, and nothing is written. Bodies are the tenant's managers'
// templates: text/template cannot be stopped mid-run, so a loop of a
// billion turns that writes nothing runs to its end.
//
// # Record access
//
// With an actor in the context (core.WithActor) every public method checks
// the actor's permissions on "tickets" (package access; no actor is the
// host's own trusted code, which may do everything, as before roles
// existed). Lacking the permission is core.ErrForbidden:
//
//   - read: Tickets.Get, GetByNumber, List, Count, Messages;
//     Calendars.Get, List; Policies.Get, List; Routing.Get;
//     Classifier.Suggest, Models, Settings; KnowledgeBase.Get, List,
//     Search, SuggestArticles (published articles).
//   - create: Tickets.Create.
//   - read: Tickets.Get, GetByNumber, List, Count, Messages, Links;
//     Calendars.Get, List; Policies.Get, List; Routing.Get; Macros.Get,
//     List.
//   - create: Tickets.Create, Inbound (a reply also needs update of its
//     ticket, which the actor must see; the sender's contact is found and
//     created with the actor's permissions on contacts — read with
//     personal data, and create for a new sender — checked before
//     anything is written). The host's mail intake usually runs without
//     an actor.
//   - update: Tickets.Update, SetStatus, Assign, AddMessage, Merge (both
//     tickets), CheckSLA, Survey, MailSent, ApplyMacro; Routing.Drain.
//   - none: AnswerSurvey, SubmitSurvey, SurveyQuestion and SurveyTenant
//     (the token is the authority).
//   - manage: Calendars.Create, Update, Delete; Policies.Create, Update,
//     Delete; Routing.Set; Macros.Create, Update, Delete; Classifier.Train,
//     SetSettings (calendars, SLA policies, routing, macros and the
//     classifier are the module's settings); KnowledgeBase.Create, Update,
//     Publish, Unpublish, Delete, and reading drafts.
//
// The knowledge base has no permission of its own: access.Modules is one
// list in the access package ("tickets" covers "support tickets, SLAs, the
// knowledge base"), not something a module declares alone. Articles are
// not narrowed by visibility (they are the tenant's, not an agent's); a
// draft is ErrNotFound to an actor without manage, as a missing article,
// and List shows them published articles only (its cursor bound to
// that).
//
// Tickets are visible by their assignee and team: own (assigned to the
// actor), team (in one of the actor's teams, by the team column, or
// assigned to a member of one of them, the actor included) or all, as the
// role grants. The condition is part of the SQL of List and Count, so a
// queue, its pages and its counts cover only the tickets the actor sees;
// List binds its cursor to the actor (another actor's cursor is
// core.ErrInvalid). A ticket the actor may not see is core.ErrNotFound for
// every get and change, like a missing one (GetByNumber too); one they
// see but may not change is core.ErrForbidden. With own or team
// visibility a ticket is created and assigned only so that the actor still
// sees it (an assignee whose tickets they see, or, with team visibility,
// one of their teams); one they create with neither assignee nor team,
// and that routing leaves so, is assigned to them.
//
// Messages, public and internal, are read by whoever may read the ticket:
// internal messages are the agents' notes, and this API is the agents'.
// A customer never reads through it: a host's customer portal reads the
// ticket as its own trusted code and shows the public messages only.
// Subjects and message bodies are not masked (only the contacts module
// masks personal fields): give roles that must not read what customers
// write no tickets read. The contact and company of a ticket are checked
// to exist in the tenant, whatever the actor sees of the contacts module:
// a support agent opens tickets for contacts other people own.
//
// Refused attempts are written to the audit log through
// store.Runtime.Audit (the consent module's crm_audit, when wired): action
// AuditDenied ("access.denied"), the record kind and id ("ticket",
// "sla_calendar", "sla_policy", "ticket_macro", "ticket_classifier",
// "kb_article"; core.NilID when the call named none) and the detail
// "tickets:<action>" — ids only, never subjects. Inbound records a refused creation of the sender's contact as
// the contacts module records its own ("contact", "contacts:create").
//
// # Personal data
//
// The subject access export holds a contact's tickets with their
// messages, and the messages they wrote by mail into other contacts'
// tickets ("ticket_messages_written"). Erasure keeps the tickets for the
// statistics (numbers, statuses, times, SLA) and scrubs the person from
// their subjects, message bodies and attachment names, clears their
// custom fields, and empties their events; the messages they wrote into
// other contacts' tickets are scrubbed too, and the events of those
// tickets emptied.
package tickets
