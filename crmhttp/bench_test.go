package crmhttp_test

// Benchmarks of the HTTP layer, through real loopback round trips
// (httptest.NewServer, keep-alive connections):
//
//	CRM_TEST_POSTGRES_DSN=postgres://… go test -run XXX -bench 'HTTPContactList|ClickRedirect' ./crmhttp
//
// BenchmarkHTTPContactList reads internal/benchdata's dataset of 1M
// contacts (CRM_BENCH_CONTACTS sets another size), built on first use and
// shared with contacts' benchmarks. BenchmarkClickRedirect runs 32
// clients (CRM_BENCH_CLIENTS sets another number); -benchtime 20000x
// bounds it to that many requests.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/campaigns"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmhttp"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/benchdata"
)

// benchActor is the user of the benchmarks' calls, on both sides: an
// admin of the tenant (adminUser).
var benchActor = core.Actor{ID: "bench-user"}

// adminUser makes benchActor a user with the built-in admin role in c's
// tenant, unless it is one already (the dataset is kept between runs).
func adminUser(b *testing.B, c *crm.CRM) {
	ctx := context.Background()
	if _, err := c.Access.Users.Get(ctx, benchActor.ID); err == nil {
		return
	} else if !errors.Is(err, core.ErrNotFound) {
		b.Fatal(err)
	}
	_, err := c.Access.Roles.InstallBuiltins(ctx)
	require.NoError(b, err)
	_, err = c.Access.Users.Create(ctx, access.UserInput{ID: benchActor.ID, DisplayName: "Bench", Roles: []string{access.RoleAdmin}})
	require.NoError(b, err)
}

// benchAuth is a host's authentication: a bearer token names the user.
func benchAuth(r *http.Request) (string, core.Actor, error) {
	if r.Header.Get("Authorization") != "Bearer bench-user" {
		return "", core.Actor{}, errors.New("no credentials")
	}
	return "default", benchActor, nil
}

// GET /contacts?filter=… (3 conditions, newest first, a page of 50) over
// the dataset, against the same list through the Go API: crmkit-http is
// the whole round trip (the request, Auth, the filter's JSON parsed, the
// page encoded, sent over loopback and decoded by the client), go-api
// the call it makes. interleaved runs both in turns and reports the HTTP
// side's time over the Go call's (the budget: at most 1.2).
func BenchmarkHTTPContactList(b *testing.B) {
	n := benchdata.Size()
	b.Run("sqlite", func(b *testing.B) { listBench(b, benchdata.SQLite(b, n), n) })
	b.Run("postgres", func(b *testing.B) {
		db, _ := benchdata.Postgres(b, n)
		listBench(b, db, n)
	})
}

func listBench(b *testing.B, db *bun.DB, n int) {
	ctx := context.Background()
	now := benchdata.Now(n)
	c, err := crm.New(db, crm.Config{Clock: core.ClockFunc(func() time.Time { return now })})
	require.NoError(b, err)
	require.NoError(b, c.Migrate(ctx))
	b.Cleanup(func() { require.NoError(b, c.Close()) })
	h, err := crmhttp.New(c, crmhttp.Options{Auth: benchAuth})
	require.NoError(b, err)
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	client := srv.Client()

	// Leads on the newsletter created in the last 7 days, as contacts'
	// BenchmarkContactList.
	f := filter.And(
		filter.Eq("lifecycle_stage", "lead"),
		filter.Contains("tags", "newsletter"),
		filter.WithinLast("created_at", 7*24*time.Hour),
	)
	fj, err := json.Marshal(f)
	require.NoError(b, err)
	target := srv.URL + "/contacts?limit=50&filter=" + url.QueryEscape(string(fj))
	goCtx := core.WithActor(ctx, benchActor)
	tenant := c.Tenant("default")
	adminUser(b, tenant)

	goAPI := func(b *testing.B) []*contacts.Contact {
		page, err := tenant.Contacts.List(goCtx, contacts.ListOptions{Filter: f, Limit: 50})
		if err != nil || len(page.Items) != 50 || page.Next == "" {
			b.Fatal(err, len(page.Items))
		}
		return page.Items
	}
	// roundTrip sends the request and reads the whole answer; decode reads
	// the page as a client does.
	roundTrip := func(b *testing.B) []byte {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer bench-user")
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil || res.StatusCode != http.StatusOK {
			b.Fatal(err, res.Status, string(body))
		}
		return body
	}
	decode := func(b *testing.B, body []byte) []contacts.Contact {
		var page struct {
			Items []contacts.Contact `json:"items"`
			Next  string             `json:"next"`
		}
		if err := json.Unmarshal(body, &page); err != nil || len(page.Items) != 50 || page.Next == "" {
			b.Fatal(err, len(page.Items))
		}
		return page.Items
	}
	overHTTP := func(b *testing.B) []contacts.Contact { return decode(b, roundTrip(b)) }

	// Both sides answer the same page.
	want, got := goAPI(b), overHTTP(b)
	for i := range want {
		require.Equal(b, want[i].ID, got[i].ID)
		require.Equal(b, want[i].Email, got[i].Email)
		require.Equal(b, contacts.Stage("lead"), got[i].LifecycleStage)
	}

	b.Run("crmkit-http", func(b *testing.B) {
		for b.Loop() {
			overHTTP(b)
		}
	})
	b.Run("go-api", func(b *testing.B) {
		for b.Loop() {
			goAPI(b)
		}
	})
	// Both in turns, so that a change in the machine's load weighs on both
	// alike: the ratio to quote.
	b.Run("interleaved", func(b *testing.B) {
		var tripTime, decodeTime, goTime time.Duration
		for b.Loop() {
			start := time.Now()
			body := roundTrip(b)
			decoded := time.Now()
			decode(b, body)
			mid := time.Now()
			goAPI(b)
			tripTime += decoded.Sub(start)
			decodeTime += mid.Sub(decoded)
			goTime += time.Since(mid)
		}
		perOp := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N) }
		b.ReportMetric(perOp(tripTime+decodeTime), "http-ns/op")
		b.ReportMetric(perOp(decodeTime), "decode-ns/op")
		b.ReportMetric(perOp(goTime), "go-ns/op")
		b.ReportMetric(float64(tripTime+decodeTime)/float64(goTime), "ratio")
	})
}

// clickClients is the number of concurrent clients of
// BenchmarkClickRedirect, each on keep-alive connections:
// $CRM_BENCH_CLIENTS, or 32.
func clickClients() int {
	if n, err := strconv.Atoi(os.Getenv("CRM_BENCH_CLIENTS")); err == nil && n > 0 {
		return n
	}
	return 32
}

// GET /public/t/c/{token}: b.N requests from 32 concurrent
// clients, over the click links of a campaign sent to 100 contacts (two
// tracked links each, tokens made by the campaigns module). Each request
// is a person's click (a browser's user agent, an hour after the send):
// the interaction and an email.clicked event are written. Redirects are
// not followed; each answer must be 302 to the link's URL. The per-client
// rate limit is off (Options.PublicRate: +Inf), as all clients come from
// 127.0.0.1. It reports requests/s (the budget: at least 5,000 on SQLite).
func BenchmarkClickRedirect(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { clickBench(b, migrated.SQLite(b)) })
	b.Run("postgres", func(b *testing.B) { clickBench(b, migrated.Postgres(b)) })
}

// clickLink is a click token and the URL it redirects to.
type clickLink struct{ token, url string }

func clickBench(b *testing.B, db *bun.DB) {
	ctx := context.Background()
	var offset atomic.Int64 // the clock's lead on the wall clock
	var (
		mu   sync.Mutex
		sent []*campaigns.Message
	)
	c, err := crm.New(db, crm.Config{
		Clock:     core.ClockFunc(func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }),
		TokenKeys: [][]byte{tokenKey},
		Campaigns: campaigns.Options{
			Mailer: campaigns.MailerFunc(func(_ context.Context, m *campaigns.Message) error {
				mu.Lock()
				defer mu.Unlock()
				sent = append(sent, m)
				return nil
			}),
			UnsubscribeURL: "https://shop.example/crm/public/unsubscribe", TrackingURL: "https://shop.example/crm/public/t",
		},
	})
	require.NoError(b, err)
	require.NoError(b, c.Migrate(ctx))
	b.Cleanup(func() { require.NoError(b, c.Close()) })
	links := sendCampaign(b, c, func() []*campaigns.Message {
		mu.Lock()
		defer mu.Unlock()
		return sent
	})
	// An hour later, so that each click is a person's, not a link
	// checker's right after the send.
	require.NoError(b, c.Stop(ctx))
	offset.Store(int64(time.Hour))

	h, err := crmhttp.New(c, crmhttp.Options{Auth: benchAuth, PublicRate: math.Inf(1)})
	require.NoError(b, err)
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	tr := srv.Client().Transport.(*http.Transport).Clone()
	clients := clickClients()
	tr.MaxIdleConnsPerHost = clients
	b.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	clicks := func() int {
		var n int
		require.NoError(b, db.NewRaw(`SELECT count(*) FROM crm_campaign_interactions WHERE tenant_id = ? AND kind = 'click' AND machine = ''`,
			"acme").Scan(ctx, &n))
		return n
	}
	before := clicks()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	b.ResetTimer()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				l := links[i%len(links)]
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/public/t/c/"+l.token, nil)
				if err != nil {
					errs <- err
					return
				}
				req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
				res, err := client.Do(req)
				if err != nil {
					errs <- err
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusFound || res.Header.Get("Location") != l.url {
					errs <- fmt.Errorf("click %d: %s to %q, want 302 to %q", i, res.Status, res.Header.Get("Location"), l.url)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	require.Equal(b, b.N, clicks()-before, "every click is recorded as a person's")
}

var clickURL = regexp.MustCompile(`https://shop\.example/crm/public/t/c/([A-Za-z0-9_.-]+)`)

// sendCampaign sends a campaign with two tracked links to 100 contacts
// of the tenant acme and returns the click links of the messages sent.
func sendCampaign(b *testing.B, c *crm.CRM, sent func() []*campaigns.Message) []clickLink {
	ctx := context.Background()
	acme := c.Tenant("acme")
	_, err := acme.Consent.DefinePurpose(ctx, consent.NewPurpose{Key: "newsletter", Label: "the Acme newsletter",
		LegalBasis: consent.BasisConsent, Channels: []consent.Channel{consent.Email}, Wording: "Yes"})
	require.NoError(b, err)
	const people = 100
	for i := range people {
		ct, err := acme.Contacts.Create(ctx, contacts.NewContact{Email: fmt.Sprintf("reader%d@example.com", i), Tags: []string{"news"}})
		require.NoError(b, err)
		_, err = acme.Consent.Grant(ctx, ct.ID, "newsletter", consent.Email, consent.Proof{Source: "form"})
		require.NoError(b, err)
	}
	seg, err := acme.Segments.Create(ctx, campaigns.NewSegment{Name: "News", Filter: filter.Contains("tags", "news")})
	require.NoError(b, err)
	tmpl, err := acme.Templates.Create(ctx, campaigns.NewTemplate{Name: "N", Subject: "News",
		HTML: `<p><a href="https://acme.example/sale">Sale</a> <a href="https://acme.example/new?from=mail">New</a> ` +
			`<a href="{{.UnsubscribeURL}}">Unsubscribe</a></p>`})
	require.NoError(b, err)
	camp, err := acme.Campaigns.Create(ctx, campaigns.NewCampaign{Name: "N", SegmentID: seg.ID, TemplateID: tmpl.ID, Purpose: "newsletter",
		FromAddress: "news@acme.example"})
	require.NoError(b, err)
	require.NoError(b, c.Start(ctx))
	_, err = acme.Campaigns.Start(ctx, camp.ID, camp.Version)
	require.NoError(b, err)
	deadline := time.Now().Add(time.Minute)
	for len(sent()) < people {
		require.True(b, time.Now().Before(deadline), "sent %d of %d messages", len(sent()), people)
		time.Sleep(10 * time.Millisecond)
	}
	var links []clickLink
	for _, m := range sent() {
		found := clickURL.FindAllStringSubmatch(m.HTML, -1)
		require.Len(b, found, 2, m.HTML)
		links = append(links, clickLink{found[0][1], "https://acme.example/sale"}, clickLink{found[1][1], "https://acme.example/new?from=mail"})
	}
	return links
}
