package consent_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
)

// For random owners, teams and roles (a visibility on contacts and one on
// consent), the contacts whose consent records each user reads — through
// History, Status and AllowedMany — are exactly those an in-memory
// reference picks: seen in the contacts module and under the consent
// grant's own visibility, on both databases.
func TestConsentVisibilityAgreesWithReference(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		w := newWorld(t, db) // the runtime; each round is a tenant of its own
		seed := uint64(time.Now().UnixNano())
		t.Logf("seed %d", seed)
		r := rand.New(rand.NewPCG(seed, 17))
		ctx := context.Background()
		vis := []access.Visibility{access.VisibilityOwn, access.VisibilityTeam, access.VisibilityAll}
		for round := range 3 {
			sc := w.sc.WithTenant(fmt.Sprintf("round-%d", round))
			acc := access.Module.Service(sc)
			svc := consent.Module.Service(sc, consent.Options{Keys: [][]byte{key1}})
			people := contacts.Module.Contacts(sc)
			_, err := svc.DefinePurpose(ctx, consent.NewPurpose{Key: "newsletter", Label: "Newsletter", LegalBasis: consent.BasisConsent,
				Channels: []consent.Channel{consent.Email}, Wording: "Yes."})
			require.NoError(t, err)
			for _, cv := range vis {
				for _, kv := range vis {
					_, err := acc.Roles.Create(ctx, access.RoleInput{Name: "c-" + string(cv) + "-k-" + string(kv), Permissions: access.Permissions{
						"contacts": {Actions: []access.Action{access.Read}, Visibility: cv},
						"consent":  {Actions: []access.Action{access.Read}, Visibility: kv}}})
					require.NoError(t, err)
				}
			}
			users := make([]string, 8)
			contactVis, consentVis := map[string]access.Visibility{}, map[string]access.Visibility{}
			for i := range users {
				u := fmt.Sprintf("u%d", i)
				users[i] = u
				contactVis[u], consentVis[u] = vis[r.IntN(len(vis))], vis[r.IntN(len(vis))]
				_, err := acc.Users.Create(ctx, access.UserInput{ID: u, DisplayName: u,
					Roles: []string{"c-" + string(contactVis[u]) + "-k-" + string(consentVis[u])}})
				require.NoError(t, err)
			}
			teams := make([][]string, 3)
			for i := range teams {
				team, err := acc.Teams.Create(ctx, access.TeamInput{Name: fmt.Sprintf("t%d", i)})
				require.NoError(t, err)
				for _, u := range users {
					if r.IntN(3) == 0 {
						team, err = acc.Teams.AddMember(ctx, team.ID, team.Version, access.Member{UserID: u})
						require.NoError(t, err)
						teams[i] = append(teams[i], u)
					}
				}
			}
			owners := append(slices.Clone(users), "", "outsider")
			owner := map[core.ID]string{}
			var ids []core.ID
			for range 20 + r.IntN(15) {
				c, err := people.Create(ctx, contacts.NewContact{FirstName: "P", OwnerID: owners[r.IntN(len(owners))]})
				require.NoError(t, err)
				_, err = svc.Grant(ctx, c.ID, "newsletter", consent.Email, consent.Proof{Source: "form"})
				require.NoError(t, err)
				owner[c.ID] = c.OwnerID
				ids = append(ids, c.ID)
			}
			by := func(v access.Visibility, u, o string) bool {
				switch v {
				case access.VisibilityAll:
					return true
				case access.VisibilityOwn:
					return o == u
				}
				if o == u {
					return true
				}
				for _, members := range teams {
					if slices.Contains(members, u) && slices.Contains(members, o) {
						return true
					}
				}
				return false
			}
			for _, u := range users {
				actx := core.WithActor(ctx, core.Actor{ID: u})
				many, err := svc.AllowedMany(actx, ids, "newsletter", consent.Email)
				require.NoError(t, err)
				for _, id := range ids {
					want := by(contactVis[u], u, owner[id]) && by(consentVis[u], u, owner[id])
					why := fmt.Sprintf("round %d user %s (contacts %s, consent %s) owner %q (seed %d)", round, u, contactVis[u], consentVis[u], owner[id], seed)
					_, herr := svc.History(actx, id)
					_, serr := svc.Status(actx, id, "newsletter", consent.Email)
					if want {
						require.NoError(t, herr, why)
						require.NoError(t, serr, why)
						require.NotContains(t, many, id, why)
					} else {
						require.ErrorIs(t, herr, core.ErrNotFound, why)
						require.ErrorIs(t, serr, core.ErrNotFound, why)
						require.True(t, errors.Is(many[id], core.ErrNotFound), why)
					}
				}
			}
		}
	})
}
