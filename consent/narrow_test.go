package consent_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/core"
)

// What the consent module shows of a person follows what the actor may
// see of them: a record's network details (IP, user agent) only to
// actors with personal data on "consent"; an erasure receipt only of a
// contact the actor sees (ErrNotFound otherwise, audited); the
// suppression list, which cannot be narrowed to contacts, only to actors
// who see every contact and personal data.
func TestConsentNarrowedPerPersonAndPersonalData(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		w := newWorld(t, db)
		bg := context.Background()
		as := func(id string) context.Context { return core.WithActor(bg, core.Actor{ID: id}) }
		svc := consent.Module.Service(w.sc, consent.Options{Keys: [][]byte{key1}, RecordNetwork: true})
		kims := w.ids("kim")[0]
		_, err := svc.Withdraw(bg, kims, "newsletter", consent.Email, consent.Proof{Source: "form", IP: "203.0.113.7", UserAgent: "Browser/1"})
		require.NoError(t, err)

		// Network details: kim (clerk) and root see personal data on
		// consent; rita (read-only), erin (marketing) and alice (sales:
		// consent read without personal data) do not.
		for _, tc := range []struct {
			user   string
			masked bool
		}{{"", false}, {"root", false}, {"kim", false}, {"rita", true}, {"erin", true}} {
			ctx := bg
			if tc.user != "" {
				ctx = as(tc.user)
			}
			h, err := svc.History(ctx, kims)
			require.NoError(t, err, tc.user)
			last := h[len(h)-1]
			st, err := svc.Status(ctx, kims, "newsletter", consent.Email)
			require.NoError(t, err, tc.user)
			if tc.masked {
				require.Empty(t, last.IP, tc.user)
				require.Empty(t, last.UserAgent, tc.user)
				require.Empty(t, st.IP, tc.user)
				require.Empty(t, st.UserAgent, tc.user)
			} else {
				require.Equal(t, "203.0.113.7", last.IP, tc.user)
				require.Equal(t, "Browser/1", st.UserAgent, tc.user)
			}
			require.Equal(t, consent.Withdrawn, st.State, "the state is not personal data")
		}
		rec, err := svc.Grant(as("kim"), kims, "newsletter", consent.Email, consent.Proof{Source: "form", IP: "203.0.113.8"})
		require.NoError(t, err)
		require.Equal(t, "203.0.113.8", rec.IP)

		// Erasure receipts follow the contact's visibility.
		alices := w.ids("alice")[0]
		_, err = svc.Erase(as("root"), alices, "request")
		require.NoError(t, err)
		_, err = svc.Erase(as("kim"), kims, "request")
		require.NoError(t, err)
		for _, tc := range []struct {
			user string
			of   core.ID
			sees bool
		}{
			{"root", alices, true}, {"rita", alices, true}, {"erin", alices, true},
			{"alice", alices, true}, // sales: her own contact
			{"carol", alices, true}, // manager: team east, alice's
			{"bob", alices, false},  // sales: his own only
			{"kim", alices, false},  // clerk: her own only
			{"kim", kims, true},
			{"dave", kims, false}, // support: team east; kim is in none
		} {
			got, err := svc.Erasure(as(tc.user), tc.of)
			if tc.sees {
				require.NoError(t, err, "%s of %s", tc.user, tc.of)
				require.Equal(t, tc.of, got.ContactID)
				continue
			}
			require.ErrorIs(t, err, core.ErrNotFound, "%s of %s", tc.user, tc.of)
		}
		require.Contains(t, w.denied(t, "bob"), "consent:read")
		_, err = svc.Erasure(as("bob"), core.NewID())
		require.ErrorIs(t, err, core.ErrNotFound)

		// The suppression list (alice's address was suppressed by her
		// erasure).
		for _, tc := range []struct {
			user string
			may  bool
		}{
			{"", true}, {"root", true},
			{"rita", false}, // every contact, no personal data
			{"kim", false},  // personal data, her own contacts only
			{"dave", false}, // personal data, his team's contacts
			{"nobody", false},
		} {
			ctx := bg
			if tc.user != "" {
				ctx = as(tc.user)
			}
			sup, err := svc.Suppressed(ctx, "pa@example.com", "")
			if tc.may {
				require.NoError(t, err, tc.user)
				require.True(t, sup, tc.user)
				continue
			}
			require.ErrorIs(t, err, core.ErrForbidden, tc.user)
			_, err = svc.SuppressedAddresses(ctx, []string{"pa@example.com"}, nil)
			require.ErrorIs(t, err, core.ErrForbidden, tc.user)
		}
		require.Contains(t, w.denied(t, "kim"), "consent:read")
		require.Contains(t, w.denied(t, "rita"), "consent:read")
	})
}
