package crmhttp

import (
	"errors"
	"html/template"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/crmkit/crmkit/campaigns"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
)

// public serves the routes the links in mails point at, for every
// tenant: the token of each link names its tenant and is signed. No host
// authentication; each client address is rate limited; no personal data
// is in the URLs (the tokens carry ids).
//
//	GET  /public/unsubscribe/{token}  a page that asks before unsubscribing (mail scanners follow links)
//	POST /public/unsubscribe/{token}  unsubscribes: RFC 8058 one-click (List-Unsubscribe=One-Click) or the page's form
//	GET  /public/confirm/{token}      a double opt-in's page: the purpose and wording, and a button to confirm
//	POST /public/confirm/{token}      confirms the opt-in (confirm=yes); again: says it was confirmed already
//	GET  /public/preferences/{token}  the preference centre: the tenant's purposes, the person's state per channel
//	POST /public/preferences/{token}  records the choices of the page's form (grants and withdrawals)
//	GET  /public/survey/{token}       a ticket's CSAT (1–5) or NPS (0–10) survey, with an optional comment
//	POST /public/survey/{token}       records the answer (once: a link answered already is refused)
//	GET  /public/t/o/{token}          the open pixel (a 1×1 GIF)
//	GET  /public/t/c/{token}          a tracked link: redirects to the URL the message held (HEAD too)
//
// Point crm.Config.Campaigns.UnsubscribeURL at <mount>/public/unsubscribe
// and TrackingURL at <mount>/public/t; the host's own mails link to
// <mount>/public/confirm/ + consent.OptIn.Token, <mount>/public/preferences/
// + consent.PreferenceLink.Token and <mount>/public/survey/ +
// tickets.SurveyLink.Token. A GET never changes anything: mail scanners
// and previews follow links.
type public struct {
	c     *crm.CRM
	opts  Options
	mux   *http.ServeMux
	mu    sync.Mutex
	limit map[string]*rate.Limiter
}

func newPublic(c *crm.CRM, opts Options) *public {
	p := &public{c: c, opts: opts, mux: http.NewServeMux(), limit: map[string]*rate.Limiter{}}
	p.mux.HandleFunc("GET /public/unsubscribe/{token}", p.unsubscribePage)
	p.mux.HandleFunc("POST /public/unsubscribe/{token}", p.unsubscribe)
	p.mux.HandleFunc("GET /public/confirm/{token}", p.confirmPage)
	p.mux.HandleFunc("POST /public/confirm/{token}", p.confirm)
	p.mux.HandleFunc("GET /public/preferences/{token}", p.preferencesPage)
	p.mux.HandleFunc("POST /public/preferences/{token}", p.setPreferences)
	p.mux.HandleFunc("GET /public/survey/{token}", p.surveyPage)
	p.mux.HandleFunc("POST /public/survey/{token}", p.answerSurvey)
	p.mux.HandleFunc("GET /public/t/o/{token}", p.open)
	p.mux.HandleFunc("GET /public/t/c/{token}", p.click)
	p.mux.HandleFunc("HEAD /public/t/c/{token}", p.click)
	return p
}

func (p *public) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !p.allow(p.client(r)) {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "too many requests", http.StatusTooManyRequests)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	p.mux.ServeHTTP(w, r)
}

// client is the request's client address.
func (p *public) client(r *http.Request) string {
	if p.opts.TrustForwardedFor {
		if f := r.Header.Get("X-Forwarded-For"); f != "" {
			first, _, _ := strings.Cut(f, ",")
			return strings.TrimSpace(first)
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// maxClients bounds the limiters kept; past it, they start afresh.
const maxClients = 100_000

func (p *public) allow(client string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.limit[client]
	if !ok {
		if len(p.limit) >= maxClients {
			p.limit = map[string]*rate.Limiter{}
		}
		l = rate.NewLimiter(rate.Limit(p.opts.PublicRate), 20)
		p.limit[client] = l
	}
	return l.Allow()
}

var pages = template.Must(template.New("public").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta name="robots" content="noindex"><title>{{.Title}}</title></head>
<body style="font-family:sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem">
<main>
<h1 style="font-size:1.4rem">{{.Title}}</h1>
{{with .Problems}}<div role="alert"><p>Please check your answer:</p><ul>{{range .}}<li>{{.}}</li>{{end}}</ul></div>{{end}}
{{with .Text}}<p>{{.}}</p>{{end}}
{{if .Ask}}<form method="post"><button type="submit" name="List-Unsubscribe" value="One-Click">Unsubscribe</button></form>{{end}}
{{with .Confirm}}<blockquote style="margin:1rem 0;padding-left:1rem;border-left:3px solid #888">{{.Wording}}</blockquote>
<form method="post"><button type="submit" name="confirm" value="yes">Confirm</button></form>{{end}}
{{with .Survey}}<form method="post">
<fieldset><legend>{{.Question}}</legend>
{{range .Scores}}<span style="display:inline-block;margin:0 .6rem .4rem 0"><input type="radio" name="score" id="score-{{.}}" value="{{.}}" required><label for="score-{{.}}">{{.}}</label></span>
{{end}}<p style="font-size:.9rem">{{.Low}} = {{.LowLabel}}, {{.High}} = {{.HighLabel}}</p></fieldset>
<p><label for="comment">Anything you would like to tell us? (optional)</label><br>
<textarea id="comment" name="comment" rows="4" cols="40" maxlength="{{.MaxComment}}"></textarea></p>
<button type="submit">Send</button></form>{{end}}
{{with .Preferences}}<form method="post">
{{range .}}<fieldset><legend>{{.Label}}</legend>
<p style="font-size:.9rem">{{.Wording}}</p>
{{range .Channels}}<input type="hidden" name="shown" value="{{.Value}}"><input type="checkbox" name="on" id="{{.ID}}" value="{{.Value}}"{{if .On}} checked{{end}}><label for="{{.ID}}">{{.Name}}</label>{{if .Pending}} (waiting for your confirmation){{end}}<br>
{{end}}</fieldset>
{{end}}<p><button type="submit">Save my choices</button></p></form>{{end}}
</main>
</body></html>`))

// page is what a public page shows: a title and a text, and at most one
// of its forms.
type page struct {
	Title, Text string
	// Problems list what was wrong with the form sent.
	Problems []string
	// Ask shows the unsubscribe button.
	Ask         bool
	Confirm     *confirmForm
	Survey      *surveyForm
	Preferences []preferenceForm
}

func render(w http.ResponseWriter, status int, pg page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
	w.WriteHeader(status)
	_ = pages.Execute(w, pg)
}

var (
	invalidLink = page{Title: "This link does not work", Text: "The link is not valid (any more). If you copied it, check that it is complete."}
	expiredLink = page{Title: "This link has expired", Text: "The link was valid for a limited time only. Please ask for a new one."}
	failed      = page{Title: "Something went wrong", Text: "Please try again later."}
	badForm     = page{Title: "The form could not be read", Text: "Please go back, reload the page and try again."}
	busy        = page{Title: "Please try again", Text: "Something changed at the same moment. Please go back, reload the page and try again."}
)

// maxForm bounds the body of a public form.
const maxForm = 64 << 10

// form parses the body of a public page's POST (an
// application/x-www-form-urlencoded form of at most maxForm bytes) and
// returns its fields; false when it is not such a form.
func form(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/x-www-form-urlencoded" {
		return nil, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return nil, false
	}
	return r.PostForm, true
}

// proof is the consent proof of a public request: the client's address
// and user agent, which the consent module keeps only when the host opts
// in (crm.Config.RecordNetworkDetails).
func (p *public) proof(r *http.Request) consent.Proof {
	return consent.Proof{IP: p.client(r), UserAgent: r.UserAgent()}
}

// tokenRefused renders the page of a consent token error and tells
// whether err was one: forged and foreign tokens are 404, expired ones
// 410. No page names the person.
func tokenRefused(w http.ResponseWriter, err error) bool {
	switch {
	case errors.Is(err, consent.ErrTokenExpired):
		render(w, http.StatusGone, expiredLink)
	case errors.Is(err, consent.ErrTokenInvalid), errors.Is(err, consent.ErrTokenTenant), errors.Is(err, core.ErrNotFound):
		render(w, http.StatusNotFound, invalidLink)
	default:
		return false
	}
	return true
}

// tenantConsent returns the consent service of the token's tenant.
func (p *public) tenantConsent(token string) (*consent.Service, bool) {
	tenant, err := p.c.Consent.TokenTenant(token)
	if err != nil {
		return nil, false
	}
	return p.c.Tenant(tenant).Consent, true
}

// unsubscribePage asks before unsubscribing: a GET changes nothing, as
// mail scanners and previews follow links.
func (p *public) unsubscribePage(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	cs, ok := p.tenantConsent(token)
	if !ok {
		render(w, http.StatusNotFound, invalidLink)
		return
	}
	purpose, err := cs.TokenPurpose(r.Context(), token)
	if err != nil {
		render(w, http.StatusNotFound, invalidLink)
		return
	}
	render(w, http.StatusOK, page{Title: "Unsubscribe", Text: "Stop receiving " + purpose.Label + "?", Ask: true})
}

// unsubscribe withdraws the consent the token names (idempotent): RFC
// 8058's one-click POST, or the page's form.
func (p *public) unsubscribe(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	cs, ok := p.tenantConsent(token)
	if !ok {
		render(w, http.StatusNotFound, invalidLink)
		return
	}
	_, err := cs.Unsubscribe(r.Context(), token, consent.Proof{Source: consent.SourceUnsubscribe, IP: p.client(r), UserAgent: r.UserAgent()})
	switch {
	case errors.Is(err, core.ErrInvalid), errors.Is(err, core.ErrNotFound), errors.Is(err, consent.ErrTokenInvalid):
		render(w, http.StatusNotFound, invalidLink)
	case err != nil:
		render(w, http.StatusInternalServerError, failed)
	default:
		render(w, http.StatusOK, page{Title: "You are unsubscribed", Text: "You will not receive these messages any more."})
	}
}

// gif is a transparent 1×1 GIF.
var gif = []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")

func (p *public) visit(r *http.Request) campaigns.Visit {
	return campaigns.Visit{UserAgent: r.UserAgent(), IP: p.client(r), Head: r.Method == http.MethodHead}
}

func (p *public) tenantCampaigns(token string) (*campaigns.Campaigns, bool) {
	tenant, err := p.c.Campaigns.LinkTenant(token)
	if err != nil {
		return nil, false
	}
	return p.c.Tenant(tenant).Campaigns, true
}

// open counts an opening and answers with the pixel.
func (p *public) open(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	cs, ok := p.tenantCampaigns(token)
	if !ok || cs.Open(r.Context(), token, p.visit(r)) != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "image/gif")
	w.Header().Set("Expires", time.Unix(0, 0).UTC().Format(http.TimeFormat))
	_, _ = w.Write(gif)
}

// click counts a click and redirects to the URL the message held.
func (p *public) click(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	cs, ok := p.tenantCampaigns(token)
	if !ok {
		render(w, http.StatusNotFound, invalidLink)
		return
	}
	to, err := cs.Click(r.Context(), token, p.visit(r))
	if err != nil {
		render(w, http.StatusNotFound, invalidLink)
		return
	}
	http.Redirect(w, r, to, http.StatusFound)
}
