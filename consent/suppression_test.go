package consent_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
)

// A returning customer who was erased may be contactable again when they
// ask: the lift needs an actor and proof, is audited without the address,
// and a new consent is still needed.
func TestLiftSuppression(t *testing.T) {
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		_, err := access.Module.Service(b.sc).Roles.InstallBuiltins(ctx)
		require.NoError(t, err)
		dpo := core.WithActor(ctx, core.Actor{ID: "dpo", Roles: []string{access.RoleAdmin}})
		newsletter(t, b)
		p, err := b.contacts.Create(ctx, contacts.NewContact{Email: "rosalind.vey@example.com", Phone: "+49 30 1234567"})
		require.NoError(t, err)
		_, err = b.consent.Erase(dpo, p.ID, "request")
		require.NoError(t, err)

		back, err := b.contacts.Create(ctx, contacts.NewContact{Email: "Rosalind.Vey@example.com"})
		require.NoError(t, err)
		_, err = b.consent.RequestOptIn(ctx, back.ID, "newsletter", consent.Email, consent.Proof{Source: "form"})
		require.ErrorIs(t, err, consent.ErrSuppressed, "an erased address cannot opt in")

		proof := consent.LiftProof{Source: "email", Reason: "asked by email to get the newsletter again"}
		for name, tc := range map[string]struct {
			ctx   context.Context
			proof consent.LiftProof
			field string
		}{
			"no actor":          {ctx, proof, "actor"},
			"no source":         {dpo, consent.LiftProof{Reason: proof.Reason}, "proof.source"},
			"no reason":         {dpo, consent.LiftProof{Source: "email"}, "proof.reason"},
			"address in reason": {dpo, consent.LiftProof{Source: "email", Reason: "rosalind.vey@example.com asked"}, "proof.reason"},
		} {
			err := b.consent.LiftSuppression(tc.ctx, "rosalind.vey@example.com", "", tc.proof)
			require.ErrorIs(t, err, core.ErrInvalid, name)
			var v *core.ValidationError
			require.ErrorAs(t, err, &v)
			require.True(t, v.Has(tc.field), "%s: %v", name, err)
		}
		sup, err := b.consent.Suppressed(ctx, "rosalind.vey@example.com", "")
		require.NoError(t, err)
		require.True(t, sup, "a refused lift lifts nothing")
		require.ErrorIs(t, b.consent.LiftSuppression(dpo, "never.suppressed@example.com", "", proof), core.ErrNotFound)

		require.NoError(t, b.consent.LiftSuppression(dpo, " ROSALIND.VEY@example.com", "", proof))
		sup, err = b.consent.Suppressed(ctx, "rosalind.vey@example.com", "")
		require.NoError(t, err)
		require.False(t, sup)
		sup, err = b.consent.Suppressed(ctx, "", "+49 30 1234567")
		require.NoError(t, err)
		require.True(t, sup, "only the address asked about is lifted")
		_, err = b.consent.RequestOptIn(ctx, back.ID, "newsletter", consent.Email, consent.Proof{Source: "form"})
		require.NoError(t, err, "the person can opt in again")
		require.ErrorIs(t, b.consent.Allowed(ctx, back.ID, "newsletter", consent.Email), core.ErrNoConsent, "a consent is still needed")

		entries, err := b.consent.Audit(ctx, consent.AuditQuery{})
		require.NoError(t, err)
		var lift *consent.AuditEntry
		for i, e := range entries {
			if e.Action == "suppression.lifted" {
				lift = &entries[i]
			}
		}
		require.NotNil(t, lift, "the lift is audited")
		require.Equal(t, "dpo", lift.ActorID)
		require.Equal(t, "suppression", lift.SubjectType)
		require.Contains(t, lift.Detail, "email")
		require.Contains(t, lift.Detail, proof.Reason)
		require.NotContains(t, lift.Detail, "rosalind")

		require.ErrorIs(t, b.consent.LiftSuppression(dpo, "rosalind.vey@example.com", "", proof), core.ErrNotFound, "lifted already")
	})
}
