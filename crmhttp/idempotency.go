package crmhttp

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"unicode"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/internal/store"
)

// Idempotency-Key on creates: a POST to a collection (/contacts, /deals,
// …) with the header is run once per tenant and key; sent again with the
// same key and the same body, it gets the first answer again (status,
// ETag, body) instead of a second record. The same key with another body
// is 422; while the first request runs, 409. Answers are kept 24 hours
// (crm_idempotency_keys); a request that fails on the server's side
// releases its key.

// MaxIdempotencyKey bounds the header's length.
const MaxIdempotencyKey = 200

type idempotency struct {
	rt   *store.Runtime
	auth Auth
	next http.Handler
}

func newIdempotency(c *crm.CRM, auth Auth, next http.Handler) (*idempotency, error) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	rt, err := store.NewRuntime(c.DB(), core.SystemClock, key, slog.Default())
	if err != nil {
		return nil, err
	}
	return &idempotency{rt: rt, auth: auth, next: next}, nil
}

// creates reports whether r creates a record: a POST to a collection.
func creates(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.Count(strings.Trim(r.URL.Path, "/"), "/") == 0 && r.URL.Path != "/"
}

func validKey(k string) bool {
	if k == "" || len(k) > MaxIdempotencyKey {
		return false
	}
	for _, r := range k {
		if r > unicode.MaxASCII || !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// writeProblem answers with an RFC 9457 problem, as the API does.
func writeProblem(w http.ResponseWriter, status int, detail string) {
	b, _ := json.Marshal(struct {
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}{http.StatusText(status), status, detail})
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (m *idempotency) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Idempotency-Key")
	if key == "" || !creates(r) {
		m.next.ServeHTTP(w, r)
		return
	}
	if !validKey(key) {
		writeProblem(w, http.StatusBadRequest, "the Idempotency-Key must be 1 to 200 printable ASCII characters")
		return
	}
	tenant, _, err := m.auth(r)
	if err != nil || tenant == "" {
		m.next.ServeHTTP(w, r) // the API answers 401
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		writeProblem(w, http.StatusBadRequest, "the body could not be read")
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	sum := sha256.Sum256(append([]byte(r.Method+" "+r.URL.Path+"\n"), body...))
	hash := hex.EncodeToString(sum[:])
	ctx := r.Context()
	kept, err := store.ClaimIdempotencyKey(ctx, m.rt, tenant, key, hash)
	switch {
	case err != nil:
		writeProblem(w, http.StatusInternalServerError, "the request failed")
		return
	case kept != nil && kept.RequestHash != hash:
		writeProblem(w, http.StatusUnprocessableEntity, "the Idempotency-Key was used with another request")
		return
	case kept != nil && kept.Status == 0:
		writeProblem(w, http.StatusConflict, "a request with this Idempotency-Key is still running")
		return
	case kept != nil:
		w.Header().Set("Content-Type", "application/json")
		if kept.ETag != "" {
			w.Header().Set("ETag", kept.ETag)
		}
		w.Header().Set("Idempotent-Replayed", "true")
		w.WriteHeader(kept.Status)
		_, _ = io.WriteString(w, kept.Body)
		return
	}
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	m.next.ServeHTTP(rec, r)
	if rec.status >= 500 {
		_ = store.ReleaseKey(ctx, m.rt, tenant, key)
		return
	}
	_ = store.KeepAnswer(ctx, m.rt, tenant, key, store.Answer{Status: rec.status, ETag: rec.Header().Get("ETag"), Body: rec.body.String()})
}

// recorder passes a response on and keeps a copy.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}
