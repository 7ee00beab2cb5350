package crmhttp_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/campaigns"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmhttp"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/pipeline"
	"github.com/crmkit/crmkit/tickets"
)

// offsetClock is the wall clock plus an offset the test moves.
type offsetClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *offsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset).UTC()
}

func (c *offsetClock) Jump(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// dashFixture is a tenant ("acme") seeded through the Go API, served by
// crmhttp, for the dashboard's tests.
type dashFixture struct {
	c      *crm.CRM
	srv    *httptest.Server
	ada    *contacts.Contact // the customer with everything
	evil   *contacts.Contact // a hostile name
	period string            // ?from=…&to=… covering everything seeded
	cohort string            // the month of Ada's first purchase
	sales  *pipeline.Pipeline
	other  *pipeline.Pipeline // empty, with a hostile name
}

var trackedClick = regexp.MustCompile(`https://shop\.example/t/c/([^"]+)"`)

// hostile is a name that must come out as text, never as markup.
const hostile = `<script>alert("x")</script>`

// seedDashboard seeds, through the public Go API: contacts (one with a
// hostile name), a company, deals open in two stages, one won and one
// lost, purchases two months apart (a cohort), a campaign sent to two
// people of whom one clicked, tickets (one overdue, one solved), consent,
// a note; then it serves the CRM with crmhttp.
func seedDashboard(t *testing.T, db *bun.DB) *dashFixture {
	t.Helper()
	ctx := context.Background()
	clock := &offsetClock{}
	var mu sync.Mutex
	sent := map[string]*campaigns.Message{}
	c, err := crm.New(db, crm.Config{Clock: clock, Campaigns: campaigns.Options{UnsubscribeURL: "https://shop.example/u",
		TrackingURL: "https://shop.example/t", Mailer: campaigns.MailerFunc(func(ctx context.Context, m *campaigns.Message) error {
			mu.Lock()
			defer mu.Unlock()
			sent[m.To] = m
			return nil
		})}})
	require.NoError(t, err)
	require.NoError(t, c.Migrate(ctx))
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	f := &dashFixture{c: c}
	a := c.Tenant("acme")
	_, err = a.Access.Roles.InstallBuiltins(ctx)
	require.NoError(t, err)
	_, err = c.Tenant("globex").Access.Roles.InstallBuiltins(ctx)
	require.NoError(t, err)

	co, err := a.Companies.Create(ctx, contacts.NewCompany{Name: "Analytical Engines", Domain: "engines.example"})
	require.NoError(t, err)
	f.ada, err = a.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com", Phone: "+44 20 7946 0018", FirstName: "Ada",
		LastName: "Lovelace", CompanyID: &co.ID, Tags: []string{"news"}, LifecycleStage: contacts.StageLead})
	require.NoError(t, err)
	grace, err := a.Contacts.Create(ctx, contacts.NewContact{Email: "grace@example.com", FirstName: "Grace", Tags: []string{"news"}})
	require.NoError(t, err)
	f.evil, err = a.Contacts.Create(ctx, contacts.NewContact{FirstName: hostile, LastName: "Mallory"})
	require.NoError(t, err)
	// Ada becomes a customer: the funnel's lead stage has one who moved on.
	f.ada, err = a.Contacts.Update(ctx, f.ada.ID, contacts.ContactPatch{Version: f.ada.Version, LifecycleStage: ptrTo(contacts.StageCustomer)})
	require.NoError(t, err)

	// Deals: 12,000 in Proposal and 3,000 in Qualification open; 5,000
	// won, 1,000 lost.
	today := core.DateOf(clock.Now())
	f.sales, err = a.Pipelines.Default(ctx)
	require.NoError(t, err)
	f.other, err = a.Pipelines.Create(ctx, pipeline.NewPipeline{Name: "Partners " + hostile})
	require.NoError(t, err)
	stage := func(name string) core.ID {
		for _, s := range f.sales.Stages {
			if s.Name == name {
				return s.ID
			}
		}
		t.Fatalf("no stage %s", name)
		return core.NilID
	}
	engine, err := a.Deals.Create(ctx, pipeline.NewDeal{Title: "Difference engine", Amount: core.MustMoney("12000", "EUR"), ContactID: &f.ada.ID,
		ExpectedClose: today.AddDays(5), Commit: true})
	require.NoError(t, err)
	_, err = a.Deals.MoveStage(ctx, engine.ID, engine.Version, stage("Proposal"))
	require.NoError(t, err)
	_, err = a.Deals.Create(ctx, pipeline.NewDeal{Title: "Punch cards", Amount: core.MustMoney("3000", "EUR"), ContactID: &grace.ID,
		ExpectedClose: today.AddDays(5)})
	require.NoError(t, err)
	won, err := a.Deals.Create(ctx, pipeline.NewDeal{Title: "Analytical engine", Amount: core.MustMoney("5000", "EUR"), ContactID: &f.ada.ID})
	require.NoError(t, err)
	_, err = a.Deals.Win(ctx, won.ID, won.Version)
	require.NoError(t, err)
	lost, err := a.Deals.Create(ctx, pipeline.NewDeal{Title: "Mill", Amount: core.MustMoney("1000", "EUR"), ContactID: &grace.ID})
	require.NoError(t, err)
	_, err = a.Deals.Lose(ctx, lost.ID, lost.Version, "price")
	require.NoError(t, err)

	// Purchases: Ada first two months ago, and again now.
	now := clock.Now()
	first := time.Date(now.Year(), now.Month(), 1, 12, 0, 0, 0, time.UTC).AddDate(0, -2, 0)
	f.cohort = first.Format("2006-01")
	for i, at := range []time.Time{first, now.Add(-time.Hour)} {
		_, err = a.Contacts.Track(ctx, contacts.ByID(f.ada.ID), contacts.NewActivity{Kind: contacts.KindPurchase, OccurredAt: at,
			Purchase: &contacts.Purchase{OrderID: "order-" + string(rune('1'+i)), Total: core.MustMoney("250", "EUR")}})
		require.NoError(t, err)
	}
	_, err = a.Notes.Create(ctx, contacts.NewNote{ContactID: f.ada.ID, Body: "Asked about the engine's mill", AuthorID: "user-1"})
	require.NoError(t, err)

	// A campaign to Ada and Grace; Ada clicks.
	_, err = a.Consent.DefinePurpose(ctx, consent.NewPurpose{Key: "newsletter", Label: "News", LegalBasis: consent.BasisConsent,
		Channels: []consent.Channel{consent.Email}, Wording: "Yes, send me news"})
	require.NoError(t, err)
	for _, who := range []*contacts.Contact{f.ada, grace} {
		_, err = a.Consent.Grant(ctx, who.ID, "newsletter", consent.Email, consent.Proof{Source: "form"})
		require.NoError(t, err)
	}
	seg, err := a.Segments.Create(ctx, campaigns.NewSegment{Name: "News", Filter: filter.Contains("tags", "news")})
	require.NoError(t, err)
	tmpl, err := a.Templates.Create(ctx, campaigns.NewTemplate{Name: "Spring", Subject: "Spring",
		HTML: `<p><a href="https://shop.example/spring">Spring</a> <a href="{{.UnsubscribeURL}}">Unsubscribe</a></p>`})
	require.NoError(t, err)
	camp, err := a.Campaigns.Create(ctx, campaigns.NewCampaign{Name: "Sale " + hostile, SegmentID: seg.ID, TemplateID: tmpl.ID,
		Purpose: "newsletter", FromAddress: "news@shop.example"})
	require.NoError(t, err)
	require.NoError(t, c.Start(ctx))
	_, err = a.Campaigns.Start(ctx, camp.ID, camp.Version)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		got, err := a.Campaigns.Get(ctx, camp.ID)
		require.NoError(t, err)
		return got.Status == campaigns.StatusSent
	}, time.Minute, 10*time.Millisecond)
	clock.Jump(time.Hour) // a click at once is a mail scanner's
	mu.Lock()
	token := trackedClick.FindStringSubmatch(sent["ada@example.com"].HTML)[1]
	mu.Unlock()
	_, err = a.Campaigns.Click(ctx, token, campaigns.Visit{UserAgent: "Mozilla/5.0", IP: "203.0.113.7"})
	require.NoError(t, err)

	// Tickets under a one-hour resolution target, round the clock: one
	// stays open (and is overdue two hours later), one is solved.
	cal, err := a.Calendars.Create(ctx, tickets.NewCalendar{Name: "Always", TimeZone: "UTC", Windows: allWeek()})
	require.NoError(t, err)
	_, err = a.SLAPolicies.Create(ctx, tickets.NewPolicy{Name: "standard", CalendarID: cal.ID, ResolutionMinutes: 60})
	require.NoError(t, err)
	_, err = a.Tickets.Create(ctx, tickets.NewTicket{Subject: "The mill jams", ContactID: f.ada.ID, Priority: tickets.PriorityHigh})
	require.NoError(t, err)
	solved, err := a.Tickets.Create(ctx, tickets.NewTicket{Subject: "Invoice copy", ContactID: grace.ID})
	require.NoError(t, err)
	_, err = a.Tickets.SetStatus(ctx, solved.ID, tickets.StatusChange{Version: solved.Version, Status: tickets.StatusSolved})
	require.NoError(t, err)
	clock.Jump(2 * time.Hour)

	today = core.DateOf(clock.Now())
	f.period = "?" + url.Values{"from": {today.AddDays(-120).String()}, "to": {today.AddDays(60).String()}}.Encode()
	h, err := crmhttp.New(c, crmhttp.Options{Auth: auth})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/crm/", http.StripPrefix("/crm", h)) // mounted under a prefix, as a host does
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func allWeek() []tickets.Window {
	var out []tickets.Window
	for d := time.Sunday; d <= time.Saturday; d++ {
		out = append(out, tickets.Window{Weekday: d, Start: "00:00", End: "24:00"})
	}
	return out
}

func ptrTo[T any](v T) *T { return &v }

// get fetches a dashboard page as the tenant and user (roles) given.
func (f *dashFixture) get(t *testing.T, path, tenant, user, roles string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.srv.URL+"/crm/dashboard/"+path, nil)
	require.NoError(t, err)
	if tenant != "" {
		req.Header.Set("X-Tenant", tenant)
	}
	if user != "" {
		req.Header.Set("X-User", user)
		req.Header.Set("X-Roles", roles)
	}
	res, err := f.srv.Client().Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	if res.StatusCode != http.StatusFound {
		require.Equal(t, "text/html; charset=utf-8", res.Header.Get("Content-Type"))
		require.Contains(t, res.Header.Get("Content-Security-Policy"), "default-src 'none'")
		require.Equal(t, "no-store", res.Header.Get("Cache-Control"))
	}
	return res.StatusCode, string(b)
}

// Every page answers 200 with the numbers seeded through the Go API, on
// both databases; record access is the services': a role without
// analytics gets 403, another tenant's contact is 404, personal fields
// are masked as the Go API masks them; names come out escaped; the period
// is validated.
func TestDashboardPages(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		f := seedDashboard(t, db)
		admin := func(path string) string {
			t.Helper()
			status, body := f.get(t, path, "acme", "", "")
			require.Equal(t, http.StatusOK, status, body)
			require.NotContains(t, body, "<script", "no scripts, and every name escaped")
			return body
		}

		body := admin("" + f.period)
		for _, want := range []string{`<dt>Deals won</dt><dd>1</dd>`, `<dt>Deals lost</dt><dd>1</dd>`, `<dt>Won revenue</dt><dd>5,000.00 EUR</dd>`,
			`<dt>Open pipeline (now)</dt><dd>15,000.00 EUR</dd>`, `<dt>Open deals (now)</dt><dd>2</dd>`, `<dt>Win rate</dt><dd>50 %</dd>`,
			`<dt>New contacts</dt><dd>3</dd>`, `<dt>Emails sent</dt><dd>2</dd>`, `<dt>Emails opened</dt><dd>1</dd>`, `<dt>Open rate</dt><dd>50 %</dd>`,
			`<dt>Open tickets (now)</dt><dd>1</dd>`, `<dt>Overdue tickets (now)</dt><dd>1</dd>`, `<dt>Tickets solved</dt><dd>1</dd>`,
			`<svg role="img" class="chart" aria-labelledby="overview-chart-title overview-chart-desc"`, `<title id="overview-chart-title">The period in numbers</title>`,
			`<a href="./pipeline?from=`, `aria-current="page">Overview</a>`} {
			require.Contains(t, body, want)
		}
		require.Regexp(t, `>New contacts</text>`, body, "the chart names its bars")

		body = admin("pipeline" + f.period)
		for _, want := range []string{`<h1>Pipeline: Sales</h1>`, `<th scope="row">Proposal</th><td>50 %</td><td class="num">1</td><td class="num">12,000.00 EUR</td>`,
			`<th scope="row">Qualification</th><td>10 %</td><td class="num">1</td><td class="num">3,000.00 EUR</td>`,
			`>Proposal (1)</text>`, `>12,000</text>`, `<caption>Forecast in EUR per month</caption>`, `>Weighted</text>`,
			`<input type="hidden" name="pipeline" value="` + f.sales.ID.String() + `">`} {
			require.Contains(t, body, want)
		}
		// The month of the open deals holds their weighted (6,000 + 300),
		// best-case (15,000) and committed (12,000) amounts; the month of
		// the win its 5,000.
		require.Contains(t, body, `<td class="num">6,300.00 EUR</td><td class="num">15,000.00 EUR</td><td class="num">12,000.00 EUR</td><td class="num">2</td>`)
		require.Contains(t, body, `>6,300</text>`)
		require.Contains(t, body, `>5,000</text>`)
		require.Contains(t, body, `<nav aria-label="Pipelines" class="sub">`)
		require.Contains(t, body, `&amp;pipeline=`+f.sales.ID.String()+`" aria-current="page">Sales</a>`)
		require.Contains(t, body, `&amp;pipeline=`+f.other.ID.String()+`">Partners &lt;script&gt;`)
		body = admin("pipeline" + f.period + "&pipeline=" + f.other.ID.String())
		require.Contains(t, body, `<h1>Pipeline: Partners &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</h1>`)
		require.Contains(t, body, `>Partners &lt;script&gt;`)
		require.Contains(t, body, "No deal closed or expected to close in the period.")
		status, _ := f.get(t, "pipeline?pipeline=nope", "acme", "", "")
		require.Equal(t, http.StatusUnprocessableEntity, status)
		status, _ = f.get(t, "pipeline?pipeline="+core.NewID().String(), "acme", "", "")
		require.Equal(t, http.StatusNotFound, status)

		body = admin("funnel" + f.period)
		for _, want := range []string{`<th scope="row">lead</th><td class="num">3</td><td class="num">1</td><td class="num">33.3 %</td>`,
			`<th scope="row">Sales</th><td class="num">1</td><td class="num">1</td><td class="num">50 %</td>`,
			`>50 %</text>`, `<title id="winrate-chart-title">Win rate per pipeline</title>`, `<title id="funnel-chart-title">Lifecycle funnel</title>`} {
			require.Contains(t, body, want)
		}

		body = admin("cohorts" + f.period)
		for _, want := range []string{`<th scope="row">` + f.cohort + `</th><td class="num">1</td><td class="num heat-10">100 %<span class="sub"> (1)</span></td>`,
			`<td class="num heat-0">0 %<span class="sub"> (0)</span></td>`, `<td class="num">500.00 EUR</td>`, `>` + f.cohort + `</text>`, `>500</text>`,
			`<input id="tz" name="tz" type="text" value="UTC"`} {
			require.Contains(t, body, want)
		}
		body = admin("cohorts" + f.period + "&tz=Pacific/Kiritimati")
		require.Contains(t, body, `value="Pacific/Kiritimati"`)
		require.Contains(t, body, `tz=Pacific%2FKiritimati`, "the navigation keeps the time zone")
		status, _ = f.get(t, "cohorts"+f.period+"&tz=Mars/Olympus", "acme", "", "")
		require.Equal(t, http.StatusUnprocessableEntity, status)

		body = admin("campaigns" + f.period)
		for _, want := range []string{`<th scope="row">Sale &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</th><td>sent</td><td class="num">2</td><td class="num">2</td><td class="num">1</td><td class="num">1</td><td class="num">50 %</td>`,
			`>Sale &lt;script&gt;alert("x")&lt;/script&gt;</text>`, `<dt>Overdue (now)</dt><dd>1</dd>`, `>Overdue now</text>`,
			`<title id="service-chart-title">Tickets</title>`} {
			require.Contains(t, body, want)
		}

		body = admin("contacts/" + f.ada.ID.String())
		for _, want := range []string{`<h1>Ada Lovelace</h1>`, `<dd>ada@example.com</dd>`, `<dd>&#43;44 20 7946 0018</dd>`, `Analytical Engines (engines.example)`,
			`<th scope="row">Difference engine</th><td>Sales</td><td>Proposal</td><td>open</td><td class="num">12,000.00 EUR</td>`,
			`<th scope="row">Analytical engine</th><td>Sales</td><td>Won</td><td>won</td>`,
			`<td>The mill jams</td><td>new</td><td>high</td><td><strong>breached</strong></td>`, `<th scope="row">newsletter</th><td>email</td><td>granted</td><td>form</td>`,
			`<span class="kind">note</span> Asked about the engine&#39;s mill`, `<span class="kind">purchase</span> order order-2: 250.00 EUR`,
			`<span class="kind">event</span> contact.created`, `<a href="../pipeline">Pipeline</a>`} {
			require.Contains(t, body, want)
		}
		body = admin("contacts/" + f.evil.ID.String())
		require.Contains(t, body, `<h1>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Mallory</h1>`)
		require.Contains(t, body, `<title>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Mallory · crmkit</title>`)

		// Record access is the services'.
		for _, page := range []string{"", "funnel", "cohorts", "campaigns"} {
			status, body := f.get(t, page+f.period, "acme", "rep-1", "sales")
			require.Equal(t, http.StatusForbidden, status, "%s: sales has no analytics", page)
			require.Contains(t, body, "<h1>Not allowed</h1>")
		}
		status, _ = f.get(t, "pipeline"+f.period, "acme", "rep-1", "sales")
		require.Equal(t, http.StatusOK, status, "sales reads the pipeline")
		status, body = f.get(t, "contacts/"+f.ada.ID.String(), "acme", "rep-1", "sales")
		require.Equal(t, http.StatusNotFound, status, "a sales rep sees their own contacts only")
		require.NotContains(t, body, "Lovelace")
		status, body = f.get(t, "contacts/"+f.ada.ID.String(), "acme", "mark-1", "marketing")
		require.Equal(t, http.StatusOK, status, body)
		require.Contains(t, body, "<h1>Ada Lovelace</h1>")
		require.NotContains(t, body, "ada@example.com", "marketing sees no personal data")
		require.NotContains(t, body, "7946")
		require.Contains(t, body, "Your roles do not let you see deals.")
		require.Contains(t, body, "Your roles do not let you see tickets.")
		require.Contains(t, body, `<td>granted</td>`, "marketing reads consent")
		status, body = f.get(t, "contacts/"+f.ada.ID.String(), "globex", "", "")
		require.Equal(t, http.StatusNotFound, status)
		require.NotContains(t, body, "Lovelace")

		// Requests the pages refuse.
		status, _ = f.get(t, "", "", "", "")
		require.Equal(t, http.StatusUnauthorized, status)
		status, body = f.get(t, "?from=yesterday&to=2026-13-01", "acme", "", "")
		require.Equal(t, http.StatusUnprocessableEntity, status)
		require.Contains(t, body, "<li>from: is not a day (YYYY-MM-DD)</li>")
		require.Contains(t, body, "<li>to: is not a day (YYYY-MM-DD)</li>")
		status, body = f.get(t, "funnel?from=2026-03-01&to=2026-03-01", "acme", "", "")
		require.Equal(t, http.StatusUnprocessableEntity, status)
		require.Contains(t, body, "to: must be after from")
		status, _ = f.get(t, "campaigns?from=2020-01-01&to=2026-01-01", "acme", "", "")
		require.Equal(t, http.StatusUnprocessableEntity, status, "at most three years")
		status, _ = f.get(t, "contacts/not-an-id", "acme", "", "")
		require.Equal(t, http.StatusNotFound, status)
		status, _ = f.get(t, "contacts/"+f.ada.ID.String()+"?cursor=forged", "acme", "", "")
		require.Equal(t, http.StatusUnprocessableEntity, status)
		status, _ = f.get(t, "nowhere", "acme", "", "")
		require.Equal(t, http.StatusNotFound, status)
		// Without a period, each page takes its default.
		status, _ = f.get(t, "cohorts", "acme", "", "")
		require.Equal(t, http.StatusOK, status)
		res, err := f.srv.Client().Get(f.srv.URL + "/crm/dashboard")
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusUnauthorized, res.StatusCode, "redirected (relative to the mount) to the overview, which needs a login")
		require.Equal(t, "/crm/dashboard/", res.Request.URL.Path)
	})
}
