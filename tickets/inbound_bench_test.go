package tickets_test

// Mail intake against hand-written SQL: each iteration takes one new
// request (a multipart/alternative mail, quoted-printable, from one of
// 100 known contacts) and opens a ticket with its message:
//
//	CRM_TEST_POSTGRES_DSN=… go test -run XXX -bench Inbound -benchtime 2000x -count 5 ./tickets
//
// crmkit is Tickets.Inbound (parse, duplicate check, contact by address,
// threading, Create with its checks, routing and SLA lookups, events,
// the Message-ID row). raw parses with ParseMail too and does the same
// writes by hand in one transaction: the duplicate check, the contact by
// address, the number, the ticket, the message, two events and the
// Message-ID row.

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/tickets"
)

const benchSenders = 100

// benchMail is the i-th mail of a run (run tells runs apart, so that no
// Message-ID repeats).
func benchMail(run string, i int) []byte {
	return []byte(fmt.Sprintf("Return-Path: <customer-%[2]d@example.com>\r\n"+
		"MIME-Version: 1.0\r\nDate: Mon, 2 Mar 2026 08:59:03 +0100\r\n"+
		"Message-ID: <%[1]s-%[3]d@mail.example.com>\r\n"+
		"From: Customer %[2]d <customer-%[2]d@example.com>\r\nTo: Support <support@support.example>\r\n"+
		"Subject: =?UTF-8?Q?Order_%[3]d_=E2=80=93_damaged?=\r\n"+
		"Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n"+
		"--b1\r\nContent-Type: text/plain; charset=\"UTF-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"+
		"Hello,\r\n\r\nmy order %[3]d arrived damaged: the box was wet and the gl=C3=A4ss is broken.=\r\n Please send a new one.\r\n\r\nThanks\r\n"+
		"--b1\r\nContent-Type: text/html; charset=\"UTF-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"+
		"<p>Hello,</p><p>my order %[3]d arrived damaged: the box was wet and the gl=C3=A4ss is broken. Please send a new one.</p><p>Thanks</p>\r\n"+
		"--b1--\r\n", run, i%benchSenders, i))
}

func inboundData(b *testing.B, db *bun.DB) *crm.CRM {
	ctx := context.Background()
	c, err := crm.New(db, crm.Config{Clock: dbtest.NewClock(utc("2026-03-02T08:00:00Z"))})
	require.NoError(b, err)
	require.NoError(b, c.Migrate(ctx))
	b.Cleanup(func() { _ = c.Close() })
	for i := range benchSenders {
		_, err := c.Contacts.Create(ctx, contacts.NewContact{Email: fmt.Sprintf("customer-%d@example.com", i), FirstName: "Customer"})
		require.NoError(b, err)
	}
	return c
}

// BenchmarkInbound opens a ticket from a mail per iteration.
func BenchmarkInbound(b *testing.B) {
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			var db *bun.DB
			if name == "sqlite" {
				db = dbtest.SQLite(b)
			} else {
				db = dbtest.Postgres(b)
			}
			c := inboundData(b, db)
			ctx := context.Background()
			runs := 0
			b.Run("crmkit", func(b *testing.B) {
				runs++
				run := fmt.Sprintf("crmkit%d", runs)
				i := 0
				for b.Loop() {
					res, err := c.Tickets.Inbound(ctx, bytes.NewReader(benchMail(run, i)), tickets.InboundOptions{})
					if err != nil || res.Outcome != tickets.InboundCreated {
						b.Fatal(err, res)
					}
					i++
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "mails/s")
			})
			b.Run("raw", func(b *testing.B) {
				runs++
				run := fmt.Sprintf("raw%d", runs)
				d, err := dialect.For(db)
				require.NoError(b, err)
				st := prepareRaw(b, db.DB, d)
				i := 0
				for b.Loop() {
					m, err := tickets.ParseMail(bytes.NewReader(benchMail(run, i)), tickets.ParseOptions{})
					if err != nil {
						b.Fatal(err)
					}
					if err := rawInbound(ctx, db.DB, d, st, m); err != nil {
						b.Fatal(err)
					}
					i++
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "mails/s")
			})
		})
	}
}

// rawStmts are the statements of rawInbound, prepared once.
type rawStmts struct {
	dup, contact, counter, number, ticket, message, event, mail *sql.Stmt
}

func prepareRaw(b *testing.B, db *sql.DB, d *dialect.Dialect) *rawStmts {
	ctx := context.Background()
	prep := func(s string) *sql.Stmt {
		st, err := db.PrepareContext(ctx, d.Rebind(s))
		require.NoError(b, err)
		b.Cleanup(func() { _ = st.Close() })
		return st
	}
	return &rawStmts{
		dup:     prep(`SELECT count(*) FROM crm_ticket_mail WHERE tenant_id = ? AND msgid = ?`),
		contact: prep(`SELECT id FROM crm_contacts WHERE tenant_id = ? AND email = ?`),
		counter: prep(`INSERT INTO crm_ticket_counters (tenant_id, last) VALUES (?, 0) ON CONFLICT (tenant_id) DO NOTHING`),
		number:  prep(`UPDATE crm_ticket_counters SET last = last + 1 WHERE tenant_id = ? RETURNING last`),
		ticket: prep(`INSERT INTO crm_tickets (tenant_id, id, number, subject, contact_id, channel, status, priority, tags, attributes,
			language, sla_due, created_at, updated_at, version) VALUES (?, ?, ?, ?, ?, 'email', 'new', 'normal', '[]', '{}', ?, ?, ?, ?, 1)`),
		message: prep(`INSERT INTO crm_ticket_messages (tenant_id, id, ticket_id, public, author_kind, author_id, body, attachments, created_at)
			VALUES (?, ?, ?, ?, 'customer', '', ?, '[]', ?)`),
		event: prep(`INSERT INTO crm_events (tenant_id, id, type, subject_type, subject_id, contact_id, actor_id, occurred_at, data)
			VALUES (?, ?, ?, 'ticket', ?, ?, '', ?, ?)`),
		mail: prep(`INSERT INTO crm_ticket_mail (tenant_id, msgid, ticket_id, ticket_message_id, direction, created_at)
			VALUES (?, ?, ?, ?, 'in', ?)`),
	}
}

// rawInbound stores m as a new ticket by hand-written SQL: the same
// rows crmkit writes (the ticket, its message, two events, the
// Message-ID), in one transaction, with prepared statements.
func rawInbound(ctx context.Context, db *sql.DB, d *dialect.Dialect, st *rawStmts, m *tickets.Mail) error {
	var n int
	if err := st.dup.QueryRowContext(ctx, "default", m.MessageID).Scan(&n); err != nil || n > 0 {
		return fmt.Errorf("duplicate check: %v %d", err, n)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	s := func(st *sql.Stmt) *sql.Stmt { return tx.StmtContext(ctx, st) }
	var contact core.ID
	if err := s(st.contact).QueryRowContext(ctx, "default", m.From.Email).Scan(&contact); err != nil {
		return err
	}
	if _, err := s(st.counter).ExecContext(ctx, "default"); err != nil {
		return err
	}
	var number int64
	if err := s(st.number).QueryRowContext(ctx, "default").Scan(&number); err != nil {
		return err
	}
	now := d.Time(time.Now().UTC())
	ticket, msg := core.NewID(), core.NewID()
	if _, err := s(st.ticket).ExecContext(ctx, "default", ticket, number, m.Subject, contact, m.Language,
		d.Time(time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)), now, now); err != nil {
		return err
	}
	if _, err := s(st.message).ExecContext(ctx, "default", msg, ticket, true, m.Text, now); err != nil {
		return err
	}
	for _, typ := range []string{tickets.EventTicketCreated, tickets.EventTicketMessageAdded} {
		data := fmt.Sprintf(`{"id":%q,"number":%d,"subject":%q,"body":%q}`, ticket, number, m.Subject, m.Text)
		if _, err := s(st.event).ExecContext(ctx, "default", core.NewID(), typ, ticket, contact, now, data); err != nil {
			return err
		}
	}
	if _, err := s(st.mail).ExecContext(ctx, "default", m.MessageID, ticket, msg, now); err != nil {
		return err
	}
	return tx.Commit()
}
