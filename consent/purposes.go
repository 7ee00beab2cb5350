package consent

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
)

// LegalBasis is the ground a purpose processes personal data on (GDPR
// Art. 6).
type LegalBasis string

// Legal bases.
const (
	BasisConsent            LegalBasis = "consent"
	BasisContract           LegalBasis = "contract"
	BasisLegitimateInterest LegalBasis = "legitimate_interest"
	BasisLegalObligation    LegalBasis = "legal_obligation"
)

// LegalBases lists every legal basis.
var LegalBases = []LegalBasis{BasisConsent, BasisContract, BasisLegitimateInterest, BasisLegalObligation}

// Channel is how a purpose reaches a person.
type Channel string

// Channels.
const (
	Email Channel = "email"
	Phone Channel = "phone"
	SMS   Channel = "sms"
	Post  Channel = "post"
)

// Channels lists every channel.
var Channels = []Channel{Email, Phone, SMS, Post}

// Purpose is why a tenant processes personal data ("newsletter",
// "product_updates"), on which legal basis, over which channels, with the
// wording people agree to.
type Purpose struct {
	Key        string     `json:"key"`
	Label      string     `json:"label"`
	LegalBasis LegalBasis `json:"legal_basis"`
	Channels   []Channel  `json:"channels"`
	// Wording is the current text people are shown; WordingVersion counts
	// its changes and WordingHash is its SHA-256.
	Wording        string    `json:"wording"`
	WordingVersion int64     `json:"wording_version"`
	WordingHash    string    `json:"wording_hash"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	Version        int64     `json:"version"`
}

// NewPurpose is the input of DefinePurpose.
type NewPurpose struct {
	Key        string     `json:"key"`
	Label      string     `json:"label"`
	LegalBasis LegalBasis `json:"legal_basis"`
	Channels   []Channel  `json:"channels"`
	Wording    string     `json:"wording"`
}

// Limits.
const (
	MaxLabelLen   = 200
	MaxWordingLen = 20000
)

func (in *NewPurpose) check() error {
	v := &core.ValidationError{}
	in.Label = strings.TrimSpace(in.Label)
	in.Wording = strings.TrimSpace(in.Wording)
	if !core.ValidCode(in.Key) {
		v.Add("key", "must be a lower-case letter, then lower-case letters, digits and _")
	}
	if in.Label == "" {
		v.Add("label", "is required")
	}
	v.CheckText("label", in.Label, MaxLabelLen)
	if !slices.Contains(LegalBases, in.LegalBasis) {
		v.Add("legal_basis", "%q is not one of consent, contract, legitimate_interest, legal_obligation", in.LegalBasis)
	}
	if len(in.Channels) == 0 {
		v.Add("channels", "needs at least one of email, phone, sms, post")
	}
	for _, c := range in.Channels {
		if !slices.Contains(Channels, c) {
			v.Add("channels", "%q is not one of email, phone, sms, post", c)
		}
	}
	if in.Wording == "" {
		v.Add("wording", "is required: it is what people agree to")
	}
	if len(in.Wording) > MaxWordingLen || !core.StorableText(in.Wording) {
		v.Add("wording", "must be valid text of at most %d bytes", MaxWordingLen)
	}
	slices.Sort(in.Channels)
	in.Channels = slices.Compact(in.Channels)
	return v.Err()
}

func wordingHash(w string) string {
	h := sha256.Sum256([]byte(w))
	return hex.EncodeToString(h[:])
}

// DefinePurpose creates a purpose, or updates it: a new wording becomes the
// next wording version (earlier proofs keep pointing at theirs); label,
// basis and channels change in place. Emits "purpose.defined".
func (s *Service) DefinePurpose(ctx context.Context, in NewPurpose) (_ *Purpose, err error) {
	ctx, span := s.sc.Span(ctx, "consent.DefinePurpose")
	defer span.End(&err)

	if err := in.check(); err != nil {
		return nil, err
	}
	if _, err := check(ctx, s.sc, "purpose", core.NilID, access.Manage); err != nil {
		return nil, err
	}
	var out *Purpose
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		q := tx.Q()
		now := tx.Runtime().Now()
		cur, err := getPurpose(ctx, q, tenant, in.Key, true)
		if err != nil && !errors.Is(err, core.ErrNotFound) {
			return err
		}
		hash := wordingHash(in.Wording)
		channels := string(store.JSON(in.Channels))
		p := &Purpose{Key: in.Key, Label: in.Label, LegalBasis: in.LegalBasis, Channels: in.Channels, Wording: in.Wording,
			WordingHash: hash, CreatedAt: now, UpdatedAt: now, WordingVersion: 1, Version: 1}
		if cur == nil {
			if _, err := q.Exec(ctx, `INSERT INTO crm_purposes (tenant_id, key, label, legal_basis, channels, wording_version, created_at, updated_at, version)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, tenant, p.Key, p.Label, string(p.LegalBasis), channels, p.WordingVersion, now, now, p.Version); err != nil {
				if dialect.IsUniqueViolation(err) {
					return fmt.Errorf("%w: purpose %q was defined concurrently", core.ErrConflict, p.Key)
				}
				return err
			}
		} else {
			p.CreatedAt, p.WordingVersion, p.Version = cur.CreatedAt, cur.WordingVersion, cur.Version+1
			if cur.WordingHash != hash {
				p.WordingVersion++
			}
			if _, err := q.Exec(ctx, `UPDATE crm_purposes SET label = ?, legal_basis = ?, channels = ?, wording_version = ?, updated_at = ?, version = ?
				WHERE tenant_id = ? AND key = ?`, p.Label, string(p.LegalBasis), channels, p.WordingVersion, now, p.Version, tenant, p.Key); err != nil {
				return err
			}
		}
		if cur == nil || cur.WordingHash != hash {
			if _, err := q.Exec(ctx, `INSERT INTO crm_purpose_wordings (tenant_id, purpose_key, version, wording, hash, created_at)
				VALUES (?, ?, ?, ?, ?, ?)`, tenant, p.Key, p.WordingVersion, p.Wording, hash, now); err != nil {
				return err
			}
		}
		out = p
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventPurposeDefined, SubjectType: "purpose", SubjectID: core.NilID,
			OccurredAt: now, Data: store.JSON(p)})
	})
	if err != nil {
		return nil, store.Wrap(err, "define purpose")
	}
	return out, nil
}

// Purpose returns the purpose with key and its current wording.
func (s *Service) Purpose(ctx context.Context, key string) (_ *Purpose, err error) {
	ctx, span := s.sc.Span(ctx, "consent.Purpose")
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	if _, err := check(ctx, s.sc, "purpose", core.NilID, access.Read); err != nil {
		return nil, err
	}
	p, err := getPurpose(ctx, s.sc.Q(), tenant, key, false)
	return p, store.Wrap(err, "get purpose")
}

// Wording returns the text of a purpose's wording version: what a proof
// says the person agreed to.
func (s *Service) Wording(ctx context.Context, key string, version int64) (_ string, err error) {
	ctx, span := s.sc.Span(ctx, "consent.Wording")
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return "", err
	}
	if _, err := check(ctx, s.sc, "purpose", core.NilID, access.Read); err != nil {
		return "", err
	}
	var w string
	err = s.sc.Q().QueryRow(ctx, `SELECT wording FROM crm_purpose_wordings WHERE tenant_id = ? AND purpose_key = ? AND version = ?`,
		tenant, key, version).Scan(&w)
	if errors.Is(err, sql.ErrNoRows) {
		return "", core.NotFound("purpose wording", fmt.Sprintf("%s@%d", key, version))
	}
	return w, store.Wrap(err, "get wording")
}

// selectPurposes is the SELECT of purposes with their current wording.
const selectPurposes = `SELECT p.key, p.label, p.legal_basis, p.channels, p.wording_version, w.wording, w.hash, p.created_at, p.updated_at, p.version
	FROM crm_purposes p JOIN crm_purpose_wordings w ON w.tenant_id = p.tenant_id AND w.purpose_key = p.key AND w.version = p.wording_version
	WHERE p.tenant_id = ?`

func scanPurpose(r store.Scanner) (*Purpose, error) {
	var p Purpose
	var basis string
	var channels []byte
	if err := r.Scan(&p.Key, &p.Label, &basis, &channels, &p.WordingVersion, &p.Wording, &p.WordingHash,
		&p.CreatedAt, &p.UpdatedAt, &p.Version); err != nil {
		return nil, err
	}
	p.LegalBasis = LegalBasis(basis)
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	if err := json.Unmarshal(channels, &p.Channels); err != nil {
		return nil, fmt.Errorf("decode channels of purpose %q: %w", p.Key, err)
	}
	return &p, nil
}

func getPurpose(ctx context.Context, q store.Q, tenant, key string, lock bool) (*Purpose, error) {
	if !core.StorableText(key) {
		// As every read of such text (see store.Q).
		return nil, core.Invalid("purpose", "is not valid UTF-8 or contains a NUL byte")
	}
	if !core.ValidCode(key) {
		return nil, core.NotFound("purpose", key)
	}
	query := selectPurposes + ` AND p.key = ?`
	if lock && q.D.Kind == dialect.Postgres {
		query += " FOR UPDATE OF p"
	}
	p, err := scanPurpose(q.QueryRow(ctx, query, tenant, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.NotFound("purpose", key)
	}
	return p, err
}

// listPurposes returns the tenant's purposes, by key.
func listPurposes(ctx context.Context, q store.Q, tenant string) ([]*Purpose, error) {
	rows, err := q.Query(ctx, selectPurposes+` ORDER BY p.key`, tenant)
	if err != nil {
		return nil, err
	}
	out := []*Purpose{}
	err = store.EachRow(rows, func(r store.Scanner) error {
		p, err := scanPurpose(r)
		out = append(out, p)
		return err
	})
	return out, err
}
