package campaigns_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/automation"
	"github.com/crmkit/crmkit/campaigns"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/mailtest"
)

// crashConfig sends to the SMTP server at port, 20 recipients a batch;
// the jobs of a vanished worker run again after three seconds.
func crashConfig(dsn string, port int) crm.Config {
	return crm.Config{DSN: dsn, Automation: automation.Options{JobTimeout: 2 * time.Second, RescueAfter: 3 * time.Second},
		Campaigns: campaigns.Options{Mailer: &campaigns.SMTP{Host: "127.0.0.1", Port: port, TLS: "none", Timeout: 5 * time.Second},
			UnsubscribeURL: "https://shop.example/u", BatchSize: 20}}
}

// TestCampaignCrashChild is the worker process of TestCampaignWorkerKilled;
// it does nothing in a normal run.
func TestCampaignCrashChild(t *testing.T) {
	dsn := os.Getenv("CRM_CAMPAIGN_CHILD_DSN")
	if dsn == "" {
		t.Skip("run by TestCampaignWorkerKilled")
	}
	port, err := strconv.Atoi(os.Getenv("CRM_CAMPAIGN_CHILD_SMTP_PORT"))
	require.NoError(t, err)
	ctx := context.Background()
	c, err := crm.Open(ctx, crashConfig(dsn, port))
	require.NoError(t, err)
	require.NoError(t, c.Start(ctx))
	fmt.Println("worker ready")
	select {} // until killed
}

// A worker process is killed (SIGKILL) in the middle of a campaign;
// another takes over: every recipient gets the message, and a second copy
// goes only to those whose message was in flight when the process died
// (at most a chunk per batch job running then).
func TestCampaignWorkerKilled(t *testing.T) {
	// River rescues a dead worker's jobs on its 30-second maintenance
	// cycle, after leader election: this test takes about two minutes per
	// database, so it runs on request.
	if os.Getenv("CRM_TEST_SLOW") == "" {
		t.Skip("set CRM_TEST_SLOW=1 to run (about 4 minutes)")
	}
	run := func(t *testing.T, dsn string) {
		ctx := context.Background()
		srv := mailtest.Start(t)
		srv.Delay(15 * time.Millisecond)
		host, err := crm.Open(ctx, crashConfig(dsn, srv.Port))
		require.NoError(t, err)
		defer host.Close()
		require.NoError(t, host.Migrate(ctx))
		_, err = host.Consent.DefinePurpose(ctx, consent.NewPurpose{Key: "newsletter", Label: "News", LegalBasis: consent.BasisConsent,
			Channels: []consent.Channel{consent.Email}, Wording: "Yes"})
		require.NoError(t, err)
		const n = 160
		for i := range n {
			ct, err := host.Contacts.Create(ctx, contacts.NewContact{Email: fmt.Sprintf("r%03d@example.com", i), Tags: []string{"news"}})
			require.NoError(t, err)
			_, err = host.Consent.Grant(ctx, ct.ID, "newsletter", consent.Email, consent.Proof{Source: "form"})
			require.NoError(t, err)
		}
		seg, err := host.Segments.Create(ctx, campaigns.NewSegment{Name: "News", Filter: filter.Contains("tags", "news")})
		require.NoError(t, err)
		tmpl, err := host.Templates.Create(ctx, campaigns.NewTemplate{Name: "N", Subject: "News", HTML: "<p>News</p>"})
		require.NoError(t, err)
		camp, err := host.Campaigns.Create(ctx, campaigns.NewCampaign{Name: "N", SegmentID: seg.ID, TemplateID: tmpl.ID, Purpose: "newsletter",
			FromAddress: "news@shop.example"})
		require.NoError(t, err)

		child := exec.Command(os.Args[0], "-test.run=^TestCampaignCrashChild$", "-test.v")
		child.Env = append(os.Environ(), "CRM_CAMPAIGN_CHILD_DSN="+dsn, "CRM_CAMPAIGN_CHILD_SMTP_PORT="+strconv.Itoa(srv.Port))
		out, err := child.StdoutPipe()
		require.NoError(t, err)
		child.Stderr = os.Stderr
		require.NoError(t, child.Start())
		defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
		ready := make(chan struct{})
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if strings.Contains(sc.Text(), "worker ready") {
					close(ready)
				}
			}
		}()
		select {
		case <-ready:
		case <-time.After(60 * time.Second):
			t.Fatal("the worker process did not start")
		}
		_, err = host.Campaigns.Start(ctx, camp.ID, camp.Version)
		require.NoError(t, err)

		// Kill it once some messages went and more are on their way.
		require.Eventually(t, func() bool { return len(srv.Messages()) >= 30 }, 60*time.Second, time.Millisecond)
		require.NoError(t, child.Process.Signal(syscall.SIGKILL))
		_ = child.Wait()
		atKill := len(srv.Messages())
		t.Logf("killed the worker after %d of %d messages", atKill, n)
		require.Less(t, atKill, n, "the worker died in the middle of the campaign")

		require.NoError(t, host.Start(ctx))
		deadline := time.Now().Add(150 * time.Second)
		for {
			got, err := host.Campaigns.Get(ctx, camp.ID)
			require.NoError(t, err)
			if got.Status == campaigns.StatusSent {
				break
			}
			if time.Now().After(deadline) {
				st, _ := host.Campaigns.Stats(ctx, camp.ID)
				rows, _ := host.DB().QueryContext(ctx, "SELECT kind, state, attempt, coalesce(errors::text, '') FROM river_job ORDER BY id")
				if strings.HasPrefix(dsn, "file:") {
					rows, _ = host.DB().QueryContext(ctx, "SELECT kind, state, attempt, coalesce(errors, '') FROM river_job ORDER BY id")
				}
				for rows != nil && rows.Next() {
					var kind, state, errs string
					var attempt int
					_ = rows.Scan(&kind, &state, &attempt, &errs)
					t.Logf("job %s %s attempt %d %.300s", kind, state, attempt, errs)
				}
				t.Fatalf("the campaign did not finish: %+v", st)
			}
			time.Sleep(50 * time.Millisecond)
		}
		copies := map[string]int{}
		for _, m := range srv.Messages() {
			copies[m.To]++
		}
		require.Len(t, copies, n, "every recipient got the message")
		twice := 0
		for _, k := range copies {
			twice += k - 1
		}
		t.Logf("%d second copies", twice)
		// At most one chunk (50) for each of the 4 batch jobs running.
		require.LessOrEqual(t, twice, 4*50)
		st, err := host.Campaigns.Stats(ctx, camp.ID)
		require.NoError(t, err)
		require.EqualValues(t, n, st.Sent)
	}
	t.Run("sqlite", func(t *testing.T) { run(t, "file:"+t.TempDir()+"/crm.db") })
	t.Run("postgres", func(t *testing.T) {
		dsn, schema := dbtest.PostgresSchema(t)
		run(t, dbtest.WithSearchPath(dsn, schema))
	})
}
