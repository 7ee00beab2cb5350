package contacts_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
)

// roleRights are what the built-in roles allow on "contacts" (see
// access.Builtins), for the walk below.
var roleRights = map[string]struct {
	actions []access.Action
	visible string // an owner whose contacts the user sees
	hidden  string // an owner whose contacts they do not see; "" for none
}{
	"root":   {[]access.Action{access.Read, access.Create, access.Update, access.Delete, access.Export, access.Manage}, "bob", ""},
	"carol":  {[]access.Action{access.Read, access.Create, access.Update, access.Delete, access.Export}, "alice", "bob"},
	"alice":  {[]access.Action{access.Read, access.Create, access.Update}, "alice", "bob"},
	"dave":   {[]access.Action{access.Read, access.Update}, "carol", "bob"},
	"erin":   {[]access.Action{access.Read, access.Update}, "bob", ""},
	"rita":   {[]access.Action{access.Read}, "bob", ""},
	"nobody": {nil, "bob", ""},
}

// recordOp is one public method on one contact's records.
type recordOp struct {
	name   string
	action access.Action
	// hiddenErr is the error for a record the actor does not see when it
	// is not ErrNotFound (a reference to a contact they do not see is one
	// to a contact that does not exist: ErrInvalid).
	hiddenErr error
	run       func(ctx context.Context, w *world, r records) error
}

// records are a fresh contact and the records about it.
type records struct {
	contact, note, task, activity core.ID
	ext                           contacts.ExternalID
}

func (w *world) fresh(t *testing.T, owner string, n int) records {
	t.Helper()
	ctx := context.Background()
	ext := contacts.ExternalID{Source: "walk", ID: fmt.Sprint(n)}
	c, err := w.svc.Create(ctx, contacts.NewContact{FirstName: "Walk", OwnerID: owner, ExternalIDs: []contacts.ExternalID{ext}})
	require.NoError(t, err)
	note, err := w.notes.Create(ctx, contacts.NewNote{ContactID: c.ID, Body: "walk", AuthorID: owner + "x"})
	require.NoError(t, err)
	task, err := w.tasks.Create(ctx, contacts.NewTask{Title: "walk", AssigneeID: owner, ContactID: &c.ID})
	require.NoError(t, err)
	a, err := w.svc.Track(ctx, contacts.ByID(c.ID), contacts.NewActivity{Kind: contacts.KindWeb, Name: "walk"})
	require.NoError(t, err)
	return records{contact: c.ID, note: note.ID, task: task.ID, activity: a.ID, ext: ext}
}

// Every public method that acts on one record, for every built-in role
// and a user without one, on a record they see and one they do not: the
// error is the one the access rules name — ErrForbidden without the
// action (or without reading the module at all), ErrNotFound for a record
// hidden from them, none otherwise. Then the methods that act on no one
// record.
func TestRecordAccessWalk(t *testing.T) {
	t.Parallel()
	wired(t, func(t *testing.T, w *world) {
		ops := []recordOp{
			{"Get", access.Read, nil, func(ctx context.Context, w *world, r records) error {
				_, err := w.svc.Get(ctx, r.contact)
				return err
			}},
			{"GetByExternalID", access.Read, nil, func(ctx context.Context, w *world, r records) error {
				_, err := w.svc.GetByExternalID(ctx, r.ext.Source, r.ext.ID)
				return err
			}},
			{"Timeline", access.Read, nil, func(ctx context.Context, w *world, r records) error {
				_, err := w.svc.Timeline(ctx, r.contact, contacts.TimelineOptions{})
				return err
			}},
			{"GetActivity", access.Read, nil, func(ctx context.Context, w *world, r records) error {
				_, err := w.svc.GetActivity(ctx, r.activity)
				return err
			}},
			{"Notes.Get", access.Read, nil, func(ctx context.Context, w *world, r records) error {
				_, err := w.notes.Get(ctx, r.note)
				return err
			}},
			{"Tasks.Get", access.Read, nil, func(ctx context.Context, w *world, r records) error {
				_, err := w.tasks.Get(ctx, r.task)
				return err
			}},
			{"Update", access.Update, nil, func(ctx context.Context, w *world, r records) error {
				_, err := w.svc.Update(ctx, r.contact, contacts.ContactPatch{Version: 1, LastName: ptr("Walked")})
				return err
			}},
			{"LinkExternalID", access.Update, nil, func(ctx context.Context, w *world, r records) error {
				_, err := w.svc.LinkExternalID(ctx, r.contact, contacts.ExternalID{Source: "walk2", ID: r.contact.String()})
				return err
			}},
			{"Restrict", access.Update, nil, func(ctx context.Context, w *world, r records) error {
				return w.svc.Restrict(ctx, r.contact, "walk")
			}},
			{"Track", access.Update, nil, func(ctx context.Context, w *world, r records) error {
				_, err := w.svc.Track(ctx, contacts.ByID(r.contact), contacts.NewActivity{Kind: contacts.KindWeb, Name: "again"})
				return err
			}},
			{"Scoring.ScoreContact", access.Update, nil, func(ctx context.Context, w *world, r records) error {
				_, err := w.scoring.ScoreContact(ctx, r.contact)
				return err
			}},
			{"Scoring.Adjust", access.Update, nil, func(ctx context.Context, w *world, r records) error {
				_, err := w.scoring.Adjust(ctx, r.contact, 3, "walk")
				return err
			}},
			{"Notes.Update", access.Update, nil, func(ctx context.Context, w *world, r records) error {
				_, err := w.notes.Update(ctx, r.note, contacts.NotePatch{Version: 1, Body: ptr("walked")})
				return err
			}},
			{"Tasks.Update", access.Update, nil, func(ctx context.Context, w *world, r records) error {
				_, err := w.tasks.Update(ctx, r.task, contacts.TaskPatch{Version: 1, Title: ptr("walked")})
				return err
			}},
			{"Tasks.Complete", access.Update, nil, func(ctx context.Context, w *world, r records) error {
				_, err := w.tasks.Complete(ctx, r.task, 1)
				return err
			}},
			{"Notes.Create", access.Create, core.ErrInvalid, func(ctx context.Context, w *world, r records) error {
				_, err := w.notes.Create(ctx, contacts.NewNote{ContactID: r.contact, Body: "more", AuthorID: "walker"})
				return err
			}},
			{"Tasks.Create", access.Create, core.ErrInvalid, func(ctx context.Context, w *world, r records) error {
				_, err := w.tasks.Create(ctx, contacts.NewTask{Title: "more", ContactID: &r.contact})
				return err
			}},
			{"Notes.Delete", access.Delete, nil, func(ctx context.Context, w *world, r records) error {
				return w.notes.Delete(ctx, r.note)
			}},
			{"Tasks.Delete", access.Delete, nil, func(ctx context.Context, w *world, r records) error {
				return w.tasks.Delete(ctx, r.task)
			}},
			{"Delete", access.Delete, nil, func(ctx context.Context, w *world, r records) error {
				return w.svc.Delete(ctx, r.contact)
			}},
		}
		n := 0
		for user, rights := range roleRights {
			can := func(a access.Action) bool {
				for _, x := range rights.actions {
					if x == a {
						return true
					}
				}
				return false
			}
			for _, op := range ops {
				for _, hidden := range []bool{false, true} {
					owner := rights.visible
					if hidden {
						if rights.hidden == "" {
							continue
						}
						owner = rights.hidden
					}
					n++
					r := w.fresh(t, owner, n)
					err := op.run(as(user), w, r)
					what := fmt.Sprintf("%s as %s on a %s record", op.name, user, map[bool]string{false: "visible", true: "hidden"}[hidden])
					switch {
					case !can(access.Read), op.action == access.Create && !can(access.Create):
						// Nothing of the module, or a create: the permission
						// decides before any record is read.
						require.ErrorIs(t, err, core.ErrForbidden, what)
					case hidden && op.hiddenErr != nil:
						require.ErrorIs(t, err, op.hiddenErr, what)
					case hidden:
						require.ErrorIs(t, err, core.ErrNotFound, what)
					case !can(op.action):
						require.ErrorIs(t, err, core.ErrForbidden, what)
					default:
						require.NoError(t, err, what)
					}
					if err != nil {
						require.NotContains(t, err.Error(), "@", what)
					}
				}
			}

			// The methods on no one record.
			ctx := as(user)
			check := func(name string, action access.Action, err error) {
				t.Helper()
				if can(access.Read) && can(action) {
					require.NoError(t, err, "%s as %s", name, user)
				} else {
					require.ErrorIs(t, err, core.ErrForbidden, "%s as %s", name, user)
				}
			}
			_, err := w.svc.Count(ctx, filter.Expr{})
			check("Count", access.Read, err)
			_, err = w.svc.InactiveLeads(ctx, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), core.NilID, 10)
			check("InactiveLeads", access.Read, err)
			_, err = w.companies.List(ctx, contacts.CompanyListOptions{})
			check("Companies.List", access.Read, err)
			_, err = w.companies.GetByDomain(ctx, "acme.example")
			check("Companies.GetByDomain", access.Read, err)
			co, err := w.companies.Create(ctx, contacts.NewCompany{Name: "Walk " + user})
			check("Companies.Create", access.Create, err)
			cur, _ := w.companies.Get(context.Background(), w.company)
			_, err = w.companies.Update(ctx, w.company, contacts.CompanyPatch{Version: cur.Version, Name: ptr("Acme " + user)})
			check("Companies.Update", access.Update, err)
			if co != nil {
				err = w.companies.Delete(ctx, co.ID)
				if can(access.Delete) && user != "root" {
					require.ErrorIs(t, err, core.ErrForbidden, "Companies.Delete needs all contacts visible")
				} else {
					check("Companies.Delete", access.Delete, err)
				}
			}
			_, err = w.scoring.Model(ctx)
			check("Scoring.Model", access.Read, err)
			_, err = w.scoring.SetModel(ctx, 0, contacts.ScoringModel{Rules: []contacts.ScoringRule{}})
			if can(access.Manage) {
				require.False(t, errors.Is(err, core.ErrForbidden), "SetModel as %s: %v", user, err)
			} else {
				require.ErrorIs(t, err, core.ErrForbidden, "SetModel as %s", user)
			}
			_, err = w.scoring.Rescore(ctx)
			check("Scoring.Rescore", access.Manage, err)
			// A write over every contact: update, and seeing them all.
			_, err = w.scoring.SetCustomerScores(ctx, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), nil)
			if can(access.Update) && rights.hidden == "" {
				require.NoError(t, err, "SetCustomerScores as %s", user)
			} else {
				require.ErrorIs(t, err, core.ErrForbidden, "SetCustomerScores as %s", user)
			}
			_, err = w.svc.RebuildSearchIndex(ctx)
			check("RebuildSearchIndex", access.Manage, err)
			_, err = w.svc.ExportCSV(ctx, io.Discard, contacts.ExportOptions{})
			check("ExportCSV", access.Export, err)
			_, err = w.svc.Search(ctx, "walk", contacts.SearchOptions{Entities: []string{contacts.EntityCompany}})
			check("Search", access.Read, err)
		}
	})
}
