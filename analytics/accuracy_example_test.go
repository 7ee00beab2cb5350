package analytics_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/crmkit/crmkit/analytics"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/pipeline"
)

// A deal expected to close in May for 1,000 EUR, in the first stage (10%)
// and committed, when April's snapshot is taken; it closes in May for
// 800. The weighted forecast was 700 too low, the commit forecast 200
// too high.
func ExampleService_ForecastAccuracy() {
	ctx := context.Background()
	c, clock := openMovable(ctx, time.Date(2026, 4, 20, 9, 0, 0, 0, time.UTC))
	defer c.Close()
	deal, err := c.Deals.Create(ctx, pipeline.NewDeal{Title: "Rollout", Amount: core.MustMoney("1000", "EUR"),
		ExpectedClose: core.NewDate(2026, 5, 15), Commit: true})
	if err != nil {
		log.Fatal(err)
	}
	// The workers take it daily ("forecast_snapshot"); a host may too.
	if _, err := c.Deals.SnapshotForecast(ctx, clock.Now()); err != nil {
		log.Fatal(err)
	}
	clock.set(time.Date(2026, 5, 15, 9, 0, 0, 0, time.UTC))
	amount := core.MustMoney("800", "EUR")
	if deal, err = c.Deals.Update(ctx, deal.ID, pipeline.DealPatch{Version: deal.Version, Amount: &amount}); err != nil {
		log.Fatal(err)
	}
	if _, err := c.Deals.Win(ctx, deal.ID, deal.Version); err != nil {
		log.Fatal(err)
	}

	clock.set(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
	a, err := c.Analytics.ForecastAccuracy(ctx, analytics.ForecastAccuracyOptions{
		Period: analytics.Period{From: core.NewDate(2026, 1, 1), To: core.NewDate(2027, 1, 1)}})
	if err != nil {
		log.Fatal(err)
	}
	for _, x := range a.Comparisons {
		fmt.Printf("%s, %d days ahead: weighted %s (error %s, %.1f%%), commit %s (%.1f%%), won %s\n", x.Period, x.DaysAhead,
			x.Weighted, x.WeightedError, 100**x.WeightedAPE, x.Commit, 100**x.CommitAPE, x.Actual)
	}
	// Output:
	// 2026-05, 11 days ahead: weighted 100 EUR (error -700 EUR, 87.5%), commit 1000 EUR (25.0%), won 800 EUR
}
