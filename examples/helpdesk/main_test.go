package main

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/tickets"
)

// The helpdesk's story runs for real on each database, its SLA timers on
// the workers; the test then reads what it left.
func TestHelpdesk(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		testHelpdesk(t, "file:"+filepath.Join(t.TempDir(), "helpdesk.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		dsn, schema := dbtest.PostgresSchema(t)
		testHelpdesk(t, dbtest.WithSearchPath(dsn, schema))
	})
}

func testHelpdesk(t *testing.T, dsn string) {
	ctx := context.Background()
	var out bytes.Buffer
	require.NoError(t, run(ctx, []string{"-dsn", dsn}, &out))
	t.Log("\n" + out.String())
	for _, line := range []string{
		`08:50  1-login.eml: new ticket #1 "Cannot log in since this morning" for support/mia, first response due Mon 10:00`,
		"08:50  1-login.eml: duplicate",
		`09:10  2-rechnung.eml: new ticket #2 "Rechnung doppelt abgebucht" for dach/lena, first response due Mon 10:10`,
		"09:10  3-out-of-office.eml: ignored (auto_submitted)",
		"09:40  4-login-reply.eml: added to #1 (found by in_reply_to)",
		"first response met 09:30  next response due 11:40",
		"09:56  ticket.sla_warning: #2 first_response due 10:10",
		"10:11  ticket.sla_breached: #2 first_response due 10:10",
		"first response BREACHED (due 10:10)",
	} {
		require.Contains(t, out.String(), line)
	}
	// The clock runs on between its moves: a second more or less.
	require.Regexp(t, `first response due 10:10 \((29|30) min left\)`, out.String())

	c, err := crm.Open(ctx, crm.Config{DSN: dsn})
	require.NoError(t, err)
	defer c.Close()
	n, err := c.Tickets.Count(ctx, filter.Expr{})
	require.NoError(t, err)
	require.EqualValues(t, 2, n, "a duplicate and an auto-reply open no ticket")

	login, err := c.Tickets.GetByNumber(ctx, 1)
	require.NoError(t, err)
	msgs, err := c.Tickets.Messages(ctx, login.ID)
	require.NoError(t, err)
	require.Len(t, msgs, 3)
	require.Equal(t, []tickets.AuthorKind{tickets.AuthorCustomer, tickets.AuthorAgent, tickets.AuthorCustomer},
		[]tickets.AuthorKind{msgs[0].AuthorKind, msgs[1].AuthorKind, msgs[2].AuthorKind})
	require.Contains(t, msgs[2].Body, "I see no invoices at all")

	invoice, err := c.Tickets.GetByNumber(ctx, 2)
	require.NoError(t, err)
	require.Equal(t, "de", invoice.Language)
	msgs, err = c.Tickets.Messages(ctx, invoice.ID)
	require.NoError(t, err)
	require.Contains(t, msgs[0].Body, "zurück", "ISO-8859-1, quoted-printable, decoded")
	bernd, err := c.Contacts.Get(ctx, *invoice.ContactID)
	require.NoError(t, err)
	require.Equal(t, "Bernd Müller", bernd.Name())

	// Each alert was raised once, by the timers.
	alerts, err := c.Events(ctx, crm.EventQuery{Types: []string{tickets.EventTicketSLAWarning, tickets.EventTicketSLABreached}})
	require.NoError(t, err)
	var got []string
	for _, ev := range alerts {
		require.Equal(t, invoice.ID, ev.SubjectID)
		got = append(got, ev.Type)
	}
	require.Equal(t, []string{tickets.EventTicketSLAWarning, tickets.EventTicketSLABreached}, got)

	_, err = c.Contacts.GetByEmail(ctx, "carla@example.it")
	require.ErrorIs(t, err, core.ErrNotFound, "an ignored mail creates no contact")
}
