package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/automation"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/internal/dbtest"
)

// Two processes on one PostgreSQL share the tenants' jobs; every welcome
// is done once, in its tenant, and no tenant reads another's rows. The
// example is about PostgreSQL: without CRM_TEST_POSTGRES_DSN it is
// skipped.
func TestSaaS(t *testing.T) {
	t.Parallel()
	dsn, schema := dbtest.PostgresSchema(t)
	dsn = dbtest.WithSearchPath(dsn, schema)
	ctx := context.Background()
	var out bytes.Buffer
	require.NoError(t, run(ctx, []string{"-dsn", dsn, "-signups", "20"}, &out))
	t.Log("\n" + out.String())
	require.Contains(t, out.String(), "globex reads acme's ops@example.com: crm: not found: contact")

	c, err := crm.Open(ctx, crm.Config{DSN: dsn})
	require.NoError(t, err)
	defer c.Close()
	by := map[string]int{}
	ids := map[string]core.ID{}
	for _, tenant := range tenants {
		tc := c.Tenant(tenant)
		people, err := tc.Contacts.List(ctx, contacts.ListOptions{Limit: 1000})
		require.NoError(t, err)
		require.Len(t, people.Items, 20)
		mine := map[core.ID]bool{}
		for _, p := range people.Items {
			require.True(t, p.Email == "ops@example.com" || strings.HasSuffix(p.Email, "@"+tenant+".example"), "%s in %s", p.Email, tenant)
			mine[p.ID] = true
		}
		// One welcome per contact of the tenant, whichever process did it.
		notes, err := tc.Notes.List(ctx, contacts.NoteListOptions{Limit: 1000})
		require.NoError(t, err)
		require.Len(t, notes.Items, 20)
		welcomed := map[core.ID]bool{}
		for _, n := range notes.Items {
			require.True(t, mine[n.ContactID], "a note of %s on another tenant's contact", tenant)
			require.False(t, welcomed[n.ContactID], "welcomed twice")
			welcomed[n.ContactID] = true
			by[n.AuthorID]++
		}
		runs, err := tc.Automation.Runs.List(ctx, automation.RunQuery{Status: automation.RunDone, Limit: 1000})
		require.NoError(t, err)
		require.Len(t, runs, 20)

		ops, err := tc.Contacts.GetByEmail(ctx, "ops@example.com")
		require.NoError(t, err)
		ids[tenant] = ops.ID
	}
	require.Len(t, ids, 3)
	for tenant, id := range ids {
		for _, other := range tenants {
			_, err := c.Tenant(other).Contacts.Get(ctx, id)
			if other == tenant {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, core.ErrNotFound, "%s reads %s's contact", other, tenant)
			}
		}
	}
	require.Equal(t, 60, by["process-A"]+by["process-B"])
	require.Positive(t, by["process-A"], "process A worked no job")
	require.Positive(t, by["process-B"], "process B worked no job")
}
