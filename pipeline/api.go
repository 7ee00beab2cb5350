package pipeline

import (
	"context"
	"time"

	"github.com/crmkit/crmkit/core"
)

// PipelinesAPI is what *Pipelines (c.Pipelines) does, as an interface, for
// hosts that substitute it: a fake in their tests, a wrapper that adds
// caching or metrics. See *Pipelines for each method.
type PipelinesAPI interface {
	AddStage(ctx context.Context, id core.ID, version int64, st NewStage, at int) (*Pipeline, error)
	Archive(ctx context.Context, id core.ID, version int64, archived bool) (*Pipeline, error)
	ArchiveStage(ctx context.Context, id core.ID, version int64, stageID core.ID, archived bool) (*Pipeline, error)
	Create(ctx context.Context, in NewPipeline) (*Pipeline, error)
	Default(ctx context.Context) (*Pipeline, error)
	DeleteStage(ctx context.Context, id core.ID, version int64, stageID, moveTo core.ID) (*Pipeline, error)
	Get(ctx context.Context, id core.ID) (*Pipeline, error)
	List(ctx context.Context) ([]*Pipeline, error)
	Rename(ctx context.Context, id core.ID, version int64, name string) (*Pipeline, error)
	ReorderStages(ctx context.Context, id core.ID, version int64, stageIDs []core.ID) (*Pipeline, error)
	UpdateStage(ctx context.Context, id core.ID, version int64, stageID core.ID, patch StagePatch) (*Pipeline, error)
}

// DealsAPI is what *Deals (c.Deals) does, as an interface, for hosts that
// substitute it: a fake in their tests, a wrapper that adds caching or
// metrics. See *Deals for each method.
type DealsAPI interface {
	Board(ctx context.Context, pipelineID core.ID, opts BoardOptions) (*Board, error)
	Create(ctx context.Context, in NewDeal) (*Deal, error)
	Delete(ctx context.Context, id core.ID) error
	Forecast(ctx context.Context, o ForecastOptions) ([]ForecastRow, error)
	Get(ctx context.Context, id core.ID) (*Deal, error)
	History(ctx context.Context, id core.ID) ([]StageVisit, error)
	LeadActions(ctx context.Context, contactID core.ID, opts NextActionOptions) ([]Suggestion, error)
	LeadModel(ctx context.Context) (*LeadModel, error)
	LineItems(ctx context.Context, dealID core.ID) ([]LineItem, Totals, error)
	List(ctx context.Context, opts DealListOptions) (core.Page[*Deal], error)
	Lose(ctx context.Context, id core.ID, version int64, reason string) (*Deal, error)
	MoveStage(ctx context.Context, id core.ID, version int64, stageID core.ID) (*Deal, error)
	NextActions(ctx context.Context, dealID core.ID, opts NextActionOptions) ([]Suggestion, error)
	PredictLead(ctx context.Context, contactID core.ID) (*Prediction, error)
	Reopen(ctx context.Context, id core.ID, version int64, stageID core.ID) (*Deal, error)
	ScoreLeads(ctx context.Context) (int64, error)
	SetLineItems(ctx context.Context, dealID core.ID, version int64, items []NewLineItem) (*Deal, []LineItem, Totals, error)
	Stats(ctx context.Context, o StatsOptions) (*Stats, error)
	SnapshotForecast(ctx context.Context, at time.Time) (*ForecastSnapshot, error)
	TrainLeadModel(ctx context.Context, opts TrainOptions) (*LeadModel, error)
	Update(ctx context.Context, id core.ID, patch DealPatch) (*Deal, error)
	Velocity(ctx context.Context, pipelineID core.ID, from, to core.Date) ([]StageVelocity, error)
	Win(ctx context.Context, id core.ID, version int64) (*Deal, error)
}

// ProductsAPI is what *Products (c.Products) does, as an interface, for
// hosts that substitute it: a fake in their tests, a wrapper that adds
// caching or metrics. See *Products for each method.
type ProductsAPI interface {
	Create(ctx context.Context, in NewProduct) (*Product, error)
	Get(ctx context.Context, id core.ID) (*Product, error)
	GetBySKU(ctx context.Context, sku string) (*Product, error)
	List(ctx context.Context, opts ProductListOptions) (core.Page[*Product], error)
	Update(ctx context.Context, id core.ID, patch ProductPatch) (*Product, error)
}

// The services satisfy their interfaces.
var (
	_ PipelinesAPI = (*Pipelines)(nil)
	_ DealsAPI     = (*Deals)(nil)
	_ ProductsAPI  = (*Products)(nil)
)
