package contacts_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
)

// Errors end up in logs: a conflict on a taken email, external id or
// domain names the owner's id, never the value.
func TestConflictMessagesCarryNoPersonalData(t *testing.T) {
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		ada, err := b.svc.Create(ctx, contacts.NewContact{Email: "ada.lovelace@example.com",
			ExternalIDs: []contacts.ExternalID{{Source: "shop", ID: "customer-4711"}}})
		require.NoError(t, err)

		_, err = b.svc.Create(ctx, contacts.NewContact{Email: "ada.lovelace@example.com"})
		require.ErrorIs(t, err, core.ErrConflict)
		require.NotContains(t, err.Error(), "lovelace")
		require.Contains(t, err.Error(), ada.ID.String())

		_, err = b.svc.Create(ctx, contacts.NewContact{Email: "other@example.com",
			ExternalIDs: []contacts.ExternalID{{Source: "shop", ID: "customer-4711"}}})
		require.ErrorIs(t, err, core.ErrConflict)
		require.NotContains(t, err.Error(), "4711")
		require.Contains(t, err.Error(), ada.ID.String())

		_, err = b.svc.Create(ctx, contacts.NewContact{Email: "x@example.com",
			ExternalIDs: []contacts.ExternalID{{Source: "shop", ID: "c-99"}, {Source: "shop", ID: "c-99"}}})
		require.ErrorIs(t, err, core.ErrInvalid)
		require.NotContains(t, err.Error(), "c-99")

		co, err := b.companies.Create(ctx, contacts.NewCompany{Name: "Lovelace", Domain: "lovelace-family.example"})
		require.NoError(t, err)
		_, err = b.companies.Create(ctx, contacts.NewCompany{Name: "Other", Domain: "lovelace-family.example"})
		require.ErrorIs(t, err, core.ErrConflict)
		require.NotContains(t, err.Error(), "lovelace")
		require.Contains(t, err.Error(), co.ID.String())
		_, err = b.companies.Create(ctx, contacts.NewCompany{Name: "Bad", Domain: "ada lovelace"})
		require.ErrorIs(t, err, core.ErrInvalid)
		require.NotContains(t, err.Error(), "lovelace")
	})
}
