package trace

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/crmkit/crmkit/core"
)

// Name is the instrumentation scope of crmkit's spans: the tracer's name.
const Name = "github.com/crmkit/crmkit"

// Attribute keys of crmkit's spans.
const (
	// KeyTenant is the tenant id of the CRM the operation ran for.
	KeyTenant = attribute.Key("crm.tenant")
	// KeyID is the id of the record the operation is about, when one
	// is given.
	KeyID = attribute.Key("crm.id")
	// KeyErrorType is OpenTelemetry's error.type: the kind of error an
	// operation ended with (see errorType).
	KeyErrorType = attribute.Key("error.type")
)

// Tracer returns crmkit's tracer of tp, or of the global provider when
// tp is nil.
func Tracer(tp oteltrace.TracerProvider) oteltrace.Tracer {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return tp.Tracer(Name)
}

// Span is one operation's span, ended with End.
type Span struct{ s oteltrace.Span }

// Start starts the span of the operation name ("contacts.Create") as a
// child of ctx's span, with the tenant and, when not nil, the id of the
// record the operation is about (an empty tenant is left out, for work
// that spans tenants). Attributes are set only on a recording
// span, so without a provider Start costs what the no-op tracer costs.
func Start(ctx context.Context, tr oteltrace.Tracer, name, tenant string, id core.ID) (context.Context, Span) {
	ctx, s := tr.Start(ctx, name)
	if s.IsRecording() {
		if tenant != "" {
			s.SetAttributes(KeyTenant.String(tenant))
		}
		if id != core.NilID {
			s.SetAttributes(KeyID.String(id.String()))
		}
	}
	return ctx, Span{s}
}

// End ends the span. When *errp (errp may be nil) holds an error, the span
// records it and gets status Error, whatever its kind: OpenTelemetry
// counts an operation that did not do what it was asked as failed, and a
// not-found or a refused input is told apart by error.type.
func (s Span) End(errp *error) {
	if errp != nil && *errp != nil && s.s.IsRecording() {
		err := *errp
		s.s.RecordError(err)
		s.s.SetStatus(codes.Error, err.Error())
		s.s.SetAttributes(KeyErrorType.String(errorType(err)))
	}
	s.s.End()
}

// errorTypes are the values of error.type, by core's sentinel.
var errorTypes = []struct {
	err  error
	name string
}{
	{core.ErrNotFound, "not_found"},
	{core.ErrInvalid, "invalid"},
	{core.ErrConflict, "conflict"},
	{core.ErrForbidden, "forbidden"},
	{core.ErrNoConsent, "no_consent"},
	{core.ErrNotMigrated, "not_migrated"},
	{context.Canceled, "canceled"},
	{context.DeadlineExceeded, "deadline_exceeded"},
}

// errorType names the kind of err for error.type: the core sentinel it
// matches, else "_OTHER" (OpenTelemetry's value for an unnamed kind).
func errorType(err error) string {
	for _, t := range errorTypes {
		if errors.Is(err, t.err) {
			return t.name
		}
	}
	return "_OTHER"
}
