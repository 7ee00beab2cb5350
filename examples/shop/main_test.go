package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/automation"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/mailtest"
)

// The shop runs for real on each database: HTTP requests, its own
// table, crmkit's rule and workers, and mail to an SMTP server in the
// test.
func TestShop(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		testShop(t, "file:"+filepath.Join(t.TempDir(), "shop.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		dsn, schema := dbtest.PostgresSchema(t)
		testShop(t, dbtest.WithSearchPath(dsn, schema))
	})
}

func testShop(t *testing.T, dsn string) {
	ctx := context.Background()
	mail := mailtest.Start(t)
	base := start(t, "-dsn", dsn, "-addr", "127.0.0.1:0", "-smtp", mail.Addr, "-remind-after", "1s")

	// Ada leaves her cart; Bob orders his; Carl orders without a cart.
	ada := post(t, base+"/cart", `{"email": "ada@example.com", "first_name": "Ada", "total": "49.90", "currency": "EUR", "reminders": true}`, http.StatusOK)
	post(t, base+"/cart", `{"email": "bob@example.com", "first_name": "Bob", "total": "20.00", "currency": "EUR", "reminders": true}`, http.StatusOK)
	bob := post(t, base+"/orders", `{"email": "bob@example.com", "total": "20.00", "currency": "EUR"}`, http.StatusCreated)
	post(t, base+"/orders", `{"email": "carl@example.com", "first_name": "Carl", "total": "5.00", "currency": "EUR"}`, http.StatusCreated)
	post(t, base+"/orders", `{"email": "bob@example.com", "total": "29.90", "currency": "EUR"}`, http.StatusCreated)

	// An order crmkit refuses (no valid address) leaves no order row: the
	// shop's insert and crmkit's write were one transaction.
	post(t, base+"/orders", `{"email": "not-an-address", "total": "9.00", "currency": "EUR"}`, http.StatusBadRequest)

	c, err := crm.Open(ctx, crm.Config{DSN: dsn})
	require.NoError(t, err)
	defer c.Close()
	var emails []string
	require.NoError(t, c.DB().NewSelect().Table("shop_orders").Column("email").Order("id").Scan(ctx, &emails))
	require.Equal(t, []string{"bob@example.com", "carl@example.com", "bob@example.com"}, emails)

	// Both carts' rule runs end after the wait; only Ada's cart was still
	// open, so only she gets the reminder.
	require.Eventually(t, func() bool {
		runs, err := c.Automation.Runs.List(ctx, automation.RunQuery{Status: automation.RunDone})
		require.NoError(t, err)
		return len(runs) == 2 && len(mail.Messages()) == 1
	}, 15*time.Second, 20*time.Millisecond)
	require.Len(t, mail.To("ada@example.com"), 1)
	m, err := mail.To("ada@example.com")[0].Parse()
	require.NoError(t, err)
	require.Equal(t, "Your cart is waiting", m.Header.Get("Subject"))
	require.Contains(t, m.Text, "Hello Ada")

	// The mail's unsubscribe link withdraws her consent to reminders.
	link := regexp.MustCompile(`<https://shop\.example(/unsubscribe/[^>]+)>`).FindStringSubmatch(m.Header.Get("List-Unsubscribe"))
	require.NotNil(t, link, m.Header.Get("List-Unsubscribe"))
	require.Contains(t, get(t, base+link[1], http.StatusOK), `<form method="post">`)
	post(t, base+link[1], "List-Unsubscribe=One-Click", http.StatusOK)
	adaID, err := core.ParseID(ada["customer_id"].(string))
	require.NoError(t, err)
	require.ErrorIs(t, c.Consent.Allowed(ctx, adaID, purposeReminders, consent.Email), core.ErrNoConsent)

	// Bob's page: his two orders, their value, his timeline.
	page := get(t, base+"/customers/"+bob["customer_id"].(string), http.StatusOK)
	require.Contains(t, page, "Orders: 2.")
	require.Contains(t, page, "Lifetime value: 49.90 EUR")
	require.Contains(t, page, ": 29.90 EUR")
	require.Contains(t, page, "web cart_updated")
	page = get(t, base+"/customers/"+ada["customer_id"].(string), http.StatusOK)
	require.Contains(t, page, "No purchase yet.")
	require.Contains(t, page, "email.sent")
	get(t, base+"/customers/"+core.NewID().String(), http.StatusNotFound)
}

// start runs the shop with args until the test ends and returns its URL.
func start(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, out) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	listening := regexp.MustCompile(`shop listening on (http://\S+)`)
	var base string
	require.Eventually(t, func() bool {
		select {
		case err := <-done:
			t.Fatalf("the shop stopped: %v", err)
		default:
		}
		if m := listening.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
		}
		return base != ""
	}, 15*time.Second, 10*time.Millisecond)
	return base
}

func post(t *testing.T, url, body string, status int) map[string]any {
	t.Helper()
	res, err := http.Post(url, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, status, res.StatusCode, "%s", b)
	var out map[string]any
	if res.Header.Get("Content-Type") == "application/json" {
		require.NoError(t, json.Unmarshal(b, &out))
	}
	return out
}

func get(t *testing.T, url string, status int) string {
	t.Helper()
	res, err := http.Get(url)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, status, res.StatusCode, "%s", b)
	return string(b)
}

// syncBuffer is a bytes.Buffer the shop writes to while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
