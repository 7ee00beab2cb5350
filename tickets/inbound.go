package tickets

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
)

// Inbound mail: Tickets.Inbound takes a raw mail into the service desk,
// as its options say, and tells what it did.

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
