package consent_test

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/migrate"
	"github.com/crmkit/crmkit/internal/module"
	"github.com/crmkit/crmkit/internal/modules"
	"github.com/crmkit/crmkit/internal/store"
)

// world is a tenant with users, teams and contacts owned by them, each
// with a granted newsletter, wired with the access facility and the
// contacts and consent modules.
type world struct {
	sc       store.Scope
	consent  *consent.Service
	contacts *contacts.Service
	access   *access.Service
	// byOwner are the contacts' ids by owner ("" for none).
	byOwner map[string][]core.ID
	all     []core.ID
}

func newWorld(t *testing.T, db *bun.DB) *world {
	t.Helper()
	ctx := context.Background()
	_, err := migrate.Up(ctx, db, modules.Migrations())
	require.NoError(t, err)
	clock := dbtest.NewClock(time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC))
	rt, err := store.NewRuntime(db, clock, []byte("test-secret-test-secret-test-secret!"), slog.Default())
	require.NoError(t, err)
	module.Wire(rt, []module.Module{access.Module.Declare(), contacts.Module.Declare(), consent.Module.Declare()})
	sc := store.NewScope(rt)
	w := &world{sc: sc, consent: consent.Module.Service(sc, consent.Options{Keys: [][]byte{key1}}), contacts: contacts.Module.Contacts(sc),
		access: access.Module.Service(sc), byOwner: map[string][]core.ID{}}
	_, err = w.access.Roles.InstallBuiltins(ctx)
	require.NoError(t, err)
	// A clerk keeps the consent log of their own contacts: every consent
	// action but settings, on the contacts they own.
	_, err = w.access.Roles.Create(ctx, access.RoleInput{Name: "clerk", Permissions: access.Permissions{
		"contacts": {Actions: []access.Action{access.Read, access.Update}, Visibility: access.VisibilityOwn, PersonalData: true},
		"consent": {Actions: []access.Action{access.Read, access.Create, access.Update, access.Export, access.Erase},
			Visibility: access.VisibilityAll, PersonalData: true},
	}})
	require.NoError(t, err)
	for _, u := range []struct{ id, role string }{
		{"root", access.RoleAdmin}, {"carol", access.RoleManager}, {"alice", access.RoleSales}, {"bob", access.RoleSales},
		{"dave", access.RoleSupport}, {"erin", access.RoleMarketing}, {"rita", access.RoleReadOnly}, {"kim", "clerk"}, {"nobody", ""},
	} {
		var roles []string
		if u.role != "" {
			roles = []string{u.role}
		}
		_, err := w.access.Users.Create(ctx, access.UserInput{ID: u.id, DisplayName: u.id, Roles: roles})
		require.NoError(t, err)
	}
	for name, members := range map[string][]string{"east": {"alice", "carol", "dave"}, "west": {"bob"}} {
		team, err := w.access.Teams.Create(ctx, access.TeamInput{Name: name})
		require.NoError(t, err)
		for _, m := range members {
			team, err = w.access.Teams.AddMember(ctx, team.ID, team.Version, access.Member{UserID: m})
			require.NoError(t, err)
		}
	}
	_, err = w.consent.DefinePurpose(ctx, consent.NewPurpose{Key: "newsletter", Label: "Newsletter", LegalBasis: consent.BasisConsent,
		Channels: []consent.Channel{consent.Email}, Wording: "Yes, send me the newsletter."})
	require.NoError(t, err)
	for i, owner := range []string{"alice", "alice", "bob", "carol", "kim", "kim", ""} {
		c, err := w.contacts.Create(ctx, contacts.NewContact{Email: "p" + string(rune('a'+i)) + "@example.com", OwnerID: owner})
		require.NoError(t, err)
		_, err = w.consent.Grant(ctx, c.ID, "newsletter", consent.Email, consent.Proof{Source: "form"})
		require.NoError(t, err)
		w.byOwner[owner] = append(w.byOwner[owner], c.ID)
		w.all = append(w.all, c.ID)
	}
	return w
}

func (w *world) ids(owners ...string) []core.ID {
	var out []core.ID
	for _, o := range owners {
		out = append(out, w.byOwner[o]...)
	}
	return out
}

// denied returns the details of actor's refused attempts in the audit log.
func (w *world) denied(t *testing.T, actor string) []string {
	t.Helper()
	entries, err := w.consent.Audit(context.Background(), consent.AuditQuery{Limit: store.MaxLimit})
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		if e.Action == consent.AuditDenied && e.ActorID == actor {
			out = append(out, e.Detail)
		}
	}
	return out
}

// Each built-in role, a clerk who keeps the consent log of their own
// contacts, and a user with none walk the module: whose consent records
// they read (those of the contacts they see in the contacts module),
// what they may record, export and erase, and the settings only managers
// of the module may touch. The public paths that work by signed token
// keep working whatever actor the context carries.
func TestRecordAccessByRole(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		w := newWorld(t, db)
		bg := context.Background()
		for _, tc := range []struct {
			user                  string
			sees                  []core.ID // nil: may not read the module
			record, export, erase bool
			manage                bool
		}{
			{user: "root", sees: w.all, record: true, export: true, erase: true, manage: true},
			{user: "carol", sees: w.ids("alice", "carol")}, // team east
			{user: "alice", sees: w.ids("alice")},
			{user: "bob", sees: w.ids("bob")},
			{user: "dave", sees: w.ids("alice", "carol")}, // support, team east
			{user: "erin", sees: w.all},
			{user: "rita", sees: w.all},
			{user: "kim", sees: w.ids("kim"), record: true, export: true, erase: true},
			{user: "nobody"},
		} {
			t.Run(tc.user, func(t *testing.T) {
				ctx := core.WithActor(bg, core.Actor{ID: tc.user})
				reads := tc.sees != nil
				expect := func(err error, ok bool, id core.ID) {
					t.Helper()
					switch {
					case !reads:
						require.ErrorIs(t, err, core.ErrForbidden)
					case !slices.Contains(tc.sees, id):
						require.ErrorIs(t, err, core.ErrNotFound, "contact %s", id)
					case ok:
						require.NoError(t, err)
					default:
						require.ErrorIs(t, err, core.ErrForbidden)
					}
				}
				// The consent log and proofs of each contact.
				for _, id := range w.all {
					hist, err := w.consent.History(ctx, id)
					expect(err, true, id)
					if err == nil {
						require.NotEmpty(t, hist)
					}
					st, err := w.consent.Status(ctx, id, "newsletter", consent.Email)
					expect(err, true, id)
					if err == nil {
						require.Equal(t, consent.Granted, st.State)
					}
					expect(w.consent.Allowed(ctx, id, "newsletter", consent.Email), true, id)
					_, err = w.consent.UnsubscribeToken(ctx, id, "newsletter")
					expect(err, true, id)
				}
				many, err := w.consent.AllowedMany(ctx, w.all, "newsletter", consent.Email)
				if !reads {
					require.ErrorIs(t, err, core.ErrForbidden)
				} else {
					require.NoError(t, err)
					for _, id := range w.all {
						if slices.Contains(tc.sees, id) {
							require.NotContains(t, many, id, "granted and visible: allowed")
						} else {
							require.ErrorIs(t, many[id], core.ErrNotFound)
						}
					}
				}
				_, err = w.consent.Purpose(ctx, "newsletter")
				if reads {
					require.NoError(t, err)
				} else {
					require.ErrorIs(t, err, core.ErrForbidden)
				}

				// Recording consent: create (grant, opt-in) and update
				// (withdraw, object) on the contacts they see.
				for _, id := range w.all {
					before := historyLen(t, w, id)
					_, gerr := w.consent.Grant(ctx, id, "newsletter", consent.Email, consent.Proof{Source: "phone"})
					_, werr := w.consent.Withdraw(ctx, id, "newsletter", consent.Email, consent.Proof{Source: "phone"})
					_, oerr := w.consent.Object(ctx, id, "newsletter", "", consent.Proof{Source: "phone"})
					_, rerr := w.consent.RequestOptIn(ctx, id, "newsletter", consent.Email, consent.Proof{Source: "form"})
					for _, err := range []error{gerr, werr, oerr, rerr} {
						switch {
						case !tc.record:
							require.ErrorIs(t, err, core.ErrForbidden)
						case !slices.Contains(tc.sees, id):
							require.ErrorIs(t, err, core.ErrNotFound)
						default:
							require.NoError(t, err)
						}
					}
					if !tc.record || !slices.Contains(tc.sees, id) {
						require.Equal(t, before, historyLen(t, w, id), "a refusal records nothing")
					} else {
						// Back to granted for the next walker.
						_, err := w.consent.Grant(bg, id, "newsletter", consent.Email, consent.Proof{Source: "phone"})
						require.NoError(t, err)
					}
				}

				// Subject access export.
				for _, id := range w.all {
					doc, err := w.consent.Export(ctx, id)
					switch {
					case !tc.export:
						require.ErrorIs(t, err, core.ErrForbidden)
					case !slices.Contains(tc.sees, id):
						require.ErrorIs(t, err, core.ErrNotFound)
					default:
						require.NoError(t, err)
						require.Equal(t, id, doc.ContactID)
					}
				}

				// Settings and housekeeping: manage.
				manageErr := func(err error) {
					t.Helper()
					if tc.manage {
						require.NoError(t, err)
					} else {
						require.ErrorIs(t, err, core.ErrForbidden)
					}
				}
				_, err = w.consent.DefinePurpose(ctx, consent.NewPurpose{Key: "surveys", Label: "Surveys", LegalBasis: consent.BasisConsent,
					Channels: []consent.Channel{consent.Email}, Wording: "Ask me about the service."})
				manageErr(err)
				manageErr(w.consent.SetRetentionPolicy(ctx, consent.RetentionPolicy{PurgeOptInsAfterDays: 30}))
				_, err = w.consent.PurgeOptIns(ctx, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
				manageErr(err)
				_, err = w.consent.ReleaseHolds(ctx, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
				manageErr(err)
				_, err = w.consent.Audit(ctx, consent.AuditQuery{})
				manageErr(err)
				_, err = w.consent.RetentionPolicy(ctx)
				if reads {
					require.NoError(t, err)
				} else {
					require.ErrorIs(t, err, core.ErrForbidden)
				}

				// Signed tokens are their own authority.
				target := w.all[len(w.all)-1] // nobody's contact
				token, err := w.consent.UnsubscribeToken(bg, target, "newsletter")
				require.NoError(t, err)
				_, err = w.consent.TokenPurpose(ctx, token)
				require.NoError(t, err)
				_, err = w.consent.Unsubscribe(ctx, token, consent.Proof{})
				require.NoError(t, err)
				opt, err := w.consent.RequestOptIn(bg, target, "newsletter", consent.Email, consent.Proof{Source: "form"})
				require.NoError(t, err)
				rec, err := w.consent.Confirm(ctx, opt.Token, consent.Proof{})
				require.NoError(t, err)
				require.Equal(t, consent.Granted, rec.State)

				denied := w.denied(t, tc.user)
				if !reads {
					require.Contains(t, denied, "consent:read")
				}
				if !tc.manage {
					require.Contains(t, denied, "consent:manage")
				}
				if reads && len(tc.sees) < len(w.all) {
					require.Contains(t, denied, "consent:read", "a hidden contact's log asked for")
				}
				if tc.manage {
					require.Empty(t, denied)
				}
			})
		}
	})
}

// Erasure needs "consent" erase, and an actor erases only the contacts
// they see; a refusal erases nothing and is audited.
func TestErasureByRole(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		w := newWorld(t, db)
		bg := context.Background()
		as := func(id string) context.Context { return core.WithActor(bg, core.Actor{ID: id}) }
		alices := w.ids("alice")[0]
		for _, user := range []string{"carol", "alice", "erin", "rita", "nobody"} {
			_, err := w.consent.Erase(as(user), alices, "request")
			require.ErrorIs(t, err, core.ErrForbidden, user)
		}
		_, err := w.consent.Erase(as("kim"), alices, "request")
		require.ErrorIs(t, err, core.ErrNotFound, "the clerk does not see alice's contacts")
		_, err = w.consent.Erasure(bg, alices)
		require.ErrorIs(t, err, core.ErrNotFound, "nothing erased")
		c, err := w.contacts.Get(bg, alices)
		require.NoError(t, err)
		require.NotEmpty(t, c.Email)
		require.Contains(t, w.denied(t, "kim"), "consent:erase")
		require.Contains(t, w.denied(t, "alice"), "consent:erase")

		receipt, err := w.consent.Erase(as("kim"), w.ids("kim")[0], "request")
		require.NoError(t, err)
		require.Equal(t, "kim", receipt.ActorID)
		_, err = w.consent.Erase(as("root"), alices, "request")
		require.NoError(t, err)
		got, err := w.consent.Erasure(as("rita"), alices)
		require.NoError(t, err, "receipts hold no personal data: read is enough")
		require.Equal(t, "root", got.ActorID)
		_, err = w.consent.Erasure(as("nobody"), alices)
		require.ErrorIs(t, err, core.ErrForbidden)
	})
}

func historyLen(t *testing.T, w *world, id core.ID) int {
	t.Helper()
	h, err := w.consent.History(context.Background(), id)
	require.NoError(t, err)
	return len(h)
}
