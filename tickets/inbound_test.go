package tickets_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/tickets"
)

// inbound takes mail into b's CRM.
func (b *bundle) inbound(t *testing.T, raw []byte, opts tickets.InboundOptions) *tickets.InboundResult {
	t.Helper()
	res, err := b.c.Tickets.Inbound(context.Background(), bytes.NewReader(raw), opts)
	require.NoError(t, err)
	return res
}

// messages returns the ticket's messages.
func (b *bundle) messages(t *testing.T, id core.ID) []*tickets.Message {
	t.Helper()
	msgs, err := b.c.Tickets.Messages(context.Background(), id)
	require.NoError(t, err)
	return msgs
}

// rewrite replaces old by new in a fixture (another Message-ID, sender).
func rewrite(raw []byte, pairs ...string) []byte {
	return []byte(strings.NewReplacer(pairs...).Replace(string(raw)))
}

// snapshot counts what a mail may write.
func (b *bundle) snapshot(t *testing.T) string {
	t.Helper()
	var out []string
	for _, table := range []string{"crm_tickets", "crm_ticket_messages", "crm_ticket_mail", "crm_ticket_links", "crm_contacts", "crm_events"} {
		out = append(out, fmt.Sprintf("%s=%d", table, b.count(t, table)))
	}
	return strings.Join(out, " ")
}

// A conversation by mail: the request opens a ticket for the known
// contact, a second delivery adds nothing, replies find the ticket by
// In-Reply-To (also to the agent's mail, as Outlook answers without
// References) and by the subject token, auto-replies and bounces are
// ignored, and a forward from another address opens a ticket of its own
// that refers to the first.
func TestInboundConversation(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		res := b.inbound(t, fixture(t, "new_request"), tickets.InboundOptions{})
		require.Equal(t, tickets.InboundCreated, res.Outcome)
		require.Equal(t, b.contact.ID, res.ContactID, "the sender is the contact with that address")
		require.False(t, res.ContactCreated)
		tk := res.Ticket
		require.Equal(t, int64(1), tk.Number)
		require.Equal(t, "Printer on fire – München office", tk.Subject)
		require.Equal(t, tickets.ChannelEmail, tk.Channel)
		require.Equal(t, tickets.StatusNew, tk.Status)
		require.Equal(t, "en-GB", tk.Language)
		require.Equal(t, b.contact.ID, *tk.ContactID)
		msgs := b.messages(t, tk.ID)
		require.Len(t, msgs, 1)
		require.Equal(t, res.Message.ID, msgs[0].ID)
		require.True(t, msgs[0].Public)
		require.Equal(t, tickets.AuthorCustomer, msgs[0].AuthorKind)
		require.Empty(t, msgs[0].AuthorID, "the ticket's contact wrote it")
		require.Contains(t, msgs[0].Body, "the printer in the München office is on fire again")
		require.Equal(t, []string{tickets.EventTicketCreated, tickets.EventTicketMessageAdded}, b.eventTypes(t, tk.ID))
		// About the contact (core.Event.ContactID), so on their timeline,
		// like any ticket.
		evs, err := b.c.Events(ctx, crm.EventQuery{ContactID: b.contact.ID, Types: []string{tickets.EventTicketCreated}})
		require.NoError(t, err)
		require.Len(t, evs, 1)
		require.Equal(t, tk.ID, evs[0].SubjectID)
		tl, err := b.c.Contacts.Timeline(ctx, b.contact.ID, contacts.TimelineOptions{Types: []string{contacts.ItemEvent}})
		require.NoError(t, err)
		var onTimeline []string
		for _, it := range tl.Items {
			if it.Event.SubjectID == tk.ID {
				onTimeline = append(onTimeline, it.Event.Type)
			}
		}
		require.ElementsMatch(t, []string{tickets.EventTicketCreated, tickets.EventTicketMessageAdded}, onTimeline)

		// The same mail delivered again adds nothing, and says so.
		before := b.snapshot(t)
		dup := b.inbound(t, fixture(t, "new_request"), tickets.InboundOptions{})
		require.Equal(t, tickets.InboundDuplicate, dup.Outcome)
		require.Equal(t, tk.ID, dup.TicketID)
		require.Equal(t, before, b.snapshot(t))

		// A reply with In-Reply-To.
		res = b.inbound(t, fixture(t, "reply_in_reply_to"), tickets.InboundOptions{})
		require.Equal(t, tickets.InboundAppended, res.Outcome)
		require.Equal(t, tickets.ThreadInReplyTo, res.ThreadedBy)
		require.Equal(t, tk.ID, res.TicketID)
		require.Len(t, b.messages(t, tk.ID), 2)
		require.Equal(t, "It is out now, but it smells terrible. Please send someone anyway.", res.Message.Body,
			"the quoted request below the reply is left out: the ticket has it")
		whole := b.inbound(t, rewrite(fixture(t, "reply_in_reply_to"), "reply-0002", "reply-0002b"), tickets.InboundOptions{KeepQuoted: true})
		require.Equal(t, tickets.InboundAppended, whole.Outcome)
		require.Contains(t, whole.Message.Body, "> the printer in the office is on fire again.", "KeepQuoted keeps it")

		// The agent answers; the host sends the answer and records its
		// Message-ID.
		reply, err := b.c.Tickets.AddMessage(ctx, tk.ID, tickets.NewMessage{Public: true, AuthorKind: tickets.AuthorAgent, AuthorID: "agent-1",
			Body: "We are sending a technician."})
		require.NoError(t, err)
		require.NoError(t, b.c.Tickets.MailSent(ctx, tk.ID, reply.ID, "<reply-1.agent@support.example>"))
		require.NoError(t, b.c.Tickets.MailSent(ctx, tk.ID, reply.ID, "reply-1.agent@support.example"), "recorded twice: a no-op")
		require.Equal(t, "Printer on fire – München office [#1]", tickets.MailSubject(tk, ""))

		// The customer's out-of-office answers it: ignored.
		before = b.snapshot(t)
		res = b.inbound(t, fixture(t, "out_of_office"), tickets.InboundOptions{})
		require.Equal(t, tickets.InboundIgnored, res.Outcome)
		require.Equal(t, tickets.IgnoreAutoSubmitted, res.Ignored)
		require.Equal(t, before, b.snapshot(t))

		// Outlook answers the agent's mail: In-Reply-To, no References.
		res = b.inbound(t, fixture(t, "outlook_reply"), tickets.InboundOptions{})
		require.Equal(t, tickets.InboundAppended, res.Outcome)
		require.Equal(t, tickets.ThreadInReplyTo, res.ThreadedBy)
		require.Equal(t, tk.ID, res.TicketID)
		require.Equal(t, "Danke für die schnelle Antwort! Der Techniker kostet 80 €, richtig?\n\nGrüße\nAda", res.Message.Body,
			"Outlook's quoted answer is left out")

		// A client that drops the thread headers: the subject token.
		res = b.inbound(t, fixture(t, "reply_subject_token"), tickets.InboundOptions{})
		require.Equal(t, tickets.InboundAppended, res.Outcome)
		require.Equal(t, tickets.ThreadSubjectToken, res.ThreadedBy)
		require.Equal(t, b.contact.ID, res.ContactID, "the address is compared case-insensitively")
		require.Len(t, b.messages(t, tk.ID), 6)

		// A bounce of the agent's mail: ignored.
		before = b.snapshot(t)
		res = b.inbound(t, fixture(t, "dsn_bounce"), tickets.InboundOptions{})
		require.Equal(t, tickets.InboundIgnored, res.Outcome)
		require.Equal(t, tickets.IgnoreBounce, res.Ignored)
		// The agent's own mail coming back in (a copy to the support
		// address): ignored, no loop.
		own := rewrite(fixture(t, "reply_subject_token"), "<20260302100210.77A1B2C3@webmail.example.com>", "<reply-1.agent@support.example>")
		res = b.inbound(t, own, tickets.InboundOptions{})
		require.Equal(t, tickets.InboundIgnored, res.Outcome)
		require.Equal(t, tickets.IgnoreOwnMail, res.Ignored)
		res = b.inbound(t, rewrite(fixture(t, "new_request"), "<CAF7m1q=new-request-0001@mail.example.com>", "<other@x.example>", "Ada Lovelace <ada@example.com>", "Support <Support@Support.example>"),
			tickets.InboundOptions{OwnAddresses: []string{"support@support.example"}})
		require.Equal(t, tickets.IgnoreOwnAddress, res.Ignored)
		require.Equal(t, before, b.snapshot(t))

		// A forward from another address with the token: a ticket of its
		// own for the new sender, referring to the first.
		res = b.inbound(t, fixture(t, "forward_other"), tickets.InboundOptions{})
		require.Equal(t, tickets.InboundCreated, res.Outcome)
		require.True(t, res.ContactCreated)
		require.Equal(t, tickets.ThreadSubjectToken, res.ThreadedBy)
		require.Equal(t, tk.ID, *res.LinkedID)
		require.Equal(t, tickets.LinkRefersTo, res.LinkKind)
		require.Equal(t, "Fwd: Re: Printer on fire", res.Ticket.Subject, "the other ticket's token is not kept")
		charles, err := b.c.Contacts.Get(ctx, res.ContactID)
		require.NoError(t, err)
		require.Equal(t, []string{"charles@example.org", "Charles", "Babbage"}, []string{charles.Email, charles.FirstName, charles.LastName})
		links, err := b.c.Tickets.Links(ctx, tk.ID)
		require.NoError(t, err)
		require.Equal(t, []tickets.TicketLink{{TicketID: res.TicketID, LinkedID: tk.ID, Kind: tickets.LinkRefersTo, CreatedAt: links[0].CreatedAt}}, links)
		// With TokenFromAnyone it joins the ticket, written as Charles's.
		res = b.inbound(t, rewrite(fixture(t, "forward_other"), "8b1f0c2e-fwd-0004", "8b1f0c2e-fwd-0005"), tickets.InboundOptions{TokenFromAnyone: true})
		require.Equal(t, tickets.InboundAppended, res.Outcome)
		require.Equal(t, tk.ID, res.TicketID)
		require.Equal(t, charles.ID.String(), res.Message.AuthorID, "another contact's message names them")

		// A colleague answering in the thread (In-Reply-To) from another
		// address joins the ticket as themselves.
		res = b.inbound(t, rewrite(fixture(t, "reply_in_reply_to"), "reply-0002", "reply-0003", "Ada Lovelace <ada@example.com>", "charles@example.org"),
			tickets.InboundOptions{})
		require.Equal(t, tickets.InboundAppended, res.Outcome)
		require.Equal(t, charles.ID.String(), res.Message.AuthorID)

		// The inbound messages reopened nothing (the ticket was open) and
		// each emitted message_added.
		got, err := b.c.Tickets.Get(ctx, tk.ID)
		require.NoError(t, err)
		require.Equal(t, tickets.StatusOpen, got.Status)
		n := 0
		for _, typ := range b.eventTypes(t, tk.ID) {
			if typ == tickets.EventTicketMessageAdded {
				n++
			}
		}
		require.Equal(t, len(b.messages(t, tk.ID)), n)
	})
}

// A reply reopens a solved ticket; one to a closed ticket opens a
// follow-up by default, or reopens it when asked; a reply to a ticket
// merged into another goes to that one.
func TestInboundClosedAndMergedTickets(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		first := b.inbound(t, fixture(t, "new_request"), tickets.InboundOptions{}).Ticket
		solved, err := b.c.Tickets.SetStatus(ctx, first.ID, tickets.StatusChange{Version: first.Version, Status: tickets.StatusSolved})
		require.NoError(t, err)

		res := b.inbound(t, fixture(t, "reply_in_reply_to"), tickets.InboundOptions{})
		require.Equal(t, tickets.InboundAppended, res.Outcome)
		require.True(t, res.Reopened)
		require.Equal(t, tickets.StatusOpen, res.Ticket.Status)
		require.Equal(t, solved.Version+1, res.Ticket.Version)
		types := b.eventTypes(t, first.ID)
		require.Equal(t, []string{tickets.EventTicketMessageAdded, tickets.EventTicketStatusChanged}, types[len(types)-2:])

		cur, err := b.c.Tickets.Get(ctx, first.ID)
		require.NoError(t, err)
		closed, err := b.c.Tickets.SetStatus(ctx, first.ID, tickets.StatusChange{Version: cur.Version, Status: tickets.StatusClosed})
		require.NoError(t, err)
		// Default: a follow-up ticket, the closed one untouched.
		res = b.inbound(t, rewrite(fixture(t, "reply_in_reply_to"), "reply-0002", "reply-0003"), tickets.InboundOptions{})
		require.Equal(t, tickets.InboundCreated, res.Outcome)
		require.Equal(t, tickets.LinkFollowUp, res.LinkKind)
		require.Equal(t, first.ID, *res.LinkedID)
		require.Equal(t, tickets.ThreadInReplyTo, res.ThreadedBy)
		require.Equal(t, int64(2), res.Ticket.Number)
		still, err := b.c.Tickets.Get(ctx, first.ID)
		require.NoError(t, err)
		require.Equal(t, closed.Version, still.Version)
		links, err := b.c.Tickets.Links(ctx, res.TicketID)
		require.NoError(t, err)
		require.Len(t, links, 1)
		require.Equal(t, tickets.LinkFollowUp, links[0].Kind)
		// A reply in the follow-up's thread now finds the follow-up (its
		// mail is keyed to it).
		next := b.inbound(t, rewrite(fixture(t, "reply_in_reply_to"), "reply-0002", "reply-0004", "new-request-0001", "reply-0003"), tickets.InboundOptions{})
		require.Equal(t, tickets.InboundAppended, next.Outcome)
		require.Equal(t, res.TicketID, next.TicketID)

		// Reopen when asked.
		res = b.inbound(t, rewrite(fixture(t, "reply_subject_token"), "77A1B2C3", "77A1B2C4"), tickets.InboundOptions{Closed: tickets.ClosedReopen})
		require.Equal(t, tickets.InboundAppended, res.Outcome)
		require.Equal(t, first.ID, res.TicketID)
		require.True(t, res.Reopened)
		require.Equal(t, tickets.StatusOpen, res.Ticket.Status)

		// Merged: the reply goes to the ticket the first was merged into.
		target := b.ticket(t, tickets.NewTicket{Subject: "Fire, again"})
		cur, err = b.c.Tickets.Get(ctx, first.ID)
		require.NoError(t, err)
		_, err = b.c.Tickets.Merge(ctx, first.ID, cur.Version, target.ID)
		require.NoError(t, err)
		res = b.inbound(t, rewrite(fixture(t, "reply_in_reply_to"), "reply-0002", "reply-0005"), tickets.InboundOptions{})
		require.Equal(t, tickets.InboundAppended, res.Outcome)
		require.Equal(t, target.ID, res.TicketID)
	})
}

// The other fixtures: a new sender in Windows-1252, HTML only, and
// attachments, kept as metadata (bytes through the host's store, or a
// key into the mail).
func TestInboundContent(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		res := b.inbound(t, fixture(t, "windows1252"), tickets.InboundOptions{})
		require.Equal(t, tickets.InboundCreated, res.Outcome)
		require.True(t, res.ContactCreated)
		renee, err := b.c.Contacts.Get(ctx, res.ContactID)
		require.NoError(t, err)
		require.Equal(t, []string{"renee@example.fr", "Renée", "Dupré"}, []string{renee.Email, renee.FirstName, renee.LastName})
		require.Equal(t, "Facture “urgente”", res.Ticket.Subject)
		require.Equal(t, "Bonjour,\n\nla facture “F-2026-03” indique 120 € – payée déjà.\n\nRenée", res.Message.Body)

		res = b.inbound(t, fixture(t, "html_only"), tickets.InboundOptions{Team: "support"})
		require.Equal(t, "support", res.Ticket.Team)
		require.Contains(t, res.Message.Body, "Our order *#A-778* arrived broken & the box was wet.")

		res = b.inbound(t, fixture(t, "attachment"), tickets.InboundOptions{})
		require.Equal(t, []tickets.Attachment{
			{Name: "attachment.png", ContentType: "image/png", Size: 67, StorageKey: "mail:attach-0011@example.com#1.2"},
			{Name: "Rechnung März 2026.pdf", ContentType: "application/pdf", Size: 1540, StorageKey: "mail:attach-0011@example.com#2"},
		}, b.messages(t, res.TicketID)[0].Attachments)

		var mu sync.Mutex
		stored := map[string][]byte{}
		store := tickets.AttachmentStoreFunc(func(_ context.Context, a tickets.MailAttachment) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			key := fmt.Sprintf("s3://bucket/%d", len(stored))
			stored[key] = a.Content
			return key, nil
		})
		res = b.inbound(t, rewrite(fixture(t, "attachment"), "attach-0011", "attach-0012"), tickets.InboundOptions{Attachments: store})
		atts := b.messages(t, res.TicketID)[0].Attachments
		require.Len(t, atts, 2)
		require.Equal(t, "s3://bucket/1", atts[1].StorageKey)
		require.True(t, bytes.HasPrefix(stored["s3://bucket/1"], []byte("%PDF-1.4")))
		require.Len(t, stored["s3://bucket/1"], 1540)
		// A duplicate is known before the store is asked again.
		b.inbound(t, rewrite(fixture(t, "attachment"), "attach-0011", "attach-0012"), tickets.InboundOptions{Attachments: store})
		require.Len(t, stored, 2)

		// The store failing writes nothing.
		before := b.snapshot(t)
		failing := tickets.AttachmentStoreFunc(func(context.Context, tickets.MailAttachment) (string, error) {
			return "", errors.New("bucket unreachable")
		})
		_, err = b.c.Tickets.Inbound(ctx, bytes.NewReader(rewrite(fixture(t, "attachment"), "attach-0011", "attach-0013")), tickets.InboundOptions{Attachments: failing})
		require.ErrorContains(t, err, "bucket unreachable")
		require.Equal(t, before, b.snapshot(t))
	})
}

// Mail that cannot become a ticket is ErrInvalid and writes nothing; so
// do invalid options.
func TestInboundBadInput(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		before := b.snapshot(t)
		for name, field := range map[string]string{"no_from": "from", "garbage_header": "header", "broken_mime": "mime"} {
			_, err := b.c.Tickets.Inbound(ctx, bytes.NewReader(fixture(t, name)), tickets.InboundOptions{})
			require.Equal(t, []string{field}, fieldsOf(t, err), name)
		}
		big := &counting{r: &endless{prefix: []byte("From: ada@example.com\r\nSubject: big\r\n\r\n"), n: 50 << 20}}
		_, err := b.c.Tickets.Inbound(ctx, big, tickets.InboundOptions{})
		require.Equal(t, []string{"mail"}, fieldsOf(t, err))
		require.Equal(t, int64(tickets.DefaultMaxMailSize+1), big.read)
		_, err = b.c.Tickets.Inbound(ctx, bytes.NewReader(fixture(t, "new_request")), tickets.InboundOptions{MaxSize: 100})
		require.Equal(t, []string{"mail"}, fieldsOf(t, err))
		// An address no contact may have.
		_, err = b.c.Tickets.Inbound(ctx, strings.NewReader("From: someone@localhost\r\nSubject: hi\r\n\r\nHello\r\n"), tickets.InboundOptions{})
		require.Equal(t, []string{"from"}, fieldsOf(t, err))
		require.NotContains(t, err.Error(), "someone@localhost")
		_, err = b.c.Tickets.Inbound(ctx, bytes.NewReader(fixture(t, "new_request")), tickets.InboundOptions{Closed: "delete", TicketHook: "[x]"})
		require.ElementsMatch(t, []string{"closed", "ticket_hook"}, fieldsOf(t, err))
		_, err = b.c.Tickets.Inbound(ctx, bytes.NewReader(fixture(t, "new_request")), tickets.InboundOptions{Team: "nobody's"})
		require.Equal(t, []string{"team"}, fieldsOf(t, err))
		// A read error of the host's reader is not the mail's fault.
		_, err = b.c.Tickets.Inbound(ctx, io.MultiReader(strings.NewReader("From: a"), iotestErr{}), tickets.InboundOptions{})
		require.Error(t, err)
		require.NotErrorIs(t, err, core.ErrInvalid)
		require.Equal(t, before, b.snapshot(t))

		tk := b.ticket(t, tickets.NewTicket{})
		require.Equal(t, []string{"mail_message_id"}, fieldsOf(t, b.c.Tickets.MailSent(ctx, tk.ID, core.NilID, "not an id")))
		require.Equal(t, []string{"message_id"}, fieldsOf(t, b.c.Tickets.MailSent(ctx, tk.ID, core.NewID(), "<a@b>")))
		require.ErrorIs(t, b.c.Tickets.MailSent(ctx, core.NewID(), core.NilID, "<a@b>"), core.ErrNotFound)
		require.NoError(t, b.c.Tickets.MailSent(ctx, tk.ID, core.NilID, "<a@b>"))
		other := b.ticket(t, tickets.NewTicket{})
		require.Equal(t, []string{"mail_message_id"}, fieldsOf(t, b.c.Tickets.MailSent(ctx, other.ID, core.NilID, "<a@b>")))
	})
}

type iotestErr struct{}

func (iotestErr) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

// Concurrent deliveries of one mail store it once: one creates the
// ticket, the others are duplicates.
func TestInboundConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		raw := rewrite(fixture(t, "new_request"), "ada@example.com", "newcomer@example.com")
		outcomes := make([]tickets.InboundOutcome, 6)
		var wg sync.WaitGroup
		for i := range outcomes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := b.c.Tickets.Inbound(context.Background(), bytes.NewReader(raw), tickets.InboundOptions{})
				if err != nil {
					outcomes[i] = tickets.InboundOutcome("error: " + err.Error())
					return
				}
				outcomes[i] = res.Outcome
			}()
		}
		wg.Wait()
		created := 0
		for _, o := range outcomes {
			if o == tickets.InboundCreated {
				created++
			} else {
				require.Equal(t, tickets.InboundDuplicate, o)
			}
		}
		require.Equal(t, 1, created)
		require.Equal(t, 1, b.count(t, "crm_tickets"))
		var n int
		require.NoError(t, b.c.DB().QueryRow(`SELECT count(*) FROM crm_contacts WHERE email = 'newcomer@example.com'`).Scan(&n))
		require.Equal(t, 1, n)
	})
}

// With an actor, Inbound needs tickets create (as Create does), and for
// a new sender contacts create; refusals are audited and write nothing.
func TestInboundRecordAccess(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		w := newAccessWorld(t, db)
		ctx := context.Background()
		before := w.snapshot(t)
		_, err := w.c.Tickets.Inbound(as("rita"), bytes.NewReader(fixture(t, "new_request")), tickets.InboundOptions{})
		require.ErrorIs(t, err, core.ErrForbidden)
		require.Contains(t, w.denied(t, core.NilID, "rita"), "tickets:create")
		_, err = w.c.Tickets.Inbound(as("bob"), bytes.NewReader(fixture(t, "windows1252")), tickets.InboundOptions{})
		require.ErrorIs(t, err, core.ErrForbidden, "support may not create contacts")
		require.Contains(t, w.denied(t, core.NilID, "bob"), "contacts:create")
		require.Equal(t, before, w.snapshot(t))

		res, err := w.c.Tickets.Inbound(as("root"), bytes.NewReader(fixture(t, "windows1252")), tickets.InboundOptions{})
		require.NoError(t, err)
		require.Equal(t, tickets.InboundCreated, res.Outcome)
		evs, err := w.c.Events(ctx, crm.EventQuery{SubjectID: res.TicketID, Limit: 10})
		require.NoError(t, err)
		require.Equal(t, "root", evs[0].ActorID)

		// Without an actor, the host's intake takes anything.
		res, err = w.c.Tickets.Inbound(ctx, bytes.NewReader(fixture(t, "html_only")), tickets.InboundOptions{})
		require.NoError(t, err)
		require.Equal(t, tickets.InboundCreated, res.Outcome)
		_, err = w.c.Tickets.Links(as("alice"), res.TicketID)
		require.ErrorIs(t, err, core.ErrForbidden)
		require.ErrorIs(t, w.c.Tickets.MailSent(as("rita"), res.TicketID, core.NilID, "<x@y>"), core.ErrForbidden)
	})
}

// A person who wrote into another contact's ticket by mail finds those
// messages in their subject access export, and their erasure scrubs them
// (and empties the events of that ticket, which carry the messages).
func TestInboundMessagesOfOthersArePersonalData(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		tk := b.inbound(t, fixture(t, "new_request"), tickets.InboundOptions{}).Ticket
		res := b.inbound(t, rewrite(fixture(t, "reply_in_reply_to"), "reply-0002", "reply-0003", "Ada Lovelace <ada@example.com>",
			"Charles Babbage <charles@example.org>", "Please send someone anyway.", "Please send someone anyway. Charles Babbage, charles@example.org"),
			tickets.InboundOptions{})
		require.Equal(t, tk.ID, res.TicketID)
		charles := res.ContactID

		export, err := b.c.Consent.Export(ctx, charles)
		require.NoError(t, err)
		written, ok := export.Data["ticket_messages_written"].([]*tickets.Message)
		require.True(t, ok, "%T", export.Data["ticket_messages_written"])
		require.Len(t, written, 1)
		require.Equal(t, res.Message.ID, written[0].ID)

		_, err = b.c.Consent.Erase(ctx, charles, "request")
		require.NoError(t, err)
		msgs := b.messages(t, tk.ID)
		require.Contains(t, msgs[1].Body, "[erased]")
		require.NotContains(t, msgs[1].Body, "charles@example.org")
		require.NotContains(t, msgs[1].Body, "Babbage")
		require.Contains(t, msgs[0].Body, "München", "Ada's own message stays")
		evs, err := b.c.Events(ctx, crm.EventQuery{SubjectID: tk.ID})
		require.NoError(t, err)
		for _, ev := range evs {
			require.NotContains(t, string(ev.Data), "Babbage")
		}
	})
}

// Tenants do not share threads, Message-IDs or macros: the same mails in
// another tenant open its own ticket, a reply there does not reach this
// tenant's ticket, and its subject token names its own numbers.
func TestInboundTenants(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		mine := b.inbound(t, fixture(t, "new_request"), tickets.InboundOptions{}).Ticket
		other := b.c.Tenant("other")
		res, err := other.Tickets.Inbound(ctx, bytes.NewReader(fixture(t, "new_request")), tickets.InboundOptions{})
		require.NoError(t, err)
		require.Equal(t, tickets.InboundCreated, res.Outcome, "not a duplicate of another tenant's mail")
		require.True(t, res.ContactCreated)
		require.NotEqual(t, mine.ID, res.TicketID)
		res, err = other.Tickets.Inbound(ctx, bytes.NewReader(fixture(t, "reply_in_reply_to")), tickets.InboundOptions{})
		require.NoError(t, err)
		require.Equal(t, tickets.InboundAppended, res.Outcome)
		require.NotEqual(t, mine.ID, res.TicketID)
		require.Len(t, b.messages(t, mine.ID), 1)
		_, err = other.Tickets.Links(ctx, mine.ID)
		require.ErrorIs(t, err, core.ErrNotFound)
		require.ErrorIs(t, other.Tickets.MailSent(ctx, mine.ID, core.NilID, "<x@y>"), core.ErrNotFound)

		m, err := b.c.Tickets.Macros().Create(ctx, tickets.NewMacro{Name: "Mine", Body: "Hello"})
		require.NoError(t, err)
		_, err = other.Tickets.Macros().Get(ctx, m.ID)
		require.ErrorIs(t, err, core.ErrNotFound)
		list, err := other.Tickets.Macros().List(ctx)
		require.NoError(t, err)
		require.Empty(t, list)
		theirs, err := other.Tickets.Get(ctx, res.TicketID)
		require.NoError(t, err)
		_, err = other.Access.Roles.InstallBuiltins(ctx)
		require.NoError(t, err)
		_, err = other.Tickets.ApplyMacro(core.WithActor(ctx, core.Actor{ID: "x", Roles: []string{access.RoleAdmin}}), theirs.ID, m.ID, theirs.Version)
		require.ErrorIs(t, err, core.ErrNotFound)
	})
}

// An ignored mail is logged with its reason and tenant, not its sender.
func TestInboundLogsIgnoredMail(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		var buf syncBuffer
		c, err := crm.New(db, crm.Config{Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		res, err := c.Tickets.Inbound(context.Background(), bytes.NewReader(fixture(t, "out_of_office")), tickets.InboundOptions{})
		require.NoError(t, err)
		require.Equal(t, tickets.InboundIgnored, res.Outcome)
		line := buf.String()
		require.Contains(t, line, `"msg":"crm: inbound mail ignored"`)
		require.Contains(t, line, `"reason":"auto_submitted"`)
		require.Contains(t, line, `"tenant":"default"`)
		require.NotContains(t, line, "ada@example.com")
		require.NotContains(t, line, "Lovelace")
	})
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
