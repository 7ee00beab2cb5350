package core

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
)

// Page is one page of a keyset-paginated list.
type Page[T any] struct {
	Items []T `json:"items"`
	// Next is the cursor of the following page, or "" on the last page.
	Next string `json:"next,omitempty"`
}

// CursorSigner turns positions in a list into opaque cursors and back. A
// cursor is signed with HMAC-SHA256, so a cursor that was altered, that
// belongs to another tenant, or that was made for another list (other filter
// or sort) is refused with ErrInvalid instead of leaking or skipping rows.
type CursorSigner struct {
	key []byte
}

// NewCursorSigner returns a signer using key. Cursors survive a restart only
// when the key does.
func NewCursorSigner(key []byte) *CursorSigner {
	return &CursorSigner{key: append([]byte(nil), key...)}
}

// cursorBody is what a cursor carries.
type cursorBody struct {
	// Scope binds the cursor to one tenant and one list shape.
	Scope string `json:"s"`
	// Values are the sort-key values of the last row of the previous page.
	Values []json.RawMessage `json:"v"`
}

// Encode makes a cursor valid for scope holding values.
func (s *CursorSigner) Encode(scope string, values ...any) (string, error) {
	body := cursorBody{Scope: scope}
	for _, v := range values {
		b, err := json.Marshal(v)
		if err != nil {
			return "", err
		}
		body.Values = append(body.Values, b)
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(s.sign(payload)), nil
}

// Decode checks cursor's signature and scope and returns the raw values it
// carries. Any mismatch returns an error matching ErrInvalid.
func (s *CursorSigner) Decode(scope, cursor string) ([]json.RawMessage, error) {
	bad := Invalid("cursor", "is not a cursor of this list")
	p, sig, ok := strings.Cut(cursor, ".")
	if !ok {
		return nil, bad
	}
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(p)
	mac, err2 := enc.DecodeString(sig)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, s.sign(payload)) {
		return nil, bad
	}
	var body cursorBody
	if err := json.Unmarshal(payload, &body); err != nil || body.Scope != scope {
		return nil, bad
	}
	return body.Values, nil
}

func (s *CursorSigner) sign(payload []byte) []byte {
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte("crmkit-cursor-v1\x00"))
	h.Write(payload)
	return h.Sum(nil)
}
