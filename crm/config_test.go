package crm_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/internal/dbtest"
)

// Config.OptInTTL reaches the consent module: a confirmation link expires
// after it, not after the 7-day default.
func TestConfigOptInTTL(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		clock := dbtest.NewClock(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
		c, err := crm.New(db, crm.Config{Clock: clock, OptInTTL: time.Hour})
		require.NoError(t, err)
		require.NoError(t, c.Migrate(ctx))
		_, err = c.Consent.DefinePurpose(ctx, consent.NewPurpose{Key: "newsletter", Label: "Newsletter", LegalBasis: consent.BasisConsent,
			Channels: []consent.Channel{consent.Email}, Wording: "Send me news."})
		require.NoError(t, err)
		ada, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
		require.NoError(t, err)
		in, err := c.Consent.RequestOptIn(ctx, ada.ID, "newsletter", consent.Email, consent.Proof{Source: "form"})
		require.NoError(t, err)
		require.Equal(t, clock.Now().Add(time.Hour).Truncate(time.Minute), in.ExpiresAt.Truncate(time.Minute))
		clock.Jump(clock.Now().Add(2 * time.Hour))
		_, err = c.Consent.Confirm(ctx, in.Token, consent.Proof{Source: "link"})
		require.ErrorIs(t, err, consent.ErrTokenExpired)
		require.ErrorIs(t, err, core.ErrInvalid)

		_, err = crm.New(db, crm.Config{OptInTTL: -time.Minute})
		require.ErrorIs(t, err, core.ErrInvalid)
	})
}
