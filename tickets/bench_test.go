package tickets_test

// The agent queue against hand-written SQL: a page of 50 open tickets of
// one team ordered by SLA due time, out of benchTickets tickets of 10
// teams in 6 statuses, every one under an SLA policy:
//
//	CRM_TEST_POSTGRES_DSN=… go test -run XXX -bench Queue -benchtime 300x -count 5 ./tickets

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/tickets"
)

const benchTickets = 200_000

// queueData fills a fresh database with benchTickets tickets.
func queueData(b *testing.B, db *bun.DB) *crm.CRM {
	ctx := context.Background()
	clock := dbtest.NewClock(utc("2026-03-02T08:00:00Z"))
	c, err := crm.New(db, crm.Config{Clock: clock})
	require.NoError(b, err)
	require.NoError(b, c.Migrate(ctx))
	b.Cleanup(func() { _ = c.Close() })
	cal, err := c.Calendars.Create(ctx, tickets.NewCalendar{Name: "Office", TimeZone: "Europe/Berlin", Country: "DE",
		Windows: weekdays("09:00", "17:00", monFri...)})
	require.NoError(b, err)
	p, err := c.SLAPolicies.Create(ctx, tickets.NewPolicy{Name: "all", CalendarID: cal.ID, FirstResponseMinutes: 240, ResolutionMinutes: 2400})
	require.NoError(b, err)
	for i := range 10 {
		_, err := c.Access.Teams.Create(ctx, access.TeamInput{Name: fmt.Sprint("team-", i)})
		require.NoError(b, err)
	}
	who, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "queue@example.com"})
	require.NoError(b, err)

	d, err := dialect.For(db)
	require.NoError(b, err)
	statuses := []string{"new", "open", "open", "pending", "solved", "closed"}
	cols := []string{"tenant_id", "id", "number", "subject", "contact_id", "channel", "status", "priority", "tags", "team", "attributes",
		"sla_policy_id", "first_response_due", "resolution_due", "sla_due", "created_at", "updated_at", "version"}
	const batch = 500
	tx, err := db.DB.BeginTx(ctx, nil)
	require.NoError(b, err)
	start := utc("2026-01-05T08:00:00Z")
	var args []any
	flush := func() {
		if len(args) == 0 {
			return
		}
		row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
		rows := len(args) / len(cols)
		q := `INSERT INTO crm_tickets (` + strings.Join(cols, ", ") + `) VALUES ` + strings.TrimSuffix(strings.Repeat(row+", ", rows), ", ")
		_, err := tx.ExecContext(ctx, d.Rebind(q), args...)
		require.NoError(b, err)
		args = args[:0]
	}
	for i := range benchTickets {
		created := start.Add(time.Duration(i) * 37 * time.Second)
		status := statuses[i%len(statuses)]
		fr, res := created.Add(4*time.Hour), created.Add(40*time.Hour)
		due := any(d.Time(fr))
		if status != "new" && status != "open" {
			due = d.Time(time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC))
		}
		args = append(args, "default", core.NewID(), int64(i+1), fmt.Sprint("Ticket ", i), who.ID, "email", status, "normal", "[]",
			fmt.Sprint("team-", (i/7)%10), "{}", p.ID, d.Time(fr), d.Time(res), due, d.Time(created), d.Time(created), 1)
		if (i+1)%batch == 0 {
			flush()
		}
	}
	flush()
	require.NoError(b, tx.Commit())
	maintain := "ANALYZE"
	if d.Kind == dialect.Postgres {
		maintain = "VACUUM ANALYZE"
	}
	_, err = db.DB.ExecContext(ctx, maintain)
	require.NoError(b, err)
	clock.Set(utc("2026-03-02T10:00:00Z"), 0)
	return c
}

// BenchmarkQueue reads the first page of team-3's open tickets by SLA due
// time: crmkit's List (with each ticket's SLA computed on read) against
// the same page selected by hand-written SQL over the same index.
func BenchmarkQueue(b *testing.B) {
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			var db *bun.DB
			if name == "sqlite" {
				db = dbtest.SQLite(b)
			} else {
				db = dbtest.Postgres(b)
			}
			c := queueData(b, db)
			ctx := context.Background()
			queue := filter.And(filter.Eq("team", "team-3"), filter.Eq("status", "open"))
			b.Run("crmkit", func(b *testing.B) {
				for b.Loop() {
					page, err := c.Tickets.List(ctx, tickets.ListOptions{Filter: queue, Sort: "sla_due", Limit: 50})
					if err != nil || len(page.Items) != 50 || page.Items[0].SLA == nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("raw", func(b *testing.B) {
				d, _ := dialect.For(db)
				st, err := db.DB.PrepareContext(ctx, d.Rebind(`SELECT id, number, subject, contact_id, company_id, channel, status,
					pending_until, priority, category, tags, assignee_id, team, attributes, sla_policy_id, first_response_due,
					resolution_due, sla_due, created_at, updated_at, version FROM crm_tickets
					WHERE tenant_id = ? AND team = ? AND status = ? ORDER BY sla_due, id LIMIT 51`))
				require.NoError(b, err)
				defer st.Close()
				for b.Loop() {
					rows, err := st.QueryContext(ctx, "default", "team-3", "open")
					if err != nil {
						b.Fatal(err)
					}
					n := 0
					for rows.Next() {
						var id, contact, company, policy, status, subject, channel, priority, category, tags, assignee, team, attrs any
						var number, version int64
						var pending, fr, res, due, created, updated any
						if err := rows.Scan(&id, &number, &subject, &contact, &company, &channel, &status, &pending, &priority, &category,
							&tags, &assignee, &team, &attrs, &policy, &fr, &res, &due, &created, &updated, &version); err != nil {
							b.Fatal(err)
						}
						n++
					}
					if err := rows.Close(); err != nil || n != 51 {
						b.Fatal(err, n)
					}
				}
			})
		})
	}
}
