package pipeline

import (
	"time"

	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/store"
)

// StageKind says what reaching a stage means for a deal.
type StageKind string

// Stage kinds.
const (
	StageOpen StageKind = "open" // the deal is being worked on
	StageWon  StageKind = "won"  // the deal is won
	StageLost StageKind = "lost" // the deal is lost
)

// Stage is one step of a pipeline.
type Stage struct {
	ID         core.ID `json:"id"`
	PipelineID core.ID `json:"pipeline_id"`
	Name       string  `json:"name"`
	// Position orders the stages of a pipeline, from 0.
	Position int `json:"position"`
	// Probability is the chance, in whole percent, that a deal in this
	// stage is won: the weight of the weighted forecast.
	Probability int       `json:"probability"`
	Kind        StageKind `json:"kind"`
	// Archived stages keep their deals but take no new ones.
	Archived bool `json:"archived,omitempty"`
}

// Pipeline is an ordered list of stages deals move through.
type Pipeline struct {
	ID       core.ID `json:"id"`
	Name     string  `json:"name"`
	Position int     `json:"position"`
	Archived bool    `json:"archived,omitempty"`
	// Stages in order, archived ones included.
	Stages    []Stage   `json:"stages"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Version changes with every change of the pipeline or its stages.
	Version int64 `json:"version"`
}

// Stage returns the stage with id, or nil.
func (p *Pipeline) Stage(id core.ID) *Stage {
	for i := range p.Stages {
		if p.Stages[i].ID == id {
			return &p.Stages[i]
		}
	}
	return nil
}

// FirstStage returns the first stage of kind that is not archived, or nil.
func (p *Pipeline) FirstStage(kind StageKind) *Stage {
	for i := range p.Stages {
		if p.Stages[i].Kind == kind && !p.Stages[i].Archived {
			return &p.Stages[i]
		}
	}
	return nil
}

// NewStage describes a stage to create.
type NewStage struct {
	Name        string    `json:"name"`
	Probability int       `json:"probability"`
	Kind        StageKind `json:"kind"`
}

// NewPipeline describes a pipeline to create; without Stages it gets
// DefaultStages.
type NewPipeline struct {
	Name   string     `json:"name"`
	Stages []NewStage `json:"stages,omitempty"`
}

// DefaultStages are the stages of a pipeline created without any, and of
// the pipeline Default creates on first use.
var DefaultStages = []NewStage{
	{Name: "Qualification", Probability: 10, Kind: StageOpen},
	{Name: "Demo", Probability: 25, Kind: StageOpen},
	{Name: "Proposal", Probability: 50, Kind: StageOpen},
	{Name: "Negotiation", Probability: 70, Kind: StageOpen},
	{Name: "Won", Probability: 100, Kind: StageWon},
	{Name: "Lost", Probability: 0, Kind: StageLost},
}

// DefaultPipelineName is the name of the pipeline Default creates.
const DefaultPipelineName = "Sales"

// StagePatch changes a stage: nil fields stay.
type StagePatch struct {
	Name        *string
	Probability *int
}

// DealStatus is where a deal stands; it follows the kind of its stage.
type DealStatus string

// Deal statuses.
const (
	DealOpen DealStatus = "open"
	DealWon  DealStatus = "won"
	DealLost DealStatus = "lost"
)

// Deal is a sale in progress (or won, or lost).
type Deal struct {
	ID    core.ID `json:"id"`
	Title string  `json:"title"`
	// Amount is the deal's value. With line items it is their net sum,
	// computed by crmkit.
	Amount     core.Money `json:"amount"`
	ContactID  *core.ID   `json:"contact_id,omitempty"`
	CompanyID  *core.ID   `json:"company_id,omitempty"`
	OwnerID    string     `json:"owner_id,omitempty"`
	PipelineID core.ID    `json:"pipeline_id"`
	StageID    core.ID    `json:"stage_id"`
	Status     DealStatus `json:"status"`
	// ExpectedClose is the day the deal should close, zero for none.
	ExpectedClose core.Date `json:"expected_close,omitzero"`
	// ClosedOn is the day (UTC) the deal was won or lost, zero while open.
	ClosedOn   core.Date  `json:"closed_on,omitzero"`
	ClosedAt   *time.Time `json:"closed_at,omitempty"`
	LostReason string     `json:"lost_reason,omitempty"`
	// Source says where the deal came from ("webinar", "referral").
	Source string `json:"source,omitempty"`
	// Commit marks a deal its owner commits to close in its period: the
	// commit column of the forecast.
	Commit bool `json:"commit,omitempty"`
	// LineItems is the number of line items; with any, Amount is computed.
	LineItems      int            `json:"line_items"`
	Attributes     map[string]any `json:"attributes"`
	StageEnteredAt time.Time      `json:"stage_entered_at"`
	CreatedAt      time.Time      `json:"created_at"`
	UpdatedAt      time.Time      `json:"updated_at"`
	Version        int64          `json:"version"`
}

// NewDeal is the input of Deals.Create.
type NewDeal struct {
	Title string `json:"title"`
	// Amount is the value and its currency (required, may be zero).
	Amount    core.Money `json:"amount"`
	ContactID *core.ID   `json:"contact_id,omitempty"`
	CompanyID *core.ID   `json:"company_id,omitempty"`
	OwnerID   string     `json:"owner_id,omitempty"`
	// PipelineID defaults to the default pipeline (see Pipelines.Default).
	PipelineID core.ID `json:"pipeline_id,omitempty"`
	// StageID defaults to the pipeline's first open stage.
	StageID core.ID `json:"stage_id,omitempty"`
	// ExpectedClose is the day the deal should close (optional).
	ExpectedClose core.Date      `json:"expected_close,omitzero"`
	Source        string         `json:"source,omitempty"`
	Commit        bool           `json:"commit,omitempty"`
	Attributes    map[string]any `json:"attributes,omitempty"`
}

// DealPatch is the input of Deals.Update: nil fields stay. Stages change
// with MoveStage, Win, Lose and Reopen.
type DealPatch struct {
	// Version is the version the caller read; required.
	Version int64
	Title   *string
	// Amount cannot be set on a deal with line items.
	Amount *core.Money
	// ContactID and CompanyID set the link; a pointer to core.NilID removes it.
	ContactID *core.ID
	CompanyID *core.ID
	OwnerID   *string
	// ExpectedClose sets the day; a pointer to the zero Date removes it.
	ExpectedClose *core.Date
	Source        *string
	Commit        *bool
	// Attributes are merged: each key given is set, a nil value removes it.
	Attributes map[string]any
}

// StageVisit is one stay of a deal in a stage.
type StageVisit struct {
	StageID   core.ID    `json:"stage_id"`
	EnteredAt time.Time  `json:"entered_at"`
	LeftAt    *time.Time `json:"left_at,omitempty"`
	// Duration is how long the deal stayed (until now while it is there).
	Duration time.Duration `json:"duration"`
}

// Product is an item of the catalogue deals sell.
type Product struct {
	ID          core.ID    `json:"id"`
	SKU         string     `json:"sku"`
	Name        string     `json:"name"`
	Description string     `json:"description,omitempty"`
	UnitPrice   core.Money `json:"unit_price"`
	// TaxRate is a percentage ("19" for 19%).
	TaxRate   decimal.Decimal `json:"tax_rate"`
	Active    bool            `json:"active"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
	Version   int64           `json:"version"`
}

// NewProduct is the input of Products.Create; new products are active.
type NewProduct struct {
	SKU         string          `json:"sku"`
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	UnitPrice   core.Money      `json:"unit_price"`
	TaxRate     decimal.Decimal `json:"tax_rate"`
}

// ProductPatch is the input of Products.Update: nil fields stay.
type ProductPatch struct {
	Version     int64
	Name        *string
	Description *string
	UnitPrice   *core.Money
	TaxRate     *decimal.Decimal
	Active      *bool
}

// NewLineItem is one line of a deal, as SetLineItems takes it.
type NewLineItem struct {
	// ProductID links a catalogue product; its name, unit price and tax
	// rate are the defaults of the line.
	ProductID *core.ID `json:"product_id,omitempty"`
	// Name defaults to the product's.
	Name string `json:"name,omitempty"`
	// Quantity must be positive; fractions are allowed (2.5 hours).
	Quantity decimal.Decimal `json:"quantity"`
	// UnitPrice defaults to the product's; its currency must be the deal's.
	UnitPrice *core.Money `json:"unit_price,omitempty"`
	// DiscountPercent (0-100) and DiscountAmount (per line, not per unit)
	// both reduce the line.
	DiscountPercent decimal.Decimal `json:"discount_percent"`
	DiscountAmount  decimal.Decimal `json:"discount_amount"`
	// TaxRate is a percentage (0-100); it defaults to the product's.
	TaxRate *decimal.Decimal `json:"tax_rate,omitempty"`
}

// LineItem is a stored line of a deal with its computed money: Net is
// quantity × unit price less the discounts, Tax is Net × TaxRate, each
// rounded to the currency's minor unit (half away from zero), and Total is
// Net + Tax. A deal's totals are the exact sums of its lines.
type LineItem struct {
	ID              core.ID         `json:"id"`
	Position        int             `json:"position"`
	ProductID       *core.ID        `json:"product_id,omitempty"`
	Name            string          `json:"name"`
	Quantity        decimal.Decimal `json:"quantity"`
	UnitPrice       core.Money      `json:"unit_price"`
	DiscountPercent decimal.Decimal `json:"discount_percent"`
	DiscountAmount  core.Money      `json:"discount_amount"`
	TaxRate         decimal.Decimal `json:"tax_rate"`
	Net             core.Money      `json:"net"`
	Tax             core.Money      `json:"tax"`
	Total           core.Money      `json:"total"`
}

// Totals sums the lines of a deal.
type Totals struct {
	Net   core.Money `json:"net"`
	Tax   core.Money `json:"tax"`
	Total core.Money `json:"total"`
}

// DealSchema is the filter allowlist of deals. amount compares in currency
// units (12.5), whatever the currency; combine it with currency.
var DealSchema = filter.NewSchema("deal", "d.attributes",
	filter.Field{Name: "title", Column: "d.title", Type: filter.String, Sortable: true},
	filter.Field{Name: "amount", Column: dealAmountColumn, Type: filter.Number, Sortable: true},
	filter.Field{Name: "currency", Column: "d.currency", Type: filter.String},
	filter.Field{Name: "owner_id", Column: "d.owner_id", Type: filter.String},
	filter.Field{Name: "pipeline_id", Column: "d.pipeline_id", Type: filter.ID},
	filter.Field{Name: "stage_id", Column: "d.stage_id", Type: filter.ID},
	filter.Field{Name: "status", Column: "d.status", Type: filter.Enum, Values: []string{"open", "won", "lost"}},
	filter.Field{Name: "expected_close", Column: "d.expected_close", Type: filter.String, Sortable: true},
	filter.Field{Name: "closed_on", Column: "d.closed_on", Type: filter.String, Sortable: true},
	filter.Field{Name: "contact_id", Column: "d.contact_id", Type: filter.ID},
	filter.Field{Name: "company_id", Column: "d.company_id", Type: filter.ID},
	filter.Field{Name: "source", Column: "d.source", Type: filter.String},
	filter.Field{Name: "commit", Column: "d.forecast_commit", Type: filter.Bool},
	filter.Field{Name: "stage_entered_at", Column: "d.stage_entered_at", Type: filter.Time, Sortable: true},
	filter.Field{Name: "created_at", Column: "d.created_at", Type: filter.Time, Sortable: true},
	filter.Field{Name: "updated_at", Column: "d.updated_at", Type: filter.Time, Sortable: true},
)

// FilterValue implements filter.Record.
func (d *Deal) FilterValue(field string) any {
	switch field {
	case "title":
		return d.Title
	case "amount":
		minor, _ := store.MoneyToStorage(d.Amount)
		return store.MoneyStorageFloat(minor)
	case "currency":
		return d.Amount.Currency
	case "owner_id":
		return d.OwnerID
	case "pipeline_id":
		return d.PipelineID
	case "stage_id":
		return d.StageID
	case "status":
		return string(d.Status)
	case "expected_close":
		return d.ExpectedClose.String()
	case "closed_on":
		return d.ClosedOn.String()
	case "contact_id":
		return idOrNil(d.ContactID)
	case "company_id":
		return idOrNil(d.CompanyID)
	case "source":
		return d.Source
	case "commit":
		return d.Commit
	case "stage_entered_at":
		return d.StageEnteredAt
	case "created_at":
		return d.CreatedAt
	case "updated_at":
		return d.UpdatedAt
	}
	if len(field) > len(filter.AttributePrefix) && field[:len(filter.AttributePrefix)] == filter.AttributePrefix {
		return d.Attributes[field[len(filter.AttributePrefix):]]
	}
	return nil
}

func idOrNil(id *core.ID) core.ID {
	if id == nil {
		return core.NilID
	}
	return *id
}

// dealAmountColumn is the SQL of a deal's amount in whole units.
var dealAmountColumn = store.MoneyStorageSQL("d.amount")

// EntityDeal is the entity name of deals' custom fields (see package
// fields).
const EntityDeal = "deal"
