package contacts_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
)

func rowsOf(list []contacts.NewContact) func(func(contacts.ImportRow) bool) {
	return func(yield func(contacts.ImportRow) bool) {
		for i, c := range list {
			if !yield(contacts.ImportRow{Line: i + 2, Contact: c}) {
				return
			}
		}
	}
}

// A large import takes the bulk path for new contacts and the one-by-one
// path for contacts that exist; both write contacts, external ids, search
// documents and one event per contact.
func TestImportBulkWritesWhatCreateWrites(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		_, err := b.fields.Define(ctx, fields.Definition{Entity: "contact", Key: "plan", Label: "Plan", Type: fields.Enum, Options: []string{"free", "pro"}})
		require.NoError(t, err)
		acme, err := b.companies.Create(ctx, contacts.NewCompany{Name: "Acme Rockets", Domain: "acme.example"})
		require.NoError(t, err)
		byEmail, err := b.svc.Create(ctx, contacts.NewContact{Email: "old-7@example.com", FirstName: "Old"})
		require.NoError(t, err)
		byExt, err := b.svc.Create(ctx, contacts.NewContact{Email: "legacy@example.com", ExternalIDs: []contacts.ExternalID{{Source: "shop", ID: "k-9"}}})
		require.NoError(t, err)

		var mu sync.Mutex
		delivered := map[core.ID]core.Event{}
		remove := b.rt.Hooks.Subscribe([]string{"contact.created"}, func(_ context.Context, ev core.Event) {
			mu.Lock()
			defer mu.Unlock()
			delivered[ev.SubjectID] = ev
		})
		defer remove()

		// 700 rows in batches of 300: bulk writes of 300, 300 and 100 rows
		// (several statement sizes), with two rows that match existing
		// contacts and one with an unknown company.
		const n = 700
		list := make([]contacts.NewContact, n)
		missing := core.NewID()
		for i := range list {
			list[i] = contacts.NewContact{Email: fmt.Sprintf("bulk-%d@example.com", i), FirstName: "Bulk", LastName: fmt.Sprintf("Zyx%d", i),
				Tags: []string{"imported"}, Attributes: map[string]any{"plan": []string{"free", "pro"}[i%2]},
				ExternalIDs: []contacts.ExternalID{{Source: "shop", ID: fmt.Sprintf("k-%d", i)}}}
			if i%50 == 0 {
				list[i].CompanyID = &acme.ID
			}
		}
		list[7].Email = "Old-7@Example.com"  // matches byEmail
		list[9].Email = ""                   // matches byExt by external id k-9
		list[11].CompanyID = &missing        // no such company
		list[13].Attributes["plan"] = "gold" // not an option
		res, err := b.svc.Import(ctx, rowsOf(list), contacts.ImportOptions{BatchSize: 300})
		require.NoError(t, err)
		require.Equal(t, contacts.ImportProgress{Rows: n, Created: n - 4, Updated: 2, Failed: 2}, res.ImportProgress, "%v", res.Errors)
		require.Len(t, res.Errors, 2)
		require.Equal(t, contacts.RowError{Line: 13, Column: "company_id", Message: "company " + missing.String() + " does not exist"}, res.Errors[0])
		require.Equal(t, 15, res.Errors[1].Line)
		require.Equal(t, "attributes.plan", res.Errors[1].Column)

		old, err := b.svc.Get(ctx, byEmail.ID)
		require.NoError(t, err)
		require.Equal(t, "Zyx7", old.LastName)
		require.Contains(t, old.ExternalIDs, contacts.ExternalID{Source: "shop", ID: "k-7"})
		legacy, err := b.svc.Get(ctx, byExt.ID)
		require.NoError(t, err)
		require.Equal(t, "Zyx9", legacy.LastName)

		// A bulk-written contact reads back as Create would have made it.
		c, err := b.svc.GetByExternalID(ctx, "shop", "k-500")
		require.NoError(t, err)
		require.Equal(t, "bulk-500@example.com", c.Email)
		require.Equal(t, []string{"imported"}, c.Tags)
		require.Equal(t, map[string]any{"plan": "free"}, c.Attributes)
		require.Equal(t, &acme.ID, c.CompanyID)
		require.Equal(t, contacts.StageLead, c.LifecycleStage)
		require.Equal(t, int64(1), c.Version)
		require.Equal(t, int64(2+n-4), count(t, b.svc))

		// Search documents: by surname, and by the company's name.
		hits, err := b.svc.Search(ctx, "Zyx500", contacts.SearchOptions{})
		require.NoError(t, err)
		require.Len(t, hits, 1)
		require.Equal(t, c.ID, hits[0].ID)
		hits, err = b.svc.Search(ctx, "rockets", contacts.SearchOptions{Limit: 50})
		require.NoError(t, err)
		require.Len(t, hits, 14+1, "13 contacts of acme (row 0, 50, … 650) and the company") // row 11 failed

		// One contact.created per new contact, stored and delivered after commit.
		evs, err := b.sc.Events(ctx, store.EventQuery{Types: []string{"contact.created"}, Limit: store.MaxLimit})
		require.NoError(t, err)
		require.Len(t, evs, n-4+2)
		ev := delivered[c.ID]
		require.Equal(t, "contact", ev.SubjectType)
		require.Contains(t, string(ev.Data), `"email":"bulk-500@example.com"`)
		require.Len(t, delivered, n-4)
		updated, err := b.sc.Events(ctx, store.EventQuery{SubjectID: byEmail.ID, Types: []string{"contact.updated"}})
		require.NoError(t, err)
		require.Len(t, updated, 1)
	})
}

// An import inside the host's transaction (no COPY on PostgreSQL: crmkit
// does not hold the connection) is part of it: rolled back, nothing stays.
func TestImportInHostTransaction(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		list := make([]contacts.NewContact, 40)
		for i := range list {
			list[i] = contacts.NewContact{Email: fmt.Sprintf("host-%d@example.com", i), ExternalIDs: []contacts.ExternalID{{Source: "erp", ID: fmt.Sprint(i)}}}
		}
		for _, commit := range []bool{false, true} {
			tx, err := b.db.BeginTx(ctx, nil)
			require.NoError(t, err)
			res, err := contacts.Module.Contacts(b.sc.Join(tx)).Import(ctx, rowsOf(list), contacts.ImportOptions{BatchSize: 16})
			require.NoError(t, err)
			require.Equal(t, int64(40), res.Created)
			if commit {
				require.NoError(t, tx.Commit())
				require.Equal(t, int64(40), count(t, b.svc))
			} else {
				require.NoError(t, tx.Rollback())
				require.Zero(t, count(t, b.svc))
			}
		}
		c, err := b.svc.GetByExternalID(ctx, "erp", "39")
		require.NoError(t, err)
		require.Equal(t, "host-39@example.com", c.Email)
	})
}

// Writers creating the same people while an import runs: every email ends
// up with one contact, and every row is counted once, created, updated or
// failed — never lost, never an error of the whole import.
func TestImportRacesWithWriters(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		const n = 400
		list := make([]contacts.NewContact, n)
		for i := range list {
			list[i] = contacts.NewContact{Email: fmt.Sprintf("race-%d@example.com", i), FirstName: "Imported"}
		}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := n - 1; i >= 0; i -= 3 {
				_, _, err := b.svc.Upsert(ctx, contacts.NewContact{Email: fmt.Sprintf("race-%d@example.com", i), LastName: "Writer"})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
		res, err := b.svc.Import(ctx, rowsOf(list), contacts.ImportOptions{BatchSize: 50})
		wg.Wait()
		require.NoError(t, err)
		require.Equal(t, int64(n), res.Created+res.Updated+res.Unchanged+res.Failed, "%+v", res)
		require.Equal(t, int64(n), count(t, b.svc))
		for i := n - 1; i >= 0; i -= 3 {
			c, err := b.svc.GetByEmail(ctx, fmt.Sprintf("race-%d@example.com", i))
			require.NoError(t, err)
			require.Equal(t, "Writer", c.LastName)
			if res.Failed == 0 {
				require.Equal(t, "Imported", c.FirstName)
			}
		}
		evs, err := b.sc.Events(ctx, store.EventQuery{Types: []string{"contact.created"}, Limit: store.MaxLimit})
		require.NoError(t, err)
		ids := make([]core.ID, len(evs))
		for i, ev := range evs {
			ids[i] = ev.SubjectID
		}
		slices.SortFunc(ids, func(a, b core.ID) int { return slices.Compare(a[:], b[:]) })
		require.Len(t, slices.Compact(ids), n, "one contact.created per contact")
	})
}

// An import looks up each batch's external ids by the whole primary key,
// also in a table without statistics (a first import fills it faster than
// autovacuum analyses it): a plan that read the source's every id and
// filtered them by the batch's made an import of 100k contacts six times
// slower than one without external ids, quadratic in the table.
func TestImportLooksUpExternalIDsByTheWholeKey(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		list := make([]contacts.NewContact, 5000)
		for i := range list {
			list[i] = contacts.NewContact{Email: fmt.Sprintf("k%d@example.com", i), ExternalIDs: []contacts.ExternalID{{Source: "shop", ID: fmt.Sprint("k-", i)}}}
		}
		first, err := b.svc.Import(ctx, rowsOf(list), contacts.ImportOptions{})
		require.NoError(t, err)
		require.Equal(t, int64(len(list)), first.Created)

		// A batch of 20 ids, every other one taken.
		var keys []string
		for i := range 20 {
			if i%2 == 0 {
				keys = append(keys, fmt.Sprint("k-", i*49))
			} else {
				keys = append(keys, fmt.Sprint("new-", i))
			}
		}
		list2, _ := json.Marshal(keys)
		tenant, err := b.sc.Tenant()
		require.NoError(t, err)
		kind := b.rt.Dialect.Kind
		query := contacts.ExternalIDLookup(kind)
		args := []any{first.ImportID.String(), tenant, "shop", string(list2)}

		rows, err := b.db.DB.QueryContext(ctx, query, args...)
		require.NoError(t, err)
		found := map[string]bool{}
		for rows.Next() {
			var id string
			var mine sql.NullBool
			require.NoError(t, rows.Scan(&id, &mine))
			if mine.Valid {
				found[id] = mine.Bool
			}
		}
		require.NoError(t, rows.Err())
		require.NoError(t, rows.Close())
		require.Len(t, found, 10)
		for i := 0; i < 20; i += 2 {
			require.True(t, found[fmt.Sprint("k-", i*49)], i)
		}

		if kind == dialect.SQLite {
			rows, err := b.db.DB.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, args...)
			require.NoError(t, err)
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
				plan = append(plan, detail)
			}
			require.NoError(t, rows.Err())
			require.NoError(t, rows.Close())
			require.True(t, slices.ContainsFunc(plan, func(s string) bool {
				return strings.HasPrefix(s, "SEARCH x USING") && strings.HasSuffix(s, "(tenant_id=? AND source=? AND external_id=?)")
			}), "%q", plan)
			return
		}
		// PostgreSQL: the pages read grow with the ids looked up (some 5
		// each), not with the table (the scan of the source's ids read
		// over 1,000 here).
		var out []byte
		require.NoError(t, b.db.DB.QueryRowContext(ctx, "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) "+query, args...).Scan(&out))
		var plan []struct {
			Plan struct {
				Hit  int `json:"Shared Hit Blocks"`
				Read int `json:"Shared Read Blocks"`
			}
		}
		require.NoError(t, json.Unmarshal(out, &plan))
		require.Less(t, plan[0].Plan.Hit+plan[0].Plan.Read, 10*len(keys), "%s", out)
	})
}
