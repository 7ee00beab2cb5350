package crmhttp_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
)

// chromiumPath is Debian's Chromium, which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

// startChromium starts one headless Chromium for a test, with a fresh
// profile and without the background connections a closed network
// refuses. Without Chromium the test is skipped, except where the suite
// must run in full (CRM_TEST_REQUIRE_POSTGRES, set by CI): there it
// fails.
func startChromium(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CRM_TEST_REQUIRE_POSTGRES") != "" {
			t.Fatalf("%s is missing: .ci/run installs it (apt-get install chromium)", chromiumPath)
		}
		t.Skipf("%s is missing (apt-get install chromium)", chromiumPath)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	// Start it now, so that a browser that cannot start fails here.
	require.NoError(t, chromedp.Do(browser))
	return browser
}

// pageProblems collects what a page reported to its console: uncaught
// exceptions, console errors and warnings, and the browser's log entries
// of those levels (a refused stylesheet or resource, a CSP violation).
type pageProblems struct {
	mu   sync.Mutex
	list []string
}

func (p *pageProblems) listen(ev any) {
	var s string
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		s = "exception: " + ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			s += " " + ev.ExceptionDetails.Exception.Description
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning ||
			ev.Type == runtime.ConsoleAPICalledTypeAssert {
			s = fmt.Sprintf("console.%s: %d arguments", ev.Type, len(ev.Args))
		}
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning {
			s = fmt.Sprintf("log %s (%s): %s %s", ev.Entry.Level, ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
		}
	}
	if s != "" {
		p.mu.Lock()
		p.list = append(p.list, s)
		p.mu.Unlock()
	}
}

func (p *pageProblems) get() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.list...)
}

// a11yJS lists what the page's markup gets wrong for assistive
// technology: headings that skip a level, tables without a caption or
// with header cells without scope, charts without role img and a title,
// form fields without a label, missing landmarks.
const a11yJS = `(() => {
	const out = [];
	let last = 0;
	for (const h of document.querySelectorAll('h1, h2, h3, h4, h5, h6')) {
		const level = Number(h.tagName[1]);
		if (level > last + 1) out.push('heading ' + h.tagName + ' after h' + last);
		last = level;
	}
	if (document.querySelectorAll('h1').length !== 1) out.push('not one h1');
	for (const t of document.querySelectorAll('table')) {
		if (!t.caption || !t.caption.textContent.trim()) out.push('a table without caption');
		for (const th of t.querySelectorAll('th')) if (!th.getAttribute('scope')) out.push('a th without scope');
	}
	for (const s of document.querySelectorAll('svg')) {
		const title = s.querySelector(':scope > title');
		if (s.getAttribute('role') !== 'img' || !title || !title.textContent.trim()) out.push('an svg without role img and title');
		for (const id of (s.getAttribute('aria-labelledby') || '').split(' ').filter(Boolean)) {
			if (!document.getElementById(id)) out.push('aria-labelledby names no element: ' + id);
		}
	}
	for (const i of document.querySelectorAll('input:not([type=hidden])')) {
		if (!i.labels || i.labels.length === 0) out.push('an input without label: ' + i.name);
	}
	for (const sel of ['main', 'nav', 'header', 'footer']) if (!document.querySelector(sel)) out.push('no ' + sel);
	if (!document.documentElement.lang) out.push('no lang');
	return out;
})()`

// The dashboard in a real browser, on both databases: every page loads
// with status 200, without console errors or exceptions (the pages have
// no script and a CSP that allows none), passes the markup checks above,
// and its SVG charts carry their title and the numbers seeded through the
// Go API (read from the DOM). A screenshot of each page is written under
// the test's temporary directory (and into CRM_TEST_SCREENSHOTS when set).
func TestDashboardInChromium(t *testing.T) {
	t.Parallel()
	browser := startChromium(t)
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		f := seedDashboard(t, db)
		ctx, cancel := chromedp.NewContext(browser) // a tab of its own
		defer cancel()
		ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
		defer cancelTimeout()
		problems := &pageProblems{}
		require.NoError(t, chromedp.Listen(ctx, problems.listen))
		require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)))
		_, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"X-Tenant": "acme"}})
		require.NoError(t, err)
		dir := t.TempDir()
		db2 := filepath.Base(t.Name())

		for _, pg := range []struct {
			name, path, h1 string
			charts         []string // the titles of the page's charts
			texts          []string // texts the charts show
			body           []string // texts the page shows
		}{
			{name: "overview", path: "" + f.period, h1: "Overview", charts: []string{"The period in numbers"},
				texts: []string{"New contacts", "Deals won", "Emails sent", "Tickets solved", "3", "2", "1"},
				body:  []string{"15,000.00 EUR", "5,000.00 EUR", "50 %"}},
			{name: "pipeline", path: "pipeline" + f.period, h1: "Pipeline: Sales", charts: []string{"Open deals per stage: Sales", "Forecast in EUR"},
				texts: []string{"Proposal (1)", "Qualification (1)", "12,000", "3,000", "Weighted", "6,300", "15,000", "5,000"},
				body:  []string{"12,000.00 EUR", "Negotiation"}},
			{name: "funnel", path: "funnel" + f.period, h1: "Funnel and win rate", charts: []string{"Lifecycle funnel", "Win rate per pipeline"},
				texts: []string{"lead", "customer", "Entered", "Moved on", "3", "50 %", "Sales"},
				body:  []string{"33.3 %"}},
			{name: "cohorts", path: "cohorts" + f.period, h1: "Cohorts", charts: []string{"Revenue per cohort"},
				texts: []string{f.cohort, "500"},
				body:  []string{"100 % (1)", "500.00 EUR"}},
			{name: "campaigns", path: "campaigns" + f.period, h1: "Campaigns and service", charts: []string{"Campaigns: sent, opened, clicked", "Tickets"},
				texts: []string{"Sale " + hostile, "Sent", "Opened", "Clicked", "2", "Open now", "Overdue now", "Solved in the period"},
				body:  []string{"Sale " + hostile}},
			{name: "contact", path: "contacts/" + f.ada.ID.String(), h1: "Ada Lovelace",
				body: []string{"ada@example.com", "Analytical Engines", "Difference engine", "12,000.00 EUR", "The mill jams", "breached", "granted",
					"Asked about the engine's mill", "order order-1"}},
			{name: "hostile", path: "contacts/" + f.evil.ID.String(), h1: hostile + " Mallory"},
		} {
			before := len(problems.get())
			res, err := chromedp.Run(ctx, chromedp.NavigateResponse(f.srv.URL+"/crm/dashboard/"+pg.path))
			require.NoError(t, err, pg.name)
			require.EqualValues(t, 200, res.Status, pg.name)
			h1, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS("h1")))
			require.NoError(t, err, pg.name)
			require.Equal(t, pg.h1, h1, "%s: the heading, as text", pg.name)

			titles, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
				`Array.from(document.querySelectorAll('svg.chart[role=img] > title'), t => t.textContent)`))
			require.NoError(t, err, pg.name)
			require.Equal(t, pg.charts, nilIfEmpty(titles), "%s: the charts", pg.name)
			texts, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
				`Array.from(document.querySelectorAll('svg.chart text'), t => t.textContent)`))
			require.NoError(t, err, pg.name)
			for _, want := range pg.texts {
				require.Contains(t, texts, want, "%s: the charts show %q", pg.name, want)
			}
			body, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('main').innerText`))
			require.NoError(t, err, pg.name)
			for _, want := range pg.body {
				require.Contains(t, body, want, pg.name)
			}
			a11y, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](a11yJS))
			require.NoError(t, err, pg.name)
			require.Empty(t, a11y, pg.name)
			scripts, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.scripts.length`))
			require.NoError(t, err)
			require.Zero(t, scripts, "%s: no script, the hostile names included", pg.name)

			png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			require.NoError(t, err, pg.name)
			path := filepath.Join(dir, db2+"-"+pg.name+".png")
			require.NoError(t, os.WriteFile(path, png, 0o644))
			t.Logf("%s: screenshot %s", pg.name, path)
			if out := os.Getenv("CRM_TEST_SCREENSHOTS"); out != "" {
				require.NoError(t, os.WriteFile(filepath.Join(out, db2+"-"+pg.name+".png"), png, 0o644))
			}
			require.Empty(t, problems.get()[before:], "%s: the console", pg.name)
		}

		// The period form: a browser submits it, and the page answers for
		// the period chosen.
		_, err = chromedp.Run(ctx, chromedp.NavigateResponse(f.srv.URL+"/crm/dashboard/pipeline"))
		require.NoError(t, err)
		require.NoError(t, chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("#from"), "2021-01-01"), chromedp.SetValue(chromedp.CSS("#to"), "2021-02-01")))
		res, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS("form.period button")))
		require.NoError(t, err)
		require.EqualValues(t, 200, res.Status)
		require.Contains(t, res.URL, "from=2021-01-01&to=2021-02-01&pipeline="+f.sales.ID.String())
		body, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('main').innerText`))
		require.NoError(t, err)
		require.True(t, strings.Contains(body, "No deal closed or expected to close in the period."), body)
		require.Empty(t, problems.get())
	})
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}
