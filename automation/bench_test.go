package automation_test

// Benchmarks of the automation path, each with a baseline beside it:
//
//	CRM_TEST_POSTGRES_DSN=postgres://… go test -run XXX -bench . -benchtime 2000x ./automation
//
// BenchmarkEventToTask measures events per second from Track to the task
// the rule creates (workers running in the same process), against
// hand-written SQL that records the activity and the task in one
// transaction (what a host would write without a rule engine).
// BenchmarkTrackOverhead measures what rules that do not match add to a
// Track call (budget: 10% over no rules at all).

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/automation"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dbtest"
)

func benchDBs(b *testing.B, fn func(b *testing.B, open func() *bun.DB)) {
	b.Run("sqlite", func(b *testing.B) { fn(b, func() *bun.DB { return dbtest.SQLite(b) }) })
	b.Run("postgres", func(b *testing.B) { fn(b, func() *bun.DB { return dbtest.Postgres(b) }) })
}

func quietConfig() crm.Config {
	return crm.Config{Logger: slog.New(slog.DiscardHandler)}
}

// leads creates n contacts with an owner.
func leads(b *testing.B, c *crm.CRM, n int) []core.ID {
	ctx := context.Background()
	rows := func(yield func(contacts.ImportRow) bool) {
		for i := 0; i < n; i++ {
			if !yield(contacts.ImportRow{Line: i + 1, Contact: contacts.NewContact{Email: fmt.Sprintf("lead%d@example.com", i), OwnerID: "anna"}}) {
				return
			}
		}
	}
	_, err := c.Contacts.Import(ctx, rows, contacts.ImportOptions{})
	require.NoError(b, err)
	ids := make([]core.ID, 0, n)
	for i := 0; i < n; i++ {
		ct, err := c.Contacts.GetByEmail(ctx, fmt.Sprintf("lead%d@example.com", i))
		require.NoError(b, err)
		ids = append(ids, ct.ID)
	}
	return ids
}

func BenchmarkEventToTask(b *testing.B) {
	benchDBs(b, func(b *testing.B, open func() *bun.DB) {
		b.Run("crmkit", func(b *testing.B) {
			ctx := context.Background()
			db := open()
			c, err := crm.New(db, quietConfig())
			require.NoError(b, err)
			require.NoError(b, c.Migrate(ctx))
			_, err = c.Automation.Rules.Create(ctx, calculatorRule)
			require.NoError(b, err)
			ids := leads(b, c, b.N)
			require.NoError(b, c.Start(ctx))
			defer c.Close()
			b.ResetTimer()
			start := time.Now()
			for _, id := range ids {
				_, err := c.Contacts.Track(ctx, contacts.ByID(id), contacts.NewActivity{Kind: contacts.KindWeb, Name: "pricing_calculator_used"})
				require.NoError(b, err)
			}
			for {
				var n int
				require.NoError(b, db.NewSelect().Table("crm_tasks").ColumnExpr("count(*)").Scan(ctx, &n))
				if n == b.N {
					break
				}
				time.Sleep(2 * time.Millisecond)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
		b.Run("raw", func(b *testing.B) {
			ctx := context.Background()
			db := open()
			c, err := crm.New(db, quietConfig())
			require.NoError(b, err)
			require.NoError(b, c.Migrate(ctx))
			ids := leads(b, c, b.N)
			d := db.Dialect().Name().String()
			q := func(s string) string { return s }
			if d == "pg" {
				q = func(s string) string {
					out, n := []byte{}, 0
					for i := 0; i < len(s); i++ {
						if s[i] == '?' {
							n++
							out = append(out, fmt.Sprintf("$%d", n)...)
							continue
						}
						out = append(out, s[i])
					}
					return string(out)
				}
			}
			insertActivity := q(`INSERT INTO crm_activities (tenant_id, id, contact_id, kind, name, occurred_at, actor_id, idempotency_key, properties, created_at)
				VALUES ('default', ?, ?, 'web', 'pricing_calculator_used', ?, '', '', '{}', ?)`)
			insertTask := q(`INSERT INTO crm_tasks (tenant_id, id, title, description, due_at, due_key, assignee_id, contact_id, priority, status,
				created_at, updated_at, version) VALUES ('default', ?, 'Call about pricing', '', ?, ?, 'anna', ?, 'high', 'open', ?, ?, 1)`)
			b.ResetTimer()
			start := time.Now()
			for _, id := range ids {
				now := time.Now().UTC()
				due := now.Add(24 * time.Hour)
				tx, err := db.DB.BeginTx(ctx, nil)
				require.NoError(b, err)
				_, err = tx.ExecContext(ctx, insertActivity, core.NewID(), id, now, now)
				require.NoError(b, err)
				_, err = tx.ExecContext(ctx, insertTask, core.NewID(), due, due, id, now, now)
				require.NoError(b, err)
				require.NoError(b, tx.Commit())
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	})
}

// BenchmarkTrackOverhead interleaves Track calls on two databases, one
// without rules and one with ten rules on activity.tracked that the
// activity does not meet, so that drift of the machine hits both alike;
// it reports each one's time per call and the overhead in percent.
func BenchmarkTrackOverhead(b *testing.B) {
	benchDBs(b, func(b *testing.B, open func() *bun.DB) {
		ctx := context.Background()
		setup := func(rules bool) (*crm.CRM, []core.ID) {
			c, err := crm.New(open(), quietConfig())
			require.NoError(b, err)
			require.NoError(b, c.Migrate(ctx))
			if rules {
				for i := 0; i < 10; i++ {
					r := calculatorRule
					r.Name = fmt.Sprint("rule ", i)
					r.Condition = automation.Condition{Event: filter.And(filter.Eq("data.name", fmt.Sprint("event_", i)),
						filter.Eq("data.kind", "web"))}
					_, err := c.Automation.Rules.Create(ctx, r)
					require.NoError(b, err)
				}
			}
			return c, leads(b, c, 200)
		}
		plain, plainIDs := setup(false)
		ruled, ruledIDs := setup(true)
		var plainTime, ruledTime time.Duration
		track := func(c *crm.CRM, id core.ID) time.Duration {
			start := time.Now()
			if _, err := c.Contacts.Track(ctx, contacts.ByID(id), contacts.NewActivity{Kind: contacts.KindWeb, Name: "page_viewed"}); err != nil {
				b.Fatal(err)
			}
			return time.Since(start)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if i%2 == 0 {
				plainTime += track(plain, plainIDs[i%200])
				ruledTime += track(ruled, ruledIDs[i%200])
			} else {
				ruledTime += track(ruled, ruledIDs[i%200])
				plainTime += track(plain, plainIDs[i%200])
			}
		}
		b.ReportMetric(float64(plainTime.Nanoseconds())/float64(b.N), "no-rules-ns/op")
		b.ReportMetric(float64(ruledTime.Nanoseconds())/float64(b.N), "rules-ns/op")
		b.ReportMetric(100*(float64(ruledTime)/float64(plainTime)-1), "overhead-%")
	})
}
