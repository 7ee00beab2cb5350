package automation_test

// Benchmarks of the automation path, each with a baseline beside it:
//
//	CRM_TEST_POSTGRES_DSN=postgres://… go test -run XXX -bench . -benchtime 2000x ./automation
//
// BenchmarkEventToTask measures events per second from a burst of Track
// calls to the tasks the rule creates (workers running in the same
// process), against a hand-written River job per event doing the same
// durable work.
// BenchmarkTrackOverhead measures what rules that do not match add to a
// Track call (budget: 10% over no rules at all).

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/automation"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/dialect"
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

// eventProducers is how many goroutines send the events of
// BenchmarkEventToTask: a burst from a web shop's request handlers.
const eventProducers = 8

// burst calls send for every id from eventProducers goroutines.
func burst(b *testing.B, ids []core.ID, send func(id core.ID) error) {
	var wg sync.WaitGroup
	errs := make(chan error, eventProducers)
	next := make(chan core.ID)
	for range eventProducers {
		wg.Go(func() {
			for id := range next {
				if err := send(id); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for _, id := range ids {
		next <- id
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// waitTasks waits until n tasks exist.
func waitTasks(b *testing.B, db *bun.DB, n int) {
	ctx := context.Background()
	for {
		var got int
		require.NoError(b, db.NewSelect().Table("crm_tasks").ColumnExpr("count(*)").Scan(ctx, &got))
		if got >= n {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// taskArgs is the raw baseline's job: the task for one tracked activity.
type taskArgs struct {
	Contact  core.ID `json:"contact"`
	Activity core.ID `json:"activity"`
}

func (taskArgs) Kind() string { return "bench_task" }

// taskWorker writes the task and its event in one transaction, as the
// rule's create_task action does.
type taskWorker struct {
	river.WorkerDefaults[taskArgs]
	db                      *bun.DB
	insertTask, insertEvent string
}

func (w *taskWorker) Work(ctx context.Context, job *river.Job[taskArgs]) error {
	now := time.Now().UTC()
	due := now.Add(24 * time.Hour)
	tx, err := w.db.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	var n, d any = now, due
	if w.db.Dialect().Name().String() != "pg" {
		n, d = now.Format(timeFormat), due.Format(timeFormat)
	}
	task := core.NewID()
	if _, err := tx.ExecContext(ctx, w.insertTask, task, d, d, job.Args.Contact, n, n); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, w.insertEvent, core.NewID(), task, job.Args.Contact, n,
		`{"id":"`+task.String()+`","title":"Call about pricing","contact_id":"`+job.Args.Contact.String()+`"}`); err != nil {
		return err
	}
	return tx.Commit()
}

const timeFormat = "2006-01-02T15:04:05.000000Z"

// Events from a burst of Track calls (eventProducers goroutines) to the
// tasks a rule creates, workers in the same process, against a
// hand-written River job per event doing the same durable work: the
// activity and its job in one transaction, then the job writing the task
// and its event in another. Both use the same number of workers.
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
			burst(b, ids, func(id core.ID) error {
				_, err := c.Contacts.Track(ctx, contacts.ByID(id), contacts.NewActivity{Kind: contacts.KindWeb, Name: "pricing_calculator_used"})
				return err
			})
			waitTasks(b, db, b.N)
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
		b.Run("raw", func(b *testing.B) {
			ctx := context.Background()
			db := open()
			c, err := crm.New(db, quietConfig())
			require.NoError(b, err)
			require.NoError(b, c.Migrate(ctx)) // the schema and River's tables
			ids := leads(b, c, b.N)
			pg := db.Dialect().Name().String() == "pg"
			d, err := dialect.For(db)
			require.NoError(b, err)
			q := d.Rebind
			workers := river.NewWorkers()
			river.AddWorker(workers, &taskWorker{db: db,
				insertTask: q(`INSERT INTO crm_tasks (tenant_id, id, title, description, due_at, due_key, assignee_id, contact_id, priority, status,
					created_at, updated_at, version) VALUES ('default', ?, 'Call about pricing', '', ?, ?, 'anna', ?, 'high', 'open', ?, ?, 1)`),
				insertEvent: q(`INSERT INTO crm_events (tenant_id, id, type, subject_type, subject_id, contact_id, actor_id, occurred_at, data)
					VALUES ('default', ?, 'task.created', 'task', ?, ?, '', ?, ?)`)})
			var driver riverdriver.Driver[*sql.Tx] = riversqlite.New(db.DB)
			if pg {
				driver = riverdatabasesql.New(db.DB)
			}
			client, err := river.NewClient(driver, &river.Config{Queues: map[string]river.QueueConfig{"bench": {MaxWorkers: automation.DefaultWorkers}},
				Workers: workers, Logger: slog.New(slog.DiscardHandler), FetchPollInterval: 200 * time.Millisecond, FetchCooldown: 10 * time.Millisecond})
			require.NoError(b, err)
			require.NoError(b, client.Start(ctx))
			defer func() { _ = client.Stop(ctx) }()
			insertActivity := q(`INSERT INTO crm_activities (tenant_id, id, contact_id, kind, name, occurred_at, actor_id, idempotency_key, properties, created_at)
				VALUES ('default', ?, ?, 'web', 'pricing_calculator_used', ?, '', '', '{}', ?)`)
			b.ResetTimer()
			start := time.Now()
			burst(b, ids, func(id core.ID) error {
				now := any(time.Now().UTC())
				if !pg {
					now = time.Now().UTC().Format(timeFormat)
				}
				tx, err := db.DB.BeginTx(ctx, nil)
				if err != nil {
					return err
				}
				defer func() { _ = tx.Rollback() }()
				act := core.NewID()
				if _, err := tx.ExecContext(ctx, insertActivity, act, id, now, now); err != nil {
					return err
				}
				if _, err := client.InsertTx(ctx, tx, taskArgs{Contact: id, Activity: act}, &river.InsertOpts{Queue: "bench"}); err != nil {
					return err
				}
				return tx.Commit()
			})
			waitTasks(b, db, b.N)
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
