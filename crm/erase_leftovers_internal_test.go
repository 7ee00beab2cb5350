package crm

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/pipeline"
)

// leftovers returns where the needles (lower-case, not hex, so that ids,
// hashes and salts cannot match by chance) still occur in the database:
// every column of every crm_ table, read as raw bytes — SQLite's FTS5
// shadow tables and blob columns included, PostgreSQL's rows (tsvector
// and jsonb columns too) as their text. In a blob a needle also counts when
// only its last ten or more bytes occur: FTS5 stores a term after the
// prefix it shares with the term before it on the page. (Five bytes, the
// rule before, matched random hex of other people's tokens by chance: the
// soak on a one-connection pool reported an erased name in 4 of 9 runs on
// its last five bytes alone, with no document, index term or page holding
// the name.)
func leftovers(t *testing.T, db *bun.DB, needles ...string) []string {
	t.Helper()
	ctx := context.Background()
	pg := db.Dialect().Name().String() == "pg"
	query := `SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'crm\_%' ESCAPE '\' ORDER BY name`
	if pg {
		query = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name LIKE 'crm\_%' ORDER BY table_name`
	}
	var tables []string
	rows, err := db.DB.QueryContext(ctx, query)
	require.NoError(t, err)
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		tables = append(tables, name)
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())
	require.Contains(t, tables, "crm_events")
	if !pg {
		require.Contains(t, tables, "crm_search_fts_data", "the FTS5 shadow tables are scanned")
	}
	var found []string
	for _, table := range tables {
		q := `SELECT * FROM ` + table
		if pg {
			q = `SELECT r::text FROM ` + table + ` r`
		}
		rows, err := db.DB.QueryContext(ctx, q)
		require.NoError(t, err)
		cols, err := rows.Columns()
		require.NoError(t, err)
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			for i, v := range vals {
				var b []byte
				blob := false
				switch v := v.(type) {
				case string:
					b = []byte(v)
				case []byte:
					b, blob = v, true
				default:
					continue
				}
				b = bytes.ToLower(b)
				for _, n := range needles {
					hit := bytes.Contains(b, []byte(n))
					for k := 1; blob && !hit && len(n)-k >= 10; k++ {
						hit = bytes.Contains(b, []byte(n[k:]))
					}
					if hit {
						found = append(found, fmt.Sprintf("%q in %s.%s", n, table, cols[i]))
					}
				}
			}
		}
		require.NoError(t, rows.Err())
		require.NoError(t, rows.Close())
	}
	return found
}

// requireNothingOf fails when a needle is still in the database.
func requireNothingOf(t *testing.T, db *bun.DB, needles ...string) {
	t.Helper()
	left := leftovers(t, db, needles...)
	require.Empty(t, left, "personal data left:\n%s", strings.Join(left, "\n"))
}

// newTestCRM returns a migrated CRM on db.
func newTestCRM(t *testing.T, db *bun.DB) *CRM {
	c, err := New(db, Config{})
	require.NoError(t, err)
	require.NoError(t, c.Migrate(context.Background()))
	return c
}

// An activity named after the person ("Re: your quote, …", an email's
// subject) is scrubbed of them; its kind and time stay.
func TestErasureScrubsActivityNames(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := newTestCRM(t, db)
		p, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "ada.quillon@example.com", FirstName: "Ada", LastName: "Quillon"})
		require.NoError(t, err)
		act, err := c.Contacts.Track(ctx, contacts.ByID(p.ID), contacts.NewActivity{Kind: contacts.KindEmail, Name: "Re: your quote, Ada Quillon"})
		require.NoError(t, err)
		require.NotEmpty(t, leftovers(t, db, "quillon"))

		_, err = c.Consent.Erase(ctx, p.ID, "request")
		require.NoError(t, err)
		requireNothingOf(t, db, "quillon")
		got, err := c.Contacts.GetActivity(ctx, act.ID)
		require.NoError(t, err)
		require.Equal(t, "Re: your quote, [erased]", got.Name)
		require.Equal(t, contacts.KindEmail, got.Kind)
	})
}

// The events of records deleted before the erasure — a note, a task, a
// deal, an activity removed by retention — are emptied too: the records
// are gone, so their ids come from the events that name the person.
func TestErasureReachesEventsOfDeletedRecords(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := newTestCRM(t, db)
		p, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "bertram.wexley@example.com", FirstName: "Bertram", LastName: "Wexley"})
		require.NoError(t, err)
		other, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "other.person@example.com", FirstName: "Other", LastName: "Person"})
		require.NoError(t, err)
		n, err := c.Notes.Create(ctx, contacts.NewNote{ContactID: p.ID, Body: "Mr Wexley wants a call", AuthorID: "rep"})
		require.NoError(t, err)
		require.NoError(t, c.Notes.Delete(ctx, n.ID))
		task, err := c.Tasks.Create(ctx, contacts.NewTask{Title: "Send Wexley the brochure", ContactID: &p.ID})
		require.NoError(t, err)
		_, err = c.Tasks.Complete(ctx, task.ID, task.Version)
		require.NoError(t, err)
		require.NoError(t, c.Tasks.Delete(ctx, task.ID))
		deal, err := c.Deals.Create(ctx, pipeline.NewDeal{Title: "Wexley extension", Amount: core.MustMoney("10", "EUR"), ContactID: &p.ID})
		require.NoError(t, err)
		require.NoError(t, c.Deals.Delete(ctx, deal.ID))
		_, err = c.Contacts.Track(ctx, contacts.ByID(p.ID), contacts.NewActivity{Kind: contacts.KindWeb, Name: "form_submitted",
			OccurredAt: time.Now().AddDate(-2, 0, 0), Properties: map[string]any{"name": "Bertram Wexley"}})
		require.NoError(t, err)
		deleted, err := c.Contacts.DeleteActivities(ctx, contacts.KindWeb, time.Now().AddDate(-1, 0, 0))
		require.NoError(t, err)
		require.Equal(t, int64(1), deleted)
		// Someone else's note stays as it was.
		kept, err := c.Notes.Create(ctx, contacts.NewNote{ContactID: other.ID, Body: "Other note stays", AuthorID: "rep"})
		require.NoError(t, err)
		require.NotEmpty(t, leftovers(t, db, "wexley"))

		_, err = c.Consent.Erase(ctx, p.ID, "request")
		require.NoError(t, err)
		requireNothingOf(t, db, "wexley", "bertram")
		evs, err := c.Events(ctx, EventQuery{SubjectID: kept.ID})
		require.NoError(t, err)
		require.Len(t, evs, 1)
		require.Contains(t, string(evs[0].Data), "Other note stays")
	})
}

// What the person was called before a rename, and the address they had
// before a change, are scrubbed too (tasks and deals still carry them).
func TestErasureCoversFormerValues(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := newTestCRM(t, db)
		p, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "ottilie.byrnside@example.org", FirstName: "Ottilie", LastName: "Byrnside"})
		require.NoError(t, err)
		_, err = c.Tasks.Create(ctx, contacts.NewTask{Title: "Call Ms Byrnside", Description: "write to ottilie.byrnside@example.org", ContactID: &p.ID})
		require.NoError(t, err)
		_, err = c.Deals.Create(ctx, pipeline.NewDeal{Title: "Byrnside renewal", Amount: core.MustMoney("10", "EUR"), ContactID: &p.ID})
		require.NoError(t, err)
		last, email := "Vantongeren", "ottilie.vt@example.org"
		p, err = c.Contacts.Update(ctx, p.ID, contacts.ContactPatch{Version: p.Version, LastName: &last, Email: &email})
		require.NoError(t, err)
		require.NotEmpty(t, leftovers(t, db, "byrnside"))

		_, err = c.Consent.Erase(ctx, p.ID, "request")
		require.NoError(t, err)
		requireNothingOf(t, db, "byrnside", "ottilie", "vantongeren")
	})
}

// SQLite's full-text index forgets the person's words (FTS5 secure-delete):
// its shadow tables hold none of them after an erasure.
func TestErasureLeavesNoTermsInSearchIndex(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := newTestCRM(t, db)
		for _, n := range []string{"Anna Lindqvist", "Zeno Abbot", "Marta Kowalski"} {
			first, last, _ := strings.Cut(n, " ")
			_, err := c.Contacts.Create(ctx, contacts.NewContact{FirstName: first, LastName: last})
			require.NoError(t, err)
		}
		p, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "wilhelmina.quargle@example.net", FirstName: "Wilhelmina", LastName: "Quargle"})
		require.NoError(t, err)
		hits, err := c.Contacts.Search(ctx, "quargle", contacts.SearchOptions{})
		require.NoError(t, err)
		require.Len(t, hits, 1)
		require.NotEmpty(t, leftovers(t, db, "quargle"))
		if db.Dialect().Name().String() == "pg" {
			// The scan reads the tsvector column too (its lexemes are quoted).
			require.NotEmpty(t, leftovers(t, db, "'quargle':"))
		}

		_, err = c.Consent.Erase(ctx, p.ID, "request")
		require.NoError(t, err)
		requireNothingOf(t, db, "quargle", "wilhelmina")
		hits, err = c.Contacts.Search(ctx, "lindqvist", contacts.SearchOptions{})
		require.NoError(t, err)
		require.Len(t, hits, 1, "the index still finds the others")
	})
}

// Contacts.Delete keeps nothing personal — not the contact.created
// payload, not the search index, not the events of the person's records,
// not their name in the deals and tasks that outlive them — and a later
// Erase of the deleted contact's id succeeds, with a receipt.
func TestDeleteKeepsNoPersonalData(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := newTestCRM(t, db)
		p, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "cornelius.fenwright@example.com", FirstName: "Cornelius", LastName: "Fenwright",
			ExternalIDs: []contacts.ExternalID{{Source: "shop", ID: "c-1"}}})
		require.NoError(t, err)
		_, err = c.Notes.Create(ctx, contacts.NewNote{ContactID: p.ID, Body: "Fenwright called", AuthorID: "rep"})
		require.NoError(t, err)
		task, err := c.Tasks.Create(ctx, contacts.NewTask{Title: "Visit Cornelius Fenwright", ContactID: &p.ID})
		require.NoError(t, err)
		deal, err := c.Deals.Create(ctx, pipeline.NewDeal{Title: "Fenwright order", Amount: core.MustMoney("70", "EUR"), ContactID: &p.ID})
		require.NoError(t, err)
		_, err = c.Contacts.Track(ctx, contacts.ByID(p.ID), contacts.NewActivity{Kind: contacts.KindWeb, Name: "visit", Properties: map[string]any{"who": "Fenwright"}})
		require.NoError(t, err)
		require.NotEmpty(t, leftovers(t, db, "fenwright"))

		require.NoError(t, c.Contacts.Delete(ctx, p.ID))
		requireNothingOf(t, db, "fenwright", "cornelius")
		hits, err := c.Contacts.Search(ctx, "fenwright", contacts.SearchOptions{})
		require.NoError(t, err)
		require.Empty(t, hits)
		// What is not personal stays: the deal and the task, unlinked; the
		// event types and times.
		d, err := c.Deals.Get(ctx, deal.ID)
		require.NoError(t, err)
		require.Nil(t, d.ContactID)
		require.Equal(t, "[erased] order", d.Title)
		tk, err := c.Tasks.Get(ctx, task.ID)
		require.NoError(t, err)
		require.Equal(t, "Visit [erased]", tk.Title)
		evs, err := c.Events(ctx, EventQuery{SubjectID: p.ID})
		require.NoError(t, err)
		require.Equal(t, "contact.created", evs[0].Type)
		require.Equal(t, "contact.deleted", evs[len(evs)-1].Type)

		// Erasure still reaches the deleted contact: a receipt, once.
		r, err := c.Consent.Erase(ctx, p.ID, "request")
		require.NoError(t, err)
		require.Equal(t, p.ID, r.ContactID)
		_, err = c.Consent.Erasure(ctx, p.ID)
		require.NoError(t, err)
		_, err = c.Consent.Erase(ctx, p.ID, "request")
		require.ErrorIs(t, err, core.ErrConflict)
		_, err = c.Consent.Erase(ctx, core.NewID(), "request")
		require.ErrorIs(t, err, core.ErrNotFound)
		_, err = c.Tenant("other").Consent.Erase(ctx, p.ID, "request")
		require.ErrorIs(t, err, core.ErrNotFound)
		requireNothingOf(t, db, "fenwright", "cornelius")
		// The deletion kept no address to suppress: the person gives it.
		require.NoError(t, c.Consent.Suppress(ctx, "cornelius.fenwright@example.com", "", "erasure"))
		sup, err := c.Consent.Suppressed(ctx, "Cornelius.Fenwright@example.com", "")
		require.NoError(t, err)
		require.True(t, sup)
	})
}
