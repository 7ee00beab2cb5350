package demo_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/campaigns"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/demo"
	"github.com/crmkit/crmkit/pipeline"
	"github.com/crmkit/crmkit/tickets"
)

// fill migrates a fresh database (dsn) and fills it with the demo.
func fill(t *testing.T, dsn string, seed uint64, contacts int) (*crm.CRM, *demo.Summary, *demo.Recorder) {
	t.Helper()
	ctx := context.Background()
	clock := demo.NewClock(time.Now())
	rec := &demo.Recorder{}
	cfg := crm.Config{DSN: dsn}
	demo.Configure(&cfg, clock, rec)
	c, err := crm.Open(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	require.NoError(t, c.Migrate(ctx))
	sum, err := demo.Fill(ctx, c, clock, demo.Options{Seed: seed, Contacts: contacts, Until: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)})
	require.NoError(t, err)
	return c, sum, rec
}

func postgresDSN(t *testing.T) string {
	dsn, schema := dbtest.PostgresSchema(t)
	return dbtest.WithSearchPath(dsn, schema)
}

// The same seed makes the same data — on SQLite and PostgreSQL alike —
// and another seed other data. The data set has what the demo promises:
// deals in every stage, won and lost; tickets with messages; consent; a
// campaign sent to the recording mailer.
func TestFillIsDeterministic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c1, s1, rec := fill(t, "file:"+filepath.Join(t.TempDir(), "a.db"), 7, 120)
	_, s2, _ := fill(t, "file:"+filepath.Join(t.TempDir(), "b.db"), 7, 120)
	require.Equal(t, s1.Digest, s2.Digest, "the same seed on SQLite twice")
	require.Equal(t, *s1, *withCampaign(s2, s1.Campaign))
	if dbtest.PostgresDSN(t) != "" {
		_, s3, _ := fill(t, postgresDSN(t), 7, 120)
		require.Equal(t, s1.Digest, s3.Digest, "the same seed on PostgreSQL")
	}
	_, other, _ := fill(t, "file:"+filepath.Join(t.TempDir(), "c.db"), 8, 120)
	require.NotEqual(t, s1.Digest, other.Digest, "another seed")

	require.Equal(t, 120, s1.Contacts)
	require.Equal(t, 12, s1.Companies)
	require.Positive(t, s1.Activities)
	require.Positive(t, s1.Purchases)
	require.Positive(t, s1.Consents)
	require.Positive(t, s1.Won)
	require.Positive(t, s1.Lost)
	require.Positive(t, s1.Tickets)
	require.Greater(t, s1.Messages, s1.Tickets)

	// Every stage of every pipeline holds deals.
	ps, err := c1.Pipelines.List(ctx)
	require.NoError(t, err)
	require.Len(t, ps, 2)
	for _, p := range ps {
		for _, st := range p.Stages {
			n, err := c1.Deals.List(ctx, pipeline.DealListOptions{Filter: filter.Eq("stage_id", st.ID), Limit: 1})
			require.NoError(t, err)
			require.NotEmpty(t, n.Items, "pipeline %s, stage %s", p.Name, st.Name)
		}
	}
	// Tickets: solved ones and open ones, with an SLA.
	solved, err := c1.Tickets.Count(ctx, filter.Eq("status", string(tickets.StatusSolved)))
	require.NoError(t, err)
	require.Positive(t, solved)
	// The campaign went to the recorder: one message per recipient sent,
	// and those without consent skipped.
	camp, err := c1.Campaigns.Get(ctx, s1.Campaign)
	require.NoError(t, err)
	require.Equal(t, campaigns.StatusSent, camp.Status)
	require.Positive(t, s1.Sent)
	require.Positive(t, s1.Skipped)
	require.Len(t, rec.Messages(), int(s1.Sent))
	require.Equal(t, "What is new this winter", rec.Messages()[0].Subject)
	// The clock stands at the end of the history.
	require.Equal(t, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), s1.Until)
	ct, err := c1.Contacts.List(ctx, contactsNewest())
	require.NoError(t, err)
	require.False(t, ct.Items[0].CreatedAt.After(s1.Until))
	require.False(t, ct.Items[0].CreatedAt.Before(s1.From))
}

// A tenant with contacts is not filled.
func TestFillNeedsAnEmptyTenant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, _, _ := fill(t, "file:"+filepath.Join(t.TempDir(), "a.db"), 1, 20)
	_, err := demo.Fill(ctx, c, demo.NewClock(time.Now()), demo.Options{Contacts: 20})
	require.ErrorIs(t, err, core.ErrInvalid)
	_, err = demo.Fill(ctx, c.Tenant("other"), demo.NewClock(time.Now()), demo.Options{Contacts: 5})
	require.ErrorIs(t, err, core.ErrInvalid, "too few")
}

func withCampaign(s *demo.Summary, id core.ID) *demo.Summary {
	x := *s
	x.Campaign = id
	return &x
}

func contactsNewest() contacts.ListOptions {
	return contacts.ListOptions{Sort: "-created_at", Limit: 1}
}
