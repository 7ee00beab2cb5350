package pipeline

import (
	"context"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// SnapshotQuarters is how far a forecast snapshot looks: the months of the
// quarter of its day and of the quarters after it, this many quarters in
// all (twelve months).
const SnapshotQuarters = 4

// ForecastSnapshot is a forecast kept as it stood on a day (see
// Deals.SnapshotForecast).
type ForecastSnapshot struct {
	// Day is the snapshot's day (UTC); TakenAt when it was taken.
	Day     core.Date `json:"day"`
	TakenAt time.Time `json:"taken_at"`
	// FirstMonth and LastMonth are the months it covers, both included
	// ("2026-04" to "2027-03").
	FirstMonth string `json:"first_month"`
	LastMonth  string `json:"last_month"`
	// Lines counts its rows: one per month, pipeline, owner and currency
	// with a deal.
	Lines int64 `json:"lines"`
}

// SnapshotRange returns the months a snapshot taken on day covers: from
// the first day of its quarter to SnapshotQuarters quarters later, [from,
// to).
func SnapshotRange(day core.Date) (from, to core.Date) {
	from = core.NewDate(day.Year, day.Month-(day.Month-1)%3, 1)
	return from, core.NewDate(from.Year, from.Month+3*SnapshotQuarters, 1)
}

// SnapshotForecast records the forecast as it stands now under the UTC day
// of at (the host passes the current time; the module's periodic work
// "forecast_snapshot" does so daily): for each month SnapshotRange covers
// and each pipeline, owner and currency, what Forecast reports — the
// amount won, the open amount weighted by stage probability, the whole
// open amount (best case) and the open amount committed, with their
// counts. The months of the quarter that holds the day come first, so
// that a quarter's forecast is the sum of its months on every snapshot.
//
// A day has one snapshot per tenant: taking it again replaces it, in one
// transaction (a second process taking the same day waits for the first
// and then replaces its rows), so a run that is repeated or retried
// changes nothing but the time it was taken. Snapshots hold every deal of
// the tenant whatever the actor sees, so an actor needs "pipeline" manage;
// analytics narrows them to the actor's deals by owner when it reads them.
func (s *Deals) SnapshotForecast(ctx context.Context, at time.Time) (_ *ForecastSnapshot, err error) {
	ctx, span := s.sc.Span(ctx, "pipeline.Deals.SnapshotForecast")
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	if _, err := check(ctx, s.sc, "deal", core.NilID, access.Manage); err != nil {
		return nil, err
	}
	v := &core.ValidationError{}
	if at.IsZero() {
		v.Add("at", "is required")
	} else {
		v.CheckTime("at", at)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	day := core.DateOf(at.UTC())
	from, to := SnapshotRange(day)
	snap := &ForecastSnapshot{Day: day, FirstMonth: from.String()[:7], LastMonth: to.AddDays(-1).String()[:7]}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		q := tx.Q()
		snap.TakenAt = tx.Runtime().Now()
		if _, err := q.Exec(ctx, `INSERT INTO crm_forecast_snapshots (tenant_id, snapshot_day, first_month, last_month, taken_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id, snapshot_day) DO UPDATE SET first_month = excluded.first_month,
			last_month = excluded.last_month, taken_at = excluded.taken_at`, tenant, day.String(), snap.FirstMonth, snap.LastMonth, snap.TakenAt); err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `DELETE FROM crm_forecast_snapshot_lines WHERE tenant_id = ? AND snapshot_day = ?`, tenant, day.String()); err != nil {
			return err
		}
		forecast, args := forecastSQL(q.D, tenant, ForecastOptions{From: from, To: to, Period: Month, ByOwner: true, ByPipeline: true}, "", nil)
		res, err := q.PlanPerCall().Exec(ctx, `INSERT INTO crm_forecast_snapshot_lines (tenant_id, snapshot_day, month, owner_id, pipeline_id,
			currency, won, won_count, weighted, best_case, open_count, commit_amount, commit_count)
			SELECT ?, ?, f.* FROM (`+forecast+`) f`, append([]any{tenant, day.String()}, args...)...)
		if err != nil {
			return err
		}
		snap.Lines, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return nil, store.Wrap(err, "snapshot forecast")
	}
	return snap, nil
}

// snapshotPeriodic is SnapshotForecast for the module's periodic work.
func snapshotPeriodic(ctx context.Context, sc store.Scope) error {
	_, err := newDeals(sc).SnapshotForecast(ctx, sc.Runtime().Now())
	return err
}
