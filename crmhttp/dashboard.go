package crmhttp

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/crmkit/crmkit/analytics"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
)

// The dashboard: server-rendered HTML pages under /dashboard/, for a
// person in a browser rather than a program. No JavaScript; the charts are
// SVG drawn on the server. Every page goes through the host's Auth like the
// API and reads only through the modules' Go API, whose record access
// applies as it does everywhere: a report the actor may not read is a 403
// page, a record they may not see a 404 page.
//
//	GET /dashboard/                 overview: the lead's morning numbers (analytics.Dashboard)
//	GET /dashboard/pipeline         a pipeline's board and its forecast (?pipeline=ID)
//	GET /dashboard/funnel           the lifecycle funnel, win rates and stage conversion
//	GET /dashboard/cohorts          retention matrix and revenue per cohort (?tz=Europe/Berlin)
//	GET /dashboard/campaigns        campaign performance and the service desk's numbers
//	GET /dashboard/contacts/{id}    a contact's 360° page (?cursor= pages the timeline)
//
// Every page but the contact's takes its period as ?from=YYYY-MM-DD&to=YYYY-MM-DD
// (days [from, to), as the API's reports); without them, a default that fits
// the page. Nothing personal is put into a URL: ids, days, a time zone's
// name and the timeline's opaque cursor only.

//go:embed pages
var dashboardFS embed.FS

// maxPeriodDays bounds a page's period: three years.
const maxPeriodDays = 3*366 + 1

// dashboardPages are the pages of the navigation, in order.
var dashboardPages = []struct{ Name, Path, Label string }{
	{"overview", "", "Overview"},
	{"pipeline", "pipeline", "Pipeline"},
	{"funnel", "funnel", "Funnel"},
	{"cohorts", "cohorts", "Cohorts"},
	{"campaigns", "campaigns", "Campaigns & service"},
}

type dashboard struct {
	c     *crm.CRM
	auth  Auth
	mux   *http.ServeMux
	tmpl  map[string]*template.Template
	css   template.CSS
	now   func() time.Time
	log   *slog.Logger
	theme chartTheme
}

func newDashboard(c *crm.CRM, auth Auth) (*dashboard, error) {
	css, err := dashboardFS.ReadFile("pages/dashboard.css")
	if err != nil {
		return nil, err
	}
	d := &dashboard{c: c, auth: auth, mux: http.NewServeMux(), tmpl: map[string]*template.Template{}, css: template.CSS(css),
		now: func() time.Time { return time.Now().UTC() }, log: slog.Default(), theme: newChartTheme()}
	for _, name := range []string{"overview", "pipeline", "funnel", "cohorts", "campaigns", "contact", "error"} {
		t, err := template.New("layout.html").Funcs(dashboardFuncs).ParseFS(dashboardFS, "pages/layout.html", "pages/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("crm: dashboard page %s: %w", name, err)
		}
		d.tmpl[name] = t
	}
	d.mux.HandleFunc("GET /dashboard", func(w http.ResponseWriter, r *http.Request) {
		// Relative, so that it holds under whatever prefix the host mounts the handler.
		w.Header().Set("Location", "dashboard/")
		w.WriteHeader(http.StatusFound)
	})
	d.mux.HandleFunc("GET /dashboard/{$}", d.page(d.overview))
	d.mux.HandleFunc("GET /dashboard/pipeline", d.page(d.pipeline))
	d.mux.HandleFunc("GET /dashboard/funnel", d.page(d.funnel))
	d.mux.HandleFunc("GET /dashboard/cohorts", d.page(d.cohorts))
	d.mux.HandleFunc("GET /dashboard/campaigns", d.page(d.campaigns))
	d.mux.HandleFunc("GET /dashboard/contacts/{id}", d.page(d.contact))
	d.mux.HandleFunc("/dashboard/", d.page(func(context.Context, *http.Request, *view) error {
		return core.NotFound("page", "")
	}))
	return d, nil
}

func (d *dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) { d.mux.ServeHTTP(w, r) }

// view is what a page's template gets.
type view struct {
	Page  string // the page's name
	Title string
	// Base leads from the page's URL back to /dashboard/ (relative, so
	// the pages work under any prefix).
	Base string
	// Period is the page's period, PeriodQuery its query string (empty
	// for pages without one); Today the day the defaults were taken from.
	Period      *analytics.Period
	PeriodQuery template.URL
	// Zone is the time zone the period's days are read in.
	Zone string
	Nav  []navItem
	CSS  template.CSS
	// Status, Problems: the error page's.
	Status   int
	Problems []string
	// Data is the page's own.
	Data any
}

type navItem struct {
	Label   string
	Href    template.URL
	Current bool
}

// page wraps a page's builder: it authenticates the request as the API
// does (Options.Auth names the tenant and the actor), runs the builder with
// the tenant's CRM and the actor in the context, and renders the page or
// the error page the builder's error calls for.
func (d *dashboard) page(build func(ctx context.Context, r *http.Request, v *view) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := &view{Base: "./", CSS: d.css, Zone: "UTC"}
		if depth := strings.Count(strings.TrimPrefix(r.URL.Path, "/dashboard/"), "/"); depth > 0 {
			v.Base = strings.Repeat("../", depth)
		}
		tenant, actor, err := d.auth(r)
		if err != nil || tenant == "" {
			d.fail(w, r, v, http.StatusUnauthorized, "Not signed in", nil)
			return
		}
		ctx := r.Context()
		if actor.ID != "" {
			ctx = core.WithActor(ctx, actor)
		}
		ctx = context.WithValue(ctx, callerKey{}, d.c.Tenant(tenant))
		if err := build(ctx, r, v); err != nil {
			d.failWith(w, r, v, err)
			return
		}
		v.nav()
		d.render(w, r, v.Page, http.StatusOK, v)
	}
}

// nav fills the navigation, keeping the period.
func (v *view) nav() {
	v.Nav = v.Nav[:0]
	for _, p := range dashboardPages {
		href := v.Base + p.Path
		if v.PeriodQuery != "" {
			href += "?" + string(v.PeriodQuery)
		}
		v.Nav = append(v.Nav, navItem{Label: p.Label, Href: template.URL(href), Current: p.Name == v.Page})
	}
}

// failWith renders the error page an error calls for: 422 with every
// field problem for core.ErrInvalid, 404, 403, 409; anything else is 500
// without its text, which is logged.
func (d *dashboard) failWith(w http.ResponseWriter, r *http.Request, v *view, err error) {
	var ve *core.ValidationError
	switch {
	case errors.As(err, &ve):
		problems := make([]string, len(ve.Fields))
		for i, f := range ve.Fields {
			problems[i] = f.Field + ": " + f.Message
		}
		d.fail(w, r, v, http.StatusUnprocessableEntity, "The request is not valid", problems)
	case errors.Is(err, core.ErrInvalid):
		d.fail(w, r, v, http.StatusUnprocessableEntity, "The request is not valid", []string{clean(err)})
	case errors.Is(err, core.ErrNotFound):
		d.fail(w, r, v, http.StatusNotFound, "Not found", []string{"There is nothing here, or nothing you may see."})
	case errors.Is(err, core.ErrForbidden):
		d.fail(w, r, v, http.StatusForbidden, "Not allowed", []string{"Your roles do not let you see this page."})
	case errors.Is(err, core.ErrConflict):
		d.fail(w, r, v, http.StatusConflict, "Conflict", []string{clean(err)})
	default:
		d.log.ErrorContext(r.Context(), "crm: dashboard page failed", "path", r.URL.Path, "err", err)
		d.fail(w, r, v, http.StatusInternalServerError, "Something went wrong", []string{"The page could not be made. Please try again later."})
	}
}

func (d *dashboard) fail(w http.ResponseWriter, r *http.Request, v *view, status int, title string, problems []string) {
	v.Page, v.Title, v.Status, v.Problems = "error", title, status, problems
	v.Period, v.PeriodQuery = nil, ""
	v.nav()
	d.render(w, r, "error", status, v)
}

// render executes the page's template into a buffer first, so that a
// failing template is a clean 500, never half a page.
func (d *dashboard) render(w http.ResponseWriter, r *http.Request, name string, status int, v *view) {
	var b bytes.Buffer
	if err := d.tmpl[name].ExecuteTemplate(&b, "layout.html", v); err != nil {
		d.log.ErrorContext(r.Context(), "crm: dashboard template failed", "page", name, "err", err)
		status = http.StatusInternalServerError
		b.Reset()
		b.WriteString("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Something went wrong</title></head>" +
			"<body><main><h1>Something went wrong</h1></main></body></html>")
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// No scripts at all; inline styles only (the stylesheet and the SVG
	// charts' style attributes).
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "+
		"frame-ancestors 'none'; base-uri 'none'")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// usePeriod reads the page's period from ?from= and ?to= (YYYY-MM-DD,
// days [from, to)), each defaulting to def's, and sets it on v. Problems
// are core.ErrInvalid, every one listed.
func (d *dashboard) usePeriod(r *http.Request, v *view, def func(today core.Date) (from, to core.Date)) (analytics.Period, error) {
	q := r.URL.Query()
	var p analytics.Period
	p.From, p.To = def(core.DateOf(d.now()))
	ve := &core.ValidationError{}
	for _, x := range []struct {
		field string
		d     *core.Date
	}{{"from", &p.From}, {"to", &p.To}} {
		s := strings.TrimSpace(q.Get(x.field))
		if s == "" {
			continue
		}
		day, err := core.ParseDate(s)
		if err != nil {
			ve.Add(x.field, "is not a day (YYYY-MM-DD)")
			continue
		}
		*x.d = day
	}
	if !ve.Has("from") && !ve.Has("to") {
		switch {
		case !p.To.After(p.From):
			ve.Add("to", "must be after from (the period is [from, to))")
		case p.From.AddDays(maxPeriodDays).Before(p.To):
			ve.Add("to", "is more than %d days after from", maxPeriodDays)
		}
	}
	if err := ve.Err(); err != nil {
		return p, err
	}
	v.Period = &p
	v.PeriodQuery = template.URL(url.Values{"from": {p.From.String()}, "to": {p.To.String()}}.Encode())
	return p, nil
}

// lastDays is the default period of the last n days, today included.
func lastDays(n int) func(core.Date) (core.Date, core.Date) {
	return func(today core.Date) (core.Date, core.Date) { return today.AddDays(1 - n), today.AddDays(1) }
}

// months is the default period of whole calendar months: back months
// before the current one, and ahead after it.
func months(back, ahead int) func(core.Date) (core.Date, core.Date) {
	return func(today core.Date) (core.Date, core.Date) {
		t := today.Time()
		first := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
		return core.DateOf(first.AddDate(0, -back, 0)), core.DateOf(first.AddDate(0, ahead+1, 0))
	}
}
