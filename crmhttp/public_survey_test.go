package crmhttp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/tickets"
)

// solvedTicket creates a ticket of a new contact in c and solves it.
func solvedTicket(t *testing.T, c *crm.CRM, email string) *tickets.Ticket {
	t.Helper()
	ctx := context.Background()
	ct, err := c.Contacts.Create(ctx, contacts.NewContact{Email: email})
	require.NoError(t, err)
	tk, err := c.Tickets.Create(ctx, tickets.NewTicket{Subject: "The invoice of " + email + " is wrong", ContactID: ct.ID})
	require.NoError(t, err)
	tk, err = c.Tickets.SetStatus(ctx, tk.ID, tickets.StatusChange{Version: tk.Version, Status: tickets.StatusSolved})
	require.NoError(t, err)
	return tk
}

// The survey link: the page shows the kind's scale (CSAT 1–5, NPS 0–10)
// and a comment field and records nothing; the POST records the score,
// and the comment as the customer's message without reopening the
// ticket; a second answer is refused as the tickets module defines;
// malformed answers, forged, foreign and expired links are refused and
// write nothing.
func TestPublicSurvey(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		b := setupPublic(t, db, crm.Config{})
		acme := b.c.Tenant("acme")
		tk := solvedTicket(t, acme, "ada@example.com")
		csat, err := acme.Tickets.Survey(ctx, tk.ID, tickets.SurveyCSAT)
		require.NoError(t, err)
		nps, err := acme.Tickets.Survey(ctx, tk.ID, tickets.SurveyNPS)
		require.NoError(t, err)
		path := "/public/survey/" + csat.Token
		unchanged := func() {
			t.Helper()
			got, err := acme.Tickets.Get(ctx, tk.ID)
			require.NoError(t, err)
			require.Nil(t, got.CSAT)
			require.Nil(t, got.NPS)
			require.Equal(t, tk.Version, got.Version)
			msgs, err := acme.Tickets.Messages(ctx, tk.ID)
			require.NoError(t, err)
			require.Empty(t, msgs)
		}

		// The pages ask on the kind's scale and record nothing.
		status, page := b.get(path)
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, page, "How satisfied are you")
		for s := 1; s <= 5; s++ {
			require.Contains(t, page, fmt.Sprintf(`<input type="radio" name="score" id="score-%d" value="%d" required><label for="score-%d">%d</label>`, s, s, s, s))
		}
		require.NotContains(t, page, `value="0"`)
		require.NotContains(t, page, `value="6"`)
		require.Contains(t, page, `<label for="comment">`)
		require.Contains(t, page, `<textarea id="comment" name="comment"`)
		require.NotContains(t, page, "ada@example.com")
		require.NotContains(t, page, "invoice", "the ticket's subject may hold personal data")
		status, page = b.get("/public/survey/" + nps.Token)
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, page, "How likely are you to recommend us")
		require.Contains(t, page, `value="0" required>`)
		require.Contains(t, page, `value="10" required>`)
		require.NotContains(t, page, `value="11"`)
		unchanged()

		// Answers that are not the form's: refused, nothing written.
		for _, bad := range []struct {
			status            int
			contentType, body string
		}{
			{http.StatusBadRequest, "application/json", `{"score": 4}`},
			{http.StatusBadRequest, "application/x-www-form-urlencoded", "score=4&comment=" + strings.Repeat("a", 70<<10)},
			{http.StatusUnprocessableEntity, "application/x-www-form-urlencoded", ""},
			{http.StatusUnprocessableEntity, "application/x-www-form-urlencoded", "score=6"},
			{http.StatusUnprocessableEntity, "application/x-www-form-urlencoded", "score=0"},
			{http.StatusUnprocessableEntity, "application/x-www-form-urlencoded", "score=four"},
			{http.StatusUnprocessableEntity, "application/x-www-form-urlencoded", "score=4&score=5"},
			{http.StatusUnprocessableEntity, "application/x-www-form-urlencoded", url.Values{"score": {"4"}, "comment": {strings.Repeat("é", tickets.MaxSurveyComment)}}.Encode()},
			{http.StatusUnprocessableEntity, "application/x-www-form-urlencoded", url.Values{"score": {"4"}, "comment": {"bad\x00byte"}}.Encode()},
		} {
			status, page := b.postRaw(path, bad.contentType, bad.body)
			require.Equal(t, bad.status, status, bad.body)
			if status == http.StatusUnprocessableEntity {
				require.Contains(t, page, `role="alert"`)
				require.Contains(t, page, `name="score"`, "the form again")
			}
		}
		unchanged()

		// Answered: the score on the ticket, the comment its message; the
		// ticket stays solved.
		status, page = b.post(path, url.Values{"score": {"4"}, "comment": {"  Quick and kind, thank you.  "}})
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, page, "Your answer is recorded.")
		got, err := acme.Tickets.Get(ctx, tk.ID)
		require.NoError(t, err)
		require.Equal(t, 4, *got.CSAT)
		require.Nil(t, got.NPS)
		require.Equal(t, tickets.StatusSolved, got.Status)
		msgs, err := acme.Tickets.Messages(ctx, tk.ID)
		require.NoError(t, err)
		require.Len(t, msgs, 1)
		require.Equal(t, "Quick and kind, thank you.", msgs[0].Body)
		require.Equal(t, tickets.AuthorCustomer, msgs[0].AuthorKind)
		require.True(t, msgs[0].Public)
		evs, err := acme.Events(ctx, crm.EventQuery{SubjectID: tk.ID, Types: []string{tickets.EventTicketRated}, Limit: 10})
		require.NoError(t, err)
		require.Len(t, evs, 1)
		var rated tickets.Rated
		require.NoError(t, json.Unmarshal(evs[0].Data, &rated))
		require.Equal(t, 4, rated.Score)
		require.Equal(t, &msgs[0].ID, rated.CommentID)

		// A second answer is refused (a link answers once): 410, the
		// first stays; the page says the survey is closed.
		status, page = b.post(path, url.Values{"score": {"1"}})
		require.Equal(t, http.StatusGone, status)
		require.Contains(t, page, "This survey is closed")
		status, _ = b.get(path)
		require.Equal(t, http.StatusGone, status)
		got, err = acme.Tickets.Get(ctx, tk.ID)
		require.NoError(t, err)
		require.Equal(t, 4, *got.CSAT)

		// NPS without a comment: no message.
		status, _ = b.post("/public/survey/"+nps.Token, url.Values{"score": {"0"}, "comment": {"   "}})
		require.Equal(t, http.StatusOK, status)
		got, err = acme.Tickets.Get(ctx, tk.ID)
		require.NoError(t, err)
		require.Equal(t, 0, *got.NPS)
		msgs, err = acme.Tickets.Messages(ctx, tk.ID)
		require.NoError(t, err)
		require.Len(t, msgs, 1)

		// Forged, altered, of another kind of link: 404. A token of the
		// right key for another tenant does not reach acme's survey: 410,
		// and the survey still answers afterwards.
		other := solvedTicket(t, acme, "bob@example.com")
		open, err := acme.Tickets.Survey(ctx, other.ID, tickets.SurveyCSAT)
		require.NoError(t, err)
		unsub := signConsent(t, tokenKey, "unsub", "acme", *other.ContactID, "newsletter", time.Time{})
		for _, token := range []string{"forged", altered(open.Token), unsub} {
			status, page := b.get("/public/survey/" + token)
			require.Equal(t, http.StatusNotFound, status, token)
			require.Contains(t, page, "This link does not work")
			status, _ = b.post("/public/survey/"+token, url.Values{"score": {"5"}})
			require.Equal(t, http.StatusNotFound, status, token)
		}
		foreign := signSurvey(t, tokenKey, "globex", open.ID, "csat", b.clock.Now().Add(time.Hour))
		status, page = b.get("/public/survey/" + foreign)
		require.Equal(t, http.StatusGone, status)
		require.NotContains(t, page, "bob@example.com")
		status, _ = b.post("/public/survey/"+foreign, url.Values{"score": {"5"}})
		require.Equal(t, http.StatusGone, status)
		got, err = acme.Tickets.Get(ctx, other.ID)
		require.NoError(t, err)
		require.Nil(t, got.CSAT)

		// Answers arriving together: one is recorded, the others refused.
		third := solvedTicket(t, acme, "eve@example.com")
		race, err := acme.Tickets.Survey(ctx, third.ID, tickets.SurveyCSAT)
		require.NoError(t, err)
		statuses := make(chan int, 5)
		var wg sync.WaitGroup
		for i := range 5 {
			wg.Go(func() {
				res, err := b.srv.Client().PostForm(b.srv.URL+"/public/survey/"+race.Token, url.Values{"score": {strconv.Itoa(i + 1)}})
				if err != nil {
					statuses <- 0
					return
				}
				res.Body.Close()
				statuses <- res.StatusCode
			})
		}
		wg.Wait()
		close(statuses)
		ok := 0
		for st := range statuses {
			if st == http.StatusOK {
				ok++
			} else {
				require.Contains(t, []int{http.StatusGone, http.StatusConflict}, st)
			}
		}
		require.Equal(t, 1, ok)
		got, err = acme.Tickets.Get(ctx, third.ID)
		require.NoError(t, err)
		require.NotNil(t, got.CSAT)
		require.Equal(t, third.Version+1, got.Version)

		// Expired: 410, nothing written.
		b.clock.advance(tickets.DefaultSurveyTTL + time.Second)
		status, _ = b.get("/public/survey/" + open.Token)
		require.Equal(t, http.StatusGone, status)
		status, _ = b.post("/public/survey/"+open.Token, url.Values{"score": {"5"}})
		require.Equal(t, http.StatusGone, status)
		got, err = acme.Tickets.Get(ctx, other.ID)
		require.NoError(t, err)
		require.Nil(t, got.CSAT)
		require.Equal(t, other.Version, got.Version)
	})
}

// What the survey page's POST calls lists the score's and the comment's
// problems at once and writes nothing.
func TestSubmitSurveyListsEveryProblem(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		b := setupPublic(t, db, crm.Config{})
		acme := b.c.Tenant("acme")
		tk := solvedTicket(t, acme, "ada@example.com")
		link, err := acme.Tickets.Survey(ctx, tk.ID, tickets.SurveyNPS)
		require.NoError(t, err)
		_, err = acme.Tickets.SubmitSurvey(ctx, link.Token, tickets.SurveyAnswer{Score: 11, Comment: strings.Repeat("x", tickets.MaxSurveyComment+1)})
		require.Equal(t, []string{"score", "comment"}, fieldsOf(t, err))
		kind, err := acme.Tickets.SurveyQuestion(ctx, link.Token)
		require.NoError(t, err)
		require.Equal(t, tickets.SurveyNPS, kind, "the link still answers")
		_, err = acme.Tickets.SubmitSurvey(ctx, link.Token, tickets.SurveyAnswer{Score: 10})
		require.NoError(t, err)
		_, err = acme.Tickets.SurveyQuestion(ctx, link.Token)
		require.ErrorIs(t, err, tickets.ErrSurveyInvalid)
	})
}
