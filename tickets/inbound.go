package tickets

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
)

// DefaultTicketHook is the hook of the subject tokens that name a ticket
// in mail: "[#1042]" (see SubjectToken).
const DefaultTicketHook = "#"

// maxHookLen bounds a ticket hook.
const maxHookLen = 20

// SubjectToken is the token that names ticket number n in a mail
// subject: "[" + hook + n + "]", "[#1042]" with DefaultTicketHook ("" is
// the default hook). A host puts it in the subject of every mail it sends
// about a ticket (MailSubject does), so that a reply whose client drops
// In-Reply-To and References still finds the ticket.
func SubjectToken(hook string, n int64) string {
	if hook == "" {
		hook = DefaultTicketHook
	}
	return "[" + hook + strconv.FormatInt(n, 10) + "]"
}

// MailSubject is the subject of a mail about t: its subject with its
// token (SubjectToken) appended.
func MailSubject(t *Ticket, hook string) string {
	return t.Subject + " " + SubjectToken(hook, t.Number)
}

// tokenPattern matches the tokens of hook in a subject, the number as
// the first group; letters of the hook match in either case.
func tokenPattern(hook string) *regexp.Regexp {
	if hook == DefaultTicketHook {
		return defaultToken
	}
	return regexp.MustCompile(`(?i)\[` + regexp.QuoteMeta(hook) + `(\d{1,18})\]`)
}

var defaultToken = regexp.MustCompile(`\[#(\d{1,18})\]`)

// ClosedReply says what a mail that answers a closed ticket does. A
// solved ticket always reopens (a customer's message reopens it, as
// AddMessage does).
type ClosedReply string

// What a reply to a closed ticket does.
const (
	// ClosedFollowUp, the default, opens a new ticket that continues the
	// closed one (a LinkFollowUp link): a closed ticket's history and
	// statistics stay as they were.
	ClosedFollowUp ClosedReply = "follow_up"
	// ClosedReopen reopens the closed ticket (closed → open) and adds the
	// mail to it.
	ClosedReopen ClosedReply = "reopen"
)

// AttachmentStore keeps the bytes of inbound mail attachments for the
// host: it returns the key the host finds them by again
// (Attachment.StorageKey).
type AttachmentStore interface {
	StoreAttachment(ctx context.Context, a MailAttachment) (key string, err error)
}

// AttachmentStoreFunc adapts a function to AttachmentStore.
type AttachmentStoreFunc func(ctx context.Context, a MailAttachment) (string, error)

// StoreAttachment calls f.
func (f AttachmentStoreFunc) StoreAttachment(ctx context.Context, a MailAttachment) (string, error) {
	return f(ctx, a)
}

// InboundOptions tune Inbound; the zero value is usable.
type InboundOptions struct {
	// MaxSize is the largest raw mail taken, in bytes; defaults to
	// DefaultMaxMailSize. A larger one is ErrInvalid.
	MaxSize int64
	// TicketHook is the hook of subject tokens ("[#1042]"); defaults to
	// DefaultTicketHook. Use the one your outgoing mail carries
	// (MailSubject).
	TicketHook string
	// Closed says what a reply to a closed ticket does; defaults to
	// ClosedFollowUp.
	Closed ClosedReply
	// TokenFromAnyone lets a subject token thread mail from any address.
	// By default a mail found only by its token joins the ticket when it
	// comes from the ticket's contact (ticket numbers are easy to guess);
	// from another address (a forward) it opens a ticket of its own for
	// its sender that refers to the named one (LinkRefersTo).
	TokenFromAnyone bool
	// IgnoreLists ignores mail of mailing lists (a List-Id header).
	IgnoreLists bool
	// KeepQuoted keeps a reply's text whole. By default a mail added to a
	// ticket keeps what it adds: the quoted conversation below it ("On …
	// wrote:" and the quote, Outlook's "From:/Sent:" block, a forwarded
	// or original message) and the signature ("-- ") are left out — the
	// ticket holds that conversation as messages. A reply written between
	// the quoted lines is kept whole, as is one that is all quote. A mail
	// that opens a ticket is always kept whole.
	KeepQuoted bool
	// UseReplyTo takes the Reply-To address as the author when the mail
	// has one (web forms that send from a no-reply address).
	UseReplyTo bool
	// OwnAddresses are the host's own addresses (the support mailbox, its
	// no-reply sender): mail from them is ignored, so that nothing loops.
	OwnAddresses []string
	// Team is the team of the tickets mail opens (a support address per
	// team); "" leaves it to routing.
	Team string
	// Attachments keeps the attachments' bytes; nil keeps none, and the
	// storage key says where the file is in the mail, for a host that
	// keeps raw mail: "mail:<Message-ID>#<part>". It is called before the
	// transaction (not while SQLite's one writer is held), for a mail
	// that is not ignored nor a known duplicate; should the mail then fail
	// (or a concurrent delivery win), the bytes it stored are not
	// referenced, and the host may drop them.
	Attachments AttachmentStore
}

// InboundOutcome is what Inbound did with a mail.
type InboundOutcome string

// Outcomes of Inbound.
const (
	InboundCreated   InboundOutcome = "created"   // a new ticket
	InboundAppended  InboundOutcome = "appended"  // a message of an existing ticket
	InboundIgnored   InboundOutcome = "ignored"   // an automatic mail (InboundResult.Ignored says why)
	InboundDuplicate InboundOutcome = "duplicate" // this Message-ID came in before: nothing added
)

// ThreadedBy says how a mail's earlier ticket was found.
type ThreadedBy string

// How a mail was threaded.
const (
	ThreadInReplyTo    ThreadedBy = "in_reply_to"
	ThreadReferences   ThreadedBy = "references"
	ThreadSubjectToken ThreadedBy = "subject_token"
)

// LinkKind says how a ticket relates to the one it links to.
type LinkKind string

// Kinds of links.
const (
	// LinkFollowUp: the ticket continues a closed one (a reply to it).
	LinkFollowUp LinkKind = "follow_up"
	// LinkRefersTo: the ticket was opened by a mail from another address
	// that named the linked ticket in its subject (a forward).
	LinkRefersTo LinkKind = "refers_to"
)

// TicketLink is a link from a ticket to another.
type TicketLink struct {
	TicketID  core.ID   `json:"ticket_id"`
	LinkedID  core.ID   `json:"linked_id"`
	Kind      LinkKind  `json:"kind"`
	CreatedAt time.Time `json:"created_at"`
}

// InboundResult says what Inbound did with a mail.
type InboundResult struct {
	Outcome InboundOutcome
	// Ignored is why an automatic mail was ignored.
	Ignored IgnoreReason
	// MessageID is the mail's Message-ID (see Mail.MessageID).
	MessageID string
	// TicketID is the ticket the mail went to: created, appended to, or
	// (duplicate) the one its first delivery went to.
	TicketID core.ID
	// Ticket and Message are the ticket after the mail and the message it
	// became (created and appended).
	Ticket  *Ticket
	Message *Message
	// ThreadedBy is how the earlier ticket was found (appended; also a
	// follow-up or a referring ticket: LinkedID).
	ThreadedBy ThreadedBy
	// LinkedID and LinkKind: the earlier ticket a new ticket continues or
	// refers to.
	LinkedID *core.ID
	LinkKind LinkKind
	// ContactID is the sender's contact; ContactCreated reports that the
	// mail created it.
	ContactID      core.ID
	ContactCreated bool
	// Reopened reports that the mail reopened its ticket.
	Reopened bool
}

// errDuplicateMail: a concurrent delivery of the same mail stored its
// Message-ID first.
var errDuplicateMail = errors.New("crm: mail stored concurrently")

// Inbound takes one raw RFC 5322 mail (ParseMail reads it) into the
// service desk:
//
//   - a mail a machine sent — an auto-reply, a bounce, a read receipt,
//     one of the host's own (see IgnoreReason) — is ignored: no ticket,
//     no contact, nothing to answer; the result says why, and the log
//     says so too (reason and tenant, never an address);
//   - a mail whose Message-ID came in before adds nothing (duplicate);
//   - a reply finds its ticket by In-Reply-To, then References (the
//     Message-IDs of mails that came in and of those the host sent,
//     MailSent), then by a ticket token in its subject (SubjectToken;
//     see InboundOptions.TokenFromAnyone), following merged tickets to
//     the one they were merged into, and is added to it as the customer's
//     public message, reopening a pending, on-hold or solved ticket
//     (a closed one: InboundOptions.Closed);
//   - any other mail opens a ticket (channel email) for its sender.
//
// The sender's contact is found by address (contacts.Service.GetByEmail)
// or created with the name the mail gives. A reply from an address other
// than its ticket's contact is written as that contact's
// (Message.AuthorID). Everything is one transaction with the ticket's
// events ("ticket.created", "ticket.message_added",
// "ticket.status_changed"): nothing is half-written. A mail too large,
// without an author, or broken is ErrInvalid (see ParseMail).
//
// Inbound is the host's mail intake and usually runs without an actor.
// With one it needs "tickets" create, as Create does, and a reply to a
// ticket needs update of that ticket (a ticket the actor does not see is
// ErrNotFound); the sender's contact is looked up and created with the
// actor's permissions on contacts.
func (s *Tickets) Inbound(ctx context.Context, raw io.Reader, opts InboundOptions) (_ *InboundResult, err error) {
	ctx, span := s.sc.Span(ctx, "tickets.Tickets.Inbound")
	defer span.End(&err)

	g, err := check(ctx, s.sc, "ticket", core.NilID, access.Create)
	if err != nil {
		return nil, err
	}
	tenant, _ := s.sc.Tenant()
	hook, err := opts.check()
	if err != nil {
		return nil, err
	}
	if err := g.checkAssignment(core.NilID, access.Create, "", opts.Team); err != nil {
		return nil, g.done(ctx, err)
	}
	m, err := ParseMail(raw, ParseOptions{MaxSize: opts.MaxSize, KeepContent: opts.Attachments != nil,
		UseReplyTo: opts.UseReplyTo, IgnoreLists: opts.IgnoreLists})
	if err != nil {
		return nil, err
	}
	ignore := func(reason IgnoreReason) (*InboundResult, error) {
		s.sc.Runtime().Logger.InfoContext(ctx, "crm: inbound mail ignored", "tenant", tenant, "reason", string(reason))
		return &InboundResult{Outcome: InboundIgnored, Ignored: reason, MessageID: m.MessageID}, nil
	}
	if m.Auto != "" {
		return ignore(m.Auto)
	}
	email := contacts.NormalizeEmail(m.From.Email)
	for _, own := range opts.OwnAddresses {
		if contacts.NormalizeEmail(own) == email {
			return ignore(IgnoreOwnAddress)
		}
	}
	if opts.Attachments != nil && len(m.Attachments) > 0 {
		// A mail that came in before is known before the host stores its
		// attachments again (the transaction checks again).
		if prev, err := mailRow(ctx, s.sc.Q(), tenant, m.MessageID); err != nil {
			return nil, store.Wrap(err, "take inbound mail")
		} else if prev != nil {
			if prev.direction == "out" {
				return ignore(IgnoreOwnMail)
			}
			return &InboundResult{Outcome: InboundDuplicate, MessageID: m.MessageID, TicketID: prev.ticketID}, nil
		}
	}
	if !g.trusted() {
		// The actor's permissions on contacts are checked before the
		// transaction, so that a refusal is recorded, not rolled back.
		if err := s.mayTakeSender(ctx, g, email); err != nil {
			return nil, err
		}
	}
	atts, err := storeAttachments(ctx, m, opts.Attachments)
	if err != nil {
		return nil, err
	}
	var res *InboundResult
	err = s.sc.InTx(ctx, func(ctx context.Context, sc store.Scope) error {
		res = nil
		in := inbound{s: newTickets(sc), g: g, tx: sc.Tx(), tenant: tenant, m: m, opts: opts, hook: hook, atts: atts}
		var err error
		res, err = in.take(ctx, email)
		return err
	})
	if errors.Is(err, errDuplicateMail) || (err != nil && !store.Known(err) && dialect.IsUniqueViolation(err)) {
		prev, rerr := mailRow(ctx, s.sc.Q(), tenant, m.MessageID)
		if rerr == nil && prev != nil {
			return &InboundResult{Outcome: InboundDuplicate, MessageID: m.MessageID, TicketID: prev.ticketID}, nil
		}
	}
	if err != nil {
		return nil, store.Wrap(g.done(ctx, err), "take inbound mail")
	}
	if res.Outcome == InboundIgnored {
		return ignore(res.Ignored)
	}
	return res, nil
}

// check validates the options and returns the ticket hook.
func (o InboundOptions) check() (string, error) {
	v := &core.ValidationError{}
	hook := o.TicketHook
	if hook == "" {
		hook = DefaultTicketHook
	}
	if len(hook) > maxHookLen || !core.StorableText(hook) || strings.ContainsAny(hook, "[]\r\n") || strings.TrimSpace(hook) != hook {
		v.Add("ticket_hook", "must be at most %d characters without brackets, line breaks or surrounding spaces", maxHookLen)
	}
	switch o.Closed {
	case "", ClosedFollowUp, ClosedReopen:
	default:
		v.Add("closed", "%q is not one of follow_up, reopen", o.Closed)
	}
	if o.MaxSize < 0 {
		v.Add("max_size", "must not be negative")
	}
	return hook, v.Err()
}

// storeAttachments gives the attachments' bytes to the host's store (with
// one) and returns their metadata for the message.
func storeAttachments(ctx context.Context, m *Mail, st AttachmentStore) ([]Attachment, error) {
	out := make([]Attachment, 0, len(m.Attachments))
	for _, a := range m.Attachments {
		key := "mail:" + m.MessageID + "#" + a.Part
		if st != nil {
			k, err := st.StoreAttachment(ctx, a)
			if err != nil {
				return nil, fmt.Errorf("crm: store attachment %s of an inbound mail: %w", a.Part, err)
			}
			if strings.TrimSpace(k) == "" || len(k) > MaxStorageKeyLen || !core.StorableText(k) {
				return nil, fmt.Errorf("crm: the attachment store gave attachment %s no usable key (1 to %d bytes of text)", a.Part, MaxStorageKeyLen)
			}
			key = k
		}
		out = append(out, Attachment{Name: a.Name, ContentType: a.ContentType, Size: a.Size, StorageKey: key})
	}
	return out, nil
}

// inbound is one mail on its way in, in its transaction.
type inbound struct {
	s      *Tickets // bound to tx
	g      *guard
	tx     *store.Tx
	tenant string
	m      *Mail
	opts   InboundOptions
	hook   string
	atts   []Attachment
}

func (in *inbound) take(ctx context.Context, email string) (*InboundResult, error) {
	q := in.tx.Q()
	m := in.m
	if prev, err := mailRow(ctx, q, in.tenant, m.MessageID); err != nil {
		return nil, err
	} else if prev != nil {
		if prev.direction == "out" {
			return &InboundResult{Outcome: InboundIgnored, Ignored: IgnoreOwnMail, MessageID: m.MessageID}, nil
		}
		return &InboundResult{Outcome: InboundDuplicate, MessageID: m.MessageID, TicketID: prev.ticketID}, nil
	}
	res := &InboundResult{MessageID: m.MessageID}
	var err error
	if res.ContactID, res.ContactCreated, err = senderContact(ctx, in.s.sc, email, m.From.Name); err != nil {
		return nil, err
	}
	earlier, by, err := in.thread(ctx)
	if err != nil {
		return nil, err
	}
	if earlier != nil {
		res.ThreadedBy = by
		switch {
		case by == ThreadSubjectToken && !in.opts.TokenFromAnyone && idOrNil(earlier.ContactID) != res.ContactID:
			res.LinkedID, res.LinkKind = &earlier.ID, LinkRefersTo
		case earlier.Status == StatusClosed && in.opts.Closed != ClosedReopen:
			res.LinkedID, res.LinkKind = &earlier.ID, LinkFollowUp
		default:
			return res, in.appendTo(ctx, earlier, res)
		}
	}
	return res, in.open(ctx, res)
}

// message is the mail as the customer's message; author is the sender's
// contact when that is not the ticket's.
func (in *inbound) message(author core.ID, ticketContact *core.ID, reply bool) NewMessage {
	body := in.m.Text
	if reply && !in.opts.KeepQuoted {
		body = replyText(body)
	}
	if body == "" && len(in.atts) == 0 {
		body = "(no text)"
	}
	msg := NewMessage{Public: true, AuthorKind: AuthorCustomer, Body: body, Attachments: in.atts}
	if ticketContact == nil || *ticketContact != author {
		msg.AuthorID = author.String()
	}
	return msg
}

// open opens a ticket for the mail's sender (linked to res.LinkedID when
// set).
func (in *inbound) open(ctx context.Context, res *InboundResult) error {
	subject := oneLine(tokenPattern(in.hook).ReplaceAllString(in.m.Subject, " "), MaxSubjectLen)
	if subject == "" {
		subject = "(no subject)"
	}
	contact := res.ContactID
	msg := in.message(contact, &contact, false)
	t, err := in.s.Create(ctx, NewTicket{Subject: subject, ContactID: contact, Channel: ChannelEmail, Team: in.opts.Team,
		Language: in.m.Language, Message: &msg})
	if err != nil {
		return err
	}
	res.Outcome, res.Ticket, res.TicketID = InboundCreated, t, t.ID
	msgs, err := listMessages(ctx, in.tx.Q(), in.tenant, t.ID)
	if err != nil {
		return err
	}
	if len(msgs) > 0 {
		res.Message = msgs[len(msgs)-1]
	}
	if res.LinkedID != nil {
		if _, err := in.tx.Q().Exec(ctx, `INSERT INTO crm_ticket_links (tenant_id, ticket_id, linked_id, kind, created_at) VALUES (?, ?, ?, ?, ?)`,
			in.tenant, t.ID, *res.LinkedID, string(res.LinkKind), in.tx.Runtime().Now()); err != nil {
			return err
		}
	}
	return in.record(ctx, t.ID, res.Message)
}

// appendTo adds the mail to ticket t as the customer's message.
func (in *inbound) appendTo(ctx context.Context, t *Ticket, res *InboundResult) error {
	// The actor's access is checked here, its refusal recorded after the
	// transaction (Inbound); the change itself runs as the intake's.
	if _, err := in.g.ticket(ctx, in.tx.Q(), in.tenant, t.ID, access.Update, false); err != nil {
		return err
	}
	trusted, err := guardOf(context.Background(), in.s.sc)
	if err != nil {
		return err
	}
	var msg *Message
	var reopened bool
	out, err := in.s.changeAs(ctx, trusted, t.ID, anyVersion, "add inbound mail to ticket", false,
		func(ctx context.Context, tx *store.Tx, _ *guard, t *Ticket, now time.Time) ([]func(*Ticket) (string, any), error) {
			from := t.Status
			if t.Status == StatusClosed {
				// Only with ClosedReopen: take threads here otherwise.
				t.Status, t.PendingUntil, reopened = StatusOpen, nil, true
			}
			v := &core.ValidationError{}
			msg = checkMessage(v, "message.", t.ID, in.message(res.ContactID, t.ContactID, true), now)
			if err := v.Err(); err != nil {
				return nil, err
			}
			if err := insertMessage(ctx, tx.Q(), in.tenant, msg); err != nil {
				return nil, err
			}
			events := []func(*Ticket) (string, any){func(t *Ticket) (string, any) {
				return EventTicketMessageAdded, MessageAdded{TicketID: t.ID, Number: t.Number, Message: msg}
			}}
			applyMessage(t, msg, now)
			if t.Status != from {
				reopened = true
				events = append(events, func(t *Ticket) (string, any) {
					return EventTicketStatusChanged, StatusChanged{Ticket: t, From: from, To: t.Status}
				})
			}
			return events, nil
		})
	if err != nil {
		return err
	}
	res.Outcome, res.Ticket, res.TicketID, res.Message, res.Reopened = InboundAppended, out, out.ID, msg, reopened
	return in.record(ctx, out.ID, msg)
}

// record keys the mail's Message-ID to the ticket and message it became.
func (in *inbound) record(ctx context.Context, ticketID core.ID, msg *Message) error {
	var msgID *core.ID
	if msg != nil {
		msgID = &msg.ID
	}
	_, err := in.tx.Q().Exec(ctx, `INSERT INTO crm_ticket_mail (tenant_id, msgid, ticket_id, ticket_message_id, direction, created_at)
		VALUES (?, ?, ?, ?, 'in', ?)`, in.tenant, in.m.MessageID, ticketID, store.NullID(msgID), in.tx.Runtime().Now())
	if dialect.IsUniqueViolation(err) {
		// A concurrent delivery of the mail committed first: this one
		// rolls back, and Inbound reports the duplicate.
		return errDuplicateMail
	}
	return err
}

// thread finds the ticket the mail answers: by In-Reply-To, then
// References (nearest first), then a subject token; a merged ticket leads
// to the one it was merged into. Nil when none.
func (in *inbound) thread(ctx context.Context) (*Ticket, ThreadedBy, error) {
	q := in.tx.Q()
	m := in.m
	ids := slices.Clone(m.InReplyTo)
	for i := len(m.References) - 1; i >= 0; i-- {
		if !slices.Contains(ids, m.References[i]) {
			ids = append(ids, m.References[i])
		}
	}
	var found core.ID
	var by ThreadedBy
	if len(ids) > 0 {
		rows, err := q.Query(ctx, `SELECT msgid, ticket_id FROM crm_ticket_mail WHERE tenant_id = ? AND `+q.D.InList("msgid", "text"),
			in.tenant, q.D.ListArg(ids))
		if err != nil {
			return nil, "", err
		}
		known := map[string]core.ID{}
		if err := store.EachRow(rows, func(r store.Scanner) error {
			var mid string
			var tid core.ID
			err := r.Scan(&mid, &tid)
			known[mid] = tid
			return err
		}); err != nil {
			return nil, "", err
		}
		for _, id := range ids {
			if tid, ok := known[id]; ok {
				found, by = tid, ThreadReferences
				if slices.Contains(m.InReplyTo, id) {
					by = ThreadInReplyTo
				}
				break
			}
		}
	}
	if found == core.NilID {
		tokens := tokenPattern(in.hook).FindAllStringSubmatch(m.Subject, -1)
		for i := len(tokens) - 1; i >= 0 && found == core.NilID; i-- {
			n, err := strconv.ParseInt(tokens[i][1], 10, 64)
			if err != nil {
				continue
			}
			err = q.QueryRow(ctx, `SELECT id FROM crm_tickets WHERE tenant_id = ? AND number = ?`, in.tenant, n).Scan(&found)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return nil, "", err
			}
			by = ThreadSubjectToken
		}
	}
	if found == core.NilID {
		return nil, "", nil
	}
	for range 10 {
		t, err := getTicket(ctx, q, in.tenant, found, false)
		if err != nil {
			return nil, "", err
		}
		if t.MergedInto == nil {
			return t, by, nil
		}
		found = *t.MergedInto
	}
	return nil, "", fmt.Errorf("crm: ticket %s is merged into a chain of more than 10 tickets", found)
}

// mayTakeSender checks that the actor of g may find the sender's contact
// (contacts read, with personal data: the lookup is by address) and, when
// there is none, create it (contacts create); refusals are recorded.
func (s *Tickets) mayTakeSender(ctx context.Context, g *guard, email string) error {
	_, err := contacts.Module.Contacts(s.sc).GetByEmail(ctx, email)
	if err == nil || !errors.Is(err, core.ErrNotFound) {
		return senderError(err)
	}
	if rerr := g.eff.Require("contacts", access.Create); rerr != nil {
		return s.deniedOnContacts(ctx, rerr)
	}
	if !g.eff.SeesPersonalData("contacts") {
		return s.deniedOnContacts(ctx, fmt.Errorf("%w: user %s may not create a contact with an email in contacts", core.ErrForbidden, g.eff.Actor()))
	}
	return nil
}

// deniedOnContacts records the actor's refused attempt to create the
// sender's contact as the contacts module records its own, and returns
// err.
func (s *Tickets) deniedOnContacts(ctx context.Context, err error) error {
	if audit := s.sc.Runtime().Audit; audit != nil {
		e := store.AuditEntry{Action: AuditDenied, SubjectType: "contact", SubjectID: core.NilID, Detail: "contacts:create"}
		if aerr := audit(ctx, s.sc, e); aerr != nil {
			s.sc.Runtime().Logger.WarnContext(ctx, "crm: audit of a denied attempt failed", "subject_type", "contact", "error", aerr)
		}
	}
	return err
}

// senderContact finds the contact with email or creates one with the
// name the mail gives; created reports which.
func senderContact(ctx context.Context, sc store.Scope, email, name string) (id core.ID, created bool, err error) {
	cs := contacts.Module.Contacts(sc)
	for range 2 {
		c, err := cs.GetByEmail(ctx, email)
		if err == nil {
			return c.ID, false, nil
		}
		if !errors.Is(err, core.ErrNotFound) {
			return core.NilID, false, senderError(err)
		}
		first, last := splitName(name, email)
		c, err = cs.Create(ctx, contacts.NewContact{Email: email, FirstName: first, LastName: last})
		if err == nil {
			return c.ID, true, nil
		}
		if !errors.Is(err, core.ErrConflict) {
			return core.NilID, false, senderError(err)
		}
		// Created meanwhile by a concurrent delivery: read it.
	}
	return core.NilID, false, fmt.Errorf("%w: the sender's contact could not be found or created (is it one the actor does not see?)", core.ErrConflict)
}

// senderError names the sender as "from" in a validation error of the
// contacts module (its address is not repeated).
func senderError(err error) error {
	var ve *core.ValidationError
	if errors.As(err, &ve) {
		return core.Invalid("from", "the sender's address is not one a contact can have")
	}
	return err
}

// splitName splits a display name into first and last name: "Ada
// Lovelace", "Lovelace, Ada"; a name that is the address itself is none.
func splitName(name, email string) (first, last string) {
	name = strings.Trim(oneLine(name, contacts.MaxNameLen), `"' `)
	if name == "" || strings.EqualFold(name, email) || strings.Contains(name, "@") {
		return "", ""
	}
	if l, f, ok := strings.Cut(name, ","); ok {
		return strings.TrimSpace(f), strings.TrimSpace(l)
	}
	if i := strings.LastIndexByte(name, ' '); i > 0 {
		return name[:i], name[i+1:]
	}
	return name, ""
}

// mailEntry is a row of crm_ticket_mail.
type mailEntry struct {
	ticketID  core.ID
	direction string
}

// mailRow returns the mail keyed by messageID, or nil.
func mailRow(ctx context.Context, q store.Q, tenant, messageID string) (*mailEntry, error) {
	var e mailEntry
	err := q.QueryRow(ctx, `SELECT ticket_id, direction FROM crm_ticket_mail WHERE tenant_id = ? AND msgid = ?`,
		tenant, messageID).Scan(&e.ticketID, &e.direction)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// MailSent records the Message-ID of a mail the host sent about a ticket
// (an agent's reply: messageID is the ticket's message it carried, or
// core.NilID), so that the customer's answer, which names it in
// In-Reply-To or References, finds the ticket, and the mail itself,
// should it come back in, is ignored (IgnoreOwnMail). mailMessageID may
// keep its angle brackets. Recording it again for the same ticket is a
// no-op; an id recorded for another ticket is ErrInvalid. It needs
// "tickets" update and a ticket the actor sees.
func (s *Tickets) MailSent(ctx context.Context, ticketID, messageID core.ID, mailMessageID string) (err error) {
	ctx, span := s.sc.SpanID(ctx, "tickets.Tickets.MailSent", ticketID)
	defer span.End(&err)

	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return err
	}
	id := firstMsgID(mailMessageID)
	if id == "" {
		return core.Invalid("mail_message_id", "is not a Message-ID (printable, without spaces, at most %d bytes)", MaxMessageIDLen)
	}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		q := tx.Q()
		t, err := g.ticket(ctx, q, tenant, ticketID, access.Update, false)
		if err != nil {
			return err
		}
		var msg *core.ID
		if messageID != core.NilID {
			var n int
			if err := q.QueryRow(ctx, `SELECT count(*) FROM crm_ticket_messages WHERE tenant_id = ? AND id = ? AND ticket_id = ?`,
				tenant, messageID, t.ID).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return core.Invalid("message_id", "message %s is not a message of ticket %s", messageID, t.ID)
			}
			msg = &messageID
		}
		res, err := q.Exec(ctx, `INSERT INTO crm_ticket_mail (tenant_id, msgid, ticket_id, ticket_message_id, direction, created_at)
			VALUES (?, ?, ?, ?, 'out', ?) ON CONFLICT (tenant_id, msgid) DO NOTHING`, tenant, id, t.ID, store.NullID(msg), tx.Runtime().Now())
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			return err
		}
		prev, err := mailRow(ctx, q, tenant, id)
		if err != nil {
			return err
		}
		if prev != nil && prev.ticketID != t.ID {
			return core.Invalid("mail_message_id", "is recorded for another ticket (%s)", prev.ticketID)
		}
		return nil
	})
	return store.Wrap(g.done(ctx, err), "record sent mail")
}

// Links returns the links from and to the ticket (a follow-up of a
// closed ticket, a ticket a forward referred to), oldest first. It needs
// "tickets" read and a ticket the actor sees.
func (s *Tickets) Links(ctx context.Context, ticketID core.ID) (_ []TicketLink, err error) {
	ctx, span := s.sc.SpanID(ctx, "tickets.Tickets.Links", ticketID)
	defer span.End(&err)

	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return nil, err
	}
	tenant, _ := s.sc.Tenant()
	q := s.sc.Q()
	if _, err := g.ticket(ctx, q, tenant, ticketID, access.Read, false); err != nil {
		return nil, store.Wrap(g.done(ctx, err), "list ticket links")
	}
	rows, err := q.Query(ctx, `SELECT ticket_id, linked_id, kind, created_at FROM crm_ticket_links
		WHERE tenant_id = ? AND (ticket_id = ? OR linked_id = ?) ORDER BY created_at, ticket_id, linked_id`, tenant, ticketID, ticketID)
	if err != nil {
		return nil, store.Wrap(err, "list ticket links")
	}
	out := []TicketLink{}
	err = store.EachRow(rows, func(r store.Scanner) error {
		var l TicketLink
		var kind string
		err := r.Scan(&l.TicketID, &l.LinkedID, &kind, &l.CreatedAt)
		l.Kind, l.CreatedAt = LinkKind(kind), l.CreatedAt.UTC()
		out = append(out, l)
		return err
	})
	return out, store.Wrap(err, "list ticket links")
}
