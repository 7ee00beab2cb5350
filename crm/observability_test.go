package crm_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/crmkit/crmkit/automation"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/internal/dbtest"
)

// spans records the spans of one CRM's provider (none is installed
// globally, so tests run in parallel).
type spans struct {
	rec *tracetest.SpanRecorder
	tp  *sdktrace.TracerProvider
}

func newSpans() spans {
	rec := tracetest.NewSpanRecorder()
	return spans{rec: rec, tp: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))}
}

// named returns the ended spans called name, in the order they ended.
func (s spans) named(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, sp := range s.rec.Ended() {
		if sp.Name() == name {
			out = append(out, sp)
		}
	}
	return out
}

// one returns the one ended span called name.
func (s spans) one(t *testing.T, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	got := s.named(name)
	var all []string
	for _, sp := range s.rec.Ended() {
		all = append(all, sp.Name())
	}
	require.Len(t, got, 1, "spans called %s among %v", name, all)
	return got[0]
}

func attr(sp sdktrace.ReadOnlySpan, key attribute.Key) string {
	for _, kv := range sp.Attributes() {
		if kv.Key == key {
			return kv.Value.Emit()
		}
	}
	return ""
}

func childOf(t *testing.T, child, parent sdktrace.ReadOnlySpan) {
	t.Helper()
	require.Equal(t, parent.SpanContext().SpanID(), child.Parent().SpanID(), "%s is a child of %s", child.Name(), parent.Name())
	require.Equal(t, parent.SpanContext().TraceID(), child.SpanContext().TraceID())
}

// Public operations make spans under the caller's span, with the tenant and
// record id, an error status for a failed one, and River's spans for the
// jobs they insert and for working them; a QueryHook sees the statements
// with the operation's span in its context.
func TestTraceSpans(t *testing.T) {
	t.Parallel()
	for _, db := range []struct {
		name string
		opt  func(t *testing.T) crmtest.Option
	}{
		{"sqlite", func(*testing.T) crmtest.Option { return crmtest.WithSQLite() }},
		{"postgres", func(t *testing.T) crmtest.Option { return crmtest.WithPostgres(dbtest.PostgresDSN(t)) }},
	} {
		t.Run(db.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			sp := newSpans()
			var mu sync.Mutex
			insertSpans := map[oteltrace.SpanID]bool{} // spans in whose context a contact was inserted
			hook := core.QueryHookFunc(func(ctx context.Context, q core.QueryInfo) {
				if strings.HasPrefix(q.SQL, "INSERT INTO crm_contacts ") {
					mu.Lock()
					insertSpans[oteltrace.SpanContextFromContext(ctx).SpanID()] = true
					mu.Unlock()
				}
			})
			run := crmtest.New(t, db.opt(t), crmtest.WithConfig(crm.Config{TracerProvider: sp.tp, QueryHook: hook}))
			c := run.Tenant("acme")

			_, err := c.Automation.Rules.Create(ctx, automation.Rule{Name: "tag new", Enabled: true, Triggers: []string{contacts.EventContactCreated},
				Actions: []automation.Action{{Type: automation.ActionAddTag, Tag: "new"}}})
			require.NoError(t, err)

			reqCtx, req := sp.tp.Tracer("host").Start(ctx, "request")
			ada, err := c.Contacts.Create(reqCtx, contacts.NewContact{Email: "ada@example.com", FirstName: "Ada"})
			require.NoError(t, err)
			_, err = c.Contacts.Update(reqCtx, ada.ID, contacts.ContactPatch{Version: ada.Version + 1, FirstName: new("Augusta")})
			require.ErrorIs(t, err, core.ErrConflict)
			_, err = c.Contacts.List(reqCtx, contacts.ListOptions{})
			require.NoError(t, err)
			require.NoError(t, c.InTx(reqCtx, func(ctx context.Context, tx *crm.CRM) error {
				_, err := tx.Contacts.Create(ctx, contacts.NewContact{FirstName: "Grace"})
				return err
			}))
			req.End()

			ran, err := run.RunDue(ctx)
			require.NoError(t, err)
			require.NotEmpty(t, ran)

			request := sp.one(t, "request")
			creates := sp.named("contacts.Create")
			require.Len(t, creates, 2)
			create := creates[0]
			childOf(t, create, request)
			require.Equal(t, "acme", attr(create, "crm.tenant"))
			require.Equal(t, codes.Unset, create.Status().Code)
			// The statement ran in the span's context.
			mu.Lock()
			require.True(t, insertSpans[create.SpanContext().SpanID()], "the INSERT ran under contacts.Create")
			mu.Unlock()

			// The rule's action updates the contact too, under the job's span.
			var update sdktrace.ReadOnlySpan
			for _, s := range sp.named("contacts.Update") {
				if s.Parent().SpanID() == request.SpanContext().SpanID() {
					update = s
				}
			}
			require.NotNil(t, update, "contacts.Update under the request")
			require.Equal(t, ada.ID.String(), attr(update, "crm.id"))
			require.Equal(t, codes.Error, update.Status().Code)
			require.Equal(t, "conflict", attr(update, "error.type"))
			require.NotEmpty(t, update.Events(), "the error is recorded")
			require.Equal(t, "exception", update.Events()[0].Name)

			list := sp.one(t, "contacts.List")
			childOf(t, list, request)
			require.Equal(t, codes.Unset, list.Status().Code)

			intx := sp.one(t, "crm.InTx")
			childOf(t, intx, request)
			childOf(t, creates[1], intx)

			// The rule's job was inserted in Create's transaction, under its
			// span; working it is a span of its own, linked to the insert.
			var insert sdktrace.ReadOnlySpan
			for _, s := range sp.named("river.insert_many") {
				if s.Parent().SpanID() == create.SpanContext().SpanID() {
					insert = s
				}
			}
			require.NotNil(t, insert, "a job inserted under contacts.Create")
			var work sdktrace.ReadOnlySpan
			for _, s := range sp.rec.Ended() {
				if !strings.HasPrefix(s.Name(), "river.work/") {
					continue
				}
				if slices.ContainsFunc(s.Links(), func(l sdktrace.Link) bool {
					return l.SpanContext.SpanID() == insert.SpanContext().SpanID()
				}) {
					work = s
				}
			}
			require.NotNil(t, work, "a job worked, linked to its insert")
			require.Equal(t, oteltrace.SpanKindConsumer, work.SpanKind())
			require.Equal(t, codes.Ok, work.Status().Code)
			// What the job does through the services is under its span.
			require.True(t, slices.ContainsFunc(sp.named("contacts.Update"), func(s sdktrace.ReadOnlySpan) bool {
				return s.Parent().SpanID() == work.SpanContext().SpanID() && s.SpanContext().TraceID() == work.SpanContext().TraceID()
			}), "the rule's update under the job's span")

			// The job did its work.
			got, err := c.Contacts.Get(ctx, ada.ID)
			require.NoError(t, err)
			require.Contains(t, got.Tags, "new")
		})
	}
}

// A QueryHook sees every statement crmkit runs, with its placeholders and
// never its values.
func TestQueryHook(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		var mu sync.Mutex
		var seen []core.QueryInfo
		c, err := crm.New(db, crm.Config{QueryHook: core.QueryHookFunc(func(_ context.Context, q core.QueryInfo) {
			mu.Lock()
			seen = append(seen, q)
			mu.Unlock()
		})})
		require.NoError(t, err)
		ada, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com", FirstName: "Ada"})
		require.NoError(t, err)
		_, err = c.Contacts.Get(ctx, ada.ID)
		require.NoError(t, err)
		_, err = c.Contacts.Get(ctx, core.NewID())
		require.ErrorIs(t, err, core.ErrNotFound)

		mu.Lock()
		defer mu.Unlock()
		var inserts, reads, misses int
		for _, q := range seen {
			require.NotContains(t, q.SQL, "ada@example.com")
			require.NotContains(t, q.SQL, "Ada")
			require.False(t, q.Start.IsZero(), q.SQL)
			require.GreaterOrEqual(t, q.Duration, time.Duration(0))
			require.NoError(t, q.Err, q.SQL)
			if strings.HasPrefix(q.SQL, "INSERT INTO crm_contacts ") {
				inserts++
				require.EqualValues(t, 1, q.Rows)
				require.True(t, strings.Contains(q.SQL, "$1") || strings.Contains(q.SQL, "?"), q.SQL)
			}
			if strings.HasPrefix(q.SQL, "SELECT") && strings.Contains(q.SQL, "FROM crm_contacts") {
				switch q.Rows {
				case 1:
					reads++
				case 0:
					misses++
				}
			}
		}
		require.Equal(t, 1, inserts, "the contact's INSERT")
		require.GreaterOrEqual(t, reads, 1, "Get's SELECT found the row")
		require.GreaterOrEqual(t, misses, 1, "Get's SELECT found no row")
	})
}
