package pipeline_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/pipeline"
)

// Keep the forecast as it stands today, to measure it later against what
// is won (analytics.Service.ForecastAccuracy). The workers do this daily
// for every tenant with deals; taking the day's snapshot again replaces
// it.
func ExampleDeals_SnapshotForecast() {
	ctx := context.Background()
	today := time.Date(2026, 5, 12, 9, 0, 0, 0, time.UTC)
	c, err := crm.Open(ctx, crm.Config{DSN: ":memory:", Clock: core.ClockFunc(func() time.Time { return today })})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	for _, d := range []pipeline.NewDeal{
		{Title: "Rollout", Amount: core.MustMoney("1000", "EUR"), OwnerID: "ann", ExpectedClose: core.NewDate(2026, 6, 30)},
		{Title: "Renewal", Amount: core.MustMoney("400", "EUR"), OwnerID: "ben", ExpectedClose: core.NewDate(2026, 9, 1)},
		{Title: "Pilot", Amount: core.MustMoney("90", "USD"), OwnerID: "ann", ExpectedClose: core.NewDate(2027, 8, 1)},
	} {
		if _, err := c.Deals.Create(ctx, d); err != nil {
			log.Fatal(err)
		}
	}
	snap, err := c.Deals.SnapshotForecast(ctx, today)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(snap.Day, snap.FirstMonth, "to", snap.LastMonth, "-", snap.Lines, "lines")
	// Output:
	// 2026-05-12 2026-04 to 2027-03 - 2 lines
}
