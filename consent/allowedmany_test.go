package consent_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
)

// AllowedMany gives, for contacts in random consent histories (grants,
// withdrawals, objections, pending opt-ins, suppression, restriction,
// records of contacts merged into them), exactly what Allowed gives for
// each, on a consent basis and on legitimate interest.
func TestAllowedManyAgreesWithAllowed(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		newsletter(t, b)
		_, err := b.consent.DefinePurpose(ctx, consent.NewPurpose{Key: "offers", Label: "Offers", LegalBasis: consent.BasisLegitimateInterest,
			Channels: []consent.Channel{consent.Email}, Wording: "We send offers to customers."})
		require.NoError(t, err)
		rng := rand.New(rand.NewPCG(7, 11))
		proof := consent.Proof{Source: "form"}
		var ids []core.ID
		for i := range 40 {
			ct, err := b.contacts.Create(ctx, contacts.NewContact{Email: fmt.Sprintf("p%02d@example.com", i)})
			require.NoError(t, err)
			for range rng.IntN(4) {
				for _, purpose := range []string{"newsletter", "offers"} {
					switch rng.IntN(4) {
					case 0:
						_, err = b.consent.Grant(ctx, ct.ID, purpose, consent.Email, proof)
					case 1:
						_, err = b.consent.Withdraw(ctx, ct.ID, purpose, consent.Email, proof)
					case 2:
						_, err = b.consent.Object(ctx, ct.ID, purpose, consent.Email, proof)
					case 3:
						if purpose == "newsletter" {
							_, err = b.consent.RequestOptIn(ctx, ct.ID, purpose, consent.Email, proof)
						}
					}
					if err != nil && !errors.Is(err, core.ErrNoConsent) && !errors.Is(err, core.ErrInvalid) {
						require.NoError(t, err)
					}
				}
			}
			switch rng.IntN(8) {
			case 0:
				require.NoError(t, b.consent.Suppress(ctx, ct.Email, "", "bounce"))
			case 1:
				require.NoError(t, b.contacts.Restrict(ctx, ct.ID, "dispute"))
			case 2:
				// A duplicate with its own history, merged into the contact.
				dup, err := b.contacts.Create(ctx, contacts.NewContact{Email: fmt.Sprintf("dup%02d@example.com", i)})
				require.NoError(t, err)
				_, err = b.consent.Grant(ctx, dup.ID, "newsletter", consent.Email, proof)
				require.NoError(t, err)
				_, err = b.contacts.Merge(ctx, ct.ID, dup.ID)
				require.NoError(t, err)
			}
			ids = append(ids, ct.ID)
		}
		ids = append(ids, core.NewID()) // no such contact
		for _, purpose := range []string{"newsletter", "offers"} {
			for _, channel := range []consent.Channel{consent.Email, consent.SMS} {
				many, err := b.consent.AllowedMany(ctx, ids, purpose, channel)
				require.NoError(t, err)
				denied := 0
				for _, id := range ids {
					one := b.consent.Allowed(ctx, id, purpose, channel)
					if one == nil {
						require.NoError(t, many[id], "%s %s %s", id, purpose, channel)
						continue
					}
					denied++
					require.Error(t, many[id], "%s %s %s", id, purpose, channel)
					require.Equal(t, one.Error(), many[id].Error())
				}
				require.Greater(t, denied, 0)
			}
		}
		_, err = b.consent.AllowedMany(ctx, ids, "nope", consent.Email)
		require.ErrorIs(t, err, core.ErrInvalid)
	})
}

func errorsIsNoConsent(err error) bool {
	return err != nil && (errorsIs(err, core.ErrNoConsent) || errorsIs(err, core.ErrInvalid))
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
