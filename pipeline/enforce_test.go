package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"
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
	"github.com/crmkit/crmkit/pipeline"
)

// world is a tenant with users, teams and deals owned by them, wired with
// the access facility, the contacts and pipeline modules and the consent
// module (whose audit log records denied attempts).
type world struct {
	sc        store.Scope
	deals     *pipeline.Deals
	pipelines *pipeline.Pipelines
	products  *pipeline.Products
	contacts  *contacts.Service
	access    *access.Service
	consent   *consent.Service
	pipe      *pipeline.Pipeline
	// byOwner are the deals' ids by owner ("" for none).
	byOwner map[string][]core.ID
	all     []core.ID
	amount  map[core.ID]decimal.Decimal
	status  map[core.ID]pipeline.DealStatus
	contact core.ID
	product *pipeline.Product
}

// wired runs fn on SQLite and PostgreSQL with a fresh world.
func wired(t *testing.T, fn func(t *testing.T, w *world)) {
	migrated.Run(t, func(t *testing.T, db *bun.DB) { fn(t, newWorld(t, db)) })
}

func newRuntime(t testing.TB, db *bun.DB) *store.Runtime {
	t.Helper()
	_, err := migrate.Up(context.Background(), db, modules.Migrations())
	require.NoError(t, err)
	clock := dbtest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	rt, err := store.NewRuntime(db, clock, []byte("test-secret-test-secret-test-secret!"), slog.Default())
	require.NoError(t, err)
	module.Wire(rt, []module.Module{access.Module.Declare(), contacts.Module.Declare(), consent.Module.Declare(), pipeline.Module.Declare()})
	return rt
}

func worldOf(sc store.Scope) *world {
	return &world{sc: sc, deals: pipeline.Module.Deals(sc), pipelines: pipeline.Module.Pipelines(sc), products: pipeline.Module.Products(sc),
		contacts: contacts.Module.Contacts(sc), access: access.Module.Service(sc), consent: consent.Module.Service(sc, consent.Options{}),
		byOwner: map[string][]core.ID{}, amount: map[core.ID]decimal.Decimal{}, status: map[core.ID]pipeline.DealStatus{}}
}

func newWorld(t testing.TB, db *bun.DB) *world {
	t.Helper()
	ctx := context.Background()
	w := worldOf(store.NewScope(newRuntime(t, db)))
	_, err := w.access.Roles.InstallBuiltins(ctx)
	require.NoError(t, err)
	for _, u := range []struct{ id, role string }{
		{"root", access.RoleAdmin}, {"carol", access.RoleManager}, {"alice", access.RoleSales}, {"bob", access.RoleSales},
		{"dave", access.RoleSupport}, {"erin", access.RoleMarketing}, {"rita", access.RoleReadOnly}, {"nobody", ""},
	} {
		var roles []string
		if u.role != "" {
			roles = []string{u.role}
		}
		_, err := w.access.Users.Create(ctx, access.UserInput{ID: u.id, DisplayName: u.id, TimeZone: "UTC", Roles: roles})
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
	c, err := w.contacts.Create(ctx, contacts.NewContact{FirstName: "Ada", LastName: "Lovelace", OwnerID: "alice", LifecycleStage: contacts.StageSQL})
	require.NoError(t, err)
	w.contact = c.ID
	w.pipe, err = w.pipelines.Default(ctx)
	require.NoError(t, err)
	w.product, err = w.products.Create(ctx, pipeline.NewProduct{SKU: "seat", Name: "Seat", UnitPrice: eur("10")})
	require.NoError(t, err)
	for _, d := range []struct {
		owner, amount string
		close         core.Date
		end           pipeline.DealStatus
	}{
		{"alice", "100", core.NewDate(2026, 4, 10), pipeline.DealOpen},
		{"alice", "200", core.NewDate(2026, 4, 20), pipeline.DealOpen},
		{"alice", "300", core.NewDate(2026, 4, 25), pipeline.DealWon},
		{"bob", "1000", core.NewDate(2026, 4, 15), pipeline.DealOpen},
		{"bob", "2000", core.NewDate(2026, 4, 16), pipeline.DealLost},
		{"carol", "10000", core.NewDate(2026, 5, 5), pipeline.DealOpen},
		{"", "100000", core.NewDate(2026, 4, 1), pipeline.DealOpen},
	} {
		deal, err := w.deals.Create(ctx, pipeline.NewDeal{Title: "Deal of " + d.owner, Amount: eur(d.amount), OwnerID: d.owner,
			ContactID: &c.ID, ExpectedClose: d.close})
		require.NoError(t, err)
		switch d.end {
		case pipeline.DealWon:
			deal, err = w.deals.Win(ctx, deal.ID, deal.Version)
		case pipeline.DealLost:
			deal, err = w.deals.Lose(ctx, deal.ID, deal.Version, "price")
		}
		require.NoError(t, err)
		w.byOwner[d.owner] = append(w.byOwner[d.owner], deal.ID)
		w.all = append(w.all, deal.ID)
		w.amount[deal.ID] = deal.Amount.Amount
		w.status[deal.ID] = deal.Status
	}
	return w
}

// as is the context of user id.
func as(id string) context.Context {
	return core.WithActor(context.Background(), core.Actor{ID: id})
}

func (w *world) ids(owners ...string) []core.ID {
	var out []core.ID
	for _, o := range owners {
		out = append(out, w.byOwner[o]...)
	}
	return sortedIDs(out)
}

func sortedIDs(ids []core.ID) []core.ID {
	out := slices.Clone(ids)
	slices.SortFunc(out, func(a, b core.ID) int { return bytes.Compare(a[:], b[:]) })
	return out
}

// pageAll pages through Deals.List two at a time and returns the ids.
func pageAll(t *testing.T, deals *pipeline.Deals, ctx context.Context) []core.ID {
	t.Helper()
	var out []core.ID
	opts := pipeline.DealListOptions{Limit: 2}
	for range 50 {
		page, err := deals.List(ctx, opts)
		require.NoError(t, err)
		for _, d := range page.Items {
			out = append(out, d.ID)
		}
		if page.Next == "" {
			return sortedIDs(out)
		}
		opts.Cursor = page.Next
	}
	t.Fatal("the pages do not end")
	return nil
}

// denied returns the audit entries of refused attempts about subject by
// actor.
func (w *world) denied(t *testing.T, subject core.ID, actor string) []string {
	t.Helper()
	entries, err := w.consent.Audit(context.Background(), consent.AuditQuery{SubjectID: subject, Limit: store.MaxLimit})
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		if e.Action == pipeline.AuditDenied && e.ActorID == actor {
			out = append(out, e.Detail)
		}
	}
	return out
}

// sums are what the reports should total over a set of deals.
type sums struct {
	count            int64
	all, open, won   decimal.Decimal
	wonN, lostN      int64
	openInRangeCount int64
}

func (w *world) sumsOf(ids []core.ID) sums {
	var s sums
	for _, id := range ids {
		s.count++
		s.all = s.all.Add(w.amount[id])
		switch w.status[id] {
		case pipeline.DealOpen:
			s.open = s.open.Add(w.amount[id])
			s.openInRangeCount++
		case pipeline.DealWon:
			s.won = s.won.Add(w.amount[id])
			s.wonN++
		case pipeline.DealLost:
			s.lostN++
		}
	}
	return s
}

// Each built-in role, and a user with none, walks the pipeline services'
// public methods: which deals they see (lists, pages, gets, board,
// forecast, stats, history, line items, next actions), what they may
// change, and the settings only managers of the module may touch.
func TestRecordAccessByRole(t *testing.T) {
	t.Parallel()
	wired(t, func(t *testing.T, w *world) {
		all := sortedIDs(w.all)
		for _, tc := range []struct {
			user                   string
			sees                   []core.ID // nil: may not read the module
			create, update, delete bool
			manage                 bool
		}{
			{user: "root", sees: all, create: true, update: true, delete: true, manage: true},
			{user: "carol", sees: w.ids("alice", "carol"), create: true, update: true, delete: true}, // team east
			{user: "alice", sees: w.ids("alice"), create: true, update: true},                        // own
			{user: "bob", sees: w.ids("bob"), create: true, update: true},
			{user: "rita", sees: all}, // read-only, all
			{user: "dave"},            // support: no pipeline
			{user: "erin"},            // marketing: no pipeline
			{user: "nobody"},
		} {
			t.Run(tc.user, func(t *testing.T) {
				ctx := as(tc.user)
				reads := tc.sees != nil
				readErr := func(err error) {
					t.Helper()
					if reads {
						require.NoError(t, err)
					} else {
						require.ErrorIs(t, err, core.ErrForbidden)
					}
				}

				// Lists and pages.
				if reads {
					require.Equal(t, tc.sees, pageAll(t, w.deals, ctx))
				} else {
					_, err := w.deals.List(ctx, pipeline.DealListOptions{})
					require.ErrorIs(t, err, core.ErrForbidden)
				}

				// Gets and what hangs off a deal: visible ones are theirs,
				// the others not found (or forbidden without read).
				for _, id := range all {
					_, gerr := w.deals.Get(ctx, id)
					_, herr := w.deals.History(ctx, id)
					_, _, lerr := w.deals.LineItems(ctx, id)
					_, nerr := w.deals.NextActions(ctx, id, pipeline.NextActionOptions{})
					for _, err := range []error{gerr, herr, lerr, nerr} {
						switch {
						case !reads:
							require.ErrorIs(t, err, core.ErrForbidden)
						case slices.Contains(tc.sees, id):
							require.NoError(t, err)
						default:
							require.ErrorIs(t, err, core.ErrNotFound, "deal %s", id)
						}
					}
				}

				// Board, forecast and stats total only the deals they see.
				want := w.sumsOf(tc.sees)
				board, err := w.deals.Board(ctx, w.pipe.ID, pipeline.BoardOptions{Closed: true})
				readErr(err)
				if reads {
					var n int64
					sum := decimal.Zero
					for _, col := range board.Columns {
						n += col.Count
						for _, m := range col.Totals {
							sum = sum.Add(m.Amount)
						}
					}
					require.Equal(t, want.count, n)
					require.True(t, want.all.Equal(sum), "board sums %s, want %s", sum, want.all)
				}
				rows, err := w.deals.Forecast(ctx, pipeline.ForecastOptions{From: core.NewDate(2026, 1, 1), To: core.NewDate(2027, 1, 1)})
				readErr(err)
				if reads {
					won, best := decimal.Zero, decimal.Zero
					var open int64
					for _, r := range rows {
						won, best, open = won.Add(r.Won.Amount), best.Add(r.BestCase.Amount), open+r.OpenCount
					}
					require.True(t, want.won.Equal(won), "forecast won %s, want %s", won, want.won)
					require.True(t, want.open.Equal(best), "forecast best case %s, want %s", best, want.open)
					require.Equal(t, want.openInRangeCount, open)
				}
				stats, err := w.deals.Stats(ctx, pipeline.StatsOptions{From: core.NewDate(2026, 1, 1), To: core.NewDate(2027, 1, 1)})
				readErr(err)
				if reads {
					require.Equal(t, want.wonN, stats.Won)
					require.Equal(t, want.lostN, stats.Lost)
				}
				// Each closed deal ended one stay: velocity counts those seen.
				velocity, err := w.deals.Velocity(ctx, w.pipe.ID, core.NewDate(2026, 1, 1), core.NewDate(2027, 1, 1))
				readErr(err)
				if reads {
					visits := 0
					for _, v := range velocity {
						visits += v.Visits
					}
					require.EqualValues(t, want.wonN+want.lostN, visits)
				}

				// Pipelines and products: anyone who reads the module.
				_, err = w.pipelines.List(ctx)
				readErr(err)
				_, err = w.pipelines.Get(ctx, w.pipe.ID)
				readErr(err)
				_, err = w.pipelines.Default(ctx)
				readErr(err)
				_, err = w.products.List(ctx, pipeline.ProductListOptions{})
				readErr(err)
				_, err = w.products.Get(ctx, w.product.ID)
				readErr(err)
				_, err = w.products.GetBySKU(ctx, "seat")
				readErr(err)
				_, err = w.deals.LeadModel(ctx)
				if reads {
					require.ErrorIs(t, err, core.ErrNotFound) // none trained
				} else {
					require.ErrorIs(t, err, core.ErrForbidden)
				}

				// Settings: managing pipelines and products, training models.
				p, err := w.pipelines.Get(context.Background(), w.pipe.ID)
				require.NoError(t, err)
				renamed, rerr := w.pipelines.Rename(ctx, p.ID, p.Version, "Sales")
				prod, perr := w.products.Create(ctx, pipeline.NewProduct{SKU: "sku-" + tc.user, Name: "Seat", UnitPrice: eur("10")})
				made, cerr := w.pipelines.Create(ctx, pipeline.NewPipeline{Name: "Partners of " + tc.user})
				cur, err := w.products.Get(context.Background(), w.product.ID)
				require.NoError(t, err)
				_, uerr := w.products.Update(ctx, w.product.ID, pipeline.ProductPatch{Version: cur.Version, Name: ptr("Seat by " + tc.user)})
				_, terr := w.deals.TrainLeadModel(ctx, pipeline.TrainOptions{})
				_, serr := w.deals.ScoreLeads(ctx)
				if tc.manage {
					require.NoError(t, rerr)
					require.NotNil(t, renamed)
					require.NoError(t, perr)
					_, err = w.products.Update(ctx, prod.ID, pipeline.ProductPatch{Version: prod.Version, Name: ptr("Seat+")})
					require.NoError(t, err)
					require.ErrorIs(t, terr, pipeline.ErrTooFewWins)
					require.ErrorIs(t, serr, core.ErrNotFound) // no model
					require.NoError(t, cerr)
					require.NoError(t, uerr)
					_, err = w.pipelines.Archive(context.Background(), made.ID, made.Version, true)
					require.NoError(t, err)
				} else {
					for _, err := range []error{rerr, perr, terr, serr, cerr, uerr} {
						require.ErrorIs(t, err, core.ErrForbidden)
					}
				}

				// Create: an own-visibility creator owns what they create and
				// may not give it away.
				created, err := w.deals.Create(ctx, pipeline.NewDeal{Title: "New", Amount: eur("1")})
				if tc.create {
					require.NoError(t, err)
					if tc.user == "alice" || tc.user == "bob" {
						require.Equal(t, tc.user, created.OwnerID)
					}
					_, err = w.deals.Get(ctx, created.ID)
					require.NoError(t, err, "what one creates one sees")
				} else {
					require.ErrorIs(t, err, core.ErrForbidden)
				}
				_, err = w.deals.Create(ctx, pipeline.NewDeal{Title: "Given", Amount: eur("1"), OwnerID: "outsider"})
				if tc.create && tc.user == "root" {
					require.NoError(t, err)
				} else {
					require.ErrorIs(t, err, core.ErrForbidden)
				}

				// Changes to a deal they see: update, stage moves, line items.
				if reads {
					target := tc.sees[0]
					cur, err := w.deals.Get(ctx, target)
					require.NoError(t, err)
					upd, uerr := w.deals.Update(ctx, target, pipeline.DealPatch{Version: cur.Version, Source: ptr("seen-by-" + tc.user)})
					if tc.update {
						require.NoError(t, uerr)
						require.Equal(t, "seen-by-"+tc.user, upd.Source)
						_, err = w.deals.Update(ctx, target, pipeline.DealPatch{Version: upd.Version, OwnerID: ptr("outsider")})
						if tc.user == "root" {
							require.NoError(t, err)
							_, err = w.deals.Update(context.Background(), target, pipeline.DealPatch{Version: upd.Version + 1, OwnerID: &upd.OwnerID})
							require.NoError(t, err)
						} else {
							require.ErrorIs(t, err, core.ErrForbidden, "a deal is not given outside what one sees")
						}
					} else {
						require.ErrorIs(t, uerr, core.ErrForbidden)
						require.Contains(t, w.denied(t, target, tc.user), "pipeline:update")
					}
					if created != nil {
						moved, err := w.deals.MoveStage(ctx, created.ID, created.Version, w.pipe.Stages[1].ID)
						require.NoError(t, err)
						moved, err = w.deals.Win(ctx, moved.ID, moved.Version)
						require.NoError(t, err)
						moved, err = w.deals.Reopen(ctx, moved.ID, moved.Version, w.pipe.Stages[0].ID)
						require.NoError(t, err)
						moved, err = w.deals.Lose(ctx, moved.ID, moved.Version, "timing")
						require.NoError(t, err)
						_, _, _, err = w.deals.SetLineItems(ctx, moved.ID, moved.Version, []pipeline.NewLineItem{{Name: "Seat", Quantity: dec("2"), UnitPrice: ptr(eur("5"))}})
						require.NoError(t, err)
					} else {
						cur, err := w.deals.Get(ctx, target)
						require.NoError(t, err)
						_, merr := w.deals.MoveStage(ctx, target, cur.Version, w.pipe.Stages[1].ID)
						_, werr := w.deals.Win(ctx, target, cur.Version)
						_, lerr := w.deals.Lose(ctx, target, cur.Version, "x")
						_, _, _, serr := w.deals.SetLineItems(ctx, target, cur.Version, nil)
						for _, err := range []error{merr, werr, lerr, serr} {
							require.ErrorIs(t, err, core.ErrForbidden)
						}
					}
				}

				// Deals they do not see: not found for every change, and
				// the attempt is audited (ids only).
				hidden := slices.DeleteFunc(slices.Clone(all), func(id core.ID) bool { return slices.Contains(tc.sees, id) })
				for _, id := range hidden {
					_, uerr := w.deals.Update(ctx, id, pipeline.DealPatch{Version: 1, Source: ptr("x")})
					_, merr := w.deals.MoveStage(ctx, id, 1, w.pipe.Stages[1].ID)
					_, werr := w.deals.Win(ctx, id, 1)
					_, _, _, serr := w.deals.SetLineItems(ctx, id, 1, nil)
					derr := w.deals.Delete(ctx, id)
					for _, err := range []error{uerr, merr, werr, serr, derr} {
						if reads {
							require.ErrorIs(t, err, core.ErrNotFound)
							require.NotContains(t, err.Error(), "Deal of")
						} else {
							require.ErrorIs(t, err, core.ErrForbidden)
						}
					}
					require.Contains(t, w.denied(t, id, tc.user), "pipeline:update")
					require.Contains(t, w.denied(t, id, tc.user), "pipeline:delete")
				}
				_, err = w.deals.Get(context.Background(), all[0])
				require.NoError(t, err, "the refused attempts changed nothing")

				// Delete.
				if created != nil {
					err := w.deals.Delete(ctx, created.ID)
					if tc.delete {
						require.NoError(t, err)
					} else {
						require.ErrorIs(t, err, core.ErrForbidden)
						require.Contains(t, w.denied(t, created.ID, tc.user), "pipeline:delete")
						require.NoError(t, w.deals.Delete(context.Background(), created.ID))
					}
				}
				// Leave the world as it was for the next role.
				given, err := w.deals.List(context.Background(), pipeline.DealListOptions{Limit: 100})
				require.NoError(t, err)
				for _, d := range given.Items {
					if !slices.Contains(all, d.ID) {
						require.NoError(t, w.deals.Delete(context.Background(), d.ID))
					}
				}
				if prod != nil {
					cur, err := w.products.Get(context.Background(), prod.ID)
					require.NoError(t, err)
					_, err = w.products.Update(context.Background(), prod.ID, pipeline.ProductPatch{Version: cur.Version, Active: ptr(false)})
					require.NoError(t, err)
				}
			})
		}
	})
}

// Lead suggestions and predictions read the contact with the contacts
// module's access, and count only the open deals the actor sees.
func TestRecordAccessLeads(t *testing.T) {
	t.Parallel()
	wired(t, func(t *testing.T, w *world) {
		// alice owns the contact and sees her open deals: no "create deal".
		got, err := w.deals.LeadActions(as("alice"), w.contact, pipeline.NextActionOptions{})
		require.NoError(t, err)
		for _, s := range got {
			require.NotEqual(t, pipeline.ActionCreateDeal, s.Action)
		}
		// A lead of bob's whose only open deal is alice's: bob, who does
		// not see that deal, is told to create one; root, who does, not.
		ctx := context.Background()
		lead, err := w.contacts.Create(ctx, contacts.NewContact{FirstName: "Grace", OwnerID: "bob", LifecycleStage: contacts.StageMQL})
		require.NoError(t, err)
		_, err = w.deals.Create(ctx, pipeline.NewDeal{Title: "Grace's", Amount: eur("5"), OwnerID: "alice", ContactID: &lead.ID})
		require.NoError(t, err)
		hasCreate := func(user string) bool {
			got, err := w.deals.LeadActions(as(user), lead.ID, pipeline.NextActionOptions{})
			require.NoError(t, err)
			return slices.ContainsFunc(got, func(s pipeline.Suggestion) bool { return s.Action == pipeline.ActionCreateDeal })
		}
		require.True(t, hasCreate("bob"))
		require.False(t, hasCreate("root"))

		// The contacts module hides alice's contact from bob.
		_, err = w.deals.LeadActions(as("bob"), w.contact, pipeline.NextActionOptions{})
		require.ErrorIs(t, err, core.ErrNotFound)
		// With a trained model, a prediction is about a contact one sees.
		for i := range 30 {
			c, err := w.contacts.Create(ctx, contacts.NewContact{FirstName: fmt.Sprintf("Buyer %d", i)})
			require.NoError(t, err)
			if i%2 == 0 {
				d, err := w.deals.Create(ctx, pipeline.NewDeal{Title: "won", Amount: eur("1"), ContactID: &c.ID})
				require.NoError(t, err)
				_, err = w.deals.Win(ctx, d.ID, d.Version)
				require.NoError(t, err)
			}
		}
		_, err = w.deals.TrainLeadModel(as("root"), pipeline.TrainOptions{MinPositives: 1, HoldoutPercent: 30})
		require.NoError(t, err)
		_, err = w.deals.PredictLead(as("alice"), w.contact)
		require.NoError(t, err)
		_, err = w.deals.PredictLead(as("bob"), w.contact)
		require.ErrorIs(t, err, core.ErrNotFound)
		_, err = w.deals.PredictLead(as("erin"), w.contact)
		require.ErrorIs(t, err, core.ErrForbidden)
		_, err = w.deals.LeadActions(as("erin"), w.contact, pipeline.NextActionOptions{})
		require.ErrorIs(t, err, core.ErrForbidden)
	})
}

// A cursor is bound to the actor it was made for: another actor, even with
// the same kind of visibility, gets ErrInvalid.
func TestRecordAccessCursorBoundToActor(t *testing.T) {
	t.Parallel()
	wired(t, func(t *testing.T, w *world) {
		for _, pair := range [][2]string{{"alice", "bob"}, {"root", "rita"}, {"root", "carol"}} {
			page, err := w.deals.List(as(pair[0]), pipeline.DealListOptions{Limit: 1})
			require.NoError(t, err)
			require.NotEmpty(t, page.Next)
			_, err = w.deals.List(as(pair[1]), pipeline.DealListOptions{Limit: 1, Cursor: page.Next})
			require.ErrorIs(t, err, core.ErrInvalid, "%s's cursor used by %s", pair[0], pair[1])
			_, err = w.deals.List(context.Background(), pipeline.DealListOptions{Limit: 1, Cursor: page.Next})
			require.ErrorIs(t, err, core.ErrInvalid, "%s's cursor used by the host", pair[0])
			_, err = w.deals.List(as(pair[0]), pipeline.DealListOptions{Limit: 1, Cursor: page.Next})
			require.NoError(t, err)
		}
	})
}

// A person's subject access export holds every deal of theirs, with line
// items and history, whatever the caller sees of the pipeline: who may
// export is the consent module's to decide (consent export, and the
// contact visible in the contacts module).
func TestRecordAccessSubjectExportIsWhole(t *testing.T) {
	t.Parallel()
	wired(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		_, err := w.access.Roles.Create(ctx, access.RoleInput{Name: "dpo", Permissions: access.Permissions{
			"contacts": {Actions: []access.Action{access.Read}, Visibility: access.VisibilityAll, PersonalData: true},
			"consent":  {Actions: []access.Action{access.Read, access.Export}, Visibility: access.VisibilityAll, PersonalData: true},
		}})
		require.NoError(t, err)
		_, err = w.consent.Export(as("bob"), w.contact)
		require.ErrorIs(t, err, core.ErrForbidden, "sales may not export")
		for _, actor := range []core.Actor{{ID: "dpo-1", Roles: []string{"dpo"}}, {ID: "root"}} {
			user := actor.ID
			doc, err := w.consent.Export(core.WithActor(ctx, actor), w.contact)
			require.NoError(t, err, user)
			raw, err := json.Marshal(doc.Data["deals"])
			require.NoError(t, err)
			var deals []struct {
				ID      core.ID           `json:"id"`
				History []json.RawMessage `json:"history"`
			}
			require.NoError(t, json.Unmarshal(raw, &deals))
			require.Len(t, deals, len(w.all), user)
			for _, d := range deals {
				require.NotEmpty(t, d.History)
			}
		}
	})
}
