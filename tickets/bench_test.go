package tickets_test

// The agent queue against hand-written SQL: a page of 50 open tickets of
// one team ordered by SLA due time, out of benchTickets tickets of 10
// teams in 6 statuses, every one under an SLA policy:
//
//	CRM_TEST_POSTGRES_DSN=… go test -run XXX -bench Queue -benchtime 300x -count 5 ./tickets
//	CRM_TEST_POSTGRES_DSN=… go test -run XXX -bench 'Queue/.*/interleaved' -benchtime 100x -count 5 ./tickets

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/benchdata"
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
// the same page selected by hand-written SQL over the same index, once
// bare (raw) and once doing crmkit's work by hand (raw-decoded), and the
// three in turns (interleaved).
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
			d, err := dialect.For(db)
			require.NoError(b, err)
			queue := filter.And(filter.Eq("team", "team-3"), filter.Eq("status", "open"))
			bare, err := db.DB.PrepareContext(ctx, d.Rebind(`SELECT id, number, subject, contact_id, company_id, channel, status,
				pending_until, priority, category, tags, assignee_id, team, attributes, sla_policy_id, first_response_due,
				resolution_due, sla_due, created_at, updated_at, version FROM crm_tickets
				WHERE tenant_id = ? AND team = ? AND status = ? ORDER BY sla_due, id LIMIT 51`))
			require.NoError(b, err)
			b.Cleanup(func() { _ = bare.Close() })
			full, err := db.DB.PrepareContext(ctx, d.Rebind(`SELECT `+rawTicketColumns+` FROM crm_tickets
				WHERE tenant_id = ? AND team = ? AND status = ? ORDER BY sla_due, id LIMIT 51`))
			require.NoError(b, err)
			b.Cleanup(func() { _ = full.Close() })
			// What a host keeps between calls, as crmkit does: each
			// policy's compiled calendar, and the time of the page.
			hours := queueHours(b, c)
			now := utc("2026-03-02T10:00:00Z")

			ops := []benchdata.Op{
				{Name: "crmkit", Run: func(b *testing.B) {
					page, err := c.Tickets.List(ctx, tickets.ListOptions{Filter: queue, Sort: "sla_due", Limit: 50})
					if err != nil || len(page.Items) != 50 || page.Items[0].SLA == nil {
						b.Fatal(err)
					}
				}},
				// raw: the bare query, its columns scanned as they come.
				{Name: "raw", Run: func(b *testing.B) {
					rows, err := bare.QueryContext(ctx, "default", "team-3", "open")
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
				}},
				// raw-decoded: crmkit's work by hand — every column crmkit
				// reads in typed values, ids parsed, the JSON decoded with
				// the decoder crmkit uses, each ticket's remaining business
				// time from its policy's compiled calendar, a value per
				// row kept.
				{Name: "raw-decoded", Run: func(b *testing.B) {
					rows, err := full.QueryContext(ctx, "default", "team-3", "open")
					if err != nil {
						b.Fatal(err)
					}
					page := make([]rawTicket, 0, 51)
					var r rawTicket
					for rows.Next() {
						if err := rows.Scan(r.dest()...); err != nil {
							b.Fatal(err)
						}
						if err := r.decode(hours, now); err != nil {
							b.Fatal(err)
						}
						page = append(page, r)
					}
					if err := rows.Close(); err != nil || len(page) != 51 || page[0].firstResponse == nil {
						b.Fatal(err, len(page))
					}
				}},
			}
			benchdata.InTurns(b, 10, ops)
		})
	}
}

// queueHours compiles the calendar of each of the tenant's SLA policies,
// by policy id, through the public API.
func queueHours(b *testing.B, c *crm.CRM) map[core.ID]*tickets.Hours {
	ctx := context.Background()
	policies, err := c.SLAPolicies.List(ctx)
	require.NoError(b, err)
	hours := map[core.ID]*tickets.Hours{}
	for _, p := range policies {
		cal, err := c.Calendars.Get(ctx, p.CalendarID)
		require.NoError(b, err)
		h, err := cal.Compile()
		require.NoError(b, err)
		hours[p.ID] = h
	}
	return hours
}

// rawTicketColumns are the columns crmkit reads of a ticket.
const rawTicketColumns = `id, number, subject, contact_id, company_id, channel, status, pending_until, priority,
	category, tags, assignee_id, team, language, product_line, queued_at, csat, nps, attributes, merged_into_id, sla_policy_id,
	paused_seconds, paused_since, first_response_at, first_response_due, next_response_from, next_response_paused,
	next_response_due, resolution_due, solved_at, sla_due, sla_alerts, suggestion, created_at, updated_at, version`

// rawTarget is one SLA target of a ticket as a hand-written queue would
// show it.
type rawTarget struct {
	due, at   time.Time
	remaining int64
	breached  bool
}

// rawTicket is a row of rawTicketColumns, scanned into typed values and
// decoded as crmkit decodes a ticket.
type rawTicket struct {
	id, subject, channel, status, priority, category, assignee, team, language, product string
	contact, company, merged, policy                                                    sql.NullString
	number, pausedSeconds, nextPaused, version                                          int64
	csat, nps                                                                           sql.NullInt64
	pending, queued, pausedSince, frAt, frDue, nrFrom, nrDue, resDue, solved, slaDue    sql.NullTime
	tags, attrs, alerts, suggestion                                                     []byte
	created, updated                                                                    time.Time

	uid, contactID, companyID, mergedID, policyID core.ID
	tagList                                       []string
	attrMap                                       map[string]any
	alertMap                                      map[string]string
	suggested                                     *tickets.Suggestion
	firstResponse, nextResponse, resolution       *rawTarget
}

// dest are the scan destinations of a row; the JSON columns are read as
// sql.RawBytes, decoded before the next row.
func (r *rawTicket) dest() []any {
	return []any{&r.id, &r.number, &r.subject, &r.contact, &r.company, &r.channel, &r.status, &r.pending, &r.priority,
		&r.category, (*sql.RawBytes)(&r.tags), &r.assignee, &r.team, &r.language, &r.product, &r.queued, &r.csat, &r.nps,
		(*sql.RawBytes)(&r.attrs), &r.merged, &r.policy, &r.pausedSeconds, &r.pausedSince, &r.frAt, &r.frDue, &r.nrFrom, &r.nextPaused,
		&r.nrDue, &r.resDue, &r.solved, &r.slaDue, (*sql.RawBytes)(&r.alerts), (*sql.RawBytes)(&r.suggestion),
		&r.created, &r.updated, &r.version}
}

// decode does with the row what crmkit does with it: ids parsed, times in
// UTC, the JSON columns decoded with encoding/json (the empty array and
// object, which most tickets hold, left as they are), and the SLA targets
// with their remaining business time as of now (the clock stands still
// while the ticket is paused).
func (r *rawTicket) decode(hours map[core.ID]*tickets.Hours, now time.Time) error {
	var err error
	if r.uid, err = uuid.Parse(r.id); err != nil {
		return err
	}
	for _, x := range []struct {
		s  sql.NullString
		id *core.ID
	}{{r.contact, &r.contactID}, {r.company, &r.companyID}, {r.merged, &r.mergedID}, {r.policy, &r.policyID}} {
		*x.id = core.NilID
		if x.s.Valid {
			if *x.id, err = uuid.Parse(x.s.String); err != nil {
				return err
			}
		}
	}
	for _, t := range []*sql.NullTime{&r.pending, &r.queued, &r.pausedSince, &r.frAt, &r.frDue, &r.nrFrom, &r.nrDue, &r.resDue, &r.solved, &r.slaDue} {
		t.Time = t.Time.UTC()
	}
	r.created, r.updated = r.created.UTC(), r.updated.UTC()
	r.tagList, r.attrMap, r.alertMap, r.suggested = nil, nil, nil, nil
	if string(r.tags) != "[]" {
		if err := json.Unmarshal(r.tags, &r.tagList); err != nil {
			return err
		}
	}
	if string(r.attrs) != "{}" {
		if err := json.Unmarshal(r.attrs, &r.attrMap); err != nil {
			return err
		}
	}
	if string(r.alerts) != "{}" {
		if err := json.Unmarshal(r.alerts, &r.alertMap); err != nil {
			return err
		}
	}
	if r.suggestion != nil {
		if err := json.Unmarshal(r.suggestion, &r.suggested); err != nil {
			return err
		}
	}
	r.firstResponse, r.nextResponse, r.resolution = nil, nil, nil
	h := hours[r.policyID]
	if !r.policy.Valid || h == nil {
		return nil
	}
	ref := now
	if r.pausedSince.Valid {
		ref = r.pausedSince.Time
	}
	target := func(due, met sql.NullTime) *rawTarget {
		if !due.Valid {
			return nil
		}
		at := ref
		if met.Valid {
			at = met.Time
		}
		return &rawTarget{due: due.Time, at: at, remaining: int64(h.BusinessBetween(at, due.Time) / time.Minute), breached: at.After(due.Time)}
	}
	resolved := r.solved
	if r.status != "solved" && r.status != "closed" {
		resolved = sql.NullTime{}
	}
	r.firstResponse = target(r.frDue, r.frAt)
	r.nextResponse = target(r.nrDue, sql.NullTime{})
	r.resolution = target(r.resDue, resolved)
	return nil
}
