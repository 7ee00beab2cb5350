package campaigns_test

// The snapshot of a campaign's segment: resolving the members and queueing
// them, a send job per batch (the campaign's "prepare" job), against the
// same work by hand — each batch's members read in id order, their
// recipient rows written, a River job queued, in a transaction per batch.
//
//	CRM_BENCH_CONTACTS=1000000 CRM_TEST_POSTGRES_DSN=… go test -run XXX -bench SegmentPrepare -benchtime 1x -count 3 -timeout 60m ./campaigns
//
// It runs on the contacts benchmarks' cached dataset (internal/benchdata);
// two thirds of its contacts have the tag "newsletter", the segment's
// condition. DESIGN's budget: ≥ 50,000 recipients a second.

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/campaigns"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/benchdata"
	"github.com/crmkit/crmkit/internal/dialect"
)

// prepareBatch is campaigns.Options.BatchSize's default.
const prepareBatch = 500

// rawBatchArgs is the raw baseline's job of one batch.
type rawBatchArgs struct {
	Campaign core.ID `json:"campaign"`
	Batch    int     `json:"batch"`
}

func (rawBatchArgs) Kind() string { return "bench_send_batch" }

func BenchmarkSegmentPrepare(b *testing.B) {
	n := benchdata.Size()
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			var db *bun.DB
			if name == "sqlite" {
				db = benchdata.SQLite(b, n)
			} else {
				db, _ = benchdata.Postgres(b, n)
			}
			pg := name == "postgres"
			ctx := context.Background()
			c, err := crm.New(db, crm.Config{Logger: slog.New(slog.DiscardHandler), Campaigns: campaigns.Options{
				Mailer:         campaigns.MailerFunc(func(context.Context, *campaigns.Message) error { return nil }),
				UnsubscribeURL: "https://shop.example/u", BatchSize: prepareBatch}})
			require.NoError(b, err)
			require.NoError(b, c.Migrate(ctx)) // River's tables
			var members int
			members, err = countMembers(ctx, db, pg)
			require.NoError(b, err)
			cleanup := func(campaign core.ID) {
				for _, q := range []string{`DELETE FROM crm_campaign_recipients WHERE tenant_id = 'default' AND campaign_id = ?`,
					`DELETE FROM crm_campaigns WHERE tenant_id = 'default' AND id = ?`} {
					_, err := db.ExecContext(ctx, q, campaign)
					require.NoError(b, err)
				}
				_, err := db.ExecContext(ctx, `DELETE FROM river_job`)
				require.NoError(b, err)
			}

			_, err = c.Consent.DefinePurpose(ctx, consent.NewPurpose{Key: "newsletter", Label: "Newsletter", LegalBasis: consent.BasisConsent,
				Channels: []consent.Channel{consent.Email}, Wording: "Send me the newsletter"})
			if err != nil && !errors.Is(err, core.ErrConflict) {
				b.Fatal(err)
			}
			seg, err := c.Segments.Create(ctx, campaigns.NewSegment{Name: "Newsletter " + core.NewID().String()[24:], Filter: filter.Contains("tags", "newsletter")})
			require.NoError(b, err)
			tmpl, err := c.Templates.Create(ctx, campaigns.NewTemplate{Name: "T " + core.NewID().String()[24:], Subject: "News",
				HTML: `<p>News</p><p><a href="{{.UnsubscribeURL}}">Unsubscribe</a></p>`})
			require.NoError(b, err)
			draft := func() *campaigns.Campaign {
				camp, err := c.Campaigns.Create(ctx, campaigns.NewCampaign{Name: "C", SegmentID: seg.ID, TemplateID: tmpl.ID,
					Purpose: "newsletter", FromAddress: "news@shop.example"})
				require.NoError(b, err)
				return camp
			}

			b.Run("crmkit", func(b *testing.B) {
				var spent time.Duration
				for b.Loop() {
					camp := draft()
					start := time.Now()
					camp, err := c.Campaigns.Start(ctx, camp.ID, camp.Version)
					require.NoError(b, err)
					jobs, err := c.River().JobList(ctx, river.NewJobListParams().States(rivertype.JobStateAvailable).First(10))
					require.NoError(b, err)
					require.Len(b, jobs.Jobs, 1, "the prepare job")
					require.NoError(b, c.JobWorker().Work(ctx, jobs.Jobs[0]))
					spent += time.Since(start)
					var got int
					require.NoError(b, db.NewSelect().Table("crm_campaign_recipients").ColumnExpr("count(*)").
						Where("tenant_id = 'default' AND campaign_id = ?", camp.ID).Scan(ctx, &got))
					require.Equal(b, members, got)
					cleanup(camp.ID)
				}
				b.ReportMetric(float64(members*b.N)/spent.Seconds(), "recipients/s")
			})

			b.Run("raw", func(b *testing.B) {
				var driver riverdriver.Driver[*sql.Tx] = riversqlite.New(db.DB)
				member := `EXISTS (SELECT 1 FROM json_each(c.tags) WHERE value = 'newsletter')`
				if pg {
					driver = riverdatabasesql.New(db.DB)
					member = `c.tags @> '["newsletter"]'`
				}
				client, err := river.NewClient(driver, &river.Config{Logger: slog.New(slog.DiscardHandler)})
				require.NoError(b, err)
				d, err := dialect.For(db)
				require.NoError(b, err)
				read := d.Rebind(`SELECT c.id, c.email FROM crm_contacts c WHERE c.tenant_id = 'default' AND ` + member + ` AND c.id > ? ORDER BY c.id LIMIT ?`)
				insert := d.Rebind(`INSERT INTO crm_campaign_recipients (tenant_id, id, campaign_id, contact_id, email, batch, variant, state, updated_at)
					VALUES ('default', ?, ?, ?, ?, ?, 0, 'queued', ?)`)
				var spent time.Duration
				for b.Loop() {
					campaign := draft().ID
					start := time.Now()
					after, batch, total := core.NilID, 0, 0
					for {
						tx, err := db.DB.BeginTx(ctx, nil)
						require.NoError(b, err)
						rows, err := tx.QueryContext(ctx, read, after, prepareBatch)
						require.NoError(b, err)
						type row struct {
							id    core.ID
							email string
						}
						var got []row
						for rows.Next() {
							var r row
							require.NoError(b, rows.Scan(&r.id, &r.email))
							got = append(got, r)
						}
						require.NoError(b, rows.Err())
						st, err := tx.PrepareContext(ctx, insert)
						require.NoError(b, err)
						now := any(time.Now().UTC())
						if !pg {
							now = time.Now().UTC().Format("2006-01-02T15:04:05.000000Z")
						}
						for _, r := range got {
							_, err := st.ExecContext(ctx, core.NewID(), campaign, r.id, r.email, batch, now)
							require.NoError(b, err)
						}
						require.NoError(b, st.Close())
						if len(got) > 0 {
							_, err = client.InsertTx(ctx, tx, rawBatchArgs{Campaign: campaign, Batch: batch}, nil)
							require.NoError(b, err)
							after = got[len(got)-1].id
						}
						require.NoError(b, tx.Commit())
						total += len(got)
						batch++
						if len(got) < prepareBatch {
							break
						}
					}
					spent += time.Since(start)
					require.Equal(b, members, total)
					cleanup(campaign)
				}
				b.ReportMetric(float64(members*b.N)/spent.Seconds(), "recipients/s")
			})
		})
	}
}

// countMembers counts the dataset's contacts with the tag "newsletter".
func countMembers(ctx context.Context, db *bun.DB, pg bool) (int, error) {
	q := `SELECT count(*) FROM crm_contacts c WHERE c.tenant_id = 'default' AND EXISTS (SELECT 1 FROM json_each(c.tags) WHERE value = 'newsletter')`
	if pg {
		q = `SELECT count(*) FROM crm_contacts c WHERE c.tenant_id = 'default' AND c.tags @> '["newsletter"]'`
	}
	var n int
	err := db.DB.QueryRowContext(ctx, q).Scan(&n)
	return n, err
}
