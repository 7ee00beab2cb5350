package crmhttp

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/tickets"
)

// surveyForm is a survey page's question: the scale of its kind.
type surveyForm struct {
	Question            string
	Scores              []int
	Low, High           int
	LowLabel, HighLabel string
	MaxComment          int
}

func surveyFormOf(kind tickets.SurveyKind) *surveyForm {
	lo, hi, _ := kind.ScoreRange()
	// maxlength counts UTF-16 units, at most 3 bytes of UTF-8 each.
	f := &surveyForm{Low: lo, High: hi, MaxComment: tickets.MaxSurveyComment / 3}
	for s := lo; s <= hi; s++ {
		f.Scores = append(f.Scores, s)
	}
	if kind == tickets.SurveyNPS {
		f.Question = "How likely are you to recommend us to a friend or colleague?"
		f.LowLabel, f.HighLabel = "not at all likely", "extremely likely"
	} else {
		f.Question = "How satisfied are you with how we handled your request?"
		f.LowLabel, f.HighLabel = "very unsatisfied", "very satisfied"
	}
	return f
}

const surveyTitle = "How did we do?"

// unanswerable is the page of a genuine survey link that cannot be
// answered any more.
var unanswerable = page{Title: "This survey is closed", Text: "This link was answered already, replaced by a newer one, or has expired. Thank you all the same."}

// tenantTickets returns the tickets service of a survey token's tenant.
func (p *public) tenantTickets(token string) (*tickets.Tickets, bool) {
	tenant, err := p.c.Tickets.SurveyTenant(token)
	if err != nil {
		return nil, false
	}
	return p.c.Tenant(tenant).Tickets, true
}

// surveyPage shows a survey's question (a GET records nothing).
func (p *public) surveyPage(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	ts, ok := p.tenantTickets(token)
	if !ok {
		render(w, http.StatusNotFound, invalidLink)
		return
	}
	kind, err := ts.SurveyQuestion(r.Context(), token)
	switch {
	case errors.Is(err, tickets.ErrSurveyInvalid):
		render(w, http.StatusGone, unanswerable)
	case err != nil:
		render(w, http.StatusInternalServerError, failed)
	default:
		render(w, http.StatusOK, page{Title: surveyTitle, Survey: surveyFormOf(kind)})
	}
}

// answerSurvey records a survey's answer from its form: score (the
// kind's scale) and an optional comment. A link answers once, as the
// tickets module defines: a second answer is refused.
func (p *public) answerSurvey(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	ts, ok := p.tenantTickets(token)
	if !ok {
		render(w, http.StatusNotFound, invalidLink)
		return
	}
	f, ok := form(w, r)
	if !ok {
		render(w, http.StatusBadRequest, badForm)
		return
	}
	kind, err := ts.SurveyQuestion(r.Context(), token)
	switch {
	case errors.Is(err, tickets.ErrSurveyInvalid):
		render(w, http.StatusGone, unanswerable)
		return
	case err != nil:
		render(w, http.StatusInternalServerError, failed)
		return
	}
	lo, hi, _ := kind.ScoreRange()
	var problems []string
	score, err := strconv.Atoi(strings.TrimSpace(f.Get("score")))
	if err != nil || len(f["score"]) != 1 || score < lo || score > hi {
		problems = append(problems, "Choose a score from "+strconv.Itoa(lo)+" to "+strconv.Itoa(hi)+".")
	}
	comment := f.Get("comment")
	if len(f["comment"]) > 1 || len(comment) > tickets.MaxSurveyComment {
		problems = append(problems, "The comment is too long.")
	}
	if problems != nil {
		render(w, http.StatusUnprocessableEntity, page{Title: surveyTitle, Problems: problems, Survey: surveyFormOf(kind)})
		return
	}
	_, err = ts.SubmitSurvey(r.Context(), token, tickets.SurveyAnswer{Score: score, Comment: comment})
	switch {
	case errors.Is(err, tickets.ErrSurveyInvalid):
		render(w, http.StatusGone, unanswerable) // answered in the meantime
	case errors.Is(err, core.ErrInvalid):
		render(w, http.StatusUnprocessableEntity, page{Title: surveyTitle,
			Problems: []string{"The answer could not be recorded as sent: the comment must be plain text."}, Survey: surveyFormOf(kind)})
	case errors.Is(err, core.ErrConflict):
		render(w, http.StatusConflict, busy)
	case err != nil:
		render(w, http.StatusInternalServerError, failed)
	default:
		render(w, http.StatusOK, page{Title: "Thank you", Text: "Your answer is recorded. Thank you for your time."})
	}
}
