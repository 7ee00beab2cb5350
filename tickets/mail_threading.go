package tickets

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// Threading mail to its ticket: by the Message-IDs of the mails that came
// in and of those the host sent (MailSent), and by the ticket tokens in
// subjects.

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

// ThreadedBy says how a mail's earlier ticket was found.
type ThreadedBy string

// How a mail was threaded.
const (
	ThreadInReplyTo    ThreadedBy = "in_reply_to"
	ThreadReferences   ThreadedBy = "references"
	ThreadSubjectToken ThreadedBy = "subject_token"
)

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
