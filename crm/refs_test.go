package crm_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	bundialect "github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	_ "modernc.org/sqlite"

	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/pipeline"
)

// requireRefField asserts err is ErrInvalid naming field.
func requireRefField(t *testing.T, err error, field string) {
	t.Helper()
	requireField(t, err, field, field)
}

// A task or an activity of one tenant cannot point at another tenant's
// deal or company, nor at ids that exist nowhere; a deleted deal or
// company leaves its tasks and activities, unlinked.
func TestReferencesStayInTheirTenant(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := newCRM(t, db)
		a, b := c.Tenant("a"), c.Tenant("b")

		aCompany, err := a.Companies.Create(ctx, contacts.NewCompany{Name: "Acme"})
		require.NoError(t, err)
		aContact, err := a.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
		require.NoError(t, err)
		aDeal, err := a.Deals.Create(ctx, pipeline.NewDeal{Title: "Engine", Amount: core.MustMoney("10", "EUR"), ContactID: &aContact.ID})
		require.NoError(t, err)
		bContact, err := b.Contacts.Create(ctx, contacts.NewContact{Email: "bob@example.com"})
		require.NoError(t, err)
		nowhere := core.NewID()

		_, err = b.Tasks.Create(ctx, contacts.NewTask{Title: "steal", DealID: &aDeal.ID})
		requireRefField(t, err, "deal_id")
		_, err = b.Tasks.Create(ctx, contacts.NewTask{Title: "ghost", DealID: &nowhere})
		requireRefField(t, err, "deal_id")
		_, err = b.Tasks.Create(ctx, contacts.NewTask{Title: "steal", CompanyID: &aCompany.ID, ContactID: &aContact.ID})
		requireRefField(t, err, "company_id")
		requireRefField(t, err, "contact_id")

		_, err = b.Contacts.Track(ctx, contacts.ContactRef{ID: bContact.ID}, contacts.NewActivity{Kind: contacts.KindCall, CompanyID: &aCompany.ID})
		requireRefField(t, err, "company_id")
		_, err = b.Contacts.Track(ctx, contacts.ContactRef{ID: bContact.ID}, contacts.NewActivity{Kind: contacts.KindCall, DealID: &aDeal.ID})
		requireRefField(t, err, "deal_id")
		_, err = b.Contacts.Track(ctx, contacts.ContactRef{ID: bContact.ID}, contacts.NewActivity{Kind: contacts.KindCall, DealID: &nowhere, CompanyID: &nowhere})
		requireRefField(t, err, "deal_id")
		requireRefField(t, err, "company_id")
		// A refused Track that would have created its contact creates none.
		_, err = b.Contacts.Track(ctx, contacts.ContactRef{Email: "new@example.com"}, contacts.NewActivity{Kind: contacts.KindCall, DealID: &aDeal.ID,
			CreateContact: &contacts.NewContact{}})
		requireRefField(t, err, "deal_id")
		_, err = b.Contacts.GetByEmail(ctx, "new@example.com")
		require.ErrorIs(t, err, core.ErrNotFound)

		// Within the tenant the links work, and deleting the deal and the
		// company unlinks them.
		task, err := a.Tasks.Create(ctx, contacts.NewTask{Title: "call", DealID: &aDeal.ID, CompanyID: &aCompany.ID})
		require.NoError(t, err)
		act, err := a.Contacts.Track(ctx, contacts.ContactRef{ID: aContact.ID}, contacts.NewActivity{Kind: contacts.KindCall, DealID: &aDeal.ID, CompanyID: &aCompany.ID})
		require.NoError(t, err)
		require.NoError(t, a.Deals.Delete(ctx, aDeal.ID))
		require.NoError(t, a.Companies.Delete(ctx, aCompany.ID))
		task, err = a.Tasks.Get(ctx, task.ID)
		require.NoError(t, err)
		require.Nil(t, task.DealID)
		require.Nil(t, task.CompanyID)
		act, err = a.Contacts.GetActivity(ctx, act.ID)
		require.NoError(t, err)
		require.Nil(t, act.DealID)
		require.Nil(t, act.CompanyID)
		require.Equal(t, aContact.ID, act.ContactID)

		// The database refuses it too, whatever the code in front of it.
		_, err = db.ExecContext(ctx, `UPDATE crm_tasks SET deal_id = ? WHERE tenant_id = 'a' AND id = ?`, nowhere, task.ID)
		require.Error(t, err)
	})
}

// A contact merged into one that is later merged again points at the
// final winner; deleting the winner removes the records of the merges.
func TestMergeChainAndWinnerDeletion(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := newCRM(t, db)
		x, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "x@example.com"})
		require.NoError(t, err)
		y, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "y@example.com"})
		require.NoError(t, err)
		z, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "z@example.com"})
		require.NoError(t, err)
		_, err = c.Contacts.Merge(ctx, y.ID, x.ID)
		require.NoError(t, err)
		_, err = c.Contacts.Merge(ctx, z.ID, y.ID)
		require.NoError(t, err)
		for _, id := range []core.ID{x.ID, y.ID} {
			w, err := c.Contacts.MergedInto(ctx, id)
			require.NoError(t, err)
			require.Equal(t, z.ID, w)
		}
		require.NoError(t, c.Contacts.Delete(ctx, z.ID))
		var n int
		require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM crm_contact_merges`).Scan(&n))
		require.Zero(t, n)
	})
}

// other opens a second database of db's kind (another SQLite file, another
// PostgreSQL schema), migrated for crmkit.
func other(t *testing.T, db *bun.DB) *bun.DB {
	t.Helper()
	var o *bun.DB
	if db.Dialect().Name() == bundialect.SQLite {
		o = dbtest.SQLite(t)
	} else {
		o = dbtest.Postgres(t)
	}
	newCRM(t, o)
	return o
}

// WithTx with a transaction of another database is refused on every
// method of the copy, and writes nothing anywhere.
func TestWithTxOfAnotherDatabase(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := newCRM(t, db)
		ada, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
		require.NoError(t, err)
		o := other(t, db)

		tx, err := o.BeginTx(ctx, nil)
		require.NoError(t, err)
		defer tx.Rollback()
		for name, bound := range map[string]*crm.CRM{"copy": c.WithTx(tx), "tenant of copy": c.WithTx(tx).Tenant("t2"), "zero tx": c.WithTx(bun.Tx{})} {
			_, err = bound.Contacts.Create(ctx, contacts.NewContact{Email: "bob@example.com"})
			require.ErrorIs(t, err, core.ErrInvalid, name)
			_, err = bound.Contacts.Get(ctx, ada.ID)
			require.ErrorIs(t, err, core.ErrInvalid, name)
			_, err = bound.Contacts.List(ctx, contacts.ListOptions{})
			require.ErrorIs(t, err, core.ErrInvalid, name)
			_, err = bound.Tasks.Create(ctx, contacts.NewTask{Title: "x"})
			require.ErrorIs(t, err, core.ErrInvalid, name)
		}
		require.NoError(t, tx.Commit())
		var n int
		require.NoError(t, o.QueryRowContext(ctx, `SELECT count(*) FROM crm_contacts`).Scan(&n))
		require.Zero(t, n, "nothing written into the other database")
		require.Equal(t, int64(1), count(t, c))

		// Another *bun.DB over the same pool is the same database.
		same := bun.NewDB(db.DB, db.Dialect())
		tx2, err := same.BeginTx(ctx, nil)
		require.NoError(t, err)
		_, err = c.WithTx(tx2).Contacts.Create(ctx, contacts.NewContact{Email: "cy@example.com"})
		require.NoError(t, err)
		require.NoError(t, tx2.Commit())
		require.Equal(t, int64(2), count(t, c))
	})
}

// A host's SQLite handle without foreign keys (modernc's default) is
// refused, with the pragma and how to set it; with them it is accepted.
func TestNewRefusesSQLiteWithoutForeignKeys(t *testing.T) {
	dir := t.TempDir()
	for _, dsn := range []string{"file:" + dir + "/a.db", "file:" + dir + "/b.db?_pragma=foreign_keys(0)"} {
		sqldb, err := sql.Open("sqlite", dsn)
		require.NoError(t, err)
		db := bun.NewDB(sqldb, sqlitedialect.New())
		_, err = crm.New(db, crm.Config{})
		require.Error(t, err, dsn)
		require.Contains(t, err.Error(), "foreign_keys")
		require.Contains(t, err.Error(), "_pragma=foreign_keys(1)")
		require.NoError(t, db.Close())
	}
	sqldb, err := sql.Open("sqlite", "file:"+dir+"/c.db?_pragma=foreign_keys(1)")
	require.NoError(t, err)
	db := bun.NewDB(sqldb, sqlitedialect.New())
	defer db.Close()
	c, err := crm.New(db, crm.Config{})
	require.NoError(t, err)
	require.NoError(t, c.Migrate(context.Background()))
}

// A database that was never migrated says so, whatever the call.
func TestNotMigrated(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c, err := crm.New(db, crm.Config{})
		require.NoError(t, err)
		_, err = c.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
		require.ErrorIs(t, err, core.ErrNotMigrated)
		_, err = c.Contacts.Get(ctx, core.NewID())
		require.ErrorIs(t, err, core.ErrNotMigrated)
		_, err = c.Contacts.List(ctx, contacts.ListOptions{})
		require.ErrorIs(t, err, core.ErrNotMigrated)
		_, err = c.Deals.Get(ctx, core.NewID())
		require.ErrorIs(t, err, core.ErrNotMigrated)
		_, err = c.Tasks.Create(ctx, contacts.NewTask{Title: "x"})
		require.ErrorIs(t, err, core.ErrNotMigrated)
		require.Contains(t, err.Error(), "call Migrate")
	})
}

// Text that no database can hold (a NUL byte, invalid UTF-8) in the
// arguments of reads is ErrInvalid on both databases, never a driver error
// (PostgreSQL) nor a silent "nothing" on one database only.
func TestUnstorableTextInReads(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := newCRM(t, db)
		ada, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
		require.NoError(t, err)
		for _, bad := range []string{"a\x00b", "a\xffb"} {
			calls := map[string]func() error{
				"Consent.Wording": func() error { _, err := c.Consent.Wording(ctx, bad, 1); return err },
				"Consent.Status": func() error {
					_, err := c.Consent.Status(ctx, ada.ID, bad, consent.Email)
					return err
				},
				"Consent.Status channel": func() error {
					_, err := c.Consent.Status(ctx, ada.ID, "news", consent.Channel(bad))
					return err
				},
				"Consent.Purpose": func() error { _, err := c.Consent.Purpose(ctx, bad); return err },
				"Fields.List":     func() error { _, err := c.Fields.List(ctx, bad); return err },
				"Fields.Get":      func() error { _, err := c.Fields.Get(ctx, "contact", bad); return err },
				"Deals.Forecast": func() error {
					_, err := c.Deals.Forecast(ctx, pipeline.ForecastOptions{From: core.MustDate("2026-01-01"), To: core.MustDate("2027-01-01"), OwnerID: bad})
					return err
				},
				"Deals.Stats": func() error {
					_, err := c.Deals.Stats(ctx, pipeline.StatsOptions{From: core.MustDate("2026-01-01"), To: core.MustDate("2027-01-01"), OwnerID: bad})
					return err
				},
				"Deals.Board": func() error {
					p, err := c.Pipelines.Default(ctx)
					require.NoError(t, err)
					_, err = c.Deals.Board(ctx, p.ID, pipeline.BoardOptions{OwnerID: bad})
					return err
				},
				"Events": func() error {
					_, err := c.Events(ctx, crm.EventQuery{Types: []string{"contact.created", bad}})
					return err
				},
				"Contacts.GetByEmail":      func() error { _, err := c.Contacts.GetByEmail(ctx, bad+"@example.com"); return err },
				"Contacts.GetByExternalID": func() error { _, err := c.Contacts.GetByExternalID(ctx, "shop", bad); return err },
				"Companies.GetByDomain":    func() error { _, err := c.Companies.GetByDomain(ctx, bad+".example"); return err },
				"Products.GetBySKU":        func() error { _, err := c.Products.GetBySKU(ctx, bad); return err },
				"Contacts.Search":          func() error { _, err := c.Contacts.Search(ctx, bad, contacts.SearchOptions{}); return err },
				"Tasks.Open":               func() error { _, err := c.Tasks.Open(ctx, bad, contacts.TaskListOptions{}); return err },
			}
			for name, call := range calls {
				err := call()
				assert.ErrorIs(t, err, core.ErrInvalid, "%s(%q): %v", name, bad, err)
			}
		}
	})
}

// A timeline narrowed by a kind repeated many times binds each kind once
// (PostgreSQL refused more than 65,535 parameters).
func TestTimelineRepeatedKinds(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := newCRM(t, db)
		ada, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
		require.NoError(t, err)
		_, err = c.Contacts.Track(ctx, contacts.ContactRef{ID: ada.ID}, contacts.NewActivity{Kind: contacts.KindCall})
		require.NoError(t, err)
		kinds := make([]contacts.ActivityKind, 70_000)
		for i := range kinds {
			kinds[i] = contacts.KindCall
		}
		page, err := c.Contacts.Timeline(ctx, ada.ID, contacts.TimelineOptions{Kinds: kinds})
		require.NoError(t, err)
		require.NotEmpty(t, page.Items)
	})
}

// Deleting a deal or a company unlinks what pointed at it through the
// module that owns those rows: each changed task and contact gets its next
// version and its event, so a writer holding the old version conflicts.
// The database refuses a deal's deletion that would leave a link.
func TestDeletingUnlinksWithEvents(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := newCRM(t, db)
		co, err := c.Companies.Create(ctx, contacts.NewCompany{Name: "Acme"})
		require.NoError(t, err)
		person, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "p@example.com", CompanyID: &co.ID})
		require.NoError(t, err)
		deal, err := c.Deals.Create(ctx, pipeline.NewDeal{Title: "d", Amount: core.MoneyFromMinor(100, "EUR"), ContactID: &person.ID})
		require.NoError(t, err)
		task, err := c.Tasks.Create(ctx, contacts.NewTask{Title: "call", DealID: &deal.ID, CompanyID: &co.ID, ContactID: &person.ID})
		require.NoError(t, err)
		act, err := c.Contacts.Track(ctx, contacts.ByID(person.ID), contacts.NewActivity{Kind: contacts.KindCall, DealID: &deal.ID})
		require.NoError(t, err)

		// Behind the services' back, the database keeps the link.
		_, err = db.ExecContext(ctx, `DELETE FROM crm_deals WHERE tenant_id = ? AND id = ?`, crm.DefaultTenant, deal.ID)
		require.Error(t, err)

		require.NoError(t, c.Deals.Delete(ctx, deal.ID))
		got, err := c.Tasks.Get(ctx, task.ID)
		require.NoError(t, err)
		require.Nil(t, got.DealID)
		require.Equal(t, task.Version+1, got.Version)
		a, err := c.Contacts.GetActivity(ctx, act.ID)
		require.NoError(t, err)
		require.Nil(t, a.DealID)
		evs, err := c.Events(ctx, crm.EventQuery{SubjectID: task.ID, Types: []string{contacts.EventTaskUpdated}})
		require.NoError(t, err)
		require.Len(t, evs, 1)
		var changed contacts.TaskChanged
		require.NoError(t, json.Unmarshal(evs[0].Data, &changed))
		require.Nil(t, changed.Task.DealID)

		// The old version of the task is stale now.
		title := "call back"
		_, err = c.Tasks.Update(ctx, task.ID, contacts.TaskPatch{Version: task.Version, Title: &title})
		require.ErrorIs(t, err, core.ErrConflict)

		require.NoError(t, c.Companies.Delete(ctx, co.ID))
		p, err := c.Contacts.Get(ctx, person.ID)
		require.NoError(t, err)
		require.Nil(t, p.CompanyID)
		require.Equal(t, person.Version+1, p.Version)
		evs, err = c.Events(ctx, crm.EventQuery{SubjectID: person.ID, Types: []string{contacts.EventContactUpdated}})
		require.NoError(t, err)
		require.Len(t, evs, 1)
		var upd contacts.ContactUpdated
		require.NoError(t, json.Unmarshal(evs[0].Data, &upd))
		require.Equal(t, []string{"company_id"}, upd.Changed)
		evs, err = c.Events(ctx, crm.EventQuery{SubjectID: task.ID, Types: []string{contacts.EventTaskUpdated}})
		require.NoError(t, err)
		require.Len(t, evs, 2)
		got, err = c.Tasks.Get(ctx, task.ID)
		require.NoError(t, err)
		require.Nil(t, got.CompanyID)
	})
}
