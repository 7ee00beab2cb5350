package consent

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
)

// Token errors. Each matches a core sentinel too (ErrInvalid, ErrConflict
// or ErrForbidden), so callers can map them to HTTP answers.
var (
	// ErrTokenInvalid: malformed, forged or signed with an unknown key.
	ErrTokenInvalid = fmt.Errorf("%w: the token is not valid", core.ErrInvalid)
	// ErrTokenExpired: the token was valid but its time is up.
	ErrTokenExpired = fmt.Errorf("%w: the token has expired", core.ErrInvalid)
	// ErrTokenUsed: a single-use token was used before.
	ErrTokenUsed = fmt.Errorf("%w: the token was already used", core.ErrConflict)
	// ErrTokenTenant: the token belongs to another tenant.
	ErrTokenTenant = fmt.Errorf("%w: the token belongs to another tenant", core.ErrForbidden)
)

// token kinds
const (
	kindOptIn       = "optin"
	kindUnsubscribe = "unsub"
	kindPreferences = "prefs"
)

// claims are what a token carries; the signature covers them all.
type claims struct {
	Kind    string  `json:"k"`
	Tenant  string  `json:"t"`
	ID      core.ID `json:"i"`
	Purpose string  `json:"p"`
	// Expires is a Unix time; 0 never expires.
	Expires int64 `json:"e,omitempty"`
}

// MinKeyLen is the shortest token key accepted.
const MinKeyLen = 32

// sign returns "<payload>.<mac>", both base64url, MAC'd with the first key.
func (s *Service) sign(c claims) (string, error) {
	if len(s.opts.Keys) == 0 || len(s.opts.Keys[0]) < MinKeyLen {
		return "", core.Invalid("keys", "token keys of at least %d bytes are required", MinKeyLen)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, s.opts.Keys[0])
	mac.Write(payload)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(mac.Sum(nil)), nil
}

// ParseToken checks a token's form and signature against keys and returns
// its claims; it does not check expiry, tenant or use. Exported for fuzzing.
func ParseToken(keys [][]byte, token string) (kind, tenant string, id core.ID, purpose string, expires int64, err error) {
	c, err := parse(keys, token)
	return c.Kind, c.Tenant, c.ID, c.Purpose, c.Expires, err
}

func parse(keys [][]byte, token string) (claims, error) {
	var c claims
	if len(token) > 2048 {
		return c, ErrTokenInvalid
	}
	p, m, ok := strings.Cut(token, ".")
	if !ok {
		return c, ErrTokenInvalid
	}
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(p)
	sig, err2 := enc.DecodeString(m)
	if err1 != nil || err2 != nil || len(sig) != sha256.Size {
		return c, ErrTokenInvalid
	}
	valid := false
	for _, k := range keys {
		mac := hmac.New(sha256.New, k)
		mac.Write(payload)
		if hmac.Equal(mac.Sum(nil), sig) {
			valid = true
			break
		}
	}
	if !valid {
		return c, ErrTokenInvalid
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || (c.Kind != kindOptIn && c.Kind != kindUnsubscribe && c.Kind != kindPreferences) {
		return claims{}, ErrTokenInvalid
	}
	return c, nil
}

// verify parses token for this service's tenant and kind.
func (s *Service) verify(token, kind string) (claims, error) {
	tenant, err := s.sc.Tenant()
	if err != nil {
		return claims{}, err
	}
	c, err := parse(s.opts.Keys, token)
	switch {
	case err != nil:
		return c, err
	case c.Kind != kind:
		return c, ErrTokenInvalid
	case c.Tenant != tenant:
		return c, ErrTokenTenant
	case c.Expires != 0 && s.sc.Runtime().Now().Unix() > c.Expires:
		return c, ErrTokenExpired
	}
	return c, nil
}

// OptIn is a pending double opt-in.
type OptIn struct {
	// Token goes into the confirmation link; it expires after OptInTTL and
	// works once.
	Token     string    `json:"token"`
	Record    *Record   `json:"record"`
	ExpiresAt time.Time `json:"expires_at"`
}

// RequestOptIn starts a double opt-in: it records a pending consent of the
// contact to purpose (a consent-based one) over channel and returns the
// token of the confirmation link.
func (s *Service) RequestOptIn(ctx context.Context, contactID core.ID, purpose string, channel Channel, proof Proof) (_ *OptIn, err error) {
	ctx, span := s.sc.SpanID(ctx, "consent.RequestOptIn", contactID)
	defer span.End(&err)

	if channel == "" {
		return nil, core.Invalid("channel", "is required")
	}
	g, err := check(ctx, s.sc, "contact", contactID, access.Create)
	if err != nil {
		return nil, err
	}
	var out *OptIn
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		q := tx.Q()
		if err := g.contact(ctx, q, tenant, contactID, access.Create); err != nil {
			return err
		}
		p, err := getPurpose(ctx, q, tenant, purpose, false)
		if errors.Is(err, core.ErrNotFound) {
			return core.Invalid("purpose", "%q is not a purpose of this tenant", purpose)
		}
		if err != nil {
			return err
		}
		v := &core.ValidationError{}
		checkSubject(v, p, channel, proof)
		if p.LegalBasis != BasisConsent {
			v.Add("purpose", "%q is on %s, not consent: it needs no opt-in", purpose, p.LegalBasis)
		}
		if err := v.Err(); err != nil {
			return err
		}
		if err := checkSuppressed(ctx, q, tenant, contactID); err != nil {
			return err
		}
		now := tx.Runtime().Now()
		reqID := core.NewID()
		expires := now.Add(s.opts.OptInTTL)
		token, err := s.sign(claims{Kind: kindOptIn, Tenant: tenant, ID: reqID, Purpose: purpose, Expires: expires.Unix()})
		if err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `INSERT INTO crm_optin_requests (tenant_id, id, contact_id, purpose_key, channel, wording_version, source,
			requested_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, tenant, reqID, contactID, purpose, string(channel),
			p.WordingVersion, strings.TrimSpace(proof.Source), now, expires); err != nil {
			if dialect.IsForeignKeyViolation(err) {
				return core.Invalid("contact_id", "contact %s does not exist", contactID)
			}
			return err
		}
		r, err := s.append(ctx, tx, tenant, &Record{ContactID: contactID, Purpose: purpose, Channel: channel, State: Pending,
			Source: strings.TrimSpace(proof.Source), WordingVersion: p.WordingVersion, IP: proof.IP, UserAgent: proof.UserAgent, RequestID: &reqID})
		if err != nil {
			return err
		}
		out = &OptIn{Token: token, Record: r, ExpiresAt: time.Unix(expires.Unix(), 0).UTC()}
		return nil
	})
	if err != nil {
		return nil, g.done(ctx, store.Wrap(err, "request opt-in"))
	}
	return out, nil
}

// Confirm completes a double opt-in: the token's request becomes a grant
// (source "double_opt_in", proof of the confirmation's IP and user agent
// when recorded), under the wording the person was asked with. A forged,
// expired, used or foreign token is refused with ErrTokenInvalid,
// ErrTokenExpired, ErrTokenUsed or ErrTokenTenant, and nothing changes.
func (s *Service) Confirm(ctx context.Context, token string, proof Proof) (_ *Record, err error) {
	ctx, span := s.sc.Span(ctx, "consent.Confirm")
	defer span.End(&err)

	c, err := s.verify(token, kindOptIn)
	if err != nil {
		return nil, err
	}
	var out *Record
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		q := tx.Q()
		var contactID core.ID
		var channel string
		var wording int64
		var confirmed sql.NullTime
		err := q.QueryRow(ctx, `SELECT contact_id, channel, wording_version, confirmed_at FROM crm_optin_requests
			WHERE tenant_id = ? AND id = ?`+q.D.LockRows(), tenant, c.ID).Scan(&contactID, &channel, &wording, &confirmed)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrTokenExpired // purged after expiring, or its contact is gone
		}
		if err != nil {
			return err
		}
		if confirmed.Valid {
			return ErrTokenUsed
		}
		if err := checkSuppressed(ctx, q, tenant, contactID); err != nil {
			return err
		}
		now := tx.Runtime().Now()
		if _, err := q.Exec(ctx, `UPDATE crm_optin_requests SET confirmed_at = ? WHERE tenant_id = ? AND id = ?`, now, tenant, c.ID); err != nil {
			return err
		}
		id := c.ID
		out, err = s.append(ctx, tx, tenant, &Record{ContactID: contactID, Purpose: c.Purpose, Channel: Channel(channel), State: Granted,
			Source: SourceDoubleOptIn, WordingVersion: wording, IP: proof.IP, UserAgent: proof.UserAgent, RequestID: &id})
		return err
	})
	if err != nil {
		return nil, store.Wrap(err, "confirm opt-in")
	}
	return out, nil
}

// OptInPurpose returns the purpose a double opt-in token asks to confirm,
// with the wording (and its version) the person was asked with, for the
// page that asks before Confirm (the service bound to the token's
// tenant). It writes nothing. Forged, expired, used and foreign tokens
// are refused as by Confirm.
func (s *Service) OptInPurpose(ctx context.Context, token string) (_ *Purpose, err error) {
	ctx, span := s.sc.Span(ctx, "consent.OptInPurpose")
	defer span.End(&err)

	c, err := s.verify(token, kindOptIn)
	if err != nil {
		return nil, err
	}
	tenant, _ := s.sc.Tenant()
	q := s.sc.Q()
	var wording int64
	var confirmed sql.NullTime
	err = q.QueryRow(ctx, `SELECT wording_version, confirmed_at FROM crm_optin_requests WHERE tenant_id = ? AND id = ?`,
		tenant, c.ID).Scan(&wording, &confirmed)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, ErrTokenExpired // as Confirm: purged, or its contact is gone
	case err != nil:
		return nil, store.Wrap(err, "opt-in purpose")
	case confirmed.Valid:
		return nil, ErrTokenUsed
	}
	p, err := getPurpose(ctx, q, tenant, c.Purpose, false)
	if err != nil {
		return nil, store.Wrap(err, "opt-in purpose")
	}
	if p.WordingVersion != wording {
		if err := q.QueryRow(ctx, `SELECT wording, hash FROM crm_purpose_wordings WHERE tenant_id = ? AND purpose_key = ? AND version = ?`,
			tenant, p.Key, wording).Scan(&p.Wording, &p.WordingHash); err != nil {
			return nil, store.Wrap(err, "opt-in purpose")
		}
		p.WordingVersion = wording
	}
	return p, nil
}

// PurgeOptIns deletes the opt-in requests that expired unconfirmed before
// expiredBefore, and returns how many. Their pending records stay in the
// log. ApplyRetention (crm) runs it by the tenant's policy.
func (s *Service) PurgeOptIns(ctx context.Context, expiredBefore time.Time) (_ int64, err error) {
	ctx, span := s.sc.Span(ctx, "consent.PurgeOptIns")
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return 0, err
	}
	if err := core.CheckTime("expired_before", expiredBefore); err != nil {
		return 0, err
	}
	if _, err := check(ctx, s.sc, "optin_request", core.NilID, access.Manage); err != nil {
		return 0, err
	}
	var n int64
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		res, err := tx.Q().Exec(ctx, `DELETE FROM crm_optin_requests WHERE tenant_id = ? AND confirmed_at IS NULL AND expires_at < ?`,
			tenant, expiredBefore)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, store.Wrap(err, "purge opt-ins")
}

// UnsubscribeToken returns the token of an unsubscribe link (and of RFC
// 8058 one-click unsubscribe) for the contact and purpose. It does not
// expire; it works any number of times.
func (s *Service) UnsubscribeToken(ctx context.Context, contactID core.ID, purpose string) (_ string, err error) {
	ctx, span := s.sc.SpanID(ctx, "consent.UnsubscribeToken", contactID)
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return "", err
	}
	g, err := check(ctx, s.sc, "contact", contactID, access.Read)
	if err != nil {
		return "", err
	}
	if err := g.contact(ctx, s.sc.Q(), tenant, contactID, access.Read); err != nil {
		return "", g.done(ctx, store.Wrap(err, "unsubscribe token"))
	}
	if _, err := getPurpose(ctx, s.sc.Q(), tenant, purpose, false); err != nil {
		return "", store.Wrap(err, "unsubscribe token")
	}
	return s.sign(claims{Kind: kindUnsubscribe, Tenant: tenant, ID: contactID, Purpose: purpose})
}

// Unsubscribe withdraws the token's contact from the token's purpose on
// every channel (source "unsubscribe_link"). Idempotent: when nothing is
// granted any more it records nothing and returns no records.
func (s *Service) Unsubscribe(ctx context.Context, token string, proof Proof) (_ []*Record, err error) {
	ctx, span := s.sc.Span(ctx, "consent.Unsubscribe")
	defer span.End(&err)

	c, err := s.verify(token, kindUnsubscribe)
	if err != nil {
		return nil, err
	}
	tenant, _ := s.sc.Tenant()
	p, err := getPurpose(ctx, s.sc.Q(), tenant, c.Purpose, false)
	if err != nil {
		return nil, store.Wrap(err, "unsubscribe")
	}
	// The token is the authority: whoever holds it acts for the person,
	// whatever actor the context carries.
	g, err := s.tokenGuard()
	if err != nil {
		return nil, err
	}
	var out []*Record
	for _, ch := range p.Channels {
		st, err := s.status(ctx, tenant, c.ID, c.Purpose, ch)
		if err != nil {
			return nil, err
		}
		if st == nil || st.State == Withdrawn || st.State == Objected {
			continue
		}
		recs, err := s.changeAll(ctx, g, access.Update, c.ID, c.Purpose, ch, Withdrawn, Proof{Source: SourceUnsubscribe, IP: proof.IP, UserAgent: proof.UserAgent})
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
	}
	return out, nil
}

// TokenTenant returns the tenant a token of this CRM's keys was made for
// (an unsubscribe, opt-in or preference centre link): what a public
// endpoint, which serves every tenant, binds to before it calls
// Unsubscribe, Confirm or SetPreferences there. A token that does not
// verify is ErrTokenInvalid.
func (s *Service) TokenTenant(token string) (string, error) {
	c, err := parse(s.opts.Keys, token)
	if err != nil {
		return "", err
	}
	return c.Tenant, nil
}

// TokenPurpose returns the purpose an unsubscribe token is about, for the
// page that asks before unsubscribing (the service bound to the token's
// tenant).
func (s *Service) TokenPurpose(ctx context.Context, token string) (_ *Purpose, err error) {
	ctx, span := s.sc.Span(ctx, "consent.TokenPurpose")
	defer span.End(&err)

	c, err := s.verify(token, kindUnsubscribe)
	if err != nil {
		return nil, err
	}
	tenant, _ := s.sc.Tenant()
	p, err := getPurpose(ctx, s.sc.Q(), tenant, c.Purpose, false)
	return p, store.Wrap(err, "get purpose")
}

// tokenGuard is the guard of a call that a signed token authorizes
// (Confirm, Unsubscribe, TokenPurpose, SetPreferences): the token's holder acts for the
// person, so the call is not checked against the actor in the context.
func (s *Service) tokenGuard() (*guard, error) {
	return guardOf(context.Background(), s.sc)
}
