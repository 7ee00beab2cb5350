package analytics

import (
	"context"
)

// AnalyticsAPI is what *Service (c.Analytics) does, as an interface, for
// hosts that substitute it: a fake in their tests, a wrapper that adds
// caching or metrics. See *Service for each method.
type AnalyticsAPI interface {
	Attribution(ctx context.Context, o AttributionOptions) (*Attribution, error)
	Campaigns(ctx context.Context, o CampaignOptions) (*CampaignReport, error)
	Churn(ctx context.Context, o ChurnOptions) (*Churn, error)
	Cohorts(ctx context.Context, o CohortOptions) (*Cohorts, error)
	CustomerValue(ctx context.Context, o CustomerValueOptions) (*CustomerValue, error)
	Dashboard(ctx context.Context, o DashboardOptions) (*Dashboard, error)
	ForecastAccuracy(ctx context.Context, o ForecastAccuracyOptions) (*ForecastAccuracy, error)
	Funnel(ctx context.Context, o FunnelOptions) (*Funnel, error)
	Pipelines(ctx context.Context, o PipelineOptions) (*PipelineReport, error)
	RFM(ctx context.Context, o RFMOptions) (*RFM, error)
	ServiceLevels(ctx context.Context, o ServiceOptions) (*ServiceReport, error)
	StoreScores(ctx context.Context, o StoreScoresOptions) (*StoredScores, error)
}

// The services satisfy their interfaces.
var (
	_ AnalyticsAPI = (*Service)(nil)
)
