package trace_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/trace"
)

func attrs(sp sdktrace.ReadOnlySpan) map[attribute.Key]string {
	out := map[attribute.Key]string{}
	for _, kv := range sp.Attributes() {
		out[kv.Key] = kv.Value.Emit()
	}
	return out
}

// A span carries the tenant and the record id, and ends with status Error
// and the kind of error for any error, Unset for none.
func TestSpanAttributesAndStatus(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tr := trace.Tracer(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	id := core.NewID()
	run := func(name, tenant string, id core.ID, err error) sdktrace.ReadOnlySpan {
		_, sp := trace.Start(context.Background(), tr, name, tenant, id)
		sp.End(&err)
		ended := rec.Ended()
		return ended[len(ended)-1]
	}

	ok := run("contacts.Get", "acme", id, nil)
	require.Equal(t, "contacts.Get", ok.Name())
	require.Equal(t, trace.Name, ok.InstrumentationScope().Name)
	require.Equal(t, map[attribute.Key]string{trace.KeyTenant: "acme", trace.KeyID: id.String()}, attrs(ok))
	require.Equal(t, codes.Unset, ok.Status().Code)
	require.Empty(t, ok.Events())

	noID := run("contacts.List", "acme", core.NilID, nil)
	require.Equal(t, map[attribute.Key]string{trace.KeyTenant: "acme"}, attrs(noID))
	noTenant := run("crm.Copy", "", core.NilID, nil)
	require.Empty(t, attrs(noTenant))

	for err, kind := range map[error]string{
		core.NotFound("contact", id):                         "not_found",
		core.Invalid("email", "is not an email address"):     "invalid",
		fmt.Errorf("crm: update: %w", core.ErrConflict):      "conflict",
		core.ErrForbidden:                                    "forbidden",
		core.ErrNoConsent:                                    "no_consent",
		core.ErrNotMigrated:                                  "not_migrated",
		context.Canceled:                                     "canceled",
		fmt.Errorf("crm: x: %w", context.DeadlineExceeded):   "deadline_exceeded",
		errors.New("crm: commit: the connection was closed"): "_OTHER",
	} {
		sp := run("contacts.Update", "acme", id, err)
		require.Equal(t, codes.Error, sp.Status().Code, kind)
		require.Equal(t, err.Error(), sp.Status().Description)
		require.Equal(t, kind, attrs(sp)[trace.KeyErrorType])
		require.Len(t, sp.Events(), 1)
		require.Equal(t, "exception", sp.Events()[0].Name)
	}

	// A nil error pointer ends the span as a success.
	_, sp := trace.Start(context.Background(), tr, "contacts.Count", "acme", core.NilID)
	sp.End(nil)
	ended := rec.Ended()
	require.Equal(t, codes.Unset, ended[len(ended)-1].Status().Code)
}

// Spans nest: one started in the context of another is its child.
func TestSpansNest(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tr := trace.Tracer(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	ctx, outer := trace.Start(context.Background(), tr, "crm.InTx", "acme", core.NilID)
	_, inner := trace.Start(ctx, tr, "contacts.Create", "acme", core.NilID)
	inner.End(nil)
	outer.End(nil)
	ended := rec.Ended()
	require.Len(t, ended, 2)
	require.Equal(t, ended[1].SpanContext().SpanID(), ended[0].Parent().SpanID())
}

// Without a provider a span costs what OpenTelemetry's no-op tracer
// costs: no attribute is built.
func TestSpanWithoutProviderAllocatesLittle(t *testing.T) {
	tr := trace.Tracer(noop.NewTracerProvider())
	id := core.NewID()
	ctx := context.Background()
	var err error = core.ErrNotFound
	allocs := testing.AllocsPerRun(1000, func() {
		_, sp := trace.Start(ctx, tr, "contacts.Get", "acme", id)
		sp.End(&err)
	})
	require.LessOrEqual(t, allocs, 1.0)
}
