package tickets

import (
	"context"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
)

// One mail on its way in, in its transaction: its sender's contact, then
// a message of the earlier ticket or a new ticket.

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
