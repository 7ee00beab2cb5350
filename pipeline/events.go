package pipeline

import "github.com/crmkit/crmkit/core"

// Event types the pipeline module emits; the comment names the payload
// (Event.Data). Events about a deal with a contact carry the contact in
// Event.ContactID.
const (
	EventDealCreated      = "deal.created"       // Deal
	EventDealUpdated      = "deal.updated"       // DealUpdated
	EventDealStageChanged = "deal.stage_changed" // StageChange
	EventDealWon          = "deal.won"           // Deal
	EventDealLost         = "deal.lost"          // Deal
	EventDealReopened     = "deal.reopened"      // Deal
	EventDealDeleted      = "deal.deleted"       // DealDeleted
	EventPipelineCreated  = "pipeline.created"   // Pipeline
	EventPipelineUpdated  = "pipeline.updated"   // Pipeline
	EventProductCreated   = "product.created"    // Product
	EventProductUpdated   = "product.updated"    // Product
	EventLeadModelTrained = "lead_model.trained" // LeadModelTrained
)

// DealUpdated is the payload of "deal.updated": the deal after the change
// and the names of the fields that changed.
type DealUpdated struct {
	Deal    *Deal    `json:"deal"`
	Changed []string `json:"changed"`
}

// DealDeleted is the payload of "deal.deleted".
type DealDeleted struct {
	ID core.ID `json:"id"`
}

// LeadModelTrained is the payload of "lead_model.trained".
type LeadModelTrained struct {
	Version int64        `json:"version"`
	Metrics ModelMetrics `json:"metrics"`
}

// EventTypes is the pipeline module's event catalogue.
func EventTypes() []core.EventType {
	return []core.EventType{
		{Type: EventDealCreated, Subject: "deal", Payload: Deal{}, Doc: "a deal was created"},
		{Type: EventDealUpdated, Subject: "deal", Payload: DealUpdated{}, Doc: "a deal's fields or line items changed"},
		{Type: EventDealStageChanged, Subject: "deal", Payload: StageChange{}, Doc: "a deal moved to another stage"},
		{Type: EventDealWon, Subject: "deal", Payload: Deal{}, Doc: "a deal was won"},
		{Type: EventDealLost, Subject: "deal", Payload: Deal{}, Doc: "a deal was lost"},
		{Type: EventDealReopened, Subject: "deal", Payload: Deal{}, Doc: "a won or lost deal was opened again"},
		{Type: EventDealDeleted, Subject: "deal", Payload: DealDeleted{}, Doc: "a deal was deleted"},
		{Type: EventPipelineCreated, Subject: "pipeline", Payload: Pipeline{}, Doc: "a pipeline was created"},
		{Type: EventPipelineUpdated, Subject: "pipeline", Payload: Pipeline{}, Doc: "a pipeline or its stages changed"},
		{Type: EventProductCreated, Subject: "product", Payload: Product{}, Doc: "a product was added to the catalogue"},
		{Type: EventProductUpdated, Subject: "product", Payload: Product{}, Doc: "a product changed"},
		{Type: EventLeadModelTrained, Subject: "lead_model", Payload: LeadModelTrained{}, Doc: "a lead model was trained"},
	}
}
