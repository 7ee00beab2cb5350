package crmhttp

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"path"
	"reflect"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"golang.org/x/time/rate"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
)

// Auth tells who calls: the host's authentication (crmkit does no login)
// maps a request to the tenant it may act in and the acting user. An
// error refuses the request (401); the zero Actor is the host's trusted
// code.
type Auth func(r *http.Request) (tenant string, actor core.Actor, err error)

// Options configure the handler.
type Options struct {
	// Auth is required for the API routes; the public routes (links in
	// mails) need none.
	Auth Auth
	// Title and Version name the API in its OpenAPI document.
	Title   string
	Version string
	// PublicRate is how many requests one client address may make to the
	// public routes per second (default 5, bursts of 20); math.Inf(1)
	// lifts the limit (a proxy in front limits, or a load test comes from
	// one address).
	PublicRate float64
	// MaxImportBytes bounds the body of a CSV import (POST
	// /imports/contacts): default DefaultMaxImportBytes (32 MiB); a larger
	// body is refused (413).
	MaxImportBytes int64
	// TrustForwardedFor takes the client's address from X-Forwarded-For
	// (behind the host's proxy); otherwise from the connection.
	TrustForwardedFor bool
}

// New returns the handler of c's HTTP API: REST/JSON routes for the
// modules (their OpenAPI 3.1 document at /openapi.json), the dashboard's
// HTML pages under /dashboard/ (authenticated by the same Auth), and the
// public routes under /public/ that the links in mails point at
// (unsubscribe, tracking). Mount it under a prefix with http.StripPrefix.
func New(c *crm.CRM, opts Options) (http.Handler, error) {
	if opts.Auth == nil {
		return nil, core.Invalid("auth", "is required: crmkit does no login, the host tells who calls")
	}
	if opts.Title == "" {
		opts.Title = "crmkit"
	}
	if opts.Version == "" {
		opts.Version = "1"
	}
	switch {
	case !(opts.PublicRate > 0): // zero, negative or NaN
		opts.PublicRate = 5
	case math.IsInf(opts.PublicRate, 1):
		opts.PublicRate = float64(rate.Inf) // the limiter's own "no limit"
	}
	if opts.MaxImportBytes <= 0 {
		opts.MaxImportBytes = DefaultMaxImportBytes
	}
	mux := http.NewServeMux()
	cfg := huma.DefaultConfig(opts.Title, opts.Version)
	cfg.DocsPath = ""     // no documentation page: it would load scripts from elsewhere
	cfg.CreateHooks = nil // no $schema links in bodies
	cfg.Components.Schemas = huma.NewMapRegistry("#/components/schemas/", schemaNamer())
	cfg.Info.Description = "The REST/JSON API of crmkit, an embeddable CRM. Errors are RFC 9457 problem details; " +
		"validation problems list every field. Updates need If-Match with the record's version (its ETag)."
	api := humago.New(mux, cfg)
	h := &handler{c: c, opts: opts, api: api}
	api.UseMiddleware(h.authenticate)
	registerContacts(api, h)
	registerRecords(api)
	registerTimeline(api)
	registerCampaigns(api)
	registerTickets(api)
	registerConsent(api)
	registerAutomation(api)
	registerAccess(api) // before analytics: its Period keeps the name (schemaNamer)
	registerAnalytics(api)
	registerEvents(api, h)
	registerFields(api)
	registerImports(api, opts.MaxImportBytes)
	p := newPublic(c, opts)
	mux.Handle("/public/", p)
	dash, err := newDashboard(c, opts.Auth)
	if err != nil {
		return nil, err
	}
	mux.Handle("/dashboard", dash)
	mux.Handle("/dashboard/", dash)
	return newIdempotency(c, opts.Auth, mux)
}

// schemaNamer names the OpenAPI document's schemas as huma does, by their
// Go type's name, except a struct type whose name a type of another
// package took first: it gets its package's name in front. access.Period
// (a user's time off, registered first) is Period, analytics.Period (a
// report's days) AnalyticsPeriod. Names depend on the order of
// registration, which New keeps fixed.
func schemaNamer() func(t reflect.Type, hint string) string {
	byName := map[string]reflect.Type{}
	names := map[reflect.Type]string{}
	return func(t reflect.Type, hint string) string {
		name := huma.DefaultSchemaNamer(t, hint)
		base := t
		for base.Kind() == reflect.Pointer {
			base = base.Elem()
		}
		if base.Kind() != reflect.Struct || base.Name() == "" {
			return name
		}
		if n, ok := names[base]; ok {
			return n
		}
		if other, ok := byName[name]; ok && other != base {
			pkg := path.Base(base.PkgPath())
			r, size := utf8.DecodeRuneInString(pkg)
			name = string(unicode.ToUpper(r)) + pkg[size:] + name
		}
		byName[name], names[base] = base, name
		return name
	}
}

type handler struct {
	c    *crm.CRM
	opts Options
	api  huma.API
}

type callerKey struct{}

// authenticate runs the host's Auth and puts the tenant's CRM and the
// actor in the request's context.
func (h *handler) authenticate(ctx huma.Context, next func(huma.Context)) {
	r, _ := humago.Unwrap(ctx)
	tenant, actor, err := h.opts.Auth(r)
	if err != nil || tenant == "" {
		_ = huma.WriteErr(h.api, ctx, http.StatusUnauthorized, "the request is not authenticated")
		return
	}
	c := h.c.Tenant(tenant)
	goCtx := ctx.Context()
	if actor.ID != "" {
		goCtx = core.WithActor(goCtx, actor)
	}
	goCtx = context.WithValue(goCtx, callerKey{}, c)
	next(huma.WithContext(ctx, goCtx))
}

// common adds the answers every API operation may give: 401 (Auth
// refused), 403 (the actor's roles do not allow it) and 500.
func common(op huma.Operation) huma.Operation {
	op.Errors = append(op.Errors, http.StatusUnauthorized, http.StatusForbidden, http.StatusInternalServerError)
	return op
}

// crmOf returns the CRM of the request's tenant.
func crmOf(ctx context.Context) *crm.CRM { return ctx.Value(callerKey{}).(*crm.CRM) }

// problem turns a crmkit error into an RFC 9457 problem: ErrInvalid is
// 422 with every field problem, ErrNotFound 404, ErrConflict 409 (412 for
// a stale If-Match), ErrForbidden 403, ErrNoConsent 409. Other errors are
// 500 without their text (it may say more than a client should know).
func problem(err error, ifMatch bool) error {
	var ve *core.ValidationError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ve):
		details := make([]error, len(ve.Fields))
		for i, f := range ve.Fields {
			details[i] = &huma.ErrorDetail{Location: "body." + f.Field, Message: f.Message}
		}
		return huma.Error422UnprocessableEntity("the input is not valid", details...)
	case errors.Is(err, core.ErrInvalid):
		return huma.Error422UnprocessableEntity(clean(err))
	case errors.Is(err, core.ErrNotFound):
		return huma.Error404NotFound(clean(err))
	case errors.Is(err, core.ErrConflict) && ifMatch:
		return huma.NewError(http.StatusPreconditionFailed, clean(err))
	case errors.Is(err, core.ErrConflict), errors.Is(err, core.ErrNoConsent):
		return huma.Error409Conflict(clean(err))
	case errors.Is(err, core.ErrForbidden):
		return huma.Error403Forbidden(clean(err))
	}
	return huma.Error500InternalServerError("the request failed")
}

// clean is an error's message without crmkit's "crm: " prefix.
func clean(err error) string { return strings.TrimPrefix(err.Error(), "crm: ") }

// etag is the ETag of a record's version.
func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// versionOf reads If-Match: the version the client read ("3" or W/"3").
func versionOf(ifMatch string) (int64, error) {
	s := strings.TrimPrefix(strings.TrimSpace(ifMatch), "W/")
	v, err := strconv.ParseInt(strings.Trim(s, `"`), 10, 64)
	if ifMatch == "" {
		return 0, huma.NewError(http.StatusPreconditionRequired, "If-Match with the record's version (its ETag) is required")
	}
	if err != nil || v < 1 {
		return 0, huma.Error400BadRequest(fmt.Sprintf("If-Match %q is not a version", ifMatch))
	}
	return v, nil
}
