package consent

import (
	"context"
	"time"

	"github.com/crmkit/crmkit/core"
)

// ConsentAPI is what *Service (c.Consent) does, as an interface, for hosts
// that substitute it: a fake in their tests, a wrapper that adds caching or
// metrics. See *Service for each method.
type ConsentAPI interface {
	Allowed(ctx context.Context, contactID core.ID, purpose string, channel Channel) error
	AllowedMany(ctx context.Context, ids []core.ID, purpose string, channel Channel) (map[core.ID]error, error)
	Audit(ctx context.Context, aq AuditQuery) ([]AuditEntry, error)
	Confirm(ctx context.Context, token string, proof Proof) (*Record, error)
	DefinePurpose(ctx context.Context, in NewPurpose) (*Purpose, error)
	Erase(ctx context.Context, contactID core.ID, reason string) (*ErasureReceipt, error)
	EraseWithHold(ctx context.Context, contactID core.ID, reason string, hold LegalHold) (*ErasureReceipt, error)
	Erasure(ctx context.Context, contactID core.ID) (*ErasureReceipt, error)
	Export(ctx context.Context, contactID core.ID) (*SubjectAccess, error)
	Grant(ctx context.Context, contactID core.ID, purpose string, channel Channel, proof Proof) (*Record, error)
	History(ctx context.Context, contactID core.ID) ([]*Record, error)
	LiftSuppression(ctx context.Context, email, phone string, proof LiftProof) error
	OptInPurpose(ctx context.Context, token string) (*Purpose, error)
	Object(ctx context.Context, contactID core.ID, purpose string, channel Channel, proof Proof) ([]*Record, error)
	Preferences(ctx context.Context, token string) ([]Preference, error)
	PreferencesToken(ctx context.Context, contactID core.ID) (*PreferenceLink, error)
	PurgeOptIns(ctx context.Context, expiredBefore time.Time) (int64, error)
	Purpose(ctx context.Context, key string) (*Purpose, error)
	ReleaseHolds(ctx context.Context, now time.Time) (int64, error)
	RequestOptIn(ctx context.Context, contactID core.ID, purpose string, channel Channel, proof Proof) (*OptIn, error)
	RetentionPolicy(ctx context.Context) (RetentionPolicy, error)
	SetPreferences(ctx context.Context, token string, choices []Choice, proof Proof) ([]*Record, error)
	SetRetentionPolicy(ctx context.Context, p RetentionPolicy) error
	Status(ctx context.Context, contactID core.ID, purpose string, channel Channel) (*Record, error)
	Suppress(ctx context.Context, email, phone, reason string) error
	Suppressed(ctx context.Context, email, phone string) (bool, error)
	SuppressedAddresses(ctx context.Context, emails, phones []string) (map[string]bool, error)
	TokenPurpose(ctx context.Context, token string) (*Purpose, error)
	TokenTenant(token string) (string, error)
	Unsubscribe(ctx context.Context, token string, proof Proof) ([]*Record, error)
	UnsubscribeToken(ctx context.Context, contactID core.ID, purpose string) (string, error)
	UnsubscribeTokens(ctx context.Context, ids []core.ID, purpose string) (map[core.ID]string, error)
	Withdraw(ctx context.Context, contactID core.ID, purpose string, channel Channel, proof Proof) ([]*Record, error)
	Wording(ctx context.Context, key string, version int64) (string, error)
}

// The services satisfy their interfaces.
var (
	_ ConsentAPI = (*Service)(nil)
)
