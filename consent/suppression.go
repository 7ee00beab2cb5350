package consent

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/google/uuid"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// normalizeAddress is the form an address is hashed in: emails trimmed and
// lower-case, phones as their digits (with a leading + kept).
func normalizeAddress(kind, v string) string {
	v = strings.TrimSpace(v)
	if kind == "email" {
		return strings.ToLower(v)
	}
	var b strings.Builder
	for i, r := range v {
		if unicode.IsDigit(r) || (r == '+' && i == 0) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// suppressionKey returns the tenant's hashing key, creating it on first use.
func suppressionKey(ctx context.Context, tx *store.Tx, q store.Q, tenant string, create bool) ([]byte, error) {
	var salt string
	err := q.QueryRow(ctx, `SELECT salt FROM crm_suppression_keys WHERE tenant_id = ?`, tenant).Scan(&salt)
	if errors.Is(err, sql.ErrNoRows) {
		if !create {
			return nil, nil
		}
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		salt = hex.EncodeToString(b)
		// A concurrent first erasure or suppression may make the key at
		// the same time: the first one's stays (on PostgreSQL a unique
		// violation would abort the transaction, so none is raised).
		if _, err := tx.Q().Exec(ctx, `INSERT INTO crm_suppression_keys (tenant_id, salt) VALUES (?, ?)
			ON CONFLICT (tenant_id) DO NOTHING`, tenant, salt); err != nil {
			return nil, err
		}
		return suppressionKey(ctx, tx, tx.Q(), tenant, false)
	} else if err != nil {
		return nil, err
	}
	return hex.DecodeString(salt)
}

func addressHash(key []byte, kind, v string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(kind + ":" + normalizeAddress(kind, v)))
	return hex.EncodeToString(mac.Sum(nil))
}

// suppress adds the non-empty addresses in tx.
func suppress(ctx context.Context, tx *store.Tx, tenant, email, phone, reason string) error {
	key, err := suppressionKey(ctx, tx, tx.Q(), tenant, true)
	if err != nil {
		return err
	}
	for _, a := range [][2]string{{"email", email}, {"phone", phone}} {
		if normalizeAddress(a[0], a[1]) == "" {
			continue
		}
		_, err := tx.Q().Exec(ctx, `INSERT INTO crm_suppressions (tenant_id, kind, hash, reason, created_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (tenant_id, kind, hash) DO NOTHING`, tenant, a[0], addressHash(key, a[0], a[1]), reason, tx.Runtime().Now())
		if err != nil {
			return err
		}
	}
	return nil
}

// Suppress adds an email address and/or phone number to the suppression
// list: they are never allowed for marketing again (Allowed, Grant and
// RequestOptIn refuse them), even on a new contact. Only keyed hashes are
// stored. reason is a short code such as "objection" or "erasure".
func (s *Service) Suppress(ctx context.Context, email, phone, reason string) (err error) {
	ctx, span := s.sc.Span(ctx, "consent.Suppress")
	defer span.End(&err)

	v := &core.ValidationError{}
	if normalizeAddress("email", email) == "" && normalizeAddress("phone", phone) == "" {
		v.Add("address", "needs an email address or a phone number")
	}
	if !core.ValidCode(reason) {
		v.Add("reason", "must be a short code of lower-case letters, digits and _")
	}
	if err := v.Err(); err != nil {
		return err
	}
	if _, err := check(ctx, s.sc, "suppression", core.NilID, access.Update); err != nil {
		return err
	}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		return suppress(ctx, tx, tenant, email, phone, reason)
	})
	return store.Wrap(err, "suppress")
}

// Suppressed reports whether the email address or phone number is on the
// suppression list. An actor needs "consent" read, personal data on
// "consent", and to see every contact (see SuppressedAddresses).
func (s *Service) Suppressed(ctx context.Context, email, phone string) (_ bool, err error) {
	ctx, span := s.sc.Span(ctx, "consent.Suppressed")
	defer span.End(&err)

	sup, err := s.SuppressedAddresses(ctx, []string{email}, []string{phone})
	return len(sup) > 0, err
}

// checkSuppressed returns ErrRestricted for a restricted contact and
// ErrSuppressed when the contact's address is suppressed.
func checkSuppressed(ctx context.Context, q store.Q, tenant string, id core.ID) error {
	var email, phone string
	var restricted bool
	err := q.QueryRow(ctx, `SELECT email, phone, restricted FROM crm_contacts WHERE tenant_id = ? AND id = ?`, tenant, id).Scan(&email, &phone, &restricted)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	case restricted:
		return ErrRestricted
	}
	sup, err := suppressedAddresses(ctx, q, tenant, []string{email}, []string{phone})
	if err != nil {
		return err
	}
	if len(sup) > 0 {
		return ErrSuppressed
	}
	return nil
}

// ErrRestricted: the contact's processing is restricted (Art. 18; it
// matches core.ErrNoConsent).
var ErrRestricted = fmt.Errorf("%w: the contact's processing is restricted", core.ErrNoConsent)

// ErrSuppressed: the contact's address is on the suppression list (it
// matches core.ErrNoConsent).
var ErrSuppressed = fmt.Errorf("%w: the address is on the suppression list", core.ErrNoConsent)

// SuppressedAddresses returns which of the emails and phones are on the
// suppression list, keyed as given. The list holds keyed hashes of
// addresses, without their contacts, and what it answers is personal
// data about whoever has the address — that they objected, or were
// erased — which cannot be narrowed to the contacts an actor sees. So an
// actor needs "consent" read, personal data on "consent", and to see
// every contact (both the "contacts" and the "consent" grant's visibility
// all); others get core.ErrForbidden (audited).
func (s *Service) SuppressedAddresses(ctx context.Context, emails, phones []string) (_ map[string]bool, err error) {
	ctx, span := s.sc.Span(ctx, "consent.SuppressedAddresses")
	defer span.End(&err)

	g, err := check(ctx, s.sc, "suppression", core.NilID, access.Read)
	if err != nil {
		return nil, err
	}
	if !g.pd() || !g.everyone() {
		err := fmt.Errorf("%w: user %s may not read the suppression list: it needs personal data and every contact in view",
			core.ErrForbidden, g.eff.Actor())
		return nil, g.done(ctx, &denial{err: err, kind: "suppression", id: core.NilID, action: access.Read})
	}
	return importSuppression(ctx, s.sc, emails, phones)
}

// importSuppression is the suppression check of the contact import
// (store.Runtime.ImportSuppression, set by the module's hooks): it answers
// for sc's tenant, in sc's transaction.
func importSuppression(ctx context.Context, sc store.Scope, emails, phones []string) (map[string]bool, error) {
	tenant, err := sc.Tenant()
	if err != nil {
		return nil, err
	}
	sup, err := suppressedAddresses(ctx, sc.Q(), tenant, emails, phones)
	return sup, store.Wrap(err, "suppressed addresses")
}

// suppressedAddresses returns which of emails and phones are suppressed in
// the tenant, keyed as given: one query per kind.
func suppressedAddresses(ctx context.Context, q store.Q, tenant string, emails, phones []string) (map[string]bool, error) {
	out := map[string]bool{}
	key, err := suppressionKey(ctx, nil, q, tenant, false)
	if err != nil || key == nil {
		return out, err
	}
	for _, a := range []struct {
		kind string
		vals []string
	}{{"email", emails}, {"phone", phones}} {
		byHash := map[string][]string{}
		var hashes []string
		for _, v := range a.vals {
			if normalizeAddress(a.kind, v) == "" {
				continue
			}
			h := addressHash(key, a.kind, v)
			byHash[h] = append(byHash[h], v)
			hashes = append(hashes, h)
		}
		if len(hashes) == 0 {
			continue
		}
		rows, err := q.PlanPerCall().Query(ctx, `SELECT hash FROM crm_suppressions WHERE tenant_id = ? AND kind = ? AND `+
			q.D.InList("hash", "text"), tenant, a.kind, q.D.ListArg(hashes))
		if err != nil {
			return nil, err
		}
		err = store.EachRow(rows, func(r store.Scanner) error {
			var h string
			if err := r.Scan(&h); err != nil {
				return err
			}
			for _, v := range byHash[h] {
				out[v] = true
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// LiftProof is the proof that the person themself asked to be contactable
// again, like the proof of a consent: where they asked and what they asked.
// It is written to the audit log, so it must not hold the address.
type LiftProof struct {
	// Source says where the person asked: a short code such as "form",
	// "email" or "phone_call"; required.
	Source string
	// Reason is the request, in the person's words or the wording they
	// agreed to ("asked by email on 3 May to get the newsletter again");
	// required, at most 1000 characters, without the address.
	Reason string
}

// LiftSuppression takes an email address and/or phone number off the
// suppression list. It applies when, and only when, the person themself
// asks to be contactable again — a returning customer who was erased, or
// who objected for good; a host must never lift a suppression on its own
// (an import, a sync, a clean-up), which is why the acting user (core.Actor
// in ctx) and the proof are required. The lift is written to the audit log
// (action "suppression.lifted", the actor, the kinds lifted, the proof's
// source and reason) under a subject id derived from the address's keyed
// hash, never the address. Lifting only ends the refusal: marketing still
// needs a new consent (Grant, RequestOptIn). An address that is not on the
// list is core.ErrNotFound; a missing actor or proof is core.ErrInvalid.
func (s *Service) LiftSuppression(ctx context.Context, email, phone string, proof LiftProof) (err error) {
	ctx, span := s.sc.Span(ctx, "consent.LiftSuppression")
	defer span.End(&err)

	v := &core.ValidationError{}
	if normalizeAddress("email", email) == "" && normalizeAddress("phone", phone) == "" {
		v.Add("address", "needs an email address or a phone number")
	}
	if a, ok := core.ActorFrom(ctx); !ok || strings.TrimSpace(a.ID) == "" {
		v.Add("actor", "is required: put the core.Actor who took the person's request in the context")
	}
	if !core.ValidCode(proof.Source) {
		v.Add("proof.source", "is required: a short code of lower-case letters, digits and _ saying where the person asked")
	}
	reason := strings.TrimSpace(proof.Reason)
	switch {
	case reason == "":
		v.Add("proof.reason", "is required: what the person asked for")
	default:
		v.CheckText("proof.reason", reason, 1000)
		for _, a := range []string{strings.TrimSpace(email), strings.TrimSpace(phone)} {
			if len(a) >= 3 && strings.Contains(strings.ToLower(reason), strings.ToLower(a)) {
				v.Add("proof.reason", "must not contain the address (the audit log keeps no personal data)")
				break
			}
		}
	}
	if err := v.Err(); err != nil {
		return err
	}
	if _, err := check(ctx, s.sc, "suppression", core.NilID, access.Manage); err != nil {
		return err
	}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		key, err := suppressionKey(ctx, tx, tx.Q(), tenant, false)
		if err != nil {
			return err
		}
		lifted := 0
		for _, a := range [][2]string{{"email", email}, {"phone", phone}} {
			if key == nil || normalizeAddress(a[0], a[1]) == "" {
				continue
			}
			hash := addressHash(key, a[0], a[1])
			res, err := tx.Q().Exec(ctx, `DELETE FROM crm_suppressions WHERE tenant_id = ? AND kind = ? AND hash = ?`, tenant, a[0], hash)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				if err != nil {
					return err
				}
				continue
			}
			lifted++
			detail := a[0] + "; source " + proof.Source + "; " + reason
			if err := audit(ctx, tx, tenant, "suppression.lifted", "suppression", suppressionSubject(a[0], hash), detail); err != nil {
				return err
			}
		}
		if lifted == 0 {
			return fmt.Errorf("%w: the address is not on the suppression list", core.ErrNotFound)
		}
		return nil
	})
	return store.Wrap(err, "lift suppression")
}

// suppressionSubject is the audit log's subject id of a suppressed address:
// derived from its keyed hash, so entries about one address share it and
// none reveals it.
func suppressionSubject(kind, hash string) core.ID {
	return uuid.NewSHA1(uuid.Nil, []byte("crm_suppressions:"+kind+":"+hash))
}
