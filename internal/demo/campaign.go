package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/crmkit/crmkit/campaigns"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
)

// The demo's campaign, sent at the end of the history by crmkit's
// workers, and the wait for their jobs.

// sendCampaign makes a segment, a template and a campaign at the end of
// the history and sends it: crmkit's workers run until it is sent and
// no job is due.
func (f *filler) sendCampaign(ctx context.Context) error {
	c := f.c
	f.at(f.opts.Until.Add(-30 * time.Minute))
	seg, err := c.Segments.Create(ctx, campaigns.NewSegment{Name: "Customers", Description: "Customers and evangelists",
		Filter: filter.In("lifecycle_stage", string(contacts.StageCustomer), string(contacts.StageEvangelist))})
	if err != nil {
		return err
	}
	if _, err := c.Segments.Create(ctx, campaigns.NewSegment{Name: "Hot leads in Berlin", Filter: filter.And(
		filter.In("lifecycle_stage", string(contacts.StageMQL), string(contacts.StageSQL)), filter.Eq("attributes.city", "Berlin"))}); err != nil {
		return err
	}
	f.sum.Segments = 2
	tpl, err := c.Templates.Create(ctx, campaigns.NewTemplate{Name: "Winter newsletter", Subject: "What is new this winter",
		HTML: `<html><head><style>h1 { color: #1f4e79; } p { font-family: sans-serif; }</style></head><body>` +
			`<h1>Hello {{.Contact.FirstName | default "there"}},</h1>` +
			`<p>Thank you for another year with us. Here is what we built for you: faster exports, a new dashboard and dark mode.</p>` +
			`<p><a href="https://crm.example/whats-new">Read more</a></p>` +
			`<p><a href="{{.UnsubscribeURL}}">Unsubscribe</a></p></body></html>`})
	if err != nil {
		return err
	}
	f.sum.Templates = 1
	camp, err := c.Campaigns.Create(ctx, campaigns.NewCampaign{Name: "Winter newsletter", SegmentID: seg.ID, TemplateID: tpl.ID,
		Purpose: "newsletter", FromName: "Demo Team", FromAddress: "news@crm.example"})
	if err != nil {
		return err
	}
	f.sum.Campaign = camp.ID
	f.at(f.opts.Until.Add(-15 * time.Minute))
	if err := c.Start(ctx); err != nil {
		return err
	}
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		return c.Stop(sctx)
	}
	defer func() { _ = stop() }()
	if _, err := c.Campaigns.Start(ctx, camp.ID, camp.Version); err != nil {
		return err
	}
	deadline := time.Now().Add(f.opts.SendTimeout)
	for {
		cur, err := c.Campaigns.Get(ctx, camp.ID)
		if err != nil {
			return err
		}
		if cur.Status == campaigns.StatusSent {
			due, err := dueJobs(ctx, c, f.clock.Now())
			if err != nil {
				return err
			}
			if due == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("campaign %s not sent after %s (status %s)", camp.ID, f.opts.SendTimeout, cur.Status)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err := stop(); err != nil {
		return err
	}
	if err := failedJobs(ctx, c, f.opts.Until.Add(-15*time.Minute)); err != nil {
		return err
	}
	st, err := c.Campaigns.Stats(ctx, camp.ID)
	if err != nil {
		return err
	}
	f.sum.Sent, f.sum.Skipped = st.Sent, st.Skipped
	return nil
}

// failedJobs returns an error for a job of c's tenant that failed in an
// attempt since (by the demo's clock): its retry would never come due
// with the clock standing, so the data set would lack its work.
func failedJobs(ctx context.Context, c *crm.CRM, since time.Time) error {
	res, err := c.River().JobList(ctx, river.NewJobListParams().States(rivertype.JobStateRetryable, rivertype.JobStateDiscarded).
		OrderBy(river.JobListOrderByID, river.SortOrderDesc).First(1000))
	if err != nil {
		return err
	}
	var tenant struct {
		Tenant string `json:"tenant"`
	}
	for _, j := range res.Jobs {
		if j.AttemptedAt == nil || j.AttemptedAt.Before(since) || json.Unmarshal(j.EncodedArgs, &tenant) != nil || tenant.Tenant != c.TenantID() {
			continue
		}
		msg := "no error recorded"
		if n := len(j.Errors); n > 0 {
			msg = j.Errors[n-1].Error
		}
		return fmt.Errorf("job %d (%s) failed: %s", j.ID, j.Kind, msg)
	}
	return nil
}

// dueJobs counts crmkit's jobs that are due at now or running: those
// available or running, and those scheduled (or waiting for a retry) at
// now or before. One query reads them all: River's scheduler moves a job
// from scheduled to available at any moment, and two queries (available,
// then scheduled) could each miss a job it moved between them.
func dueJobs(ctx context.Context, c *crm.CRM, now time.Time) (int, error) {
	res, err := c.River().JobList(ctx, river.NewJobListParams().
		States(rivertype.JobStateAvailable, rivertype.JobStateRunning, rivertype.JobStateScheduled, rivertype.JobStateRetryable).
		OrderBy(river.JobListOrderByScheduledAt, river.SortOrderAsc).First(1))
	if err != nil {
		return 0, err
	}
	if len(res.Jobs) > 0 && !res.Jobs[0].ScheduledAt.After(now) {
		return 1, nil
	}
	return 0, nil
}
