package crm_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/demo"
	"github.com/crmkit/crmkit/pipeline"
	"github.com/crmkit/crmkit/tickets"
)

// demoUntil is where the demo's history ends in these tests.
var demoUntil = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

// openDemo opens the CRM of dsn with the demo's configuration and clock.
func openDemo(t *testing.T, dsn string, clock *demo.Clock) *crm.CRM {
	t.Helper()
	cfg := crm.Config{DSN: dsn}
	demo.Configure(&cfg, clock, &demo.Recorder{})
	c, err := crm.Open(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// demoSource fills an SQLite file with the demo, a second tenant and a
// merged ticket (a row that references its own table), and returns its
// DSN and the demo's digest.
func demoSource(t *testing.T) (string, *demo.Summary) {
	t.Helper()
	ctx := context.Background()
	dsn := "file:" + filepath.Join(t.TempDir(), "src.db")
	clock := demo.NewClock(demoUntil)
	c := openDemo(t, dsn, clock)
	require.NoError(t, c.Migrate(ctx))
	sum, err := demo.Fill(ctx, c, clock, demo.Options{Seed: 3, Contacts: 150, Until: demoUntil})
	require.NoError(t, err)
	// Two tickets of one contact, one merged into the other.
	page, err := c.Tickets.List(ctx, tickets.ListOptions{Filter: filter.Eq("status", "open"), Limit: 2})
	require.NoError(t, err)
	require.Len(t, page.Items, 2)
	_, err = c.Tickets.Merge(ctx, page.Items[0].ID, page.Items[0].Version, page.Items[1].ID)
	require.NoError(t, err)
	sum.Digest, err = demo.Digest(ctx, c)
	require.NoError(t, err)
	g := c.Tenant("globex")
	_, err = g.Contacts.Create(ctx, contacts.NewContact{Email: "grace@globex.example", FirstName: "Grace", LastName: "Hopper"})
	require.NoError(t, err)
	// A job of the host's own, in a queue of its own: not crmkit's to move.
	_, err = c.DB().ExecContext(ctx, `INSERT INTO river_job (kind, queue, max_attempts) VALUES ('host.report', 'host_jobs', 3)`)
	require.NoError(t, err)
	require.NoError(t, c.Close())
	return dsn, sum
}

// counts reads the rows of every table of each tenant, with SQL of the
// test's own.
func counts(t *testing.T, db *bun.DB, tables []crm.CopiedTable, tenants []string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, tb := range tables {
		for _, tn := range tenants {
			var n int64
			require.NoError(t, db.NewRaw("SELECT count(*) FROM "+tb.Name+" WHERE tenant_id = ?", tn).Scan(context.Background(), &n), tb.Name)
			out[tb.Name] += n
		}
	}
	return out
}

// A demo CRM on SQLite is copied to PostgreSQL: every table's rows and
// checksum match, the content is the same (the demo's digest), the copy
// works (a get, a list, a search, a copied job runs), ticket numbers go
// on, and a second copy into it is refused. The copy copied back to
// SQLite is the same again.
func TestCopySQLiteToPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pg := dbtest.PostgresDSN(t)
	srcDSN, sum := demoSource(t)
	_, schema := dbtest.PostgresSchema(t)
	dstDSN := dbtest.WithSearchPath(pg, schema)

	src, err := crm.OpenDB(ctx, crm.Config{DSN: srcDSN})
	require.NoError(t, err)
	defer src.Close()
	dst, err := crm.OpenDB(ctx, crm.Config{DSN: dstDSN})
	require.NoError(t, err)
	defer dst.Close()

	var progress []string
	res, err := crm.Copy(ctx, src, dst, crm.CopyOptions{BatchSize: 64, Progress: func(table string, rows int64) {
		progress = append(progress, table)
	}})
	require.NoError(t, err)
	require.Equal(t, []string{"default", "globex"}, res.Tenants)
	names := make([]string, len(res.Tables))
	for i, tb := range res.Tables {
		names[i] = tb.Name
	}
	require.Equal(t, append(slices.Clone(names), "river_job"), progress)
	// Referenced tables come first.
	for _, pair := range [][2]string{{"crm_companies", "crm_contacts"}, {"crm_contacts", "crm_deals"}, {"crm_pipelines", "crm_stages"},
		{"crm_stages", "crm_deals"}, {"crm_deals", "crm_activities"}, {"crm_sla_policies", "crm_tickets"}, {"crm_tickets", "crm_ticket_messages"}} {
		require.Less(t, slices.Index(names, pair[0]), slices.Index(names, pair[1]), "%s before %s", pair[0], pair[1])
	}
	require.NotContains(t, names, "crm_migrations")
	require.NotContains(t, names, "crm_search_fts", "SQLite's full-text tables are filled by its triggers")
	require.Contains(t, names, "crm_search")
	// The test's own count of every table agrees, on both sides, and the
	// tables the demo filled are not empty.
	want, got := counts(t, src, res.Tables, res.Tenants), counts(t, dst, res.Tables, res.Tenants)
	require.Equal(t, want, got)
	for _, tb := range res.Tables {
		require.Equal(t, want[tb.Name], tb.Rows, tb.Name)
	}
	for _, name := range []string{"crm_contacts", "crm_companies", "crm_activities", "crm_deals", "crm_tickets", "crm_ticket_messages",
		"crm_consents", "crm_events", "crm_campaign_recipients", "crm_users", "crm_search", "crm_ticket_counters"} {
		require.Positive(t, got[name], name)
	}
	require.Positive(t, res.Jobs.Rows, "the SLA timers of open tickets wait")
	for db, want := range map[*bun.DB]int{src: 1, dst: 0} {
		var n int
		require.NoError(t, db.NewRaw("SELECT count(*) FROM river_job WHERE kind = 'host.report'").Scan(ctx, &n))
		require.Equal(t, want, n, "the host's job stays where it is")
	}

	// The same content, by the demo's digest (ids aside, every module's
	// rows by value) — and the same ids, by a contact.
	clock := demo.NewClock(demoUntil)
	c := openDemo(t, dstDSN, clock)
	d, err := demo.Digest(ctx, c)
	require.NoError(t, err)
	require.Equal(t, sum.Digest, d)
	s := openDemo(t, srcDSN, demo.NewClock(demoUntil))
	page, err := s.Contacts.List(ctx, contacts.ListOptions{Limit: 1, Sort: "last_name"})
	require.NoError(t, err)
	want1 := page.Items[0]

	// The copy works: a get, a list, a search.
	got1, err := c.Contacts.Get(ctx, want1.ID)
	require.NoError(t, err)
	require.Equal(t, want1.Email, got1.Email)
	require.Equal(t, want1.Version, got1.Version)
	require.True(t, want1.CreatedAt.Equal(got1.CreatedAt))
	list, err := c.Deals.List(ctx, pipeline.DealListOptions{Filter: filter.Eq("status", "won"), Limit: 1000})
	require.NoError(t, err)
	require.Len(t, list.Items, sum.Won)
	hits, err := c.Contacts.Search(ctx, want1.LastName, contacts.SearchOptions{})
	require.NoError(t, err)
	require.True(t, slices.ContainsFunc(hits, func(h contacts.SearchHit) bool { return h.ID == want1.ID }), "search finds %s", want1.ID)
	g, err := c.Tenant("globex").Contacts.GetByEmail(ctx, "grace@globex.example")
	require.NoError(t, err)
	require.Equal(t, "Hopper", g.LastName)

	// Ticket numbers go on where the source stopped.
	last, err := c.Tickets.List(ctx, tickets.ListOptions{Sort: "-number", Limit: 1})
	require.NoError(t, err)
	nt, err := c.Tickets.Create(ctx, tickets.NewTicket{Subject: "After the move", ContactID: want1.ID})
	require.NoError(t, err)
	require.Equal(t, last.Items[0].Number+1, nt.Number)

	// A copied job runs: the workers, a month later, work the SLA timers
	// the source queued.
	copied := slaTimer(t, c)
	require.True(t, copied.CreatedAt.Before(demoUntil), "queued in the source")
	require.NotEmpty(t, copied.UniqueKey)
	clock.Set(copied.ScheduledAt.Add(time.Minute))
	require.NoError(t, c.Start(ctx))
	require.Eventually(t, func() bool {
		j, err := c.River().JobGet(ctx, copied.ID)
		return err == nil && j.State == rivertype.JobStateCompleted
	}, time.Minute, 20*time.Millisecond)
	require.NoError(t, c.Stop(ctx))

	// The destination is not empty now: a second copy is refused, and
	// nothing is written.
	before := counts(t, dst, res.Tables, res.Tenants)
	_, err = crm.Copy(ctx, src, dst, crm.CopyOptions{})
	require.ErrorIs(t, err, core.ErrInvalid)
	require.Contains(t, err.Error(), "holds crmkit data")
	require.Equal(t, before, counts(t, dst, res.Tables, res.Tenants))
	_, err = crm.Copy(ctx, src, src, crm.CopyOptions{})
	require.ErrorIs(t, err, core.ErrInvalid)

	// And back: PostgreSQL to a new SQLite file, the same content.
	backDSN := "file:" + filepath.Join(t.TempDir(), "back.db")
	back, err := crm.OpenDB(ctx, crm.Config{DSN: backDSN})
	require.NoError(t, err)
	defer back.Close()
	res2, err := crm.Copy(ctx, dst, back, crm.CopyOptions{})
	require.NoError(t, err)
	for i, tb := range res2.Tables {
		require.Equal(t, tb.Name, res.Tables[i].Name)
	}
	b := openDemo(t, backDSN, demo.NewClock(demoUntil))
	hits, err = b.Contacts.Search(ctx, want1.LastName, contacts.SearchOptions{})
	require.NoError(t, err)
	require.True(t, slices.ContainsFunc(hits, func(h contacts.SearchHit) bool { return h.ID == want1.ID }), "SQLite's full-text index is built")
	tk, err := b.Tickets.GetByNumber(ctx, nt.Number)
	require.NoError(t, err)
	require.Equal(t, nt.ID, tk.ID)
}

// A source that is not migrated as far as this crmkit, or not at all, is
// refused before anything is written.
func TestCopyRefusesAnUnmigratedSource(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src, err := crm.OpenDB(ctx, crm.Config{DSN: "file:" + filepath.Join(t.TempDir(), "empty.db")})
	require.NoError(t, err)
	defer src.Close()
	dst, err := crm.OpenDB(ctx, crm.Config{DSN: "file:" + filepath.Join(t.TempDir(), "dst.db")})
	require.NoError(t, err)
	defer dst.Close()
	_, err = crm.Copy(ctx, src, dst, crm.CopyOptions{})
	require.ErrorIs(t, err, core.ErrNotMigrated)
	_, err = crm.Copy(ctx, src, dst, crm.CopyOptions{BatchSize: -1})
	require.ErrorIs(t, err, core.ErrInvalid)
	// The last migration undone on the source: it must be migrated first.
	c, err := crm.New(src, crm.Config{})
	require.NoError(t, err)
	require.NoError(t, c.Migrate(ctx))
	_, err = src.ExecContext(ctx, "DELETE FROM crm_migrations WHERE version = (SELECT max(version) FROM crm_migrations)")
	require.NoError(t, err)
	_, err = crm.Copy(ctx, src, dst, crm.CopyOptions{})
	require.ErrorIs(t, err, core.ErrNotMigrated)
	require.Contains(t, err.Error(), "migrate it first")
}

// slaTimer returns the first of the tickets module's SLA timers that
// waits.
func slaTimer(t *testing.T, c *crm.CRM) *rivertype.JobRow {
	t.Helper()
	res, err := c.River().JobList(context.Background(), river.NewJobListParams().States(rivertype.JobStateScheduled).
		OrderBy(river.JobListOrderByScheduledAt, river.SortOrderAsc).First(1000))
	require.NoError(t, err)
	for _, j := range res.Jobs {
		if j.Kind == "crm.job" && strings.Contains(string(j.EncodedArgs), `"tickets.sla_check"`) {
			return j
		}
	}
	t.Fatalf("no SLA timer among %d scheduled jobs", len(res.Jobs))
	return nil
}

// A copy that does not read back as it was written is refused, and the
// destination keeps nothing of it: here a trigger of the destination
// changes the names it is given.
func TestCopyChecksumCatchesADifference(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srcDSN := "file:" + filepath.Join(t.TempDir(), "src.db")
	c := openDemo(t, srcDSN, demo.NewClock(demoUntil))
	require.NoError(t, c.Migrate(ctx))
	for _, name := range []string{"Ada", "Grace", "Edsger"} {
		_, err := c.Contacts.Create(ctx, contacts.NewContact{FirstName: name, Email: strings.ToLower(name) + "@x.example"})
		require.NoError(t, err)
	}
	require.NoError(t, c.Close())
	src, err := crm.OpenDB(ctx, crm.Config{DSN: srcDSN})
	require.NoError(t, err)
	defer src.Close()
	dst, err := crm.OpenDB(ctx, crm.Config{DSN: "file:" + filepath.Join(t.TempDir(), "dst.db")})
	require.NoError(t, err)
	defer dst.Close()
	d, err := crm.New(dst, crm.Config{})
	require.NoError(t, err)
	require.NoError(t, d.Migrate(ctx))
	_, err = dst.ExecContext(ctx, `CREATE TRIGGER crm_contacts_test_mangle AFTER INSERT ON crm_contacts BEGIN
		UPDATE crm_contacts SET first_name = first_name || '!' WHERE tenant_id = new.tenant_id AND id = new.id; END`)
	require.NoError(t, err)
	_, err = crm.Copy(ctx, src, dst, crm.CopyOptions{})
	require.Error(t, err)
	require.Contains(t, err.Error(), "crm_contacts does not match: 3 rows")
	var n int
	require.NoError(t, dst.NewRaw("SELECT count(*) FROM crm_contacts WHERE tenant_id = ?", "default").Scan(ctx, &n))
	require.Zero(t, n, "nothing of the copy is kept")
	_, err = dst.ExecContext(ctx, `DROP TRIGGER crm_contacts_test_mangle`)
	require.NoError(t, err)
	res, err := crm.Copy(ctx, src, dst, crm.CopyOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{"default"}, res.Tenants)
}
