package tickets_test

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/store"
	"github.com/crmkit/crmkit/tickets"
)

// accessWorld is a bundle with users of every built-in role, teams "east"
// (alice, carol, dave) and "west" (bob), and tickets assigned across them.
type accessWorld struct {
	*bundle
	// byKey are the tickets' ids by "assignee/team".
	byKey map[string]core.ID
	all   []core.ID
	cal   *tickets.Calendar
	pol   *tickets.Policy
}

// week is Monday's office hours.
var week = []tickets.Window{{Weekday: time.Monday, Start: "09:00", End: "17:00"}}

func newAccessWorld(t *testing.T, db *bun.DB) *accessWorld {
	t.Helper()
	ctx := context.Background()
	w := &accessWorld{bundle: setup(t, db), byKey: map[string]core.ID{}}
	a := w.c.Access
	_, err := a.Roles.InstallBuiltins(ctx)
	require.NoError(t, err)
	for _, u := range []struct{ id, role string }{
		{"root", access.RoleAdmin}, {"carol", access.RoleManager}, {"alice", access.RoleSales}, {"bob", access.RoleSupport},
		{"dave", access.RoleSupport}, {"erin", access.RoleMarketing}, {"rita", access.RoleReadOnly}, {"nobody", ""},
	} {
		var roles []string
		if u.role != "" {
			roles = []string{u.role}
		}
		_, err := a.Users.Create(ctx, access.UserInput{ID: u.id, DisplayName: u.id, TimeZone: "UTC", Roles: roles})
		require.NoError(t, err)
	}
	for name, members := range map[string][]string{"east": {"alice", "carol", "dave"}, "west": {"bob"}} {
		team, err := a.Teams.Create(ctx, access.TeamInput{Name: name})
		require.NoError(t, err)
		for _, m := range members {
			team, err = a.Teams.AddMember(ctx, team.ID, team.Version, access.Member{UserID: m})
			require.NoError(t, err)
		}
	}
	for _, k := range []struct{ assignee, team string }{
		{"dave", ""}, {"carol", ""}, {"bob", ""}, {"", "east"}, {"", "west"}, {"bob", "east"}, {"", ""}, {"outsider", "support"},
	} {
		tk := w.ticket(t, tickets.NewTicket{AssigneeID: k.assignee, Team: k.team,
			Message: &tickets.NewMessage{Public: false, AuthorKind: tickets.AuthorAgent, AuthorID: "root", Body: "internal note"}})
		w.byKey[k.assignee+"/"+k.team] = tk.ID
		w.all = append(w.all, tk.ID)
	}
	w.cal, err = w.c.Calendars.Create(ctx, tickets.NewCalendar{Name: "Office", TimeZone: "UTC",
		Windows: []tickets.Window{{Weekday: time.Monday, Start: "09:00", End: "17:00"}}})
	require.NoError(t, err)
	w.pol, err = w.c.SLAPolicies.Create(ctx, tickets.NewPolicy{Name: "all", CalendarID: w.cal.ID, ResolutionMinutes: 600})
	require.NoError(t, err)
	return w
}

func (w *accessWorld) ids(keys ...string) []core.ID {
	var out []core.ID
	for _, k := range keys {
		out = append(out, w.byKey[k])
	}
	return sortedIDs(out)
}

func sortedIDs(ids []core.ID) []core.ID {
	out := slices.Clone(ids)
	slices.SortFunc(out, func(a, b core.ID) int { return bytes.Compare(a[:], b[:]) })
	return out
}

// as is the context of user id.
func as(id string) context.Context {
	return core.WithActor(context.Background(), core.Actor{ID: id})
}

// pageAll pages through Tickets.List two at a time and returns the ids.
func pageAll(t *testing.T, ts *tickets.Tickets, ctx context.Context) []core.ID {
	t.Helper()
	var out []core.ID
	opts := tickets.ListOptions{Limit: 2}
	for range 50 {
		page, err := ts.List(ctx, opts)
		require.NoError(t, err)
		for _, tk := range page.Items {
			out = append(out, tk.ID)
		}
		if page.Next == "" {
			return sortedIDs(out)
		}
		opts.Cursor = page.Next
	}
	t.Fatal("the pages do not end")
	return nil
}

// denied returns the details of the audit entries of refused attempts
// about subject by actor.
func (w *accessWorld) denied(t *testing.T, subject core.ID, actor string) []string {
	t.Helper()
	entries, err := w.c.Consent.Audit(context.Background(), consent.AuditQuery{SubjectID: subject, Limit: store.MaxLimit})
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		if e.Action == tickets.AuditDenied && e.ActorID == actor {
			out = append(out, e.Detail)
		}
	}
	return out
}

// Each built-in role, and a user with none, walks the tickets module's
// public methods: which tickets they see (lists, pages, counts, gets,
// numbers, messages), what they may change, and the settings (calendars,
// SLA policies) only managers of the module may change.
func TestRecordAccessByRole(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		w := newAccessWorld(t, db)
		all := sortedIDs(w.all)
		// carol (manager, team east) and dave (support, team east) see the
		// tickets of east and those assigned to its members (alice, carol,
		// dave); bob (support, team west) those of west and his own.
		east := w.ids("dave/", "carol/", "/east", "bob/east")
		west := w.ids("bob/", "/west", "bob/east")
		cases := []struct {
			user                   string
			sees                   []core.ID // nil: may not read the module
			create, update, manage bool
		}{
			{user: "root", sees: all, create: true, update: true, manage: true},
			{user: "carol", sees: east, create: true, update: true},
			{user: "dave", sees: east, create: true, update: true},
			{user: "bob", sees: west, create: true, update: true},
			{user: "rita", sees: all}, // read-only, all
			{user: "alice"},           // sales: no tickets
			{user: "erin"},            // marketing: no tickets
			{user: "nobody"},
		}
		// Reads first, for everyone, then changes: what one user creates
		// does not change what the next one is expected to read.
		for _, tc := range cases {
			t.Run(tc.user+"/reads", func(t *testing.T) {
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

				// Lists, pages and counts.
				n, err := w.c.Tickets.Count(ctx, filter.Expr{})
				readErr(err)
				if reads {
					require.Equal(t, all, pageAll(t, w.c.Tickets, context.Background()))
					require.Equal(t, tc.sees, pageAll(t, w.c.Tickets, ctx))
					require.EqualValues(t, len(tc.sees), n)
					n, err = w.c.Tickets.Count(ctx, filter.Eq("team", "east"))
					require.NoError(t, err)
					want := 0
					for _, k := range []string{"/east", "bob/east"} {
						if slices.Contains(tc.sees, w.byKey[k]) {
							want++
						}
					}
					require.EqualValues(t, want, n)
				} else {
					_, err := w.c.Tickets.List(ctx, tickets.ListOptions{})
					require.ErrorIs(t, err, core.ErrForbidden)
				}

				// Gets, numbers and messages: visible ones are theirs (with
				// the internal notes), the others not found.
				for _, id := range all {
					tk, gerr := w.c.Tickets.Get(ctx, id)
					msgs, merr := w.c.Tickets.Messages(ctx, id)
					cur, err := w.c.Tickets.Get(context.Background(), id)
					require.NoError(t, err)
					_, nerr := w.c.Tickets.GetByNumber(ctx, cur.Number)
					for _, err := range []error{gerr, merr, nerr} {
						switch {
						case !reads:
							require.ErrorIs(t, err, core.ErrForbidden)
						case slices.Contains(tc.sees, id):
							require.NoError(t, err)
						default:
							require.ErrorIs(t, err, core.ErrNotFound, "ticket %s", id)
						}
					}
					if reads && slices.Contains(tc.sees, id) {
						require.Equal(t, id, tk.ID)
						require.NotEmpty(t, msgs)
						require.False(t, msgs[0].Public, "an internal note is read by whoever reads the ticket")
					}
					if reads && !slices.Contains(tc.sees, id) {
						require.Contains(t, w.denied(t, id, tc.user), "tickets:read", "a hidden ticket's read is audited")
					}
				}

				// Settings: reading with read, changing with manage.
				_, err = w.c.Calendars.List(ctx)
				readErr(err)
				_, err = w.c.Calendars.Get(ctx, w.cal.ID)
				readErr(err)
				_, err = w.c.SLAPolicies.List(ctx)
				readErr(err)
				_, err = w.c.SLAPolicies.Get(ctx, w.pol.ID)
				readErr(err)
				cal, cerr := w.c.Calendars.Create(ctx, tickets.NewCalendar{Name: "Cal of " + tc.user, TimeZone: "UTC", Windows: week})
				pol, perr := w.c.SLAPolicies.Create(ctx, tickets.NewPolicy{Name: "by " + tc.user, CalendarID: w.cal.ID, ResolutionMinutes: 60})
				if tc.manage {
					require.NoError(t, cerr)
					require.NoError(t, perr)
					pol, err = w.c.SLAPolicies.Update(ctx, pol.ID, pol.Version, tickets.NewPolicy{Name: "by " + tc.user, CalendarID: w.cal.ID, ResolutionMinutes: 90})
					require.NoError(t, err)
					require.NoError(t, w.c.SLAPolicies.Delete(ctx, pol.ID, pol.Version))
					cal, err = w.c.Calendars.Update(ctx, cal.ID, cal.Version, tickets.NewCalendar{Name: "Cal 2 of " + tc.user, TimeZone: "UTC", Windows: week})
					require.NoError(t, err)
					require.NoError(t, w.c.Calendars.Delete(ctx, cal.ID, cal.Version))
				} else {
					require.ErrorIs(t, cerr, core.ErrForbidden)
					require.ErrorIs(t, perr, core.ErrForbidden)
					_, err = w.c.Calendars.Update(ctx, w.cal.ID, w.cal.Version, tickets.NewCalendar{Name: "x", TimeZone: "UTC", Windows: week})
					require.ErrorIs(t, err, core.ErrForbidden)
					require.ErrorIs(t, w.c.Calendars.Delete(ctx, w.cal.ID, w.cal.Version), core.ErrForbidden)
					_, err = w.c.SLAPolicies.Update(ctx, w.pol.ID, w.pol.Version, tickets.NewPolicy{Name: "x", CalendarID: w.cal.ID, ResolutionMinutes: 1})
					require.ErrorIs(t, err, core.ErrForbidden)
					require.ErrorIs(t, w.c.SLAPolicies.Delete(ctx, w.pol.ID, w.pol.Version), core.ErrForbidden)
					require.Contains(t, w.denied(t, w.pol.ID, tc.user), "tickets:manage")
				}
			})
		}
		for _, tc := range cases {
			t.Run(tc.user+"/changes", func(t *testing.T) {
				ctx := as(tc.user)
				reads := tc.sees != nil

				// Create: a restricted creator is the assignee of what they
				// create without one, and may not give it away.
				created, err := w.c.Tickets.Create(ctx, tickets.NewTicket{Subject: "New", ContactID: w.contact.ID})
				if tc.create {
					require.NoError(t, err)
					if tc.user != "root" {
						require.Equal(t, tc.user, created.AssigneeID)
					}
					_, err = w.c.Tickets.Get(ctx, created.ID)
					require.NoError(t, err, "what one creates one sees")
				} else {
					require.ErrorIs(t, err, core.ErrForbidden)
				}
				_, err = w.c.Tickets.Create(ctx, tickets.NewTicket{Subject: "Given", ContactID: w.contact.ID, AssigneeID: "outsider"})
				if tc.user == "root" {
					require.NoError(t, err)
				} else {
					require.ErrorIs(t, err, core.ErrForbidden)
				}
				if tc.create && tc.user != "root" {
					// A team of theirs is fine with team visibility.
					mine, err := w.c.Access.Teams.OfUser(context.Background(), tc.user)
					require.NoError(t, err)
					_, err = w.c.Tickets.Create(ctx, tickets.NewTicket{Subject: "Team", ContactID: w.contact.ID, Team: mine[0].Name})
					require.NoError(t, err)
				}

				// Changes to a ticket they see, and to one they do not.
				if reads {
					target := tc.sees[0]
					cur, err := w.c.Tickets.Get(ctx, target)
					require.NoError(t, err)
					sub := "seen by " + tc.user
					upd, uerr := w.c.Tickets.Update(ctx, target, tickets.TicketPatch{Version: cur.Version, Subject: &sub})
					_, aerr := w.c.Tickets.AddMessage(ctx, target, tickets.NewMessage{AuthorKind: tickets.AuthorAgent, AuthorID: tc.user, Body: "note"})
					_, serr := w.c.Tickets.SetStatus(ctx, target, tickets.StatusChange{Version: cur.Version, Status: tickets.StatusOnHold})
					cerr := w.c.Tickets.CheckSLA(ctx, target)
					if tc.update {
						require.NoError(t, uerr)
						require.Equal(t, sub, upd.Subject)
						require.NoError(t, aerr)
						require.ErrorIs(t, serr, core.ErrConflict) // the message made a new version
						require.NoError(t, cerr)
						cur, err = w.c.Tickets.Get(ctx, target)
						require.NoError(t, err)
						_, err = w.c.Tickets.Assign(ctx, target, tickets.Assignment{Version: cur.Version, AssigneeID: "outsider"})
						if tc.user == "root" {
							require.NoError(t, err)
							back, err := w.c.Tickets.Get(ctx, target)
							require.NoError(t, err)
							_, err = w.c.Tickets.Assign(ctx, target, tickets.Assignment{Version: back.Version, AssigneeID: cur.AssigneeID, Team: cur.Team})
							require.NoError(t, err)
						} else {
							require.ErrorIs(t, err, core.ErrForbidden, "a ticket is not given outside what one sees")
							require.Contains(t, w.denied(t, target, tc.user), "tickets:update")
						}
					} else {
						for _, err := range []error{uerr, aerr, serr, cerr} {
							require.ErrorIs(t, err, core.ErrForbidden)
						}
						require.Contains(t, w.denied(t, target, tc.user), "tickets:update")
					}
				}
				for _, id := range all {
					if reads && slices.Contains(tc.sees, id) {
						continue
					}
					cur, err := w.c.Tickets.Get(context.Background(), id)
					require.NoError(t, err)
					sub := "hidden"
					_, uerr := w.c.Tickets.Update(ctx, id, tickets.TicketPatch{Version: cur.Version, Subject: &sub})
					_, aerr := w.c.Tickets.AddMessage(ctx, id, tickets.NewMessage{AuthorKind: tickets.AuthorAgent, AuthorID: "x", Body: "x"})
					into := w.all[0]
					if into == id {
						into = w.all[1]
					}
					_, merr := w.c.Tickets.Merge(ctx, id, cur.Version, into)
					for _, err := range []error{uerr, aerr, merr} {
						if reads {
							require.ErrorIs(t, err, core.ErrNotFound)
						} else {
							require.ErrorIs(t, err, core.ErrForbidden)
						}
					}
					after, err := w.c.Tickets.Get(context.Background(), id)
					require.NoError(t, err)
					require.Equal(t, cur.Version, after.Version, "nothing changed")
				}
			})
		}

		// A merge by someone who sees both tickets.
		ctx := as("dave")
		src, err := w.c.Tickets.Create(ctx, tickets.NewTicket{Subject: "Dup", ContactID: w.contact.ID})
		require.NoError(t, err)
		dst, err := w.c.Tickets.Create(ctx, tickets.NewTicket{Subject: "Orig", ContactID: w.contact.ID})
		require.NoError(t, err)
		_, err = w.c.Tickets.Merge(ctx, src.ID, src.Version, dst.ID)
		require.NoError(t, err)
	})
}

// An actor who is not a stored user resolves from their Actor's roles and
// teams: a support agent of team west by name sees west's tickets.
func TestRecordAccessOfActorsNotStored(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		w := newAccessWorld(t, db)
		ctx := core.WithActor(context.Background(), core.Actor{ID: "guest", Roles: []string{access.RoleSupport}, Teams: []string{"west"}})
		require.Equal(t, w.ids("bob/", "/west", "bob/east"), pageAll(t, w.c.Tickets, ctx))
		team, err := w.c.Access.Teams.ByName(context.Background(), "east")
		require.NoError(t, err)
		ctx = core.WithActor(context.Background(), core.Actor{ID: "guest", Roles: []string{access.RoleSupport}, Teams: []string{team.ID.String()}})
		require.Equal(t, w.ids("dave/", "carol/", "/east", "bob/east"), pageAll(t, w.c.Tickets, ctx))
		// A cursor is bound to the actor.
		page, err := w.c.Tickets.List(ctx, tickets.ListOptions{Limit: 1})
		require.NoError(t, err)
		require.NotEmpty(t, page.Next)
		_, err = w.c.Tickets.List(as("root"), tickets.ListOptions{Limit: 1, Cursor: page.Next})
		require.ErrorIs(t, err, core.ErrInvalid)
	})
}
