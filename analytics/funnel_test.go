package analytics_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/analytics"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
)

// The funnel counts the contacts that entered each stage in the period
// and those of them that moved on to a later stage, with the hours it
// took (median, 90th percentile), from the stage history the contacts
// module keeps as stages change.
func TestFunnel(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		svc := contacts.Module.Contacts(b.sc)
		t0 := time.Date(2026, 8, 3, 9, 0, 0, 0, time.UTC)
		at := func(h float64) { b.clock.Set(t0.Add(time.Duration(h*float64(time.Hour))), time.Millisecond) }
		create := func(h float64, email string, stage contacts.Stage, owner string) *contacts.Contact {
			at(h)
			c, err := svc.Create(ctx, contacts.NewContact{Email: email, LifecycleStage: stage, OwnerID: owner})
			require.NoError(t, err)
			return c
		}
		move := func(h float64, c *contacts.Contact, stage contacts.Stage) *contacts.Contact {
			at(h)
			c, err := svc.Update(ctx, c.ID, contacts.ContactPatch{Version: c.Version, LifecycleStage: &stage})
			require.NoError(t, err)
			return c
		}
		d := create(-48, "d@example.com", contacts.StageLead, "bo") // a lead before the period
		a := create(0, "a@example.com", contacts.StageLead, "ann")
		bb := create(1, "b@example.com", contacts.StageLead, "bo")
		create(2, "c@example.com", contacts.StageSubscriber, "")
		a = move(10, a, contacts.StageMQL)
		move(21, bb, contacts.StageSQL)
		move(5, d, contacts.StageMQL)
		move(30, a, contacts.StageCustomer)
		// A change that is not the stage adds nothing.
		name := "Ann"
		_, err := svc.Update(ctx, a.ID, contacts.ContactPatch{Version: a.Version + 1, FirstName: &name})
		require.NoError(t, err)

		f, err := b.svc.Funnel(ctx, analytics.FunnelOptions{Period: analytics.Period{From: core.DateOf(t0), To: core.DateOf(t0.Add(72 * time.Hour))},
			ByOwner: true})
		require.NoError(t, err)
		byStage := map[contacts.Stage]analytics.FunnelStage{}
		for _, s := range f.Stages {
			byStage[s.Stage] = s
		}
		lead := byStage[contacts.StageLead]
		require.EqualValues(t, 2, lead.Entered, "a and b (d was a lead before)")
		require.EqualValues(t, 2, lead.MovedOn)
		require.Equal(t, 1.0, lead.Conversion)
		require.InDelta(t, 15, lead.MedianHours, 0.01) // 10 h and 20 h
		require.InDelta(t, 19, lead.P90Hours, 0.01)
		mql := byStage[contacts.StageMQL]
		require.EqualValues(t, 2, mql.Entered, "a and d")
		require.EqualValues(t, 1, mql.MovedOn)
		require.Equal(t, 0.5, mql.Conversion)
		require.InDelta(t, 20, mql.MedianHours, 0.01)
		require.EqualValues(t, 1, byStage[contacts.StageSubscriber].Entered)
		require.EqualValues(t, 0, byStage[contacts.StageSubscriber].MovedOn)
		require.EqualValues(t, 1, byStage[contacts.StageCustomer].Entered)
		require.Len(t, f.Owners, 3)
		require.Equal(t, "", f.Owners[0].OwnerID)
		require.Equal(t, "ann", f.Owners[1].OwnerID)
		var csv strings.Builder
		require.NoError(t, f.WriteCSV(&csv))
		require.Contains(t, csv.String(), "(all),lead,2,2,1,15,19\n")

		// The day after: nothing entered.
		f, err = b.svc.Funnel(ctx, analytics.FunnelOptions{Period: analytics.Period{From: core.DateOf(t0.Add(96 * time.Hour)),
			To: core.DateOf(t0.Add(120 * time.Hour))}})
		require.NoError(t, err)
		for _, s := range f.Stages {
			require.Zero(t, s.Entered)
		}
		_, err = b.svc.Funnel(ctx, analytics.FunnelOptions{Period: analytics.Period{From: core.DateOf(t0), To: core.DateOf(t0)},
			Stages: []contacts.Stage{"astronaut", contacts.StageLead, contacts.StageLead}})
		require.ErrorIs(t, err, core.ErrInvalid)
		require.ElementsMatch(t, []string{"period.to", "stages", "stages"}, fieldsOf(t, err))
	})
}

// fieldsOf lists the fields of a validation error.
func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	var ve *core.ValidationError
	require.True(t, errors.As(err, &ve), "%v", err)
	var out []string
	for _, f := range ve.Fields {
		out = append(out, f.Field)
	}
	return out
}
