package contacts_test

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/migrate"
	"github.com/crmkit/crmkit/internal/module"
	"github.com/crmkit/crmkit/internal/modules"
	"github.com/crmkit/crmkit/internal/store"
)

// world is a tenant with users, teams and records owned by them, wired
// with the access facility and the consent module (whose audit log
// records denied attempts).
type world struct {
	sc        store.Scope
	svc       *contacts.Service
	companies *contacts.Companies
	notes     *contacts.Notes
	tasks     *contacts.Tasks
	scoring   *contacts.Scoring
	access    *access.Service
	consent   *consent.Service
	// byOwner are the contacts' ids by owner ("" for none).
	byOwner map[string][]core.ID
	all     []core.ID
	// tasksBy are the tasks' ids by assignee.
	tasksBy map[string][]core.ID
	company core.ID
	notesOn map[core.ID]core.ID // contact → its note
}

// wired runs fn on SQLite and PostgreSQL with a runtime that wires the
// contacts, access and consent modules.
func wired(t *testing.T, fn func(t *testing.T, w *world)) {
	migrated.Run(t, func(t *testing.T, db *bun.DB) { fn(t, newWorld(t, db)) })
}

func newWorld(t testing.TB, db *bun.DB) *world {
	t.Helper()
	ctx := context.Background()
	_, err := migrate.Up(ctx, db, modules.Migrations())
	require.NoError(t, err)
	clock := dbtest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	rt, err := store.NewRuntime(db, clock, []byte("test-secret-test-secret-test-secret!"), slog.Default())
	require.NoError(t, err)
	module.Wire(rt, []module.Module{access.Module.Declare(), contacts.Module.Declare(), consent.Module.Declare()})
	sc := store.NewScope(rt)
	w := &world{sc: sc, svc: contacts.Module.Contacts(sc), companies: contacts.Module.Companies(sc), notes: contacts.Module.Notes(sc),
		tasks: contacts.Module.Tasks(sc), scoring: contacts.Module.Scoring(sc), access: access.Module.Service(sc),
		consent: consent.Module.Service(sc, consent.Options{}), byOwner: map[string][]core.ID{}, tasksBy: map[string][]core.ID{},
		notesOn: map[core.ID]core.ID{}}
	_, err = w.access.Roles.InstallBuiltins(ctx)
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
	co, err := w.companies.Create(ctx, contacts.NewCompany{Name: "Acme", Domain: "acme.example"})
	require.NoError(t, err)
	w.company = co.ID
	n := 0
	for _, owner := range []string{"alice", "alice", "alice", "bob", "bob", "carol", ""} {
		n++
		c, err := w.svc.Create(ctx, contacts.NewContact{Email: "p" + string(rune('a'+n)) + "@example.com", Phone: "+49 30 100" + string(rune('0'+n)),
			FirstName: "Person", LastName: "Number" + string(rune('a'+n)), OwnerID: owner, CompanyID: &co.ID})
		require.NoError(t, err)
		clock.Add(time.Second)
		w.byOwner[owner] = append(w.byOwner[owner], c.ID)
		w.all = append(w.all, c.ID)
		note, err := w.notes.Create(ctx, contacts.NewNote{ContactID: c.ID, Body: "note", AuthorID: "root", Pinned: true})
		require.NoError(t, err)
		w.notesOn[c.ID] = note.ID
		_, err = w.svc.Track(ctx, contacts.ByID(c.ID), contacts.NewActivity{Kind: contacts.KindWeb, Name: "visited"})
		require.NoError(t, err)
	}
	for _, a := range []string{"alice", "bob", "dave", ""} {
		task, err := w.tasks.Create(ctx, contacts.NewTask{Title: "call", AssigneeID: a})
		require.NoError(t, err)
		w.tasksBy[a] = append(w.tasksBy[a], task.ID)
	}
	return w
}

// as is the context of user id.
func as(id string) context.Context {
	return core.WithActor(context.Background(), core.Actor{ID: id})
}

// ids returns the ids of owners' contacts.
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

// pageAll pages through List two at a time and returns the ids, checking
// each page's masking.
func pageAll(t *testing.T, w *world, ctx context.Context, f filter.Expr, masked bool) []core.ID {
	t.Helper()
	var out []core.ID
	opts := contacts.ListOptions{Filter: f, Limit: 2}
	for range 20 {
		page, err := w.svc.List(ctx, opts)
		require.NoError(t, err)
		for _, c := range page.Items {
			require.Equal(t, masked, c.Email == "" && c.Phone == "", "contact %s masked", c.ID)
			out = append(out, c.ID)
		}
		if page.Next == "" {
			return sortedIDs(out)
		}
		opts.Cursor = page.Next
	}
	t.Fatal("the pages do not end")
	return nil
}

// denied returns the audit entries of refused attempts about subject.
func (w *world) denied(t *testing.T, subject core.ID) []consent.AuditEntry {
	t.Helper()
	entries, err := w.consent.Audit(context.Background(), consent.AuditQuery{SubjectID: subject, Limit: store.MaxLimit})
	require.NoError(t, err)
	return slices.DeleteFunc(entries, func(e consent.AuditEntry) bool { return e.Action != contacts.AuditDenied })
}

// Each built-in role, and an actor with none, walks the module's public
// methods: what they see (lists, counts, pages, gets, search, timeline,
// export), what they may change, and what is masked.
func TestRecordAccessByRole(t *testing.T) {
	t.Parallel()
	wired(t, func(t *testing.T, w *world) {
		all := w.ids("alice", "bob", "carol", "")
		east := w.ids("alice", "carol") // dave, of team east, owns none
		for _, tc := range []struct {
			user                   string
			sees                   []core.ID
			tasks                  []core.ID
			pd                     bool
			create, update, delete bool
			export                 bool
		}{
			{user: "root", sees: all, tasks: append(append(append(slices.Clone(w.tasksBy["alice"]), w.tasksBy["bob"]...), w.tasksBy["dave"]...), w.tasksBy[""]...), pd: true, create: true, update: true, delete: true, export: true},
			{user: "carol", sees: east, tasks: append(slices.Clone(w.tasksBy["alice"]), w.tasksBy["dave"]...), pd: true, create: true, update: true, delete: true, export: true},
			{user: "alice", sees: w.ids("alice"), tasks: w.tasksBy["alice"], pd: true, create: true, update: true},
			{user: "dave", sees: east, tasks: append(slices.Clone(w.tasksBy["alice"]), w.tasksBy["dave"]...), pd: true, update: true},
			{user: "erin", sees: all, tasks: append(append(append(slices.Clone(w.tasksBy["alice"]), w.tasksBy["bob"]...), w.tasksBy["dave"]...), w.tasksBy[""]...), update: true},
			{user: "rita", sees: all, tasks: append(append(append(slices.Clone(w.tasksBy["alice"]), w.tasksBy["bob"]...), w.tasksBy["dave"]...), w.tasksBy[""]...)},
		} {
			t.Run(tc.user, func(t *testing.T) {
				ctx := as(tc.user)
				masked := !tc.pd

				// Lists, pages and counts agree with what they see.
				require.Equal(t, tc.sees, pageAll(t, w, ctx, filter.Expr{}, masked))
				n, err := w.svc.Count(ctx, filter.Expr{})
				require.NoError(t, err)
				require.EqualValues(t, len(tc.sees), n)
				staged := filter.Eq("lifecycle_stage", "lead")
				require.Equal(t, tc.sees, pageAll(t, w, ctx, staged, masked))
				n, err = w.svc.Count(ctx, staged)
				require.NoError(t, err)
				require.EqualValues(t, len(tc.sees), n)

				// Gets: visible records are theirs, the others not found.
				for _, id := range all {
					c, err := w.svc.Get(ctx, id)
					if !slices.Contains(tc.sees, id) {
						require.ErrorIs(t, err, core.ErrNotFound, "contact %s", id)
						require.NotContains(t, err.Error(), "@example.com")
						continue
					}
					require.NoError(t, err)
					require.Equal(t, masked, c.Email == "")
					tl, err := w.svc.Timeline(ctx, id, contacts.TimelineOptions{})
					require.NoError(t, err)
					require.NotEmpty(t, tl.Items)
					for _, it := range tl.Items {
						if it.Event != nil {
							require.Equal(t, masked, !strings.Contains(string(it.Event.Data), "@example.com"), "event %s", it.Event.Type)
						}
					}
					_, err = w.notes.Get(ctx, w.notesOn[id])
					require.NoError(t, err)
					pinned, err := w.notes.Pinned(ctx, id)
					require.NoError(t, err)
					require.Len(t, pinned, 1)
				}
				hidden := slices.DeleteFunc(slices.Clone(all), func(id core.ID) bool { return slices.Contains(tc.sees, id) })
				for _, id := range hidden {
					_, err := w.svc.Timeline(ctx, id, contacts.TimelineOptions{})
					require.ErrorIs(t, err, core.ErrNotFound)
					_, err = w.notes.Get(ctx, w.notesOn[id])
					require.ErrorIs(t, err, core.ErrNotFound)
					pinned, err := w.notes.Pinned(ctx, id)
					require.NoError(t, err)
					require.Empty(t, pinned)
					_, err = w.svc.Update(ctx, id, contacts.ContactPatch{Version: 1, LastName: ptr("X")})
					require.ErrorIs(t, err, core.ErrNotFound)
					require.ErrorIs(t, w.svc.Delete(ctx, id), core.ErrNotFound)
				}
				notes, err := w.notes.List(ctx, contacts.NoteListOptions{Limit: 100})
				require.NoError(t, err)
				require.Len(t, notes.Items, len(tc.sees))
				tasks, err := w.tasks.List(ctx, contacts.TaskListOptions{Limit: 100})
				require.NoError(t, err)
				var taskIDs []core.ID
				for _, task := range tasks.Items {
					taskIDs = append(taskIDs, task.ID)
				}
				require.Equal(t, sortedIDs(tc.tasks), sortedIDs(taskIDs))

				// Search: contacts they see, by name; no contacts by personal
				// data for those who do not see it.
				hits, err := w.svc.Search(ctx, "Person", contacts.SearchOptions{Limit: 100})
				require.NoError(t, err)
				if tc.pd {
					require.Len(t, hits, len(tc.sees))
				} else {
					require.Empty(t, hits)
					_, err := w.svc.Search(ctx, "example", contacts.SearchOptions{Entities: []string{contacts.EntityContact}})
					require.ErrorIs(t, err, core.ErrForbidden)
				}
				hits, err = w.svc.Search(ctx, "Acme", contacts.SearchOptions{Entities: []string{contacts.EntityCompany}})
				require.NoError(t, err)
				require.Len(t, hits, 1)

				// Filters and sorts on personal fields.
				_, err = w.svc.List(ctx, contacts.ListOptions{Filter: filter.Prefix("email", "pb")})
				_, cerr := w.svc.Count(ctx, filter.Not(filter.Exists("phone")))
				_, serr := w.svc.List(ctx, contacts.ListOptions{Sort: "-email"})
				_, gerr := w.svc.GetByEmail(ctx, "pb@example.com")
				if tc.pd {
					require.NoError(t, err)
					require.NoError(t, cerr)
				} else {
					require.ErrorIs(t, err, core.ErrForbidden)
					require.ErrorIs(t, cerr, core.ErrForbidden)
					require.ErrorIs(t, gerr, core.ErrForbidden)
				}
				if serr != nil && tc.pd {
					require.ErrorIs(t, serr, core.ErrInvalid) // email is not sortable
				} else if !tc.pd {
					require.ErrorIs(t, serr, core.ErrForbidden)
				}

				// Export: the contacts they see, masked alike, or refused.
				var buf bytes.Buffer
				n, err = w.svc.ExportJSONL(ctx, &buf, contacts.ExportOptions{})
				if tc.export {
					require.NoError(t, err)
					require.EqualValues(t, len(tc.sees), n)
					require.Equal(t, !masked, strings.Contains(buf.String(), "@example.com"))
				} else {
					require.ErrorIs(t, err, core.ErrForbidden)
					_, err = w.svc.ExportCSV(ctx, &buf, contacts.ExportOptions{})
					require.ErrorIs(t, err, core.ErrForbidden)
				}

				// Changes: create, update, delete as the role allows.
				in := contacts.NewContact{FirstName: "New", LastName: tc.user}
				created, err := w.svc.Create(ctx, in)
				if tc.create {
					require.NoError(t, err)
					if tc.user == "alice" {
						require.Equal(t, "alice", created.OwnerID, "an own-visibility creator owns what they create")
					}
					_, err = w.svc.Get(ctx, created.ID)
					require.NoError(t, err, "what one creates one sees")
				} else {
					require.ErrorIs(t, err, core.ErrForbidden)
				}
				target := tc.sees[0]
				cur, err := w.svc.Get(ctx, target)
				require.NoError(t, err)
				upd, err := w.svc.Update(ctx, target, contacts.ContactPatch{Version: cur.Version, Tags: &[]string{"seen-by-" + tc.user}})
				if tc.update {
					require.NoError(t, err)
					require.Equal(t, masked, upd.Email == "")
				} else {
					require.ErrorIs(t, err, core.ErrForbidden)
					require.NotEmpty(t, w.denied(t, target))
				}
				if !tc.pd && tc.update {
					_, err = w.svc.Update(ctx, target, contacts.ContactPatch{Version: upd.Version, Email: ptr("new@example.com")})
					require.ErrorIs(t, err, core.ErrForbidden, "a masked field is not theirs to write")
				}
				if tc.delete {
					require.NoError(t, w.svc.Delete(ctx, created.ID))
				} else if created != nil {
					require.ErrorIs(t, w.svc.Delete(ctx, created.ID), core.ErrForbidden)
					require.NoError(t, w.svc.Delete(context.Background(), created.ID))
				} else {
					require.ErrorIs(t, w.svc.Delete(ctx, target), core.ErrForbidden)
				}
				_, err = w.companies.Get(ctx, w.company)
				require.NoError(t, err)
			})
		}

		// With no role, nothing: every call is forbidden, and recorded.
		ctx := as("nobody")
		_, err := w.svc.List(ctx, contacts.ListOptions{})
		require.ErrorIs(t, err, core.ErrForbidden)
		_, err = w.svc.Get(ctx, all[0])
		require.ErrorIs(t, err, core.ErrForbidden)
		_, err = w.companies.Get(ctx, w.company)
		require.ErrorIs(t, err, core.ErrForbidden)
		_, err = w.tasks.List(ctx, contacts.TaskListOptions{})
		require.ErrorIs(t, err, core.ErrForbidden)
		_, err = w.scoring.Model(ctx)
		require.ErrorIs(t, err, core.ErrForbidden)
		entries := w.denied(t, all[0])
		require.NotEmpty(t, entries)
		last := entries[len(entries)-1]
		require.Equal(t, "nobody", last.ActorID)
		require.Equal(t, "contact", last.SubjectType)
		require.Equal(t, "contacts:read", last.Detail)
	})
}

// A hidden record is ErrNotFound as a missing one is, but unlike it the
// attempt is recorded, naming the actor, the action and the record id —
// and nothing personal.
func TestDeniedAttemptsAreAudited(t *testing.T) {
	t.Parallel()
	wired(t, func(t *testing.T, w *world) {
		bobs := w.byOwner["bob"][0]
		_, err := w.svc.Get(as("alice"), bobs)
		require.ErrorIs(t, err, core.ErrNotFound)
		_, err = w.svc.Get(as("alice"), core.NewID())
		require.ErrorIs(t, err, core.ErrNotFound)
		require.ErrorIs(t, w.svc.Delete(as("alice"), w.byOwner["alice"][0]), core.ErrForbidden)
		_, err = w.tasks.Reassign(as("alice"), w.tasksBy["bob"][0], 1, "alice")
		require.ErrorIs(t, err, core.ErrNotFound)

		entries := w.denied(t, bobs)
		require.Len(t, entries, 1)
		require.Equal(t, consent.AuditEntry{ID: entries[0].ID, At: entries[0].At, ActorID: "alice", Action: contacts.AuditDenied,
			SubjectType: "contact", SubjectID: bobs, Detail: "contacts:read"}, entries[0])
		entries = w.denied(t, w.byOwner["alice"][0])
		require.Len(t, entries, 1)
		require.Equal(t, "contacts:delete", entries[0].Detail)
		entries = w.denied(t, w.tasksBy["bob"][0])
		require.Len(t, entries, 1)
		require.Equal(t, "task", entries[0].SubjectType)

		// The host's own code is not refused, and nothing is recorded.
		before := len(w.denied(t, core.NilID))
		_, err = w.svc.Get(context.Background(), bobs)
		require.NoError(t, err)
		all, err := w.consent.Audit(context.Background(), consent.AuditQuery{Limit: store.MaxLimit})
		require.NoError(t, err)
		for _, e := range all {
			require.NotContains(t, e.Detail, "@")
		}
		require.Len(t, w.denied(t, core.NilID), before)
	})
}

// A cursor is bound to the actor it was made for: another actor, even one
// who sees the same records, gets ErrInvalid, as does the host's own code.
func TestCursorIsBoundToTheActor(t *testing.T) {
	t.Parallel()
	wired(t, func(t *testing.T, w *world) {
		page, err := w.svc.List(as("erin"), contacts.ListOptions{Limit: 2})
		require.NoError(t, err)
		require.NotEmpty(t, page.Next)
		for _, ctx := range []context.Context{as("rita"), as("root"), context.Background()} {
			_, err := w.svc.List(ctx, contacts.ListOptions{Limit: 2, Cursor: page.Next})
			require.ErrorIs(t, err, core.ErrInvalid)
		}
		next, err := w.svc.List(as("erin"), contacts.ListOptions{Limit: 2, Cursor: page.Next})
		require.NoError(t, err)
		require.Len(t, next.Items, 2)

		// Tasks and notes likewise.
		tp, err := w.tasks.List(as("root"), contacts.TaskListOptions{Limit: 1})
		require.NoError(t, err)
		_, err = w.tasks.List(as("rita"), contacts.TaskListOptions{Limit: 1, Cursor: tp.Next})
		require.ErrorIs(t, err, core.ErrInvalid)
		np, err := w.notes.List(as("carol"), contacts.NoteListOptions{Limit: 1})
		require.NoError(t, err)
		_, err = w.notes.List(as("dave"), contacts.NoteListOptions{Limit: 1, Cursor: np.Next})
		require.ErrorIs(t, err, core.ErrInvalid)
		tl, err := w.svc.Timeline(as("root"), w.all[0], contacts.TimelineOptions{Limit: 1})
		require.NoError(t, err)
		_, err = w.svc.Timeline(as("alice"), w.all[0], contacts.TimelineOptions{Limit: 1, Cursor: tl.Next})
		require.ErrorIs(t, err, core.ErrInvalid)
	})
}

// Writes keep records inside the writer's view: an own-visibility actor
// may not give a contact or a task to someone outside it, and the
// module's tenant-wide operations need visibility of all.
func TestWritesStayInsideTheActorsView(t *testing.T) {
	t.Parallel()
	wired(t, func(t *testing.T, w *world) {
		alice := as("alice")
		mine := w.byOwner["alice"][0]
		cur, err := w.svc.Get(alice, mine)
		require.NoError(t, err)
		_, err = w.svc.Update(alice, mine, contacts.ContactPatch{Version: cur.Version, OwnerID: ptr("bob")})
		require.ErrorIs(t, err, core.ErrForbidden)
		_, err = w.svc.Create(alice, contacts.NewContact{FirstName: "X", OwnerID: "bob"})
		require.ErrorIs(t, err, core.ErrForbidden)
		task, err := w.tasks.Create(alice, contacts.NewTask{Title: "follow up"})
		require.NoError(t, err)
		require.Equal(t, "alice", task.AssigneeID)
		_, err = w.tasks.Reassign(alice, task.ID, task.Version, "bob")
		require.ErrorIs(t, err, core.ErrForbidden)
		done, err := w.tasks.Complete(alice, task.ID, task.Version)
		require.NoError(t, err)
		require.Equal(t, contacts.TaskDone, done.Status)

		// Carol (manager, team east) may hand a contact to dave, not to bob.
		carol := as("carol")
		cur, err = w.svc.Get(carol, mine)
		require.NoError(t, err)
		cur, err = w.svc.Update(carol, mine, contacts.ContactPatch{Version: cur.Version, OwnerID: ptr("dave")})
		require.NoError(t, err)
		_, err = w.svc.Update(carol, mine, contacts.ContactPatch{Version: cur.Version, OwnerID: ptr("bob")})
		require.ErrorIs(t, err, core.ErrForbidden)

		// An upsert whose email matches a contact alice does not see.
		bobs, err := w.svc.Get(context.Background(), w.byOwner["bob"][0])
		require.NoError(t, err)
		_, _, err = w.svc.Upsert(alice, contacts.NewContact{Email: bobs.Email, FirstName: "Mine now"})
		require.ErrorIs(t, err, core.ErrForbidden)
		got, err := w.svc.Get(context.Background(), bobs.ID)
		require.NoError(t, err)
		require.Equal(t, bobs.FirstName, got.FirstName)

		// Merging a contact one does not see.
		_, err = w.svc.Merge(as("carol"), w.byOwner["carol"][0], w.byOwner["bob"][0])
		require.ErrorIs(t, err, core.ErrNotFound)
		// Tenant-wide operations.
		_, err = w.svc.Import(carol, slices.Values([]contacts.ImportRow{{Contact: contacts.NewContact{FirstName: "Imp"}}}), contacts.ImportOptions{})
		require.ErrorIs(t, err, core.ErrForbidden)
		_, err = w.svc.FindDuplicates(carol, contacts.DuplicateOptions{})
		require.ErrorIs(t, err, core.ErrForbidden)
		require.ErrorIs(t, w.companies.Delete(carol, w.company), core.ErrForbidden)
		_, err = w.svc.DeleteActivities(carol, contacts.KindWeb, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
		require.ErrorIs(t, err, core.ErrForbidden)
		// Tracking on a contact one does not see.
		_, err = w.svc.Track(alice, contacts.ByID(bobs.ID), contacts.NewActivity{Kind: contacts.KindWeb, Name: "x"})
		require.ErrorIs(t, err, core.ErrNotFound)
		// (Carol gave mine to dave: alice no longer sees it.)
		_, err = w.svc.Track(alice, contacts.ByID(mine), contacts.NewActivity{Kind: contacts.KindWeb, Name: "x"})
		require.ErrorIs(t, err, core.ErrNotFound)
		still := w.byOwner["alice"][1]
		_, err = w.svc.Track(alice, contacts.ByID(still), contacts.NewActivity{Kind: contacts.KindWeb, Name: "x"})
		require.NoError(t, err)
		// Scoring: alice may adjust her own contacts' scores, not bob's.
		_, err = w.scoring.Adjust(alice, still, 5, "call")
		require.NoError(t, err)
		_, err = w.scoring.Adjust(alice, bobs.ID, 5, "call")
		require.ErrorIs(t, err, core.ErrNotFound)
		_, err = w.scoring.Rescore(alice)
		require.ErrorIs(t, err, core.ErrForbidden)
	})
}
