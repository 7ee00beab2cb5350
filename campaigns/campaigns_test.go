package campaigns_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/automation"
	"github.com/crmkit/crmkit/campaigns"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/mailtest"
	"github.com/crmkit/crmkit/internal/modules"
)

// migrated is the template database of these tests (see dbtest.Template).
var migrated = &dbtest.Template{Name: "crm", Sources: modules.Migrations(), Migrate: func(ctx context.Context, db *bun.DB) error {
	c, err := crm.New(db, crm.Config{})
	if err != nil {
		return err
	}
	return c.Migrate(ctx)
}}

// fieldsOf lists the fields of a validation error.
func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	require.ErrorIs(t, err, core.ErrInvalid)
	var ve *core.ValidationError
	require.True(t, errors.As(err, &ve), "%v", err)
	var out []string
	for _, f := range ve.Fields {
		out = append(out, f.Field)
	}
	return out
}

func newCRM(t *testing.T, db *bun.DB, cfg crm.Config) *crm.CRM {
	t.Helper()
	c, err := crm.New(db, cfg)
	require.NoError(t, err)
	require.NoError(t, c.Migrate(context.Background()))
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	return c
}

// A template that does not parse, names a field a contact does not have,
// or fails to run is refused when it is saved, every problem listed.
func TestTemplatesAreCheckedWhenSaved(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := newCRM(t, db, crm.Config{})
		_, err := c.Fields.Define(ctx, fields.Definition{Entity: contacts.EntityContact, Key: "plan", Label: "Plan", Type: fields.Text})
		require.NoError(t, err)

		_, err = c.Templates.Create(ctx, campaigns.NewTemplate{Name: "", Subject: "Hi {{.Contact.FirstName", HTML: "<p>{{if}}</p>"})
		require.ElementsMatch(t, []string{"name", "subject", "html"}, fieldsOf(t, err))
		_, err = c.Templates.Create(ctx, campaigns.NewTemplate{Name: "x", Subject: "Hi {{.Contact.Nickname}}", HTML: "<p>x</p>"})
		require.Equal(t, []string{"subject"}, fieldsOf(t, err))
		_, err = c.Templates.Create(ctx, campaigns.NewTemplate{Name: "x", Subject: "Hi", HTML: "<p>{{.Contact.Attributes.colour}}</p>"})
		require.Equal(t, []string{"attributes"}, fieldsOf(t, err))
		_, err = c.Templates.Create(ctx, campaigns.NewTemplate{Name: "x", Subject: "Hi", HTML: "<p>x</p>", Text: "{{.Campaign.Budget}}"})
		require.Equal(t, []string{"text"}, fieldsOf(t, err))
		list, err := c.Templates.List(ctx)
		require.NoError(t, err)
		require.Empty(t, list)

		tmpl, err := c.Templates.Create(ctx, campaigns.NewTemplate{Name: "Welcome",
			Subject: "Welcome, {{.Contact.FirstName | default \"friend\"}}",
			HTML: `<html><head><style>p.lead { color: #123456 }</style></head><body>
				<p class="lead">Hello {{.Contact.FirstName | default "there"}}, your plan: {{.Contact.Attributes.plan | default "basic"}}.</p>
				<a href="{{.UnsubscribeURL}}">Unsubscribe</a></body></html>`})
		require.NoError(t, err)
		require.EqualValues(t, 1, tmpl.Version)

		// The preview of a contact: personalised, CSS inlined, a text part
		// made from the HTML; an empty value falls back.
		ada, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com", Attributes: map[string]any{"plan": "pro"}})
		require.NoError(t, err)
		out, err := c.Templates.Preview(ctx, tmpl.ID, ada.ID)
		require.NoError(t, err)
		require.Equal(t, "Welcome, friend", out.Subject)
		require.Contains(t, out.HTML, `style="color:#123456"`)
		require.Contains(t, out.HTML, "Hello there, your plan: pro.")
		require.Contains(t, out.Text, "Hello there, your plan: pro.")
		require.NotContains(t, out.Text, "<p")

		// A new version; the old one stays readable.
		subject := "Welcome aboard"
		v2, err := c.Templates.Update(ctx, tmpl.ID, campaigns.TemplatePatch{Version: 1, Subject: &subject})
		require.NoError(t, err)
		require.EqualValues(t, 2, v2.Version)
		_, err = c.Templates.Update(ctx, tmpl.ID, campaigns.TemplatePatch{Version: 1, Subject: &subject})
		require.ErrorIs(t, err, core.ErrConflict)
		old, err := c.Templates.Version(ctx, tmpl.ID, 1)
		require.NoError(t, err)
		require.Contains(t, old.Subject, "Welcome, ")

		// Another tenant sees none of it.
		_, err = c.Tenant("other").Templates.Get(ctx, tmpl.ID)
		require.ErrorIs(t, err, core.ErrNotFound)
	})
}

// A segment's filter is checked against the contact schema; it counts and
// pages its members in SQL.
func TestSegmentsCountAndPage(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := newCRM(t, db, crm.Config{})
		_, err := c.Segments.Create(ctx, campaigns.NewSegment{Name: "x", Filter: filter.Eq("shoe_size", 42)})
		require.Equal(t, []string{"filter.field"}, fieldsOf(t, err))

		for i, tag := range []string{"vip", "vip", "new", "vip"} {
			_, err := c.Contacts.Create(ctx, contacts.NewContact{Email: string(rune('a'+i)) + "@example.com", Tags: []string{tag}})
			require.NoError(t, err)
		}
		_, err = c.Contacts.Create(ctx, contacts.NewContact{FirstName: "No mail", Tags: []string{"vip"}})
		require.NoError(t, err)
		seg, err := c.Segments.Create(ctx, campaigns.NewSegment{Name: "VIPs", Filter: filter.Contains("tags", "vip")})
		require.NoError(t, err)
		n, err := c.Segments.Count(ctx, seg.ID)
		require.NoError(t, err)
		require.EqualValues(t, 3, n, "members have an email")
		first, err := c.Segments.Members(ctx, seg.ID, core.NilID, 2)
		require.NoError(t, err)
		require.Len(t, first, 2)
		rest, err := c.Segments.Members(ctx, seg.ID, first[1].ContactID, 2)
		require.NoError(t, err)
		require.Len(t, rest, 1)
		_, err = c.Segments.Create(ctx, campaigns.NewSegment{Name: "VIPs", Filter: filter.Contains("tags", "vip")})
		require.ErrorIs(t, err, core.ErrConflict)
		_, err = c.Tenant("other").Segments.Count(ctx, seg.ID)
		require.ErrorIs(t, err, core.ErrNotFound)
	})
}

// setup is a tenant ready to send: a purpose on consent, a segment, a
// template, and contacts in every consent state.
type setup struct {
	c        *crm.CRM
	seg      *campaigns.Segment
	tmpl     *campaigns.Template
	granted  []*contacts.Contact
	refusing []*contacts.Contact // not granted, withdrawn, suppressed, restricted
}

func newSetup(t *testing.T, c *crm.CRM, granted int) *setup {
	t.Helper()
	ctx := context.Background()
	s := &setup{c: c}
	_, err := c.Consent.DefinePurpose(ctx, consent.NewPurpose{Key: "newsletter", Label: "Newsletter", LegalBasis: consent.BasisConsent,
		Channels: []consent.Channel{consent.Email}, Wording: "Send me the newsletter"})
	require.NoError(t, err)
	proof := consent.Proof{Source: "form"}
	for i := range granted {
		ct, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "member" + string(rune('a'+i%26)) + strings.Repeat("x", i/26) + "@example.com",
			FirstName: []string{"Ada", ""}[i%2], Tags: []string{"news"}})
		require.NoError(t, err)
		_, err = c.Consent.Grant(ctx, ct.ID, "newsletter", consent.Email, proof)
		require.NoError(t, err)
		s.granted = append(s.granted, ct)
	}
	mk := func(email string) *contacts.Contact {
		ct, err := c.Contacts.Create(ctx, contacts.NewContact{Email: email, Tags: []string{"news"}})
		require.NoError(t, err)
		s.refusing = append(s.refusing, ct)
		return ct
	}
	mk("never@example.com")
	withdrawn := mk("withdrawn@example.com")
	_, err = c.Consent.Grant(ctx, withdrawn.ID, "newsletter", consent.Email, proof)
	require.NoError(t, err)
	_, err = c.Consent.Withdraw(ctx, withdrawn.ID, "newsletter", consent.Email, proof)
	require.NoError(t, err)
	suppressed := mk("suppressed@example.com")
	_, err = c.Consent.Grant(ctx, suppressed.ID, "newsletter", consent.Email, proof)
	require.NoError(t, err)
	require.NoError(t, c.Consent.Suppress(ctx, "suppressed@example.com", "", "complaint"))

	s.seg, err = c.Segments.Create(ctx, campaigns.NewSegment{Name: "News", Filter: filter.Contains("tags", "news")})
	require.NoError(t, err)
	s.tmpl, err = c.Templates.Create(ctx, campaigns.NewTemplate{Name: "Issue 1", Subject: "News for {{.Contact.FirstName | default \"you\"}}",
		HTML: `<p>Hello {{.Contact.FirstName | default "there"}}</p><p><a href="{{.UnsubscribeURL}}">Unsubscribe</a></p>`})
	require.NoError(t, err)
	return s
}

func (s *setup) campaign(t *testing.T) *campaigns.Campaign {
	t.Helper()
	camp, err := s.c.Campaigns.Create(context.Background(), campaigns.NewCampaign{Name: "Issue 1", SegmentID: s.seg.ID, TemplateID: s.tmpl.ID,
		Purpose: "newsletter", FromName: "Shop", FromAddress: "news@shop.example", ReplyTo: "help@shop.example"})
	require.NoError(t, err)
	return camp
}

func sendingConfig(srv *mailtest.Server) crm.Config {
	return crm.Config{Campaigns: campaigns.Options{
		Mailer:            &campaigns.SMTP{Host: srv.Host, Port: srv.Port, TLS: "none", Connections: 2, Timeout: 5 * time.Second},
		UnsubscribeURL:    "https://shop.example/crm/unsubscribe",
		UnsubscribeMailto: "unsubscribe@shop.example",
		ReturnPath:        "bounces@mail.shop.example",
		BatchSize:         3,
	}}
}

func waitFinished(t *testing.T, c *crm.CRM, id core.ID) *campaigns.Campaign {
	t.Helper()
	var camp *campaigns.Campaign
	require.Eventually(t, func() bool {
		var err error
		camp, err = c.Campaigns.Get(context.Background(), id)
		require.NoError(t, err)
		return camp.Status == campaigns.StatusSent
	}, 20*time.Second, 10*time.Millisecond)
	return camp
}

// Acceptance: a campaign goes to a real SMTP server; only recipients with
// consent get it, once each, personalised, with RFC 8058 headers, a
// Message-ID and a return path that names the recipient; the others are
// skipped with the reason.
func TestCampaignSendsOverSMTP(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		srv := mailtest.Start(t)
		c := newCRM(t, db, sendingConfig(srv))
		s := newSetup(t, c, 7)
		camp := s.campaign(t)
		require.NoError(t, c.Start(ctx))
		camp, err := c.Campaigns.Start(ctx, camp.ID, camp.Version)
		require.NoError(t, err)
		require.Equal(t, campaigns.StatusSending, camp.Status)
		require.EqualValues(t, s.tmpl.Version, camp.TemplateVersion)
		waitFinished(t, c, camp.ID)

		require.Len(t, srv.Messages(), len(s.granted))
		for _, ct := range s.granted {
			got := srv.To(ct.Email)
			require.Len(t, got, 1, "one copy each")
			m := got[0]
			require.True(t, strings.HasPrefix(m.From, "bounces+") && strings.HasSuffix(m.From, "@mail.shop.example"), m.From)
			p, err := m.Parse()
			require.NoError(t, err)
			subject, err := p.Header.Subject()
			require.NoError(t, err)
			name := ct.FirstName
			if name == "" {
				require.Equal(t, "News for you", subject)
				require.Contains(t, p.Text, "Hello there")
				name = "there"
			} else {
				require.Equal(t, "News for Ada", subject)
			}
			require.Contains(t, p.HTML, "Hello "+name)
			unsub := p.Header.Get("List-Unsubscribe")
			require.True(t, strings.HasPrefix(unsub, "<https://shop.example/crm/unsubscribe/"), unsub)
			require.Contains(t, unsub, "<mailto:unsubscribe@shop.example?subject=unsubscribe>")
			require.Equal(t, "List-Unsubscribe=One-Click", p.Header.Get("List-Unsubscribe-Post"))
			id, err := p.Header.MessageID()
			require.NoError(t, err)
			require.True(t, strings.HasSuffix(id, "@shop.example"), id)
			from, err := p.Header.AddressList("From")
			require.NoError(t, err)
			require.Equal(t, "news@shop.example", from[0].Address)
			require.Equal(t, "Shop", from[0].Name)

			// The link's token unsubscribes exactly this person.
			token := strings.TrimSuffix(strings.TrimPrefix(strings.Split(unsub, ",")[0], "<https://shop.example/crm/unsubscribe/"), ">")
			records, err := c.Consent.Unsubscribe(ctx, token, consent.Proof{Source: "one_click"})
			require.NoError(t, err)
			require.Len(t, records, 1)
			require.Equal(t, ct.ID, records[0].ContactID)
		}

		st, err := c.Campaigns.Stats(ctx, camp.ID)
		require.NoError(t, err)
		require.Equal(t, campaigns.Stats{Recipients: int64(len(s.granted) + 3), Sent: int64(len(s.granted)), Skipped: 3}, st)
		skipped, err := c.Campaigns.Recipients(ctx, camp.ID, campaigns.RecipientSkipped, core.NilID, 0)
		require.NoError(t, err)
		require.Len(t, skipped, 3)
		for _, r := range skipped {
			require.Contains(t, r.Reason, "no consent")
		}

		// The message is on the contact's timeline.
		evs, err := c.Events(ctx, crm.EventQuery{SubjectID: s.granted[0].ID, Types: []string{campaigns.EventEmailSent}})
		require.NoError(t, err)
		require.Len(t, evs, 1)
	})
}

// The server refuses one recipient for good (550) and another once
// (451): the first fails with its event, the second is sent on the
// job's retry; nobody gets two copies.
func TestCampaignRefusals(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		srv := mailtest.Start(t)
		c := newCRM(t, db, sendingConfig(srv))
		s := newSetup(t, c, 5)
		srv.Refuse(s.granted[1].Email, 550)
		srv.RefuseOnce(s.granted[3].Email, 451)
		camp := s.campaign(t)
		require.NoError(t, c.Start(ctx))
		_, err := c.Campaigns.Start(ctx, camp.ID, camp.Version)
		require.NoError(t, err)
		waitFinished(t, c, camp.ID)

		require.Empty(t, srv.To(s.granted[1].Email))
		require.Len(t, srv.To(s.granted[3].Email), 1)
		require.Len(t, srv.Messages(), 4)
		failed, err := c.Campaigns.Recipients(ctx, camp.ID, campaigns.RecipientFailed, core.NilID, 0)
		require.NoError(t, err)
		require.Len(t, failed, 1)
		require.Equal(t, s.granted[1].ID, *failed[0].ContactID)
		require.Contains(t, failed[0].Reason, "550")
		sent, err := c.Campaigns.Recipients(ctx, camp.ID, campaigns.RecipientSent, core.NilID, 0)
		require.NoError(t, err)
		for _, r := range sent {
			if *r.ContactID == s.granted[3].ID {
				require.EqualValues(t, 2, r.Attempts)
			}
		}
		evs, err := c.Events(ctx, crm.EventQuery{SubjectID: s.granted[1].ID, Types: []string{campaigns.EventEmailFailed}})
		require.NoError(t, err)
		require.Len(t, evs, 1)
	})
}

// A batch of three chunks: the server refuses a recipient of the last
// chunk once (451). What it accepted before — the chunks before, whose
// answers are recorded with the next chunk's marks, and the last chunk's
// others — is recorded before the job gives up, so its retry sends only
// the refused message: one copy each.
func TestATemporaryRefusalLateInABatch(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		srv := mailtest.Start(t)
		cfg := sendingConfig(srv)
		cfg.Campaigns.BatchSize = 500 // one batch, three chunks
		c := newCRM(t, db, cfg)
		s := newSetup(t, c, 120)
		last := s.granted[len(s.granted)-1] // in the last chunk (recipients go in contact id order)
		srv.RefuseOnce(last.Email, 451)
		camp := s.campaign(t)
		require.NoError(t, c.Start(ctx))
		_, err := c.Campaigns.Start(ctx, camp.ID, camp.Version)
		require.NoError(t, err)
		waitFinished(t, c, camp.ID)

		for _, ct := range s.granted {
			require.Equal(t, 1, len(srv.To(ct.Email)), "copies to %s", ct.Email)
		}
		st, err := c.Campaigns.Stats(ctx, camp.ID)
		require.NoError(t, err)
		require.EqualValues(t, 120, st.Sent)
		sent, err := c.Campaigns.Recipients(ctx, camp.ID, campaigns.RecipientSent, core.NilID, 0)
		require.NoError(t, err)
		for _, r := range sent {
			want := 1
			if *r.ContactID == last.ID {
				want = 2
			}
			require.EqualValues(t, want, r.Attempts, r.Email)
		}
	})
}

// A pause stops a batch between chunks with every answer of the server
// recorded (nobody is left "sending"); Resume sends the rest, one copy
// each.
func TestPauseBetweenChunks(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		srv := mailtest.Start(t)
		srv.Delay(10 * time.Millisecond)
		cfg := sendingConfig(srv)
		cfg.Campaigns.BatchSize = 500 // one batch, three chunks
		c := newCRM(t, db, cfg)
		s := newSetup(t, c, 120)
		camp := s.campaign(t)
		require.NoError(t, c.Start(ctx))
		camp, err := c.Campaigns.Start(ctx, camp.ID, camp.Version)
		require.NoError(t, err)
		require.Eventually(t, func() bool { return len(srv.Messages()) > 60 }, 20*time.Second, time.Millisecond) // in the second chunk
		camp, err = c.Campaigns.Pause(ctx, camp.ID, camp.Version)
		require.NoError(t, err)
		var st campaigns.Stats
		require.Eventually(t, func() bool {
			st, err = c.Campaigns.Stats(ctx, camp.ID)
			require.NoError(t, err)
			return st.Sending == 0 && st.Sent == int64(len(srv.Messages()))
		}, 20*time.Second, 10*time.Millisecond, "every accepted message recorded when the batch stopped")
		require.Less(t, st.Sent, int64(120), "paused before the end")
		// Resume queues nothing for a batch whose stopped job River still
		// counts as running (its unique key is taken): wait until River
		// has finished it. See "Pause and Resume" in the package docs.
		require.Eventually(t, func() bool {
			res, err := c.River().JobList(ctx, river.NewJobListParams().Kinds("crm.job").States(rivertype.JobStateRunning))
			require.NoError(t, err)
			return len(res.Jobs) == 0
		}, 20*time.Second, 10*time.Millisecond)

		_, err = c.Campaigns.Resume(ctx, camp.ID, camp.Version)
		require.NoError(t, err)
		waitFinished(t, c, camp.ID)
		for _, ct := range s.granted {
			require.Equal(t, 1, len(srv.To(ct.Email)), "copies to %s", ct.Email)
		}
	})
}

// Sending reads and writes a campaign's recipients through indexes that
// lead to them: no statement walks the recipients of the whole tenant
// (every campaign it ever sent) — SQLite chose the primary key
// (tenant_id, id) for a batch read ordered by id. PostgreSQL plans by
// its statistics, on tables this small by sequential scans: the check is
// SQLite's.
func TestSendingQueriesFindRecipientsByIndex(t *testing.T) {
	t.Parallel()
	db := migrated.SQLite(t)
	func() {
		ctx := context.Background()
		srv := mailtest.Start(t)
		cfg := sendingConfig(srv)
		var mu sync.Mutex
		seen := map[string]bool{}
		cfg.QueryHook = core.QueryHookFunc(func(_ context.Context, q core.QueryInfo) {
			if strings.Contains(q.SQL, "crm_campaign_recipients") {
				mu.Lock()
				seen[q.SQL] = true
				mu.Unlock()
			}
		})
		c := newCRM(t, db, cfg)
		s := newSetup(t, c, 7)
		camp := s.campaign(t)
		require.NoError(t, c.Start(ctx))
		_, err := c.Campaigns.Start(ctx, camp.ID, camp.Version)
		require.NoError(t, err)
		waitFinished(t, c, camp.ID)

		mu.Lock()
		defer mu.Unlock()
		require.NotEmpty(t, seen)
		for query := range seen {
			if strings.HasPrefix(query, "INSERT") {
				continue
			}
			rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, make([]any, strings.Count(query, "?"))...) // NULLs
			require.NoError(t, err, query)
			for rows.Next() {
				var id, parent, unused int
				var detail string
				require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
				require.False(t, strings.Contains(detail, "crm_campaign_recipients_1 (tenant_id=?)") || strings.HasPrefix(detail, "SCAN crm_campaign_recipients") ||
					strings.HasPrefix(detail, "SCAN r "), "%s\n%s", detail, query)
			}
			require.NoError(t, rows.Err())
			require.NoError(t, rows.Close())
		}
	}()
}

// Bad input is refused with every problem listed, and nothing is sent
// without a mailer.
func TestCampaignBadInput(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := newCRM(t, db, crm.Config{})
		s := newSetup(t, c, 1)
		_, err := c.Campaigns.Create(ctx, campaigns.NewCampaign{Name: "", SegmentID: core.NewID(), TemplateID: core.NewID(),
			Purpose: "", FromAddress: "not an address", ReplyTo: "Shop <x@y.z>"})
		require.ElementsMatch(t, []string{"name", "segment_id", "template_id", "purpose", "from_address", "reply_to"}, fieldsOf(t, err))
		_, err = c.Campaigns.Create(ctx, campaigns.NewCampaign{Name: "x", SegmentID: s.seg.ID, TemplateID: s.tmpl.ID,
			Purpose: "sms_offers", FromAddress: "news@shop.example"})
		require.Equal(t, []string{"purpose"}, fieldsOf(t, err))

		camp := s.campaign(t)
		_, err = c.Campaigns.Start(ctx, camp.ID, camp.Version)
		require.ElementsMatch(t, []string{"mailer", "unsubscribe_url"}, fieldsOf(t, err))
		got, err := c.Campaigns.Get(ctx, camp.ID)
		require.NoError(t, err)
		require.Equal(t, campaigns.StatusDraft, got.Status)

		// A foreign tenant's segment is not one of this tenant's.
		other := c.Tenant("other")
		_, err = other.Campaigns.Create(ctx, campaigns.NewCampaign{Name: "x", SegmentID: s.seg.ID, TemplateID: s.tmpl.ID,
			Purpose: "newsletter", FromAddress: "news@shop.example"})
		require.Subset(t, fieldsOf(t, err), []string{"segment_id", "template_id"})

		// A template in use cannot go.
		require.ErrorIs(t, c.Templates.Delete(ctx, s.tmpl.ID), core.ErrConflict)
		require.ErrorIs(t, c.Segments.Delete(ctx, s.seg.ID), core.ErrConflict)
	})
}

// movingClock is the wall clock plus an offset a test moves forward.
type movingClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *movingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset).UTC()
}

func (c *movingClock) Jump(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

var href = regexp.MustCompile(`(?:href|src)="([^"]+)"`)

// Links of the HTML go through signed tracking links that redirect to
// the URL the message held; the open pixel counts openings; programs
// (a scanner clicking at once, Apple's proxy loading images) are kept
// apart; an altered or foreign token is refused.
func TestTrackingLinks(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		srv := mailtest.Start(t)
		cfg := sendingConfig(srv)
		cfg.Campaigns.TrackingURL = "https://shop.example/crm/t"
		clock := &movingClock{}
		cfg.Clock = clock
		c := newCRM(t, db, cfg)
		s := newSetup(t, c, 2)
		s.tmpl.HTML = `<p>Hello</p><p><a href="https://shop.example/sale?utm_source=mail&amp;x=1">Sale</a> <a href="mailto:help@shop.example">Help</a></p>
			<p><a href="{{.UnsubscribeURL}}">Unsubscribe</a></p>`
		tmpl, err := c.Templates.Update(ctx, s.tmpl.ID, campaigns.TemplatePatch{Version: s.tmpl.Version, HTML: &s.tmpl.HTML})
		require.NoError(t, err)
		s.tmpl = tmpl
		camp := s.campaign(t)
		require.NoError(t, c.Start(ctx))
		_, err = c.Campaigns.Start(ctx, camp.ID, camp.Version)
		require.NoError(t, err)
		waitFinished(t, c, camp.ID)

		got := srv.To(s.granted[0].Email)
		require.Len(t, got, 1)
		p, err := got[0].Parse()
		require.NoError(t, err)
		var click, open string
		for _, m := range href.FindAllStringSubmatch(p.HTML, -1) {
			switch {
			case strings.HasPrefix(m[1], "https://shop.example/crm/t/c/"):
				click = strings.TrimPrefix(m[1], "https://shop.example/crm/t/c/")
			case strings.HasPrefix(m[1], "https://shop.example/crm/t/o/"):
				open = strings.TrimPrefix(m[1], "https://shop.example/crm/t/o/")
			}
		}
		require.NotEmpty(t, click, p.HTML)
		require.NotEmpty(t, open, p.HTML)
		require.Contains(t, p.HTML, `href="mailto:help@shop.example"`, "only http(s) links are tracked")
		require.Contains(t, p.HTML, `href="https://shop.example/crm/unsubscribe/`, "the unsubscribe link stays")
		require.NotContains(t, p.HTML, "utm_source", "the URL is inside the signed token")

		browser := campaigns.Visit{UserAgent: "Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15", IP: "203.0.113.9"}
		// At once after sending: a scanner.
		to, err := c.Campaigns.Click(ctx, click, browser)
		require.NoError(t, err)
		require.Equal(t, "https://shop.example/sale?utm_source=mail&x=1", to)
		clock.Jump(time.Minute)
		require.NoError(t, c.Campaigns.Open(ctx, open, campaigns.Visit{UserAgent: "Mozilla/5.0", IP: "17.58.1.2"}))
		st, err := c.Campaigns.Stats(ctx, camp.ID)
		require.NoError(t, err)
		require.Zero(t, st.Opened, "programs are not counted")

		to, err = c.Campaigns.Click(ctx, click, browser)
		require.NoError(t, err)
		require.Equal(t, "https://shop.example/sale?utm_source=mail&x=1", to)
		require.NoError(t, c.Campaigns.Open(ctx, open, browser))
		_, err = c.Campaigns.Click(ctx, click, campaigns.Visit{UserAgent: "python-requests/2.31"})
		require.NoError(t, err)
		st, err = c.Campaigns.Stats(ctx, camp.ID)
		require.NoError(t, err)
		require.EqualValues(t, 1, st.Opened)
		require.EqualValues(t, 1, st.Clicked)
		for typ, n := range map[string]int{campaigns.EventEmailClicked: 1, campaigns.EventEmailOpened: 1} {
			evs, err := c.Events(ctx, crm.EventQuery{SubjectID: s.granted[0].ID, Types: []string{typ}})
			require.NoError(t, err)
			require.Len(t, evs, n, typ)
		}

		// The person's export holds the message and what they did with it.
		export, err := c.Consent.Export(ctx, s.granted[0].ID)
		require.NoError(t, err)
		b, err := json.Marshal(export.Data["campaign_messages"])
		require.NoError(t, err)
		require.Equal(t, 1, strings.Count(string(b), `"state":"sent"`), string(b))
		require.Equal(t, 3, strings.Count(string(b), `"kind":"click"`), string(b))
		require.Contains(t, string(b), "utm_source=mail")

		// Altered, forged, mixed-up or foreign tokens are refused.
		payload, mac, _ := strings.Cut(click, ".")
		for _, bad := range []string{payload[:len(payload)-2] + "AA." + mac, payload + "." + mac[:len(mac)-2] + "AA", "x", "", open} {
			_, err := c.Campaigns.Click(ctx, bad, browser)
			require.ErrorIs(t, err, campaigns.ErrLinkInvalid, bad)
		}
		_, err = c.Tenant("other").Campaigns.Click(ctx, click, browser)
		require.ErrorIs(t, err, campaigns.ErrLinkInvalid)
		other, err := crm.New(db, crm.Config{Secret: []byte("another-secret-another-secret-another!!")})
		require.NoError(t, err)
		_, err = other.Campaigns.Click(ctx, click, browser)
		require.ErrorIs(t, err, campaigns.ErrLinkInvalid, "another key")
	})
}

func FuzzParseLink(f *testing.F) {
	keys := [][]byte{[]byte("fuzz-key-fuzz-key-fuzz-key-fuzz-key!")}
	f.Add("eyJ0IjoiYSJ9.AAAA")
	f.Add("")
	f.Add(".")
	f.Add(strings.Repeat("A", 5000))
	f.Fuzz(func(t *testing.T, token string) {
		tenant, r, kind, target, err := campaigns.ParseLink(keys, token)
		if err == nil {
			t.Fatalf("a token nobody signed verified: %q %s %s %q", tenant, r, kind, target)
		}
	})
}

// sendOnce runs one campaign of s to the end.
func (s *setup) sendOnce(t *testing.T) *campaigns.Campaign {
	t.Helper()
	camp := s.campaign(t)
	_, err := s.c.Campaigns.Start(context.Background(), camp.ID, camp.Version)
	require.NoError(t, err)
	return waitFinished(t, s.c, camp.ID)
}

// messageOf returns the recipient id and Message-ID of the last message
// the server got for addr.
func messageOf(t *testing.T, srv *mailtest.Server, addr string) (recipient, messageID string) {
	t.Helper()
	got := srv.To(addr)
	require.NotEmpty(t, got)
	p, err := got[len(got)-1].Parse()
	require.NoError(t, err)
	id, err := p.Header.MessageID()
	require.NoError(t, err)
	rcpt, _, _ := strings.Cut(id, "@")
	return rcpt, id
}

// Reports that come back act on the address: a hard bounce suppresses
// it, a complaint withdraws the consent and suppresses, three soft
// bounces in a row suppress; mail that is no usable report is kept for
// inspection, never an error.
func TestBouncesAndComplaints(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		srv := mailtest.Start(t)
		c := newCRM(t, db, sendingConfig(srv))
		s := newSetup(t, c, 3)
		require.NoError(t, c.Start(ctx))
		camp := s.sendOnce(t)
		hard, soft, complainer := s.granted[0], s.granted[1], s.granted[2]

		// A hard bounce, found by its tagged return path.
		rcpt, id := messageOf(t, srv, hard.Email)
		res, err := c.Campaigns.Inbound(ctx, strings.NewReader(sample(t, "dsn_hard.eml", hard.Email, rcpt, id)), "bounces+"+rcpt+"@mail.shop.example")
		require.NoError(t, err)
		require.NotNil(t, res.Bounce, res.Problem)
		require.Equal(t, campaigns.BounceHard, res.Bounce.Kind)
		suppressed, err := c.Consent.Suppressed(ctx, hard.Email, "")
		require.NoError(t, err)
		require.True(t, suppressed)

		// A complaint, found by the returned Message-ID.
		rcpt, id = messageOf(t, srv, complainer.Email)
		res, err = c.Campaigns.Inbound(ctx, strings.NewReader(sample(t, "arf_abuse.eml", complainer.Email, "x", id)), "")
		require.NoError(t, err)
		require.NotNil(t, res.Bounce, res.Problem)
		require.ErrorIs(t, c.Consent.Allowed(ctx, complainer.ID, "newsletter", consent.Email), core.ErrNoConsent)
		rec, err := c.Consent.Status(ctx, complainer.ID, "newsletter", consent.Email)
		require.NoError(t, err)
		require.Equal(t, consent.Withdrawn, rec.State)
		st, err := c.Campaigns.Stats(ctx, camp.ID)
		require.NoError(t, err)
		require.EqualValues(t, 1, st.Bounced)
		require.EqualValues(t, 1, st.Complained)
		for typ, who := range map[string]core.ID{campaigns.EventEmailBounced: hard.ID, campaigns.EventEmailComplained: complainer.ID} {
			evs, err := c.Events(ctx, crm.EventQuery{SubjectID: who, Types: []string{typ}})
			require.NoError(t, err)
			require.Len(t, evs, 1, typ)
		}

		// Soft bounces: two in a row do not suppress, three do.
		for i := range 3 {
			if i > 0 {
				s.sendOnce(t)
			}
			rcpt, id := messageOf(t, srv, soft.Email)
			res, err := c.Campaigns.Inbound(ctx, strings.NewReader(sample(t, "dsn_delayed.eml", soft.Email, rcpt, id)), "")
			require.NoError(t, err)
			require.NotNil(t, res.Bounce, res.Problem)
			suppressed, err := c.Consent.Suppressed(ctx, soft.Email, "")
			require.NoError(t, err)
			require.Equal(t, i == 2, suppressed, "after %d soft bounces", i+1)
		}

		// Unusable mail is kept, and says why.
		for _, name := range []string{"autoreply.eml", "broken_report.eml"} {
			res, err := c.Campaigns.Inbound(ctx, strings.NewReader(sample(t, name, "x@example.net", "", "")), "")
			require.NoError(t, err)
			require.True(t, res.Kept)
		}
		res, err = c.Campaigns.Inbound(ctx, strings.NewReader(sample(t, "dsn_hard.eml", "x@example.net", core.NewID().String(), "")), "")
		require.NoError(t, err)
		require.True(t, res.Kept, "a message of nobody")
		// Another tenant's message is not this tenant's.
		rcpt, id = messageOf(t, srv, hard.Email)
		res, err = c.Tenant("other").Campaigns.Inbound(ctx, strings.NewReader(sample(t, "dsn_hard.eml", hard.Email, rcpt, id)), "")
		require.NoError(t, err)
		require.True(t, res.Kept)
		kept, err := c.Campaigns.InboundReports(ctx, 0)
		require.NoError(t, err)
		require.Len(t, kept, 3)

		// A provider's webhook records the same way; bad input is refused.
		err = c.Campaigns.Record(ctx, campaigns.Bounce{RecipientID: core.NewID(), Kind: campaigns.BounceHard})
		require.ErrorIs(t, err, core.ErrNotFound)
		err = c.Campaigns.Record(ctx, campaigns.Bounce{RecipientID: core.NewID(), Kind: "bounced", Status: "550"})
		require.ElementsMatch(t, []string{"kind", "status"}, fieldsOf(t, err))
	})
}

// An automated campaign sends to the contacts a rule's send_email action
// names: once per contact, after the rule's step commits, with consent
// checked; a paused campaign keeps what rules ask for until Resume.
func TestAutomatedCampaignFromARule(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		srv := mailtest.Start(t)
		c := newCRM(t, db, sendingConfig(srv))
		s := newSetup(t, c, 0)
		welcome, err := c.Campaigns.Create(ctx, campaigns.NewCampaign{Name: "Welcome 1", Kind: campaigns.Automated, TemplateID: s.tmpl.ID,
			Purpose: "newsletter", FromAddress: "news@shop.example"})
		require.NoError(t, err)
		broadcast := s.campaign(t)

		rule := func(campaign string) automation.Rule {
			return automation.Rule{Name: "Welcome", Enabled: true, Triggers: []string{consent.EventConsentGranted},
				Actions: []automation.Action{{Type: campaigns.ActionSendEmail, Params: json.RawMessage(`{"campaign": "` + campaign + `"}`)}}}
		}
		_, err = c.Automation.Rules.Create(ctx, rule("Nope"))
		require.Equal(t, []string{"actions[0].params.campaign"}, fieldsOf(t, err))
		_, err = c.Automation.Rules.Create(ctx, rule(broadcast.Name))
		require.Equal(t, []string{"actions[0].params.campaign"}, fieldsOf(t, err), "a broadcast is not automated")
		_, err = c.Automation.Rules.Create(ctx, rule("Welcome 1"))
		require.NoError(t, err)
		_, err = c.Campaigns.Start(ctx, welcome.ID, welcome.Version)
		require.NoError(t, err)
		require.NoError(t, c.Start(ctx))

		proof := consent.Proof{Source: "form"}
		join := func(email string) *contacts.Contact {
			ct, err := c.Contacts.Create(ctx, contacts.NewContact{Email: email, FirstName: "Ines"})
			require.NoError(t, err)
			_, err = c.Consent.Grant(ctx, ct.ID, "newsletter", consent.Email, proof)
			require.NoError(t, err)
			return ct
		}
		a := join("ines@example.com")
		require.Eventually(t, func() bool { return len(srv.To(a.Email)) == 1 }, 10*time.Second, 10*time.Millisecond)
		p, err := srv.To(a.Email)[0].Parse()
		require.NoError(t, err)
		require.Contains(t, p.HTML, "Hello Ines")

		// Consent granted again: the rule runs, the campaign sends nothing
		// more to the same person.
		_, err = c.Consent.Withdraw(ctx, a.ID, "newsletter", consent.Email, proof)
		require.NoError(t, err)
		_, err = c.Consent.Grant(ctx, a.ID, "newsletter", consent.Email, proof)
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			runs, err := c.Automation.Runs.List(ctx, automation.RunQuery{})
			require.NoError(t, err)
			return len(runs) == 2 && runs[0].Status == automation.RunDone && runs[1].Status == automation.RunDone
		}, 10*time.Second, 10*time.Millisecond)

		// Paused: the message waits; Resume sends it.
		cur, err := c.Campaigns.Get(ctx, welcome.ID)
		require.NoError(t, err)
		cur, err = c.Campaigns.Pause(ctx, cur.ID, cur.Version)
		require.NoError(t, err)
		b := join("olga@example.com")
		require.Eventually(t, func() bool {
			waiting, err := c.Campaigns.Recipients(ctx, welcome.ID, campaigns.RecipientQueued, core.NilID, 0)
			require.NoError(t, err)
			return len(waiting) == 1
		}, 10*time.Second, 10*time.Millisecond)
		require.Empty(t, srv.To(b.Email))
		_, err = c.Campaigns.Resume(ctx, cur.ID, cur.Version)
		require.NoError(t, err)
		require.Eventually(t, func() bool { return len(srv.To(b.Email)) == 1 }, 10*time.Second, 10*time.Millisecond)

		require.Len(t, srv.To(a.Email), 1)
		require.Eventually(t, func() bool { // recorded after the server's answer
			st, err := c.Campaigns.Stats(ctx, welcome.ID)
			require.NoError(t, err)
			return st.Sent == 2
		}, 10*time.Second, 10*time.Millisecond)
		got, err := c.Campaigns.Get(ctx, welcome.ID)
		require.NoError(t, err)
		require.Equal(t, campaigns.StatusSending, got.Status, "an automated campaign does not finish")
	})
}

// An A/B test sends each variant to part of the test group, holds the
// rest, and after the wait sends the variant people clicked most to them.
func TestABTest(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		srv := mailtest.Start(t)
		cfg := sendingConfig(srv)
		cfg.Campaigns.TrackingURL = "https://shop.example/crm/t"
		clock := &movingClock{}
		cfg.Clock = clock
		c := newCRM(t, db, cfg)
		s := newSetup(t, c, 60)
		b, err := c.Templates.Create(ctx, campaigns.NewTemplate{Name: "Issue 1 B", Subject: "B: news",
			HTML: `<p>Variant B</p><p><a href="https://shop.example/b">Look</a> <a href="{{.UnsubscribeURL}}">Unsubscribe</a></p>`})
		require.NoError(t, err)

		_, err = c.Campaigns.Create(ctx, campaigns.NewCampaign{Name: "AB", SegmentID: s.seg.ID, TemplateID: s.tmpl.ID, Purpose: "newsletter",
			FromAddress: "news@shop.example", Variants: []campaigns.Variant{{Name: "", TemplateID: core.NewID()}},
			Test: &campaigns.ABTest{Share: 80, Metric: "replies", Wait: time.Second}})
		require.ElementsMatch(t, []string{"variants[0].name", "variants[0].template_id", "test.share", "test.metric", "test.wait"}, fieldsOf(t, err))

		camp, err := c.Campaigns.Create(ctx, campaigns.NewCampaign{Name: "AB", SegmentID: s.seg.ID, TemplateID: s.tmpl.ID, Purpose: "newsletter",
			FromAddress: "news@shop.example", Variants: []campaigns.Variant{{Name: "B", TemplateID: b.ID}},
			Test: &campaigns.ABTest{Share: 50, Metric: campaigns.MetricClicks, Wait: time.Hour}})
		require.NoError(t, err)
		require.NoError(t, c.Start(ctx))
		_, err = c.Campaigns.Start(ctx, camp.ID, camp.Version)
		require.NoError(t, err)

		// The test group gets A and B; the rest is held.
		var st campaigns.Stats
		require.Eventually(t, func() bool {
			st, err = c.Campaigns.Stats(ctx, camp.ID)
			require.NoError(t, err)
			return st.Queued == 0 && st.Sending == 0 && st.Held > 0 && st.Sent > 0
		}, 30*time.Second, 10*time.Millisecond) // generous: the whole suite shares two cores under -race
		require.Len(t, st.Variants, 2)
		require.Greater(t, st.Variants[0].Sent, int64(0))
		require.Greater(t, st.Variants[1].Sent, int64(0))
		require.EqualValues(t, len(s.granted)+3, st.Recipients)
		held, aTest, bTest, skipped := st.Held, st.Variants[0].Sent, st.Variants[1].Sent, st.Skipped
		require.Len(t, srv.Messages(), int(st.Sent))

		// People click B's link.
		clock.Jump(time.Minute)
		browser := campaigns.Visit{UserAgent: "Mozilla/5.0", IP: "203.0.113.9"}
		clicks := 0
		for _, m := range srv.Messages() {
			p, err := m.Parse()
			require.NoError(t, err)
			if !strings.Contains(p.HTML, "Variant B") || clicks == 3 {
				continue
			}
			for _, l := range href.FindAllStringSubmatch(p.HTML, -1) {
				if strings.HasPrefix(l[1], "https://shop.example/crm/t/c/") {
					_, err := c.Campaigns.Click(ctx, strings.TrimPrefix(l[1], "https://shop.example/crm/t/c/"), browser)
					require.NoError(t, err)
					clicks++
				}
			}
		}
		require.Equal(t, 3, clicks)

		// After the wait, B goes to those held.
		clock.Jump(time.Hour)
		var got *campaigns.Campaign
		require.Eventually(t, func() bool {
			got, err = c.Campaigns.Get(ctx, camp.ID)
			require.NoError(t, err)
			return got.Status == campaigns.StatusSent
		}, 30*time.Second, 20*time.Millisecond)
		require.NotNil(t, got.Winner)
		require.Equal(t, 1, *got.Winner)
		st, err = c.Campaigns.Stats(ctx, camp.ID)
		require.NoError(t, err)
		require.Zero(t, st.Held)
		require.Equal(t, aTest, st.Variants[0].Sent, "A went to its part of the test only")
		require.Equal(t, bTest+held-(st.Skipped-skipped), st.Variants[1].Sent, "B went to the rest (but those without consent)")
		require.EqualValues(t, 3, st.Skipped)
		require.Len(t, srv.Messages(), int(st.Sent), "one message each")
		evs, err := c.Events(ctx, crm.EventQuery{SubjectID: camp.ID, Types: []string{campaigns.EventCampaignWinnerPicked}})
		require.NoError(t, err)
		require.Len(t, evs, 1)
	})
}

// A tracked segment keeps its members and emits segment.entered and
// segment.left for what changed, when recomputed — by hand, and by the
// job a contact's change queues.
func TestTrackedSegmentEvents(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		clock := &movingClock{}
		c := newCRM(t, db, crm.Config{Clock: clock})
		mk := func(email string, tags ...string) *contacts.Contact {
			ct, err := c.Contacts.Create(ctx, contacts.NewContact{Email: email, Tags: tags})
			require.NoError(t, err)
			return ct
		}
		a, b := mk("a@example.com", "vip"), mk("b@example.com", "vip")
		mk("c@example.com")
		seg, err := c.Segments.Create(ctx, campaigns.NewSegment{Name: "VIPs", Filter: filter.Contains("tags", "vip"), Tracked: true})
		require.NoError(t, err)
		untracked, err := c.Segments.Create(ctx, campaigns.NewSegment{Name: "All", Filter: filter.Expr{}})
		require.NoError(t, err)
		_, _, err = c.Segments.Recompute(ctx, untracked.ID)
		require.ErrorIs(t, err, core.ErrInvalid)

		events := func(typ string, who *contacts.Contact) int {
			evs, err := c.Events(ctx, crm.EventQuery{SubjectID: who.ID, Types: []string{typ}})
			require.NoError(t, err)
			return len(evs)
		}
		in, out, err := c.Segments.Recompute(ctx, seg.ID)
		require.NoError(t, err)
		require.EqualValues(t, 2, in)
		require.Zero(t, out)
		in, out, err = c.Segments.Recompute(ctx, seg.ID)
		require.NoError(t, err)
		require.Zero(t, in+out, "nothing changed")

		none := []string{}
		_, err = c.Contacts.Update(ctx, b.ID, contacts.ContactPatch{Version: b.Version, Tags: &none})
		require.NoError(t, err)
		d := mk("d@example.com", "vip")
		in, out, err = c.Segments.Recompute(ctx, core.NilID)
		require.NoError(t, err)
		require.EqualValues(t, 1, in)
		require.EqualValues(t, 1, out)
		require.Equal(t, 1, events(campaigns.EventSegmentEntered, a))
		require.Equal(t, 1, events(campaigns.EventSegmentEntered, b))
		require.Equal(t, 1, events(campaigns.EventSegmentLeft, b))
		require.Equal(t, 1, events(campaigns.EventSegmentEntered, d))
		got, err := c.Segments.Get(ctx, seg.ID)
		require.NoError(t, err)
		require.NotNil(t, got.ComputedAt)

		// With workers: a change queues the computation, which runs
		// recomputeDelay later.
		require.NoError(t, c.Start(ctx))
		e := mk("e@example.com", "vip")
		clock.Jump(time.Minute)
		require.Eventually(t, func() bool { return events(campaigns.EventSegmentEntered, e) == 1 }, 20*time.Second, 20*time.Millisecond)

		// A deleted member leaves no membership behind.
		require.NoError(t, c.Contacts.Delete(ctx, a.ID))
		_, _, err = c.Segments.Recompute(ctx, seg.ID)
		require.NoError(t, err)
	})
}

// Segments filter contacts by related records, in SQL: purchases in a
// period and of a SKU, their amount, a campaign's clicks, another
// segment's members; rules refuse related conditions (they match in
// memory).
func TestSegmentsOnRelatedRecords(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := newCRM(t, db, crm.Config{})
		now := time.Now().UTC()
		buy := func(ct *contacts.Contact, ago time.Duration, amount, sku string) {
			_, err := c.Contacts.Track(ctx, contacts.ByID(ct.ID), contacts.NewActivity{Kind: contacts.KindPurchase, OccurredAt: now.Add(-ago),
				Purchase: &contacts.Purchase{OrderID: core.NewID().String(), Total: core.MustMoney(amount, "EUR"),
					Items: []contacts.PurchaseItem{{SKU: sku, Name: sku, Quantity: 1, Amount: core.MustMoney(amount, "EUR")}}}})
			require.NoError(t, err)
		}
		mk := func(email string) *contacts.Contact {
			ct, err := c.Contacts.Create(ctx, contacts.NewContact{Email: email})
			require.NoError(t, err)
			return ct
		}
		tea, coffee, old := mk("tea@example.com"), mk("coffee@example.com"), mk("old@example.com")
		buy(tea, time.Hour, "20", "TEA-1")
		buy(tea, 2*24*time.Hour, "30", "TEA-1")
		buy(coffee, time.Hour, "200", "COFFEE-1")
		buy(old, 400*24*time.Hour, "500", "TEA-1")
		buy(old, 500*24*time.Hour, "500", "TEA-1")

		count := func(name, f string) int64 {
			e, err := filter.Parse([]byte(f))
			require.NoError(t, err)
			seg, err := c.Segments.Create(ctx, campaigns.NewSegment{Name: name, Filter: e, Tracked: true})
			require.NoError(t, err, f)
			n, err := c.Segments.Count(ctx, seg.ID)
			require.NoError(t, err)
			return n
		}
		require.EqualValues(t, 2, count("twice", `{"related": "purchases", "op": "gte", "value": 2}`))
		require.EqualValues(t, 1, count("twice lately", `{"related": "purchases", "params": {"within": "90d"}, "op": "gte", "value": 2}`))
		require.EqualValues(t, 2, count("tea", `{"related": "purchases", "params": {"sku": "TEA-1"}, "op": "gte", "value": 1}`))
		require.EqualValues(t, 2, count("spenders", `{"related": "purchase_amount", "params": {"currency": "EUR"}, "op": "gt", "value": 100}`))
		require.EqualValues(t, 1, count("spenders lately",
			`{"related": "purchase_amount", "params": {"currency": "EUR", "within": "30d"}, "op": "gt", "value": 100}`))
		require.EqualValues(t, 0, count("dollars", `{"related": "purchase_amount", "params": {"currency": "USD"}, "op": "gt", "value": 0}`))

		// One segment builds on another's members (as last computed).
		teaSeg, err := c.Segments.Create(ctx, campaigns.NewSegment{Name: "tea drinkers",
			Filter: filter.Expr{Related: "purchases", Params: map[string]any{"sku": "TEA-1"}, Op: filter.OpGte, Value: 1}, Tracked: true})
		require.NoError(t, err)
		_, _, err = c.Segments.Recompute(ctx, teaSeg.ID)
		require.NoError(t, err)
		in := func(v bool) string {
			return fmt.Sprintf(`{"related": "in_segment", "params": {"segment": "%s"}, "op": "exists", "value": %t}`, teaSeg.ID, v)
		}
		require.EqualValues(t, 2, count("in tea", in(true)))
		require.EqualValues(t, 1, count("not in tea", in(false)))
		require.EqualValues(t, 0, count("clicked", fmt.Sprintf(`{"related": "clicked_campaign", "params": {"campaign": "%s"}, "op": "exists", "value": true}`, core.NewID())))

		// Bad relations are refused when the segment is saved.
		_, err = c.Segments.Create(ctx, campaigns.NewSegment{Name: "bad", Filter: filter.Expr{Related: "purchase_amount", Op: filter.OpGt, Value: 1}})
		require.Equal(t, []string{"filter.params.currency"}, fieldsOf(t, err))

		// Rules match in memory: a related condition is refused.
		_, err = c.Automation.Rules.Create(ctx, automation.Rule{Name: "x", Triggers: []string{contacts.EventContactUpdated},
			Condition: automation.Condition{Contact: filter.Expr{Related: "purchases", Op: filter.OpGt, Value: 1}},
			Actions:   []automation.Action{{Type: automation.ActionAddTag, Tag: "x"}}})
		require.ErrorIs(t, err, core.ErrInvalid)
	})
}

// What changes between Start and the message stops it: a withdrawn
// consent, an erasure. A connection the server drops mid-batch is
// reconnected and the message it did not accept is sent again: everyone
// gets one copy.
func TestChangesBeforeSendingAndADroppedConnection(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		srv := mailtest.Start(t)
		c := newCRM(t, db, sendingConfig(srv))
		s := newSetup(t, c, 8)
		camp := s.campaign(t)
		_, err := c.Campaigns.Start(ctx, camp.ID, camp.Version) // no workers yet: nothing goes
		require.NoError(t, err)
		withdrawn, erased := s.granted[0], s.granted[1]
		_, err = c.Consent.Withdraw(ctx, withdrawn.ID, "newsletter", consent.Email, consent.Proof{Source: "form"})
		require.NoError(t, err)
		_, err = c.Consent.Erase(ctx, erased.ID, "request")
		require.NoError(t, err)
		srv.DropAfter(2)
		require.NoError(t, c.Start(ctx))
		waitFinished(t, c, camp.ID)

		require.Empty(t, srv.To(withdrawn.Email))
		require.Empty(t, srv.To(erased.Email))
		for _, ct := range s.granted[2:] {
			require.Len(t, srv.To(ct.Email), 1, ct.Email)
		}
		require.Len(t, srv.Messages(), len(s.granted)-2)
		require.Greater(t, srv.Sessions(), 1, "the dropped connection was replaced")
		st, err := c.Campaigns.Stats(ctx, camp.ID)
		require.NoError(t, err)
		require.EqualValues(t, len(s.granted)-2, st.Sent)
		// The erased person has no address left: not in the snapshot at all.
		require.EqualValues(t, len(s.granted)+3-1, st.Recipients)
		require.EqualValues(t, 4, st.Skipped)
	})
}

// A tenant's rate bounds how fast its messages go.
func TestTenantRate(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		srv := mailtest.Start(t)
		cfg := sendingConfig(srv)
		cfg.Campaigns.TenantRate = 10
		c := newCRM(t, db, cfg)
		s := newSetup(t, c, 12)
		camp := s.campaign(t)
		require.NoError(t, c.Start(ctx))
		start := time.Now()
		_, err := c.Campaigns.Start(ctx, camp.ID, camp.Version)
		require.NoError(t, err)
		waitFinished(t, c, camp.ID)
		// 12 messages at 10 a second, a burst of 1: at least 1.1 s.
		require.GreaterOrEqual(t, time.Since(start), 1100*time.Millisecond)
		require.Len(t, srv.Messages(), 12)
	})
}

// The snapshot takes several batches per transaction: each recipient is in
// the batch of its place in contact id order, BatchSize to a batch, and
// each batch has its send job.
func TestPrepareNumbersBatches(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		srv := mailtest.Start(t)
		c := newCRM(t, db, sendingConfig(srv)) // BatchSize 3; workers not started
		s := newSetup(t, c, 7)
		camp := s.campaign(t)
		camp, err := c.Campaigns.Start(ctx, camp.ID, camp.Version)
		require.NoError(t, err)
		jobs, err := c.River().JobList(ctx, river.NewJobListParams().States(rivertype.JobStateAvailable).First(10))
		require.NoError(t, err)
		require.Len(t, jobs.Jobs, 1, "the prepare job")
		require.NoError(t, c.JobWorker().Work(ctx, jobs.Jobs[0]))

		rows, err := db.QueryContext(ctx, `SELECT batch FROM crm_campaign_recipients WHERE tenant_id = 'default' AND campaign_id = ? ORDER BY contact_id`, camp.ID)
		require.NoError(t, err)
		var batches []int64
		for rows.Next() {
			var b int64
			require.NoError(t, rows.Scan(&b))
			batches = append(batches, b)
		}
		require.NoError(t, rows.Err())
		require.NoError(t, rows.Close())
		n := len(s.granted) + len(s.refusing)
		require.Len(t, batches, n)
		for i, b := range batches {
			require.EqualValues(t, i/3, b, "recipient %d", i)
		}
		sends, err := c.River().JobList(ctx, river.NewJobListParams().States(rivertype.JobStateAvailable).First(100))
		require.NoError(t, err)
		var kinds []string
		for _, j := range sends.Jobs {
			kind, _ := c.JobWorker().Describe(j)
			kinds = append(kinds, kind)
		}
		require.Equal(t, slices.Repeat([]string{"campaigns.send_batch"}, (n+2)/3), slices.DeleteFunc(kinds, func(k string) bool {
			return k != "campaigns.send_batch"
		}), "a send job per batch, among %v", kinds)
	})
}
