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

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	gomail "github.com/wneessen/go-mail"

	"github.com/crmkit/crmkit/campaigns"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
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
// (crmkit), beside a hand-written go-mail loop that sends the same
// messages' shape — without templates, crmkit's checks and records — over
// 4 connections (raw). Metric: messages/s.
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
					UnsubscribeURL: "https://shop.example/u", TrackingURL: "https://shop.example/t", BatchSize: 250}}
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
func seedRecipients(b *testing.B, c *crm.CRM, n int) {
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

// rawSend is the bare go-mail loop: n messages of the campaign's shape
// (both parts, the same headers, links and sizes), built per message
// without templates, checks or records, over 4 connections.
func rawSend(b *testing.B, srv *mailtest.Server, n int) {
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
				m := gomail.NewMsg()
				_ = m.From("news@shop.example")
				_ = m.To(fmt.Sprintf("r%06d@example.net", i))
				_ = m.EnvelopeFrom(fmt.Sprintf("bounces+%d@shop.example", i))
				m.Subject("News for Ada")
				m.SetMessageIDWithValue(fmt.Sprintf("%d@shop.example", i))
				m.SetGenHeader("List-Unsubscribe", "<https://shop.example/u/"+strings.Repeat("x", 120)+">")
				m.SetGenHeader("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
				m.SetBodyString(gomail.TypeTextPlain, "Hello Ada,\n\nOur sale ( https://shop.example/t/c/"+strings.Repeat("y", 200)+" ) starts today.")
				m.AddAlternativeString(gomail.TypeTextHTML, `<html><head></head><body><p style="color:#333">Hello Ada,</p><p>Our <a href="https://shop.example/t/c/`+
					strings.Repeat("y", 200)+`">sale</a> starts today.</p><img src="https://shop.example/t/o/`+strings.Repeat("z", 150)+`"></body></html>`)
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
