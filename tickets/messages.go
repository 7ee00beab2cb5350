package tickets

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// checkMessage validates in, problems added to v under prefix, and
// returns the message it describes.
func checkMessage(v *core.ValidationError, prefix string, ticketID core.ID, in NewMessage, now time.Time) *Message {
	m := &Message{ID: core.NewID(), TicketID: ticketID, Public: in.Public, AuthorKind: in.AuthorKind, AuthorID: strings.TrimSpace(in.AuthorID),
		Body: in.Body, Attachments: slices.Clone(in.Attachments), CreatedAt: now}
	if m.Attachments == nil {
		m.Attachments = []Attachment{}
	}
	switch m.AuthorKind {
	case AuthorAgent:
		if m.AuthorID == "" {
			v.Add(prefix+"author_id", "is required for an agent: the user's id")
		}
	case AuthorCustomer:
		if !m.Public {
			v.Add(prefix+"public", "a customer's message is public")
		}
	default:
		v.Add(prefix+"author_kind", "must be customer or agent")
	}
	v.CheckText(prefix+"author_id", m.AuthorID, MaxUserIDLen)
	if strings.TrimSpace(m.Body) == "" && len(m.Attachments) == 0 {
		v.Add(prefix+"body", "is required (or an attachment)")
	}
	if !core.StorableText(m.Body) {
		v.Add(prefix+"body", "is not storable text (valid UTF-8 without NUL)")
	} else if len(m.Body) > MaxBodyLen {
		v.Add(prefix+"body", "is longer than %d bytes", MaxBodyLen)
	}
	if len(m.Attachments) > MaxAttachments {
		v.Add(prefix+"attachments", "has more than %d attachments", MaxAttachments)
	}
	for i, a := range m.Attachments {
		f := fmt.Sprintf("%sattachments.%d.", prefix, i)
		if strings.TrimSpace(a.Name) == "" {
			v.Add(f+"name", "is required")
		}
		v.CheckText(f+"name", a.Name, MaxNameLen)
		v.CheckText(f+"content_type", a.ContentType, MaxNameLen)
		if a.Size < 0 {
			v.Add(f+"size", "must not be negative")
		}
		if strings.TrimSpace(a.StorageKey) == "" {
			v.Add(f+"storage_key", "is required: the host's key of the bytes")
		}
		v.CheckText(f+"storage_key", a.StorageKey, MaxStorageKeyLen)
	}
	return m
}

// applyMessage updates t for its new message m: an agent's public reply
// is the first response (and opens a new ticket) and answers the
// customer; a customer's message reopens a pending, on-hold or solved
// ticket and, after the first response, starts the next-response clock.
// It returns the status before, if the message changed it.
func applyMessage(t *Ticket, m *Message, now time.Time) (from Status, changed bool) {
	c := &t.clock
	from = t.Status
	switch {
	case m.AuthorKind == AuthorAgent && m.Public:
		if c.firstResponseAt == nil {
			at := now
			c.firstResponseAt = &at
		}
		c.nextResponseFrom = nil
		if t.Status == StatusNew {
			t.Status = StatusOpen
		}
	case m.AuthorKind == AuthorCustomer:
		if t.Status == StatusPending || t.Status == StatusOnHold || t.Status == StatusSolved {
			t.Status, t.PendingUntil = StatusOpen, nil
		}
		if c.firstResponseAt != nil && c.nextResponseFrom == nil {
			at := now
			c.nextResponseFrom = &at
			c.nextResponsePaused = c.pausedSeconds
		}
	}
	return from, t.Status != from
}

func insertMessage(ctx context.Context, q store.Q, tenant string, m *Message) error {
	_, err := q.Exec(ctx, `INSERT INTO crm_ticket_messages (tenant_id, id, ticket_id, public, author_kind, author_id, body, attachments, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, tenant, m.ID, m.TicketID, m.Public, string(m.AuthorKind), m.AuthorID, m.Body,
		string(store.JSON(m.Attachments)), m.CreatedAt)
	return err
}

const messageColumns = `m.id, m.ticket_id, m.public, m.author_kind, m.author_id, m.body, m.attachments, m.created_at`

func scanMessage(r store.Scanner) (*Message, error) {
	var m Message
	var kind string
	var att []byte
	if err := r.Scan(&m.ID, &m.TicketID, &m.Public, &kind, &m.AuthorID, &m.Body, &att, &m.CreatedAt); err != nil {
		return nil, err
	}
	m.AuthorKind = AuthorKind(kind)
	m.CreatedAt = m.CreatedAt.UTC()
	if err := json.Unmarshal(att, &m.Attachments); err != nil {
		return nil, fmt.Errorf("decode attachments of message %s: %w", m.ID, err)
	}
	if m.Attachments == nil {
		m.Attachments = []Attachment{}
	}
	return &m, nil
}

// AddMessage adds a message to the ticket and emits
// "ticket.message_added" (and "ticket.status_changed" when it reopens or
// opens the ticket; see Message for how messages move the SLA clock). A
// closed ticket takes no messages (ErrInvalid): open a new one.
func (s *Tickets) AddMessage(ctx context.Context, ticketID core.ID, in NewMessage) (_ *Message, err error) {
	ctx, span := s.sc.SpanID(ctx, "tickets.Tickets.AddMessage", ticketID)
	defer span.End(&err)

	var msg *Message
	_, err = s.change(ctx, ticketID, anyVersion, "add ticket message", false, func(ctx context.Context, tx *store.Tx, _ *guard, t *Ticket, now time.Time) ([]func(*Ticket) (string, any), error) {
		v := &core.ValidationError{}
		if t.Status == StatusClosed {
			v.Add("ticket_id", "ticket %s is closed: open a new ticket", t.ID)
		}
		msg = checkMessage(v, "", t.ID, in, now)
		if err := v.Err(); err != nil {
			return nil, err
		}
		tenant, _ := s.sc.Tenant()
		if err := insertMessage(ctx, tx.Q(), tenant, msg); err != nil {
			return nil, err
		}
		events := []func(*Ticket) (string, any){func(t *Ticket) (string, any) {
			return EventTicketMessageAdded, MessageAdded{TicketID: t.ID, Number: t.Number, Message: msg}
		}}
		if from, changed := applyMessage(t, msg, now); changed {
			events = append(events, func(t *Ticket) (string, any) {
				return EventTicketStatusChanged, StatusChanged{Ticket: t, From: from, To: t.Status}
			})
		}
		return events, nil
	})
	if err != nil {
		return nil, err
	}
	return msg, nil
}

// Messages returns the ticket's messages, public and internal, oldest
// first. Whoever may read the ticket reads its internal messages too:
// they are the agents' notes, and this API is the agents' (a customer
// never reads through it; a host's customer portal shows the public
// ones).
func (s *Tickets) Messages(ctx context.Context, ticketID core.ID) (_ []*Message, err error) {
	ctx, span := s.sc.SpanID(ctx, "tickets.Tickets.Messages", ticketID)
	defer span.End(&err)

	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return nil, err
	}
	tenant, _ := s.sc.Tenant()
	if _, err := g.ticket(ctx, s.sc.Q(), tenant, ticketID, access.Read, false); err != nil {
		return nil, store.Wrap(g.done(ctx, err), "list ticket messages")
	}
	out, err := listMessages(ctx, s.sc.Q(), tenant, ticketID)
	return out, store.Wrap(err, "list ticket messages")
}

func listMessages(ctx context.Context, q store.Q, tenant string, ticketID core.ID) ([]*Message, error) {
	rows, err := q.Query(ctx, `SELECT `+messageColumns+` FROM crm_ticket_messages m WHERE m.tenant_id = ? AND m.ticket_id = ?
		ORDER BY m.created_at, m.id`, tenant, ticketID)
	if err != nil {
		return nil, err
	}
	out := []*Message{}
	err = store.EachRow(rows, func(r store.Scanner) error {
		m, err := scanMessage(r)
		out = append(out, m)
		return err
	})
	return out, err
}

// Merge folds the duplicate ticket source (at sourceVersion) into target:
// source's messages move to target, and source is closed with a reference
// to target (Ticket.MergedInto). Both get "ticket.merged"; source also
// "ticket.status_changed". A closed or already merged source, a closed
// target, or a ticket merged into itself is ErrInvalid. It returns the
// target.
func (s *Tickets) Merge(ctx context.Context, sourceID core.ID, sourceVersion int64, targetID core.ID) (_ *Ticket, err error) {
	ctx, span := s.sc.SpanID(ctx, "tickets.Tickets.Merge", sourceID)
	defer span.End(&err)

	if err := core.CheckVersion(sourceVersion); err != nil {
		return nil, err
	}
	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return nil, err
	}
	var out *Ticket
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		q := tx.Q()
		now := tx.Runtime().Now()
		// The routing first: every transaction that routes locks it before
		// any ticket.
		r, err := lockRouter(ctx, s.sc.WithTx(tx), tx, tenant)
		if err != nil {
			return err
		}
		src, err := g.ticket(ctx, q, tenant, sourceID, access.Update, true)
		if err != nil {
			return err
		}
		if sourceID == targetID {
			return core.Invalid("target_id", "a ticket cannot be merged into itself")
		}
		if src.Version != sourceVersion {
			return fmt.Errorf("%w: ticket %s is at version %d, not %d; read it again", core.ErrConflict, sourceID, src.Version, sourceVersion)
		}
		dst, err := g.ticket(ctx, q, tenant, targetID, access.Update, true)
		if err != nil {
			return err
		}
		v := &core.ValidationError{}
		if src.Status == StatusClosed {
			v.Add("source_id", "ticket %s is closed", src.ID)
		}
		if dst.Status == StatusClosed {
			v.Add("target_id", "ticket %s is closed", dst.ID)
		}
		if err := v.Err(); err != nil {
			return err
		}
		res, err := q.Exec(ctx, `UPDATE crm_ticket_messages SET ticket_id = ? WHERE tenant_id = ? AND ticket_id = ?`, dst.ID, tenant, src.ID)
		if err != nil {
			return err
		}
		moved, _ := res.RowsAffected()
		env, err := loadSLA(ctx, s.sc.WithTx(tx), now)
		if err != nil {
			return err
		}
		payload := Merged{SourceID: src.ID, TargetID: dst.ID, Messages: moved}
		from := src.Status
		nsrc := src.clone()
		nsrc.Status, nsrc.PendingUntil, nsrc.MergedInto, nsrc.QueuedAt = StatusClosed, nil, &dst.ID, nil
		ndst := dst.clone()
		for _, x := range []struct{ cur, next *Ticket }{{src, nsrc}, {dst, ndst}} {
			if err := env.apply(ctx, x.next, now); err != nil {
				return err
			}
			x.next.UpdatedAt, x.next.Version = now, x.cur.Version+1
			if err := updateTicket(ctx, q, tenant, x.next, x.cur.Version); err != nil {
				return err
			}
			if err := schedule(ctx, tx, tenant, x.next, env.policy(x.next.clock.policyID)); err != nil {
				return err
			}
			if err := env.fill(ctx, x.next, now); err != nil {
				return err
			}
		}
		for _, ev := range []core.Event{
			ticketEvent(tenant, EventTicketStatusChanged, nsrc, now, StatusChanged{Ticket: nsrc, From: from, To: StatusClosed}),
			ticketEvent(tenant, EventTicketMerged, nsrc, now, payload),
			ticketEvent(tenant, EventTicketMerged, ndst, now, payload),
		} {
			if err := tx.Emit(ctx, ev); err != nil {
				return err
			}
		}
		out = ndst
		if r != nil {
			if frees(src, nsrc) {
				if err := r.freed(ctx); err != nil {
					return err
				}
			}
			return r.save(ctx)
		}
		return nil
	})
	if err != nil {
		return nil, store.Wrap(g.done(ctx, err), "merge tickets")
	}
	return out, nil
}
