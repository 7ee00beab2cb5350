package crmtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertest"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/automation"
	"github.com/crmkit/crmkit/campaigns"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/mailtest"
	"github.com/crmkit/crmkit/tickets"
)

// The package's PostgreSQL path is the one hosts use, its environment
// variable; the project's tests name their database in
// CRM_TEST_POSTGRES_DSN.
func TestMain(m *testing.M) {
	if dsn := os.Getenv("CRM_TEST_POSTGRES_DSN"); dsn != "" && os.Getenv(crmtest.EnvPostgres) == "" {
		os.Setenv(crmtest.EnvPostgres, dsn)
	}
	os.Exit(m.Run())
}

// each runs fn as subtests "sqlite" and "postgres"; open makes a CRM of
// the subtest's database (PostgreSQL through crmtest.EnvPostgres).
func each(t *testing.T, fn func(t *testing.T, open func(opts ...crmtest.Option) *crmtest.CRM)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		fn(t, func(opts ...crmtest.Option) *crmtest.CRM {
			return crmtest.New(t, append(opts, crmtest.WithSQLite())...)
		})
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		requirePostgres(t)
		fn(t, func(opts ...crmtest.Option) *crmtest.CRM { return crmtest.New(t, opts...) })
	})
}

func requirePostgres(t testing.TB) {
	t.Helper()
	if os.Getenv(crmtest.EnvPostgres) == "" {
		if os.Getenv("CRM_TEST_REQUIRE_POSTGRES") != "" {
			t.Fatalf("%s is not set but CRM_TEST_REQUIRE_POSTGRES is", crmtest.EnvPostgres)
		}
		t.Skipf("PostgreSQL tests skipped: set %s (or CRM_TEST_POSTGRES_DSN)", crmtest.EnvPostgres)
	}
}

var monday = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

func kinds(jobs []crmtest.Job) []string {
	out := []string{}
	for _, j := range jobs {
		out = append(out, j.Kind)
	}
	return out
}

func tagsOf(t *testing.T, c *crm.CRM, id core.ID) []string {
	t.Helper()
	ct, err := c.Contacts.Get(context.Background(), id)
	require.NoError(t, err)
	return ct.Tags
}

// A rule that waits two days goes on only when the clock has passed the
// wait and RunDue is called: not at 47 hours, at 48.
func TestWaitRunsWhenTheClockPassesIt(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, open func(...crmtest.Option) *crmtest.CRM) {
		ctx := context.Background()
		c := open(crmtest.WithTime(monday))
		acme := c.Tenant("acme")
		_, err := acme.Automation.Rules.Create(ctx, automation.Rule{Name: "Welcome", Enabled: true, Triggers: []string{contacts.EventContactCreated},
			Actions: []automation.Action{
				{Type: automation.ActionAddTag, Tag: "greeted"},
				{Type: automation.ActionWait, For: "2d"},
				{Type: automation.ActionAddTag, Tag: "welcomed"},
			}})
		require.NoError(t, err)
		ada, err := acme.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
		require.NoError(t, err)
		require.Empty(t, tagsOf(t, acme, ada.ID), "nothing runs before RunDue")

		ran, err := c.RunDue(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"crm.dispatch"}, kinds(ran))
		require.Equal(t, "acme", ran[0].Tenant)
		require.Equal(t, rivertype.JobStateCompleted, ran[0].State)
		require.Equal(t, []string{"greeted"}, tagsOf(t, acme, ada.ID))

		queued, err := c.Queued(ctx)
		require.NoError(t, err)
		require.Len(t, queued, 1)
		require.Equal(t, "crm.run", queued[0].Kind)
		require.Equal(t, "acme", queued[0].Tenant)
		require.True(t, queued[0].At.Equal(monday.Add(48*time.Hour)), "due at %s", queued[0].At)

		// Nothing more is due now, nor an hour before the wait ends.
		ran, err = c.RunDue(ctx)
		require.NoError(t, err)
		require.Empty(t, ran)
		require.Equal(t, monday.Add(47*time.Hour), c.Clock().Advance(47*time.Hour))
		ran, err = c.RunDue(ctx)
		require.NoError(t, err)
		require.Empty(t, ran, "the wait is not over")
		require.Equal(t, []string{"greeted"}, tagsOf(t, acme, ada.ID))

		c.Clock().Advance(time.Hour)
		ran, err = c.RunDue(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"crm.run"}, kinds(ran))
		require.Equal(t, []string{"greeted", "welcomed"}, tagsOf(t, acme, ada.ID))
		runs, err := acme.Automation.Runs.List(ctx, automation.RunQuery{})
		require.NoError(t, err)
		require.Len(t, runs, 1)
		require.Equal(t, automation.RunDone, runs[0].Status)
		queued, err = c.Queued(ctx)
		require.NoError(t, err)
		require.Empty(t, queued)
	})
}

// receiver is an httptest server standing for a host's webhook endpoint:
// it verifies each delivery's signature and answers with status().
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	status   int
	received []delivery
}

type delivery struct {
	Type     string
	Verified error
	Body     map[string]any
}

func newReceiver(t *testing.T, secret string) *receiver {
	r := &receiver{status: http.StatusOK}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		d := delivery{Type: req.Header.Get(automation.EventTypeHeader),
			Verified: automation.VerifySignature(secret, req.Header.Get(automation.SignatureHeader), body, time.Now(), time.Minute)}
		_ = json.Unmarshal(body, &d.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.received = append(r.received, d)
		w.WriteHeader(r.status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) answer(status int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status = status
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.received...)
}

const secret = "a-webhook-secret-of-the-host"

// A webhook subscribed to an event reaches the test's httptest server,
// signed, when RunDue runs the event's jobs; no worker runs, nothing is
// waited for.
func TestWebhookDeliveredByRunDue(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, open func(...crmtest.Option) *crmtest.CRM) {
		ctx := context.Background()
		rc := newReceiver(t, secret)
		c := open()
		hook, err := c.Automation.Webhooks.Create(ctx, automation.WebhookInput{URL: rc.URL, EventTypes: []string{contacts.EventContactCreated}, Secret: secret})
		require.NoError(t, err)
		ada, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
		require.NoError(t, err)
		require.Empty(t, rc.deliveries())

		ran, err := c.RunDue(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"crm.dispatch", "crm.webhook"}, kinds(ran))
		got := rc.deliveries()
		require.Len(t, got, 1)
		require.NoError(t, got[0].Verified)
		require.Equal(t, contacts.EventContactCreated, got[0].Type)
		require.Equal(t, ada.ID.String(), got[0].Body["event"].(map[string]any)["subject_id"])
		ds, err := c.Automation.Webhooks.Deliveries(ctx, hook.ID, 0)
		require.NoError(t, err)
		require.Len(t, ds, 1)
		require.Equal(t, "delivered", ds[0].Status)

		ran, err = c.RunDue(ctx)
		require.NoError(t, err)
		require.Empty(t, ran, "delivered once")
		require.Len(t, rc.deliveries(), 1)
	})
}

// A job that fails is reported in RunDue's error, with its kind, tenant
// and error, while the other due jobs still run; it is retried when the
// clock has passed its next attempt, as by the workers.
func TestFailingJobIsReportedAndRetriedByTheClock(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, open func(...crmtest.Option) *crmtest.CRM) {
		ctx := context.Background()
		down := newReceiver(t, secret)
		down.answer(http.StatusInternalServerError)
		up := newReceiver(t, secret)
		c := open(crmtest.WithConfig(crm.Config{Automation: automation.Options{Webhooks: automation.WebhookOptions{RetryBase: time.Minute}}}))
		for _, r := range []*receiver{down, up} {
			_, err := c.Automation.Webhooks.Create(ctx, automation.WebhookInput{URL: r.URL, EventTypes: []string{contacts.EventContactCreated}, Secret: secret})
			require.NoError(t, err)
		}
		_, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
		require.NoError(t, err)

		ran, err := c.RunDue(ctx)
		require.Error(t, err)
		require.Equal(t, []string{"crm.dispatch", "crm.webhook", "crm.webhook"}, kinds(ran))
		var je *crmtest.JobError
		require.True(t, errors.As(err, &je), "%v", err)
		require.Equal(t, "crm.webhook", je.Job.Kind)
		require.Equal(t, crm.DefaultTenant, je.Job.Tenant)
		require.Equal(t, 1, je.Job.Attempt)
		require.True(t, je.Job.Failed())
		require.Equal(t, rivertype.JobStateRetryable, je.Job.State)
		require.ErrorContains(t, err, "500")
		require.Len(t, up.deliveries(), 1, "the other delivery ran all the same")
		require.Len(t, down.deliveries(), 1)

		// The retry waits for the clock: RetryBase after the failure.
		queued, err := c.Queued(ctx)
		require.NoError(t, err)
		require.Len(t, queued, 1)
		require.True(t, queued[0].At.Equal(c.Clock().Now().Add(time.Minute)), "retry at %s", queued[0].At)
		ran, err = c.RunDue(ctx)
		require.NoError(t, err)
		require.Empty(t, ran)

		down.answer(http.StatusNoContent)
		c.Clock().Advance(time.Minute)
		ran, err = c.RunDue(ctx)
		require.NoError(t, err)
		require.Len(t, ran, 1)
		require.Equal(t, 2, ran[0].Attempt)
		require.False(t, ran[0].Failed())
		require.Len(t, down.deliveries(), 2)
	})
}

// A host action that asks to be retried (automation.ErrRetryLater) fails
// the rule's job: RunDue's error wraps the action's, and a panicking
// action is reported rather than crashing the test.
func TestHostActionErrorsReachRunDue(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, open func(...crmtest.Option) *crmtest.CRM) {
		ctx := context.Background()
		c := open()
		errMailDown := errors.New("mail server down")
		require.NoError(t, c.RegisterAction("send_mail", func(ctx context.Context, tx *crm.CRM, call automation.Call) (any, error) {
			return nil, fmt.Errorf("%w: %w", automation.ErrRetryLater, errMailDown)
		}, nil))
		require.NoError(t, c.RegisterAction("explode", func(ctx context.Context, tx *crm.CRM, call automation.Call) (any, error) {
			panic("boom")
		}, nil))
		for action, trigger := range map[string]string{"send_mail": contacts.EventContactCreated, "explode": contacts.EventCompanyCreated} {
			_, err := c.Automation.Rules.Create(ctx, automation.Rule{Name: action, Enabled: true, Triggers: []string{trigger},
				Actions: []automation.Action{{Type: action}}})
			require.NoError(t, err)
		}
		_, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
		require.NoError(t, err)
		_, err = c.Companies.Create(ctx, contacts.NewCompany{Name: "Acme"})
		require.NoError(t, err)

		ran, err := c.RunDue(ctx)
		require.Error(t, err)
		require.Len(t, ran, 2)
		require.ErrorIs(t, err, automation.ErrRetryLater)
		require.ErrorContains(t, err, "mail server down")
		require.ErrorContains(t, err, "boom")
		var panicked *rivertest.PanicError
		require.True(t, errors.As(err, &panicked), "the panic is reported as rivertest reports it")
		for _, j := range ran {
			require.True(t, j.Failed(), "%+v", j)
		}
	})
}

// An SLA timer, a module's job (tickets.sla_check), comes due with the
// clock: the warning and the breach of a ticket's first response are
// emitted by RunDue once the clock has passed them, not before.
func TestSLATimerRunsWhenDue(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, open func(...crmtest.Option) *crmtest.CRM) {
		ctx := context.Background()
		c := open(crmtest.WithTime(monday)) // 08:00, before the office opens
		cal, err := c.Calendars.Create(ctx, tickets.NewCalendar{Name: "Office", TimeZone: "UTC",
			Windows: []tickets.Window{{Weekday: time.Monday, Start: "09:00", End: "17:00"}}})
		require.NoError(t, err)
		_, err = c.SLAPolicies.Create(ctx, tickets.NewPolicy{Name: "all", CalendarID: cal.ID, FirstResponseMinutes: 60, WarningMinutes: 15})
		require.NoError(t, err)
		ada, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
		require.NoError(t, err)
		tk, err := c.Tickets.Create(ctx, tickets.NewTicket{Subject: "Portal down", ContactID: ada.ID})
		require.NoError(t, err)

		queued, err := c.Queued(ctx)
		require.NoError(t, err)
		require.Len(t, queued, 1)
		require.Equal(t, "tickets.sla_check", queued[0].Kind)
		require.True(t, queued[0].At.Equal(monday.Add(105*time.Minute)), "warning at 09:45, is %s", queued[0].At)

		alerts := func() []string {
			evs, err := c.Events(ctx, crm.EventQuery{SubjectID: tk.ID, Types: []string{tickets.EventTicketSLAWarning, tickets.EventTicketSLABreached}})
			require.NoError(t, err)
			var out []string
			for _, ev := range evs {
				out = append(out, ev.Type)
			}
			return out
		}
		c.Clock().Set(monday.Add(104 * time.Minute))
		_, err = c.RunDue(ctx)
		require.NoError(t, err)
		require.Empty(t, alerts())

		c.Clock().Set(monday.Add(2 * time.Hour)) // 10:00: both are due
		ran, err := c.RunDue(ctx)
		require.NoError(t, err)
		require.Contains(t, kinds(ran), "tickets.sla_check")
		require.Equal(t, []string{tickets.EventTicketSLAWarning, tickets.EventTicketSLABreached}, alerts())
	})
}

// A campaign is sent by RunDue to a real SMTP server, to the contacts
// with consent: its jobs (prepare, batches) run one after the other in
// the test's goroutine, with nothing to poll for.
func TestCampaignSentByRunDue(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, open func(...crmtest.Option) *crmtest.CRM) {
		ctx := context.Background()
		srv := mailtest.Start(t)
		c := open(crmtest.WithConfig(crm.Config{Campaigns: campaigns.Options{
			Mailer:         &campaigns.SMTP{Host: srv.Host, Port: srv.Port, TLS: "none", Timeout: 5 * time.Second},
			UnsubscribeURL: "https://shop.example/unsubscribe", BatchSize: 2,
		}}))
		_, err := c.Consent.DefinePurpose(ctx, consent.NewPurpose{Key: "newsletter", Label: "Newsletter", LegalBasis: consent.BasisConsent,
			Channels: []consent.Channel{consent.Email}, Wording: "Send me the newsletter"})
		require.NoError(t, err)
		for i := range 5 {
			ct, err := c.Contacts.Create(ctx, contacts.NewContact{Email: fmt.Sprintf("reader%d@example.com", i), Tags: []string{"news"}})
			require.NoError(t, err)
			if i < 3 {
				_, err = c.Consent.Grant(ctx, ct.ID, "newsletter", consent.Email, consent.Proof{Source: "form"})
				require.NoError(t, err)
			}
		}
		seg, err := c.Segments.Create(ctx, campaigns.NewSegment{Name: "News", Filter: filter.Contains("tags", "news")})
		require.NoError(t, err)
		tmpl, err := c.Templates.Create(ctx, campaigns.NewTemplate{Name: "Issue 1", Subject: "News",
			HTML: `<p>Hello</p><p><a href="{{.UnsubscribeURL}}">Unsubscribe</a></p>`})
		require.NoError(t, err)
		camp, err := c.Campaigns.Create(ctx, campaigns.NewCampaign{Name: "Issue 1", SegmentID: seg.ID, TemplateID: tmpl.ID,
			Purpose: "newsletter", FromName: "Shop", FromAddress: "news@shop.example"})
		require.NoError(t, err)
		camp, err = c.Campaigns.Start(ctx, camp.ID, camp.Version)
		require.NoError(t, err)
		require.Empty(t, srv.Messages())

		ran, err := c.RunDue(ctx)
		require.NoError(t, err)
		require.Contains(t, kinds(ran), "campaigns.prepare")
		require.Contains(t, kinds(ran), "campaigns.send_batch")
		camp, err = c.Campaigns.Get(ctx, camp.ID)
		require.NoError(t, err)
		require.Equal(t, campaigns.StatusSent, camp.Status)
		require.Len(t, srv.Messages(), 3, "those with consent, once each")
	})
}

// CRMs of parallel tests do not share anything: the same email in each,
// each its own clock, and RunDue runs only its own CRM's jobs.
func TestParallelCRMsDoNotInterfere(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, open func(...crmtest.Option) *crmtest.CRM) {
		for i := range 4 {
			t.Run(fmt.Sprintf("crm%d", i), func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				start := monday.Add(time.Duration(i) * time.Hour)
				c := open(crmtest.WithTime(start))
				_, err := c.Automation.Rules.Create(ctx, automation.Rule{Name: "Tag", Enabled: true, Triggers: []string{contacts.EventContactCreated},
					Actions: []automation.Action{{Type: automation.ActionWait, For: "1h"}, {Type: automation.ActionAddTag, Tag: fmt.Sprintf("crm%d", i)}}})
				require.NoError(t, err)
				ada, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
				require.NoError(t, err, "the same email in every CRM")
				for range i { // more contacts in some CRMs than in others
					_, err := c.Contacts.Create(ctx, contacts.NewContact{FirstName: "Ben"})
					require.NoError(t, err)
				}
				ran, err := c.RunDue(ctx)
				require.NoError(t, err)
				require.Len(t, ran, i+1, "one dispatch per contact of this CRM")
				require.Equal(t, start, c.Clock().Now())
				c.Clock().Advance(time.Hour)
				ran, err = c.RunDue(ctx)
				require.NoError(t, err)
				require.Len(t, ran, i+1)
				require.Equal(t, []string{fmt.Sprintf("crm%d", i)}, tagsOf(t, c.CRM, ada.ID))
				n, err := c.Contacts.Count(ctx, filter.Expr{})
				require.NoError(t, err)
				require.EqualValues(t, i+1, n)
			})
		}
	})
}

// On PostgreSQL every CRM has a migrated schema of its own while its test
// runs, from a pool; when the test ends the schema is emptied for a later
// test (or dropped), so nothing of the test stays.
func TestPostgresSchemaEmptiedAtCleanup(t *testing.T) {
	t.Parallel()
	requirePostgres(t)
	ctx := context.Background()
	current := func(c *crmtest.CRM) string {
		var schema string
		require.NoError(t, c.DB().QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema))
		return schema
	}
	var schema string
	t.Run("test", func(t *testing.T) {
		c := crmtest.New(t)
		schema = current(c)
		_, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
		require.NoError(t, err)
		require.NotEqual(t, schema, current(crmtest.New(t)), "two CRMs at once, two schemas")
	})
	other := crmtest.New(t)
	var n int
	err := other.DB().QueryRowContext(ctx, "SELECT count(*) FROM "+schema+".crm_contacts").Scan(&n)
	if err == nil {
		require.Zero(t, n, "schema %s emptied", schema)
	}
	n, err = func() (int, error) {
		c, err := other.Contacts.Count(ctx, filter.Expr{})
		return int(c), err
	}()
	require.NoError(t, err)
	require.Zero(t, n, "a new CRM starts empty")
}

// The clock stands still between moves; Advance and Set move it, in UTC,
// at crmkit's storage precision.
func TestClock(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	c := crmtest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 1500, berlin))
	want := time.Date(2026, 3, 2, 8, 0, 0, 1000, time.UTC)
	require.Equal(t, want, c.Now())
	require.Equal(t, want, c.Now(), "still")
	require.Equal(t, want.Add(48*time.Hour), c.Advance(48*time.Hour))
	c.Set(want.Add(-time.Hour))
	require.Equal(t, want.Add(-time.Hour), c.Now())
	require.Equal(t, time.UTC, c.Now().Location())

	now := time.Now()
	got := crmtest.New(t, crmtest.WithSQLite()).Clock().Now()
	require.WithinDuration(t, now, got, 2*time.Second, "starts at the wall-clock time by default")
	require.Zero(t, got.Nanosecond())
}
