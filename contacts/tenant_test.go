package contacts_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
)

// Tenant B reaches none of tenant A's rows through any public method:
// reads find nothing, writes refer to nothing, and A's rows stay as they were.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		aContacts, aCompanies := b.forTenant("tenant-a")
		bContacts, bCompanies := b.forTenant("tenant-b")
		aNotes, bNotes := contacts.Module.Notes(b.sc.WithTenant("tenant-a")), contacts.Module.Notes(b.sc.WithTenant("tenant-b"))
		aTasks, bTasks := contacts.Module.Tasks(b.sc.WithTenant("tenant-a")), contacts.Module.Tasks(b.sc.WithTenant("tenant-b"))

		co, err := aCompanies.Create(ctx, contacts.NewCompany{Name: "A Corp", Domain: "a.example"})
		require.NoError(t, err)
		ada, err := aContacts.Create(ctx, contacts.NewContact{Email: "ada@a.example", FirstName: "Ada", CompanyID: &co.ID,
			Tags: []string{"vip"}, ExternalIDs: []contacts.ExternalID{{Source: "shop", ID: "1"}}})
		require.NoError(t, err)
		act, err := aContacts.Track(ctx, contacts.ByID(ada.ID), contacts.NewActivity{Kind: contacts.KindCall, IdempotencyKey: "k1"})
		require.NoError(t, err)
		note, err := aNotes.Create(ctx, contacts.NewNote{ContactID: ada.ID, Body: "A's secret", AuthorID: "u1"})
		require.NoError(t, err)
		task, err := aTasks.Create(ctx, contacts.NewTask{Title: "Call Ada", AssigneeID: "rep", ContactID: &ada.ID})
		require.NoError(t, err)
		ada, err = aContacts.Get(ctx, ada.ID)
		require.NoError(t, err)

		// Each row: a call through tenant B and what it must return.
		cases := []struct {
			name string
			call func() error
			want error // nil: must succeed without touching A
		}{
			{"Get", func() error { _, err := bContacts.Get(ctx, ada.ID); return err }, core.ErrNotFound},
			{"GetByEmail", func() error { _, err := bContacts.GetByEmail(ctx, ada.Email); return err }, core.ErrNotFound},
			{"GetByExternalID", func() error { _, err := bContacts.GetByExternalID(ctx, "shop", "1"); return err }, core.ErrNotFound},
			{"Update", func() error {
				_, err := bContacts.Update(ctx, ada.ID, contacts.ContactPatch{Version: ada.Version, FirstName: ptr("Eve")})
				return err
			}, core.ErrNotFound},
			{"Delete", func() error { return bContacts.Delete(ctx, ada.ID) }, core.ErrNotFound},
			{"LinkExternalID", func() error {
				_, err := bContacts.LinkExternalID(ctx, ada.ID, contacts.ExternalID{Source: "x", ID: "y"})
				return err
			}, core.ErrNotFound},
			{"List", func() error {
				page, err := bContacts.List(ctx, contacts.ListOptions{})
				if err == nil && len(page.Items) != 0 {
					t.Errorf("List of tenant B returned %d contacts", len(page.Items))
				}
				return err
			}, nil},
			{"List by email", func() error {
				page, err := bContacts.List(ctx, contacts.ListOptions{Filter: filter.Eq("email", ada.Email)})
				if err == nil && len(page.Items) != 0 {
					t.Errorf("List of tenant B found A's contact")
				}
				return err
			}, nil},
			{"Count", func() error {
				n, err := bContacts.Count(ctx, filter.Expr{})
				if err == nil && n != 0 {
					t.Errorf("Count of tenant B is %d", n)
				}
				return err
			}, nil},
			{"Create with A's company", func() error {
				_, err := bContacts.Create(ctx, contacts.NewContact{Email: "eve@b.example", CompanyID: &co.ID})
				return err
			}, core.ErrInvalid},
			// Upsert with A's email and external id makes a new contact in B
			// and leaves A's alone.
			{"Upsert over A's keys", func() error {
				c, created, err := bContacts.Upsert(ctx, contacts.NewContact{Email: ada.Email, FirstName: "Eve",
					ExternalIDs: []contacts.ExternalID{{Source: "shop", ID: "1"}}})
				if err == nil && (!created || c.ID == ada.ID) {
					t.Errorf("Upsert in tenant B touched A's contact")
				}
				return err
			}, nil},
			{"Track by id", func() error {
				_, err := bContacts.Track(ctx, contacts.ByID(ada.ID), contacts.NewActivity{Kind: contacts.KindCall})
				return err
			}, core.ErrNotFound},
			// By now B has its own contact with A's email (the Upsert above):
			// Track by email records on B's contact, never on A's.
			{"Track by email", func() error {
				got, err := bContacts.Track(ctx, contacts.ByEmail(ada.Email), contacts.NewActivity{Kind: contacts.KindCall})
				if err == nil && got.ContactID == ada.ID {
					t.Errorf("tenant B tracked on A's contact")
				}
				return err
			}, nil},
			// The same idempotency key in B records B's own activity.
			{"Track with A's idempotency key", func() error {
				c, err := bContacts.Create(ctx, contacts.NewContact{Email: "own@b.example"})
				if err != nil {
					return err
				}
				got, err := bContacts.Track(ctx, contacts.ByID(c.ID), contacts.NewActivity{Kind: contacts.KindCall, IdempotencyKey: "k1"})
				if err == nil && got.ID == act.ID {
					t.Errorf("tenant B got A's activity through its idempotency key")
				}
				return err
			}, nil},
			{"Merge A's contact into B's", func() error {
				own, err := bContacts.Create(ctx, contacts.NewContact{Email: "mine@b.example"})
				if err != nil {
					return err
				}
				_, err = bContacts.Merge(ctx, own.ID, ada.ID)
				return err
			}, core.ErrNotFound},
			{"Merge into A's contact", func() error {
				own, err := bContacts.Create(ctx, contacts.NewContact{Email: "mine2@b.example"})
				if err != nil {
					return err
				}
				_, err = bContacts.Merge(ctx, ada.ID, own.ID)
				return err
			}, core.ErrNotFound},
			{"GetActivity", func() error { _, err := bContacts.GetActivity(ctx, act.ID); return err }, core.ErrNotFound},
			{"Timeline", func() error { _, err := bContacts.Timeline(ctx, ada.ID, contacts.TimelineOptions{}); return err }, core.ErrNotFound},
			{"GetNote", func() error { _, err := bNotes.Get(ctx, note.ID); return err }, core.ErrNotFound},
			{"UpdateNote", func() error {
				_, err := bNotes.Update(ctx, note.ID, contacts.NotePatch{Version: note.Version, Body: ptr("mine")})
				return err
			}, core.ErrNotFound},
			{"DeleteNote", func() error { return bNotes.Delete(ctx, note.ID) }, core.ErrNotFound},
			{"CreateNote on A's contact", func() error {
				_, err := bNotes.Create(ctx, contacts.NewNote{ContactID: ada.ID, Body: "x", AuthorID: "u"})
				return err
			}, core.ErrInvalid},
			{"ListNotes", func() error {
				page, err := bNotes.List(ctx, contacts.NoteListOptions{ContactID: ada.ID})
				if err == nil && len(page.Items) != 0 {
					t.Errorf("tenant B listed A's notes")
				}
				return err
			}, nil},
			{"PinnedNotes", func() error {
				got, err := bNotes.Pinned(ctx, ada.ID)
				if err == nil && len(got) != 0 {
					t.Errorf("tenant B saw A's notes")
				}
				return err
			}, nil},
			{"GetTask", func() error { _, err := bTasks.Get(ctx, task.ID); return err }, core.ErrNotFound},
			{"CompleteTask", func() error { _, err := bTasks.Complete(ctx, task.ID, task.Version); return err }, core.ErrNotFound},
			{"ReassignTask", func() error { _, err := bTasks.Reassign(ctx, task.ID, task.Version, "me"); return err }, core.ErrNotFound},
			{"UpdateTask", func() error {
				_, err := bTasks.Update(ctx, task.ID, contacts.TaskPatch{Version: task.Version, Title: ptr("mine")})
				return err
			}, core.ErrNotFound},
			{"DeleteTask", func() error { return bTasks.Delete(ctx, task.ID) }, core.ErrNotFound},
			{"CreateTask on A's contact", func() error {
				_, err := bTasks.Create(ctx, contacts.NewTask{Title: "x", ContactID: &ada.ID})
				return err
			}, core.ErrInvalid},
			{"OpenTasks", func() error {
				page, err := bTasks.Open(ctx, "rep", contacts.TaskListOptions{})
				if err == nil && len(page.Items) != 0 {
					t.Errorf("tenant B listed A's tasks")
				}
				return err
			}, nil},
			{"GetCompany", func() error { _, err := bCompanies.Get(ctx, co.ID); return err }, core.ErrNotFound},
			{"GetCompanyByDomain", func() error { _, err := bCompanies.GetByDomain(ctx, "a.example"); return err }, core.ErrNotFound},
			{"UpdateCompany", func() error {
				_, err := bCompanies.Update(ctx, co.ID, contacts.CompanyPatch{Version: co.Version, Name: ptr("Mine")})
				return err
			}, core.ErrNotFound},
			{"DeleteCompany", func() error { return bCompanies.Delete(ctx, co.ID) }, core.ErrNotFound},
			{"ListCompanies", func() error {
				page, err := bCompanies.List(ctx, contacts.CompanyListOptions{})
				if err == nil && len(page.Items) != 0 {
					t.Errorf("ListCompanies of tenant B returned %d", len(page.Items))
				}
				return err
			}, nil},
		}
		for _, tc := range cases {
			err := tc.call()
			if tc.want == nil {
				require.NoError(t, err, tc.name)
			} else {
				require.ErrorIs(t, err, tc.want, tc.name)
			}
		}

		// A's rows are exactly as they were.
		got, err := aContacts.Get(ctx, ada.ID)
		require.NoError(t, err)
		require.Equal(t, ada, got)
		gotTask, err := aTasks.Get(ctx, task.ID)
		require.NoError(t, err)
		require.Equal(t, task, gotTask)
		gotNote, err := aNotes.Get(ctx, note.ID)
		require.NoError(t, err)
		require.Equal(t, note, gotNote)
		gotCo, err := aCompanies.Get(ctx, co.ID)
		require.NoError(t, err)
		require.Equal(t, co, gotCo)
		n, err := aContacts.Count(ctx, filter.Expr{})
		require.NoError(t, err)
		require.Equal(t, int64(1), n)

		// A missing or malformed tenant is refused everywhere.
		for _, bad := range []string{"", "has space", "ünïcode", string(make([]byte, 65))} {
			s, _ := b.forTenant(bad)
			_, err := s.Get(ctx, ada.ID)
			require.ErrorIs(t, err, core.ErrInvalid)
			_, err = s.Create(ctx, contacts.NewContact{Email: "x@example.com"})
			require.ErrorIs(t, err, core.ErrInvalid)
			_, err = s.List(ctx, contacts.ListOptions{})
			require.ErrorIs(t, err, core.ErrInvalid)
			_, err = s.Count(ctx, filter.Expr{})
			require.ErrorIs(t, err, core.ErrInvalid)
		}
	})
}
