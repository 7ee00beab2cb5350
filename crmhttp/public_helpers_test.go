package crmhttp_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmhttp"
)

// tokenKey signs the links of the public tests' CRMs.
var tokenKey = []byte("0123456789abcdef0123456789abcdef")

// manualClock is a clock the test moves.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// publicBundle is a CRM with its handler on a test server, for the
// public routes: a clock the test moves, known token keys, and a public
// rate high enough for the tests' requests from one address.
type publicBundle struct {
	t     *testing.T
	c     *crm.CRM
	srv   *httptest.Server
	clock *manualClock
}

func setupPublic(t *testing.T, db *bun.DB, cfg crm.Config) *publicBundle {
	t.Helper()
	clock := &manualClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	cfg.Clock = clock
	cfg.TokenKeys = [][]byte{tokenKey}
	c, err := crm.New(db, cfg)
	require.NoError(t, err)
	require.NoError(t, c.Migrate(t.Context()))
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	h, err := crmhttp.New(c, crmhttp.Options{Auth: auth, PublicRate: 10_000})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &publicBundle{t: t, c: c, srv: srv, clock: clock}
}

// get fetches a public page; it checks the headers every public page
// carries.
func (b *publicBundle) get(path string) (int, string) {
	b.t.Helper()
	res, err := b.srv.Client().Get(b.srv.URL + path)
	require.NoError(b.t, err)
	return b.read(res)
}

// post sends a form to a public page.
func (b *publicBundle) post(path string, form url.Values) (int, string) {
	b.t.Helper()
	return b.postRaw(path, "application/x-www-form-urlencoded", form.Encode())
}

// postRaw sends a body of any content type to a public page.
func (b *publicBundle) postRaw(path, contentType, body string) (int, string) {
	b.t.Helper()
	res, err := b.srv.Client().Post(b.srv.URL+path, contentType, strings.NewReader(body))
	require.NoError(b.t, err)
	return b.read(res)
}

func (b *publicBundle) read(res *http.Response) (int, string) {
	b.t.Helper()
	body, err := io.ReadAll(res.Body)
	require.NoError(b.t, err)
	require.NoError(b.t, res.Body.Close())
	require.Equal(b.t, "no-store", res.Header.Get("Cache-Control"))
	require.Equal(b.t, "no-referrer", res.Header.Get("Referrer-Policy"))
	if strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		require.Contains(b.t, res.Header.Get("Content-Security-Policy"), "default-src 'none'")
		require.Contains(b.t, string(body), `<html lang="en">`)
		require.NotContains(b.t, string(body), "<script")
	}
	return res.StatusCode, string(body)
}

// signConsent makes a consent token as the consent module does, with
// key: what a holder of the key (and nobody else) can make, to show that
// even a genuine signature does not reach across tenants.
func signConsent(t *testing.T, key []byte, kind, tenant string, id core.ID, purpose string, expires time.Time) string {
	t.Helper()
	payload, err := json.Marshal(map[string]any{"k": kind, "t": tenant, "i": id, "p": purpose, "e": expires.Unix()})
	require.NoError(t, err)
	m := hmac.New(sha256.New, key)
	m.Write(payload)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(m.Sum(nil))
}

// signSurvey makes a survey token as the tickets module does.
func signSurvey(t *testing.T, key []byte, tenant string, survey core.ID, kind string, expires time.Time) string {
	t.Helper()
	payload, err := json.Marshal(map[string]any{"t": tenant, "s": survey, "k": kind, "e": expires.Unix()})
	require.NoError(t, err)
	derived := hmac.New(sha256.New, key)
	derived.Write([]byte("crmkit tickets survey links v1"))
	m := hmac.New(sha256.New, derived.Sum(nil))
	m.Write(payload)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(m.Sum(nil))
}

// altered is token with the first character of its signature changed.
func altered(token string) string {
	i := strings.LastIndex(token, ".") + 1
	next := byte('A')
	if token[i] == 'A' {
		next = 'B'
	}
	return token[:i] + string(next) + token[i+1:]
}
