package tickets_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/tickets"
)

// solved creates a ticket and solves it.
func (b *bundle) solved(t *testing.T) *tickets.Ticket {
	t.Helper()
	tk := b.ticket(t, tickets.NewTicket{})
	tk, err := b.c.Tickets.SetStatus(context.Background(), tk.ID, tickets.StatusChange{Version: tk.Version, Status: tickets.StatusSolved})
	require.NoError(t, err)
	return tk
}

// A solved ticket's survey link is answered once: the score lands on the
// ticket with "ticket.rated"; the same link again, a replaced one, an
// expired one, a forged or altered one, and another tenant's are refused.
func TestSurveys(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		b := setup(t, db)
		ctx := context.Background()

		open := b.ticket(t, tickets.NewTicket{})
		_, err := b.c.Tickets.Survey(ctx, open.ID, tickets.SurveyCSAT)
		require.Equal(t, []string{"ticket_id"}, fieldsOf(t, err), "a survey follows a solved ticket")
		tk := b.solved(t)
		_, err = b.c.Tickets.Survey(ctx, tk.ID, "stars")
		require.Equal(t, []string{"kind"}, fieldsOf(t, err))

		csat, err := b.c.Tickets.Survey(ctx, tk.ID, tickets.SurveyCSAT)
		require.NoError(t, err)
		require.Equal(t, b.clock.Now().Add(tickets.DefaultSurveyTTL).Unix(), csat.ExpiresAt.Unix())
		nps, err := b.c.Tickets.Survey(ctx, tk.ID, tickets.SurveyNPS)
		require.NoError(t, err)
		tenant, err := b.c.Tickets.SurveyTenant(csat.Token)
		require.NoError(t, err)
		require.Equal(t, crm.DefaultTenant, tenant)

		// Out of range: nothing written, the link still good.
		_, err = b.c.Tickets.AnswerSurvey(ctx, csat.Token, 6)
		require.Equal(t, []string{"score"}, fieldsOf(t, err))
		_, err = b.c.Tickets.AnswerSurvey(ctx, nps.Token, 11)
		require.Equal(t, []string{"score"}, fieldsOf(t, err))

		rated, err := b.c.Tickets.AnswerSurvey(ctx, csat.Token, 4)
		require.NoError(t, err)
		require.Equal(t, 4, *rated.CSAT)
		require.Nil(t, rated.NPS)
		require.Equal(t, tk.Version+1, rated.Version)
		rated, err = b.c.Tickets.AnswerSurvey(ctx, nps.Token, 0)
		require.NoError(t, err)
		require.Equal(t, 0, *rated.NPS)
		require.Equal(t, 4, *rated.CSAT)
		require.Contains(t, b.eventTypes(t, tk.ID), tickets.EventTicketRated)
		n, err := b.c.Tickets.Count(ctx, filter.Lte("csat", 4))
		require.NoError(t, err)
		require.EqualValues(t, 1, n)

		// Reused.
		_, err = b.c.Tickets.AnswerSurvey(ctx, csat.Token, 5)
		require.ErrorIs(t, err, tickets.ErrSurveyInvalid)
		require.ErrorIs(t, err, core.ErrInvalid)
		got, err := b.c.Tickets.Get(ctx, tk.ID)
		require.NoError(t, err)
		require.Equal(t, 4, *got.CSAT, "a used link changes nothing")

		// Replaced by a newer link of its kind.
		first, err := b.c.Tickets.Survey(ctx, tk.ID, tickets.SurveyCSAT)
		require.NoError(t, err)
		second, err := b.c.Tickets.Survey(ctx, tk.ID, tickets.SurveyCSAT)
		require.NoError(t, err)
		_, err = b.c.Tickets.AnswerSurvey(ctx, first.Token, 1)
		require.ErrorIs(t, err, tickets.ErrSurveyInvalid)

		// Altered: every byte of the payload and of the signature matters.
		payload, sig, _ := strings.Cut(second.Token, ".")
		raw, err := base64.RawURLEncoding.DecodeString(payload)
		require.NoError(t, err)
		altered := base64.RawURLEncoding.EncodeToString(bytes.Replace(raw, []byte(`"k":"csat"`), []byte(`"k":"nps"`), 1)) + "." + sig
		for _, bad := range []string{altered, payload + "." + sig[:len(sig)-2] + "AA", payload, "", "x.y", strings.Repeat("a", 5000)} {
			_, err = b.c.Tickets.AnswerSurvey(ctx, bad, 3)
			require.ErrorIs(t, err, tickets.ErrSurveyInvalid, "%q", bad)
		}

		// Forged: signed with another secret, for a ticket of this database.
		other, err := crm.New(db, crm.Config{Clock: b.clock, Secret: []byte("another-secret-another-secret-another!")})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, other.Close()) })
		forged, err := other.Tickets.Survey(ctx, tk.ID, tickets.SurveyNPS)
		require.NoError(t, err)
		_, err = b.c.Tickets.AnswerSurvey(ctx, forged.Token, 1)
		require.ErrorIs(t, err, tickets.ErrSurveyInvalid)

		// Another tenant's link does not answer here.
		acme := b.c.Tenant("acme")
		p, err := acme.Contacts.Create(ctx, contacts.NewContact{Email: "grace@example.com"})
		require.NoError(t, err)
		at, err := acme.Tickets.Create(ctx, tickets.NewTicket{Subject: "Hi", ContactID: p.ID, Status: tickets.StatusOpen})
		require.NoError(t, err)
		at, err = acme.Tickets.SetStatus(ctx, at.ID, tickets.StatusChange{Version: at.Version, Status: tickets.StatusSolved})
		require.NoError(t, err)
		theirs, err := acme.Tickets.Survey(ctx, at.ID, tickets.SurveyNPS)
		require.NoError(t, err)
		_, err = b.c.Tickets.AnswerSurvey(ctx, theirs.Token, 9)
		require.ErrorIs(t, err, tickets.ErrSurveyInvalid)

		// Expired: the link's last second passes.
		b.clock.Set(second.ExpiresAt, 0)
		_, err = b.c.Tickets.AnswerSurvey(ctx, second.Token, 5)
		require.ErrorIs(t, err, tickets.ErrSurveyInvalid)
		b.clock.Set(second.ExpiresAt.Add(-time.Second), 0)
		_, err = b.c.Tickets.AnswerSurvey(ctx, second.Token, 5)
		require.NoError(t, err, "a second before, it answers")
	})
}

// Many answers of one link at once: exactly one is taken.
func TestSurveyAnsweredOnceUnderConcurrency(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		tk := b.solved(t)
		link, err := b.c.Tickets.Survey(ctx, tk.ID, tickets.SurveyNPS)
		require.NoError(t, err)
		const n = 10
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { _, errs[i] = b.c.Tickets.AnswerSurvey(ctx, link.Token, i) })
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else {
				require.ErrorIs(t, err, tickets.ErrSurveyInvalid)
			}
		}
		require.Equal(t, 1, ok)
		var rated int
		evs, err := b.c.Events(ctx, crm.EventQuery{SubjectID: tk.ID, Limit: 100})
		require.NoError(t, err)
		for _, ev := range evs {
			if ev.Type == tickets.EventTicketRated {
				rated++
			}
		}
		require.Equal(t, 1, rated)
	})
}

// Issuing a link is a change of the ticket: "tickets" update, and a
// ticket the actor sees; answering needs no actor's permission.
func TestSurveyAccess(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		_, err := b.c.Access.Roles.InstallBuiltins(ctx)
		require.NoError(t, err)
		for _, u := range []struct{ id, role string }{{"rita", access.RoleReadOnly}, {"sam", access.RoleSupport}} {
			_, err := b.c.Access.Users.Create(ctx, access.UserInput{ID: u.id, DisplayName: u.id, Roles: []string{u.role}})
			require.NoError(t, err)
		}
		tk := b.solved(t)
		_, err = b.c.Tickets.Survey(as("rita"), tk.ID, tickets.SurveyCSAT)
		require.ErrorIs(t, err, core.ErrForbidden)
		_, err = b.c.Tickets.Survey(as("sam"), tk.ID, tickets.SurveyCSAT)
		require.ErrorIs(t, err, core.ErrNotFound, "sam does not see an unassigned ticket")
		link, err := b.c.Tickets.Survey(ctx, tk.ID, tickets.SurveyCSAT)
		require.NoError(t, err)
		rated, err := b.c.Tickets.AnswerSurvey(as("rita"), link.Token, 5)
		require.NoError(t, err)
		require.Equal(t, 5, *rated.CSAT)
	})
}

func FuzzParseSurveyToken(f *testing.F) {
	key := bytes.Repeat([]byte{7}, 32)
	f.Add("eyJ0IjoiZGVmYXVsdCJ9.AAAA")
	f.Add("x.y")
	f.Add("")
	f.Fuzz(func(t *testing.T, token string) {
		tenant, survey, kind, err := tickets.ParseSurveyToken([][]byte{key}, token)
		if err == nil {
			// Nothing but a token signed with key verifies.
			t.Fatalf("a token not signed verified: %q %s %s", tenant, survey, kind)
		}
		require.ErrorIs(t, err, tickets.ErrSurveyInvalid)
	})
}
