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

func TestApplyRetention(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		clock := dbtest.NewClock(time.Date(2023, 1, 1, 9, 0, 0, 0, time.UTC))
		at := clock.Jump
		c, err := crm.New(db, crm.Config{Clock: clock})
		require.NoError(t, err)
		require.NoError(t, c.Migrate(ctx))
		_, err = c.Consent.DefinePurpose(ctx, consent.NewPurpose{Key: "newsletter", Label: "Newsletter", LegalBasis: consent.BasisConsent,
			Channels: []consent.Channel{consent.Email}, Wording: "Send me news."})
		require.NoError(t, err)

		// Three years ago: an idle lead, a customer, a restricted lead, a
		// lead that is active later, and an opt-in nobody confirmed.
		idle, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "idle@example.com"})
		require.NoError(t, err)
		_, err = c.Contacts.Create(ctx, contacts.NewContact{Email: "buyer@example.com", LifecycleStage: contacts.StageCustomer})
		require.NoError(t, err)
		kept, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "kept@example.com"})
		require.NoError(t, err)
		require.NoError(t, c.Contacts.Restrict(ctx, kept.ID, "legal_claim"))
		active, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "active@example.com"})
		require.NoError(t, err)
		_, err = c.Consent.RequestOptIn(ctx, active.ID, "newsletter", consent.Email, consent.Proof{Source: "form"})
		require.NoError(t, err)

		at(time.Date(2025, 11, 1, 9, 0, 0, 0, time.UTC)) // 14 months before "now" below
		_, err = c.Contacts.Track(ctx, contacts.ByID(active.ID), contacts.NewActivity{Kind: contacts.KindWeb, Name: "page_view"})
		require.NoError(t, err)
		at(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)) // 10 months before
		_, err = c.Contacts.Track(ctx, contacts.ByID(active.ID), contacts.NewActivity{Kind: contacts.KindWeb, Name: "page_view"})
		require.NoError(t, err)

		require.ErrorIs(t, c.Consent.SetRetentionPolicy(ctx, consent.RetentionPolicy{PurgeOptInsAfterDays: -1}), core.ErrInvalid)
		require.NoError(t, c.Consent.SetRetentionPolicy(ctx, consent.RetentionPolicy{PurgeOptInsAfterDays: 30,
			EraseInactiveLeadsAfterMonths: 24, DeleteWebActivitiesAfterMonths: 13}))
		today := time.Date(2027, 1, 1, 9, 0, 0, 0, time.UTC)
		at(today)
		rep, err := c.ApplyRetention(ctx, today)
		require.NoError(t, err)
		require.Equal(t, crm.RetentionReport{OptInsPurged: 1, LeadsErased: 1, ActivitiesDeleted: 1}, rep)
		receipt, err := c.Consent.Erasure(ctx, idle.ID)
		require.NoError(t, err)
		require.Equal(t, "retention", receipt.Reason)
		k, err := c.Contacts.Get(ctx, kept.ID)
		require.NoError(t, err)
		require.Equal(t, "kept@example.com", k.Email, "restricted contacts are kept")

		// Again: nothing left to do.
		rep, err = c.ApplyRetention(ctx, today)
		require.NoError(t, err)
		require.Equal(t, crm.RetentionReport{}, rep)
	})
}
