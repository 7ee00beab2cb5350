package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/pipeline"
)

// A deal's expected close date is a core.Date: stored, read, filtered and
// cleared as a day, and an impossible day is refused.
func TestDealExpectedCloseIsADate(t *testing.T) {
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		berlin, err := time.LoadLocation("Europe/Berlin")
		require.NoError(t, err)
		day := core.DateOf(time.Date(2026, 6, 30, 0, 0, 0, 0, berlin))
		d, err := b.deals.Create(ctx, pipeline.NewDeal{Title: "d", Amount: core.MustMoney("1", "EUR"), ExpectedClose: day})
		require.NoError(t, err)
		got, err := b.deals.Get(ctx, d.ID)
		require.NoError(t, err)
		require.Equal(t, core.NewDate(2026, time.June, 30), got.ExpectedClose)
		require.True(t, got.ClosedOn.IsZero())
		raw, err := json.Marshal(got)
		require.NoError(t, err)
		require.Contains(t, string(raw), `"expected_close":"2026-06-30"`)
		require.NotContains(t, string(raw), `"closed_on"`)

		page, err := b.deals.List(ctx, pipeline.DealListOptions{Filter: filter.Eq("expected_close", "2026-06-30")})
		require.NoError(t, err)
		require.Len(t, page.Items, 1)

		_, err = b.deals.Create(ctx, pipeline.NewDeal{Title: "bad", Amount: core.MustMoney("1", "EUR"),
			ExpectedClose: core.Date{Year: 2026, Month: 2, Day: 30}})
		var ve *core.ValidationError
		require.True(t, errors.As(err, &ve))
		require.True(t, ve.Has("expected_close"), "%v", err)

		cleared, err := b.deals.Update(ctx, d.ID, pipeline.DealPatch{Version: got.Version, ExpectedClose: &core.Date{}})
		require.NoError(t, err)
		require.True(t, cleared.ExpectedClose.IsZero())
		got, err = b.deals.Get(ctx, d.ID)
		require.NoError(t, err)
		require.True(t, got.ExpectedClose.IsZero())

		_, err = b.deals.Forecast(ctx, pipeline.ForecastOptions{To: core.NewDate(2027, 1, 1)})
		require.True(t, errors.As(err, &ve))
		require.True(t, ve.Has("from"), "%v", err)
	})
}
