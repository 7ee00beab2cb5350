package crm_test

import (
	"context"
	"fmt"
	"log"
	"strings"
	"sync/atomic"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
)

// Give crmkit a tracer provider: each operation is a span under the
// caller's, with the tenant and the record's id; a failed one has status
// Error. A host passes its exporting provider; this one keeps the spans in
// memory.
func ExampleConfig_tracerProvider() {
	ctx := context.Background()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	c, err := crm.Open(ctx, crm.Config{DSN: ":memory:", TracerProvider: tp})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Migrate(ctx); err != nil {
		log.Fatal(err)
	}

	ctx, request := tp.Tracer("shop").Start(ctx, "POST /signup")
	ada, err := c.Tenant("acme").Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.Tenant("acme").Contacts.Update(ctx, ada.ID, contacts.ContactPatch{Version: ada.Version + 1})
	request.End()

	for _, s := range spans.Ended() {
		parent := "-"
		if s.Parent().SpanID() == request.SpanContext().SpanID() {
			parent = "POST /signup"
		}
		fmt.Printf("%s (under %s) %s\n", s.Name(), parent, s.Status().Code)
	}
	fmt.Println(err != nil)
	// Output:
	// crm.Migrate (under -) Unset
	// contacts.Create (under POST /signup) Unset
	// contacts.Update (under POST /signup) Error
	// POST /signup (under -) Unset
	// true
}

// A QueryHook sees every statement crmkit runs: its text with
// placeholders, timing and rows, never the values.
func ExampleConfig_queryHook() {
	ctx := context.Background()
	var inserts atomic.Int64
	hook := core.QueryHookFunc(func(ctx context.Context, q core.QueryInfo) {
		if strings.HasPrefix(q.SQL, "INSERT INTO crm_contacts ") && q.Err == nil {
			inserts.Add(q.Rows)
		}
	})
	c, err := crm.Open(ctx, crm.Config{DSN: ":memory:", QueryHook: hook})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	for _, email := range []string{"ada@example.com", "grace@example.com"} {
		if _, err := c.Contacts.Create(ctx, contacts.NewContact{Email: email}); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("contacts inserted:", inserts.Load())
	// Output: contacts inserted: 2
}
