package crmhttp

import (
	"errors"
	"net/http"
	"strings"

	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/core"
)

// confirmForm is the double opt-in page's question: the wording the
// person was asked with.
type confirmForm struct {
	Wording string
}

var alreadyConfirmed = page{Title: "Already confirmed", Text: "You confirmed this before: nothing more to do."}

// confirmPage shows what a double opt-in link confirms and asks: a GET
// confirms nothing, as mail scanners and previews follow links.
func (p *public) confirmPage(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	cs, ok := p.tenantConsent(token)
	if !ok {
		render(w, http.StatusNotFound, invalidLink)
		return
	}
	purpose, err := cs.OptInPurpose(r.Context(), token)
	switch {
	case errors.Is(err, consent.ErrTokenUsed):
		render(w, http.StatusOK, alreadyConfirmed)
	case tokenRefused(w, err):
	case err != nil:
		render(w, http.StatusInternalServerError, failed)
	default:
		render(w, http.StatusOK, page{Title: "Please confirm", Text: "Confirm that you agree to receive " + purpose.Label + ":",
			Confirm: &confirmForm{Wording: purpose.Wording}})
	}
}

// confirm completes a double opt-in from the page's form (confirm=yes).
// Confirming again is idempotent: the page says it was confirmed already
// and nothing is written.
func (p *public) confirm(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	cs, ok := p.tenantConsent(token)
	if !ok {
		render(w, http.StatusNotFound, invalidLink)
		return
	}
	f, ok := form(w, r)
	if !ok || f.Get("confirm") != "yes" {
		render(w, http.StatusBadRequest, badForm)
		return
	}
	_, err := cs.Confirm(r.Context(), token, p.proof(r))
	switch {
	case errors.Is(err, consent.ErrTokenUsed):
		render(w, http.StatusOK, alreadyConfirmed)
	case errors.Is(err, core.ErrNoConsent): // suppressed or restricted
		render(w, http.StatusConflict, page{Title: "This cannot be confirmed",
			Text: "This address asked not to be contacted. If you want to hear from us again, please contact us."})
	case tokenRefused(w, err):
	case errors.Is(err, core.ErrConflict):
		render(w, http.StatusConflict, busy)
	case err != nil:
		render(w, http.StatusInternalServerError, failed)
	default:
		render(w, http.StatusOK, page{Title: "Thank you", Text: "Your confirmation is recorded."})
	}
}

// preferenceForm is one purpose of the preference centre's form.
type preferenceForm struct {
	Label, Wording string
	Channels       []channelBox
}

// channelBox is a purpose's checkbox for one channel: Value is
// "<purpose>:<channel>" (purpose keys are codes: letters, digits, _).
type channelBox struct {
	ID, Value, Name string
	On, Pending     bool
}

var channelNames = map[consent.Channel]string{consent.Email: "Email", consent.Phone: "Phone", consent.SMS: "Text messages (SMS)", consent.Post: "Post"}

func preferenceForms(prefs []consent.Preference) []preferenceForm {
	out := make([]preferenceForm, 0, len(prefs))
	for _, pr := range prefs {
		f := preferenceForm{Label: pr.Purpose.Label, Wording: pr.Purpose.Wording}
		for _, ch := range pr.Channels {
			name := channelNames[ch.Channel]
			if name == "" {
				name = string(ch.Channel)
			}
			f.Channels = append(f.Channels, channelBox{ID: "c-" + pr.Purpose.Key + "-" + string(ch.Channel),
				Value: pr.Purpose.Key + ":" + string(ch.Channel), Name: name, On: ch.On, Pending: ch.State == consent.Pending})
		}
		out = append(out, f)
	}
	return out
}

const preferencesTitle = "Your preferences"

// preferencesPage shows the preference centre: the tenant's purposes the
// person chooses, with their state per channel. It changes nothing.
func (p *public) preferencesPage(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	cs, ok := p.tenantConsent(token)
	if !ok {
		render(w, http.StatusNotFound, invalidLink)
		return
	}
	prefs, err := cs.Preferences(r.Context(), token)
	switch {
	case tokenRefused(w, err):
	case err != nil:
		render(w, http.StatusInternalServerError, failed)
	case len(prefs) == 0:
		render(w, http.StatusOK, page{Title: preferencesTitle, Text: "There is nothing to choose here at the moment."})
	default:
		render(w, http.StatusOK, page{Title: preferencesTitle, Text: "Choose what you want to hear from us about, and how.",
			Preferences: preferenceForms(prefs)})
	}
}

// choicesOf reads the preference centre's form: every box the page showed
// ("shown", repeated) is a choice, on when it is among the ticked ones
// ("on"). It returns the problems of a form the page did not send.
func choicesOf(f map[string][]string) ([]consent.Choice, []string) {
	shown, on := f["shown"], f["on"]
	var problems []string
	if len(shown) == 0 {
		return nil, []string{"The form holds no choices."}
	}
	if len(shown) > consent.MaxChoices {
		return nil, []string{"The form holds too many choices."}
	}
	ticked := map[string]bool{}
	for _, v := range on {
		ticked[v] = true
	}
	seen := map[string]bool{}
	out := make([]consent.Choice, 0, len(shown))
	for _, v := range shown {
		purpose, channel, ok := strings.Cut(v, ":")
		if !ok || purpose == "" || channel == "" || seen[v] {
			return nil, []string{"The form's choices are not ones this page offers."}
		}
		seen[v] = true
		out = append(out, consent.Choice{Purpose: purpose, Channel: consent.Channel(channel), On: ticked[v]})
	}
	for v := range ticked {
		if !seen[v] {
			problems = append(problems, "A ticked choice is not one this page offers.")
			break
		}
	}
	return out, problems
}

// setPreferences records the choices of the preference centre's form
// (source "preference_centre"; only what changed) and shows the page
// again with the new state.
func (p *public) setPreferences(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	cs, ok := p.tenantConsent(token)
	if !ok {
		render(w, http.StatusNotFound, invalidLink)
		return
	}
	f, ok := form(w, r)
	if !ok {
		render(w, http.StatusBadRequest, badForm)
		return
	}
	choices, problems := choicesOf(f)
	if problems != nil {
		p.preferencesAgain(w, r, cs, token, http.StatusUnprocessableEntity, problems)
		return
	}
	_, err := cs.SetPreferences(r.Context(), token, choices, p.proof(r))
	switch {
	case errors.Is(err, consent.ErrTokenInvalid), errors.Is(err, consent.ErrTokenExpired), errors.Is(err, consent.ErrTokenTenant):
		tokenRefused(w, err)
	case errors.Is(err, core.ErrInvalid):
		// The page's purposes changed since it was shown, or the form
		// was not the page's.
		p.preferencesAgain(w, r, cs, token, http.StatusUnprocessableEntity,
			[]string{"Your choices did not match the ones on offer (they may have changed). Please choose again."})
	case errors.Is(err, core.ErrNoConsent): // suppressed or restricted
		p.preferencesAgain(w, r, cs, token, http.StatusConflict,
			[]string{"This address asked not to be contacted, so nothing can be switched on. If you want to hear from us again, please contact us."})
	case errors.Is(err, core.ErrConflict):
		render(w, http.StatusConflict, busy)
	case err != nil:
		render(w, http.StatusInternalServerError, failed)
	default:
		p.preferencesAgain(w, r, cs, token, http.StatusOK, nil)
	}
}

// preferencesAgain shows the preference centre after a POST: the state
// now, with the problems of the form sent, or that the choices are saved.
func (p *public) preferencesAgain(w http.ResponseWriter, r *http.Request, cs *consent.Service, token string, status int, problems []string) {
	prefs, err := cs.Preferences(r.Context(), token)
	switch {
	case tokenRefused(w, err):
		return
	case err != nil:
		render(w, http.StatusInternalServerError, failed)
		return
	}
	pg := page{Title: preferencesTitle, Problems: problems, Preferences: preferenceForms(prefs)}
	if problems == nil {
		pg.Text = "Thank you: your choices are saved."
	}
	render(w, status, pg)
}
