package campaigns_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	gomail "github.com/wneessen/go-mail"

	"github.com/crmkit/crmkit/automation"
	"github.com/crmkit/crmkit/campaigns"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/mailtest"
)

// benchRecipients is the size of the benchmarks' campaign
// (CRM_BENCH_RECIPIENTS, default 1,000).
func benchRecipients(b *testing.B) int {
	n := 1000
	if s := os.Getenv("CRM_BENCH_RECIPIENTS"); s != "" {
		v, err := strconv.Atoi(s)
		require.NoError(b, err)
		n = v
	}
	return n
}

// BenchmarkCampaignSend sends a campaign of N recipients (consent
// granted, personalised, tracked links, RFC 8058 headers) to the local
// SMTP server over 4 connections, from Start until the campaign is sent
// (crmkit), beside a hand-written go-mail loop that sends messages of the
// same bytes — the same headers, parts, links and lengths, without
// templates, crmkit's checks and records — over 4 connections (raw).
// Metric: messages/s. On PostgreSQL the workers are told of new jobs by
// LISTEN/NOTIFY, as crm.Open sets them up (a host calling crm.New passes
// automation.Options.Listener); without it each job hop waits for the
// next poll (automation.Options.PollInterval, 200 ms).
//
//	CRM_TEST_POSTGRES_DSN=… go test -run XXX -bench CampaignSend -benchtime 1x -count 5 ./campaigns
func BenchmarkCampaignSend(b *testing.B) {
	run := func(b *testing.B, open func(testing.TB) *bun.DB) {
		n := benchRecipients(b)
		b.Run("crmkit", func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				ctx := context.Background()
				db := open(b)
				srv := mailtest.Start(b)
				cfg := crm.Config{Campaigns: campaigns.Options{
					Mailer:         &campaigns.SMTP{Host: srv.Host, Port: srv.Port, TLS: "none", Connections: 4},
					UnsubscribeURL: "https://shop.example/u", TrackingURL: "https://shop.example/t", BatchSize: 250},
					Automation: automation.Options{Listener: benchListener(b, db)}}
				c, err := crm.New(db, cfg)
				require.NoError(b, err)
				require.NoError(b, c.Migrate(ctx))
				seedRecipients(b, c, n)
				seg, err := c.Segments.Create(ctx, campaigns.NewSegment{Name: "All", Filter: filter.Contains("tags", "news")})
				require.NoError(b, err)
				tmpl, err := c.Templates.Create(ctx, campaigns.NewTemplate{Name: "T", Subject: benchSubject, HTML: benchHTML})
				require.NoError(b, err)
				camp, err := c.Campaigns.Create(ctx, campaigns.NewCampaign{Name: "C", SegmentID: seg.ID, TemplateID: tmpl.ID,
					Purpose: "newsletter", FromAddress: "news@shop.example"})
				require.NoError(b, err)
				require.NoError(b, c.Start(ctx))
				b.StartTimer()
				start := time.Now()
				_, err = c.Campaigns.Start(ctx, camp.ID, camp.Version)
				require.NoError(b, err)
				for {
					got, err := c.Campaigns.Get(ctx, camp.ID)
					require.NoError(b, err)
					if got.Status == campaigns.StatusSent {
						break
					}
					time.Sleep(5 * time.Millisecond)
				}
				elapsed := time.Since(start)
				b.StopTimer()
				require.Len(b, srv.Messages(), n)
				b.ReportMetric(float64(n)/elapsed.Seconds(), "msgs/s")
				require.NoError(b, c.Close())
				b.StartTimer()
			}
		})
		b.Run("raw", func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				srv := mailtest.Start(b)
				b.StartTimer()
				start := time.Now()
				rawSend(b, srv, n)
				elapsed := time.Since(start)
				b.StopTimer()
				require.Len(b, srv.Messages(), n)
				b.ReportMetric(float64(n)/elapsed.Seconds(), "msgs/s")
				b.StartTimer()
			}
		})
	}
	b.Run("sqlite", func(b *testing.B) { run(b, migrated.SQLite) })
	b.Run("postgres", func(b *testing.B) { run(b, migrated.Postgres) })
}

const (
	benchSubject = `News for {{.Contact.FirstName | default "you"}}`
	benchHTML    = `<html><head><style>p { color: #333 }</style></head><body><p>Hello {{.Contact.FirstName | default "there"}},</p>
<p>Our <a href="https://shop.example/sale?utm_source=mail">sale</a> starts today.</p>
<p><a href="{{.UnsubscribeURL}}">Unsubscribe</a></p></body></html>`
)

// seedRecipients makes n contacts with consent to the newsletter.
func seedRecipients(b testing.TB, c *crm.CRM, n int) {
	ctx := context.Background()
	_, err := c.Consent.DefinePurpose(ctx, consent.NewPurpose{Key: "newsletter", Label: "Newsletter", LegalBasis: consent.BasisConsent,
		Channels: []consent.Channel{consent.Email}, Wording: "Send me the newsletter"})
	require.NoError(b, err)
	rows := func(yield func(contacts.ImportRow) bool) {
		for i := range n {
			if !yield(contacts.ImportRow{Contact: contacts.NewContact{Email: fmt.Sprintf("r%06d@example.net", i), FirstName: "Ada",
				Tags: []string{"news"}}}) {
				return
			}
		}
	}
	_, err = c.Contacts.Import(ctx, rows, contacts.ImportOptions{})
	require.NoError(b, err)
	page, err := c.Contacts.List(ctx, contacts.ListOptions{Limit: 1000})
	for {
		require.NoError(b, err)
		for _, ct := range page.Items {
			_, err := c.Consent.Grant(ctx, ct.ID, "newsletter", consent.Email, consent.Proof{Source: "import"})
			require.NoError(b, err)
		}
		if page.Next == "" {
			break
		}
		page, err = c.Contacts.List(ctx, contacts.ListOptions{Limit: 1000, Cursor: page.Next})
	}
}

// rawSend is the bare go-mail loop: n messages of the bytes crmkit
// sends for the benchmark's template (the same headers with ids of the
// same length, both parts with the same links and tokens of the same
// lengths), built per message without templates, checks or records, over
// 4 connections.
func rawSend(b testing.TB, srv *mailtest.Server, n int) {
	campaign := core.NewID().String()
	// The lengths of crmkit's tokens for the benchmark's tenant, purpose
	// and links: an unsubscribe token, a click token for the sale link, an
	// open token.
	unsubscribe, click, open := strings.Repeat("u", 160), strings.Repeat("c", 202), strings.Repeat("o", 136)
	var wg sync.WaitGroup
	next := make(chan int)
	for range 4 {
		client, err := gomail.NewClient(srv.Host, gomail.WithPort(srv.Port), gomail.WithTLSPolicy(gomail.NoTLS))
		require.NoError(b, err)
		require.NoError(b, client.DialWithContext(context.Background()))
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer client.Close()
			for i := range next {
				id := fmt.Sprintf("%08x-0000-7000-8000-%012x", i, i) // a recipient id's length
				unsubscribeURL := "https://shop.example/u/" + unsubscribe
				m := gomail.NewMsg()
				_ = m.From("news@shop.example")
				_ = m.To(fmt.Sprintf("r%06d@example.net", i))
				_ = m.EnvelopeFrom("news+" + id + "@shop.example")
				m.Subject("News for Ada")
				m.SetMessageIDWithValue(id + "@shop.example")
				m.SetGenHeader("List-Unsubscribe", "<"+unsubscribeURL+">")
				m.SetGenHeader("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
				m.SetGenHeader("X-Crm-Campaign", campaign)
				m.SetBodyString(gomail.TypeTextPlain, "Hello Ada,\n\nOur sale ( https://shop.example/sale?utm_source=mail ) starts today.\n\nUnsubscribe ( "+
					unsubscribeURL+" )")
				m.AddAlternativeString(gomail.TypeTextHTML, `<html><head></head><body><p style="color:#333">Hello Ada,</p>
<p style="color:#333">Our <a href="https://shop.example/t/c/`+click+`">sale</a> starts today.</p>
<p style="color:#333"><a href="`+unsubscribeURL+`">Unsubscribe</a></p><img src="https://shop.example/t/o/`+open+
					`" width="1" height="1" alt="" style="display:block;border:0"></body></html>`)
				if err := client.Send(m); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// benchListener is, on PostgreSQL, a one-connection pool on db's database
// and schema for River's LISTEN (what crm.Open sets up); nil on SQLite.
func benchListener(b *testing.B, db *bun.DB) *pgxpool.Pool {
	if db.Dialect().Name() != dialect.PG {
		return nil
	}
	var schema string
	require.NoError(b, db.QueryRowContext(context.Background(), "SELECT current_schema()").Scan(&schema))
	pc, err := pgxpool.ParseConfig(dbtest.WithSearchPath(dbtest.PostgresDSN(b), schema))
	require.NoError(b, err)
	pc.MinConns, pc.MaxConns = 0, 1
	l, err := pgxpool.NewWithConfig(context.Background(), pc)
	require.NoError(b, err)
	b.Cleanup(l.Close)
	return l
}

// The raw baseline sends what crmkit sends: a message of the same length
// with the same header fields as crmkit's for the benchmark's template.
func TestRawBaselineIsTheCampaignsMessage(t *testing.T) {
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		srv := mailtest.Start(t)
		c := newCRM(t, db, crm.Config{Campaigns: campaigns.Options{
			Mailer:         &campaigns.SMTP{Host: srv.Host, Port: srv.Port, TLS: "none"},
			UnsubscribeURL: "https://shop.example/u", TrackingURL: "https://shop.example/t"}})
		seedRecipients(t, c, 2)
		seg, err := c.Segments.Create(ctx, campaigns.NewSegment{Name: "All", Filter: filter.Contains("tags", "news")})
		require.NoError(t, err)
		tmpl, err := c.Templates.Create(ctx, campaigns.NewTemplate{Name: "T", Subject: benchSubject, HTML: benchHTML})
		require.NoError(t, err)
		camp, err := c.Campaigns.Create(ctx, campaigns.NewCampaign{Name: "C", SegmentID: seg.ID, TemplateID: tmpl.ID,
			Purpose: "newsletter", FromAddress: "news@shop.example"})
		require.NoError(t, err)
		require.NoError(t, c.Start(ctx))
		_, err = c.Campaigns.Start(ctx, camp.ID, camp.Version)
		require.NoError(t, err)
		require.Eventually(t, func() bool { return len(srv.Messages()) == 2 }, 30*time.Second, 5*time.Millisecond)
		raw := mailtest.Start(t)
		rawSend(t, raw, 2)
		for i := range 2 {
			want, got := srv.Messages()[i], raw.Messages()[i]
			require.Equal(t, len(want.Data), len(got.Data), "the raw message's size")
			require.Equal(t, len(want.From), len(got.From), "the return path's length")
			wp, err := want.Parse()
			require.NoError(t, err)
			gp, err := got.Parse()
			require.NoError(t, err)
			require.Equal(t, fieldNames(wp.Header.Fields()), fieldNames(gp.Header.Fields()))
			require.Equal(t, len(wp.Text), len(gp.Text), "the text part's length")
			require.Equal(t, len(wp.HTML), len(gp.HTML), "the HTML part's length")
		}
	})
}

// fieldNames are the names of a message's header fields, in order.
func fieldNames(f interface {
	Next() bool
	Key() string
}) []string {
	var out []string
	for f.Next() {
		out = append(out, f.Key())
	}
	return out
}
