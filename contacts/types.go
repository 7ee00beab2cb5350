package contacts

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/store"
)

// Stage is a contact's lifecycle stage.
type Stage string

// Lifecycle stages, in the order a contact usually moves through them.
const (
	StageSubscriber  Stage = "subscriber"
	StageLead        Stage = "lead"
	StageMQL         Stage = "mql" // marketing-qualified lead
	StageSQL         Stage = "sql" // sales-qualified lead
	StageOpportunity Stage = "opportunity"
	StageCustomer    Stage = "customer"
	StageEvangelist  Stage = "evangelist"
	StageOther       Stage = "other"
)

// Stages lists every lifecycle stage.
var Stages = []Stage{StageSubscriber, StageLead, StageMQL, StageSQL, StageOpportunity, StageCustomer, StageEvangelist, StageOther}

// ExternalID links a contact to a record in another system: Source names
// the system ("shop", "erp"), ID is that system's id.
type ExternalID struct {
	Source string `json:"source"`
	ID     string `json:"id"`
}

// Contact is a person the CRM knows.
type Contact struct {
	ID             core.ID        `json:"id"`
	Email          string         `json:"email,omitempty"`
	Phone          string         `json:"phone,omitempty"`
	FirstName      string         `json:"first_name,omitempty"`
	LastName       string         `json:"last_name,omitempty"`
	CompanyID      *core.ID       `json:"company_id,omitempty"`
	LifecycleStage Stage          `json:"lifecycle_stage"`
	OwnerID        string         `json:"owner_id,omitempty"`
	Tags           []string       `json:"tags"`
	Attributes     map[string]any `json:"attributes"`
	ExternalIDs    []ExternalID   `json:"external_ids"`
	CreatedAt      time.Time      `json:"created_at"`
	UpdatedAt      time.Time      `json:"updated_at"`
	// Version counts changes; pass it back to Update.
	Version int64 `json:"version"`

	// Restricted marks a contact whose processing is restricted (GDPR
	// Art. 18): kept, but left out of marketing, scoring and disclosure.
	// Set with Restrict and LiftRestriction.
	Restricted bool `json:"restricted,omitempty"`
	// ImportID is the import that last had a row for the contact (see
	// ImportResult.ImportID); nil if no import has. Read-only; filterable
	// as "import_id" (not indexed).
	ImportID *core.ID `json:"import_id,omitempty"`
	// Facts derived from the contact's activities, kept current by Track;
	// read-only (Create and Update ignore them) and filterable.
	Facts Facts `json:"facts"`
}

// Facts are what a contact's activities add up to.
type Facts struct {
	// LastActivityAt is when the latest activity occurred; nil without one.
	LastActivityAt *time.Time `json:"last_activity_at,omitempty"`
	// PurchaseCount counts purchase activities.
	PurchaseCount int64 `json:"purchase_count"`
	// PurchaseTotal sums them; nil without purchases. A contact's purchases
	// share one currency.
	PurchaseTotal   *core.Money `json:"purchase_total,omitempty"`
	FirstPurchaseAt *time.Time  `json:"first_purchase_at,omitempty"`
	LastPurchaseAt  *time.Time  `json:"last_purchase_at,omitempty"`
	// Score is the lead score of the tenant's scoring model (see Scoring),
	// as of ScoredAt; 0 before the contact was first scored.
	Score    int64      `json:"score"`
	ScoredAt *time.Time `json:"scored_at,omitempty"`
	// PredictedScore is the chance, in percent, that the contact buys, by
	// the tenant's trained lead model (pipeline.Deals.TrainLeadModel); nil
	// until predicted.
	PredictedScore *int64 `json:"predicted_score,omitempty"`
	// Customer is the contact's RFM scores and churn risk as last stored
	// (Scoring.SetCustomerScores, which analytics.Service.StoreScores and
	// the nightly refresh call); nil when none are stored: the contact has
	// not purchased, was not scored yet, or its scores were cleared.
	Customer *CustomerFacts `json:"customer,omitempty"`
}

// CustomerFacts are a contact's stored RFM scores and churn risk.
// Filterable as "rfm_r", "rfm_f", "rfm_m", "rfm_segment", "p_alive",
// "churn_overdue" and "customer_scored_at" (missing for a contact without
// scores).
type CustomerFacts struct {
	// R, F and M are the recency, frequency and monetary quintiles, 1
	// (longest ago, fewest, least) to 5, among the tenant's customers of
	// the contact's currency.
	R int `json:"r"`
	F int `json:"f"`
	M int `json:"m"`
	// Segment is the named RFM segment of R and F (one of RFMSegments).
	Segment string `json:"segment"`
	// PAlive is the probability that the contact still buys (BG/NBD);
	// nil when the tenant's purchases did not determine the model.
	PAlive *float64 `json:"p_alive,omitempty"`
	// Overdue: the contact has not purchased for longer than their usual
	// gap between purchases allows.
	Overdue bool `json:"overdue"`
	// ScoredAt is the instant the scores describe: the end of the
	// observation they were computed over.
	ScoredAt time.Time `json:"scored_at"`
}

// RFMSegments are the names of the RFM segments, the values of
// CustomerFacts.Segment and of the filter field "rfm_segment". They are
// the segments analytics names (analytics.SegmentOf: champions, loyal, …,
// lost); this package, which stores them, holds the list, and analytics'
// tests hold its names to it.
var RFMSegments = []string{"champions", "loyal", "potential_loyalist", "new", "promising", "need_attention",
	"about_to_sleep", "at_risk", "cant_lose", "hibernating", "lost"}

// Name is the contact's full name, "" when neither part is known.
func (c *Contact) Name() string {
	switch {
	case c.FirstName == "":
		return c.LastName
	case c.LastName == "":
		return c.FirstName
	}
	return c.FirstName + " " + c.LastName
}

// NewContact is the input of Create and Upsert. A contact needs at least
// one of email, phone, a name or an external id.
type NewContact struct {
	Email     string   `json:"email,omitempty"`
	Phone     string   `json:"phone,omitempty"`
	FirstName string   `json:"first_name,omitempty"`
	LastName  string   `json:"last_name,omitempty"`
	CompanyID *core.ID `json:"company_id,omitempty"`
	// LifecycleStage defaults to StageLead.
	LifecycleStage Stage          `json:"lifecycle_stage,omitempty"`
	OwnerID        string         `json:"owner_id,omitempty"`
	Tags           []string       `json:"tags,omitempty"`
	Attributes     map[string]any `json:"attributes,omitempty"`
	ExternalIDs    []ExternalID   `json:"external_ids,omitempty"`
}

// ContactPatch is the input of Update: nil fields stay as they are.
type ContactPatch struct {
	// Version is the version the caller read; required.
	Version   int64
	Email     *string
	Phone     *string
	FirstName *string
	LastName  *string
	// CompanyID sets the company; a pointer to core.NilID removes it.
	CompanyID      *core.ID
	LifecycleStage *Stage
	OwnerID        *string
	// Tags replaces the whole set.
	Tags *[]string
	// Attributes are merged: each key given is set, and a key given with a
	// nil value is removed.
	Attributes map[string]any
}

// ListOptions select, order and page a list.
type ListOptions struct {
	// Filter selects contacts; the zero Expr selects all. See Schema for
	// the fields.
	Filter filter.Expr
	// Sort is "created_at", "updated_at" or "last_name", with "-" for
	// descending. Default "-created_at" (newest first).
	Sort string
	// Limit is the page size: default 50, at most 1000.
	Limit int
	// Cursor continues from the page that returned it.
	Cursor string
}

// Schema is the filter allowlist of contacts. Custom attributes are
// "attributes.<key>".
var Schema = filter.NewSchema("contact", "c.attributes",
	filter.Field{Name: "email", Column: "c.email", Type: filter.String},
	filter.Field{Name: "phone", Column: "c.phone", Type: filter.String},
	filter.Field{Name: "first_name", Column: "c.first_name", Type: filter.String},
	filter.Field{Name: "last_name", Column: "c.last_name", Type: filter.String, Sortable: true},
	filter.Field{Name: "lifecycle_stage", Column: "c.lifecycle_stage", Type: filter.Enum, Values: stageNames()},
	filter.Field{Name: "owner_id", Column: "c.owner_id", Type: filter.String},
	filter.Field{Name: "company_id", Column: "c.company_id", Type: filter.ID},
	// Not indexed: a filter on it alone reads every contact of the tenant.
	filter.Field{Name: "import_id", Column: "c.import_id", Type: filter.ID},
	filter.Field{Name: "tags", Column: "c.tags", Type: filter.Tags},
	filter.Field{Name: "created_at", Column: "c.created_at", Type: filter.Time, Sortable: true},
	filter.Field{Name: "updated_at", Column: "c.updated_at", Type: filter.Time, Sortable: true},
	filter.Field{Name: "last_activity_at", Column: "c.last_activity_at", Type: filter.Time},
	filter.Field{Name: "purchase_count", Column: "c.purchase_count", Type: filter.Number},
	filter.Field{Name: "score", Column: "c.score", Type: filter.Number, Sortable: true},
	filter.Field{Name: "restricted", Column: "c.restricted", Type: filter.Bool},
	filter.Field{Name: "predicted_score", Column: "c.predicted_score", Type: filter.Number, Sortable: true,
		SortColumn: "COALESCE(c.predicted_score, -1)", SortDefault: float64(-1)},
	// In currency units: 19.99, not minor units.
	filter.Field{Name: "purchase_total", Column: purchaseTotalColumn, Type: filter.Number},
	filter.Field{Name: "first_purchase_at", Column: "c.first_purchase_at", Type: filter.Time},
	filter.Field{Name: "last_purchase_at", Column: "c.last_purchase_at", Type: filter.Time},
	// The stored customer scores (Facts.Customer); missing until stored.
	filter.Field{Name: "rfm_r", Column: "c.rfm_r", Type: filter.Number},
	filter.Field{Name: "rfm_f", Column: "c.rfm_f", Type: filter.Number},
	filter.Field{Name: "rfm_m", Column: "c.rfm_m", Type: filter.Number},
	filter.Field{Name: "rfm_segment", Column: "c.rfm_segment", Type: filter.Enum, Values: RFMSegments},
	filter.Field{Name: "p_alive", Column: "c.p_alive", Type: filter.Number, Sortable: true,
		SortColumn: "COALESCE(c.p_alive, -1)", SortDefault: float64(-1)},
	filter.Field{Name: "churn_overdue", Column: "c.churn_overdue", Type: filter.Bool},
	filter.Field{Name: "customer_scored_at", Column: "c.customer_scored_at", Type: filter.Time},
)

func stageNames() []string {
	out := make([]string, len(Stages))
	for i, s := range Stages {
		out[i] = string(s)
	}
	return out
}

// FilterValue implements filter.Record, so a Contact can be tested with
// Schema.Match.
func (c *Contact) FilterValue(field string) any {
	switch field {
	case "email":
		return c.Email
	case "phone":
		return c.Phone
	case "first_name":
		return c.FirstName
	case "last_name":
		return c.LastName
	case "lifecycle_stage":
		return string(c.LifecycleStage)
	case "owner_id":
		return c.OwnerID
	case "company_id":
		if c.CompanyID == nil {
			return core.NilID
		}
		return *c.CompanyID
	case "import_id":
		if c.ImportID == nil {
			return core.NilID
		}
		return *c.ImportID
	case "tags":
		return c.Tags
	case "created_at":
		return c.CreatedAt
	case "updated_at":
		return c.UpdatedAt
	case "last_activity_at":
		return timeOrZero(c.Facts.LastActivityAt)
	case "score":
		return float64(c.Facts.Score)
	case "restricted":
		return c.Restricted
	case "predicted_score":
		if c.Facts.PredictedScore == nil {
			return nil
		}
		return float64(*c.Facts.PredictedScore)
	case "purchase_count":
		return float64(c.Facts.PurchaseCount)
	case "purchase_total":
		if c.Facts.PurchaseTotal == nil {
			return float64(0)
		}
		f, _ := c.Facts.PurchaseTotal.Amount.Float64()
		return f
	case "first_purchase_at":
		return timeOrZero(c.Facts.FirstPurchaseAt)
	case "last_purchase_at":
		return timeOrZero(c.Facts.LastPurchaseAt)
	case "rfm_r", "rfm_f", "rfm_m", "p_alive", "churn_overdue", "customer_scored_at":
		return c.Facts.Customer.filterValue(field)
	case "rfm_segment":
		if c.Facts.Customer == nil {
			return ""
		}
		return c.Facts.Customer.Segment
	}
	if key, ok := cutAttr(field); ok {
		return attrValue(c.Attributes, key)
	}
	return nil
}

// filterValue is the value of a customer score's filter field: nil (a
// missing value) when f is nil or has no P(alive).
func (f *CustomerFacts) filterValue(field string) any {
	if f == nil {
		return nil
	}
	switch field {
	case "rfm_r":
		return float64(f.R)
	case "rfm_f":
		return float64(f.F)
	case "rfm_m":
		return float64(f.M)
	case "p_alive":
		if f.PAlive == nil {
			return nil
		}
		return *f.PAlive
	case "churn_overdue":
		return f.Overdue
	case "customer_scored_at":
		return f.ScoredAt
	}
	return nil
}

// attrValue is the filter value of attribute key: its value, or for
// "<money field>.amount" and ".currency" that part of a money value.
func attrValue(attrs map[string]any, key string) any {
	if v, ok := attrs[key]; ok {
		return v
	}
	base, part, ok := strings.Cut(key, ".")
	if !ok {
		return nil
	}
	m, _ := attrs[base].(map[string]any)
	switch s, _ := m[part].(string); part {
	case "amount":
		if f, err := strconv.ParseFloat(s, 64); err == nil && decimalText.MatchString(s) {
			return f
		}
	case "currency":
		if s != "" {
			return s
		}
	}
	return nil
}

func timeOrZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

func cutAttr(field string) (string, bool) {
	if len(field) > len(filter.AttributePrefix) && field[:len(filter.AttributePrefix)] == filter.AttributePrefix {
		return field[len(filter.AttributePrefix):], true
	}
	return "", false
}

// Company is an organisation contacts belong to.
type Company struct {
	ID   core.ID `json:"id"`
	Name string  `json:"name"`
	// Domain is the company's web domain, lower-case, unique per tenant.
	Domain     string         `json:"domain,omitempty"`
	Attributes map[string]any `json:"attributes"`
	CreatedAt  time.Time      `json:"created_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
	Version    int64          `json:"version"`
}

// NewCompany is the input of CreateCompany.
type NewCompany struct {
	Name       string         `json:"name"`
	Domain     string         `json:"domain,omitempty"`
	Attributes map[string]any `json:"attributes,omitempty"`
}

// CompanyPatch is the input of UpdateCompany: nil fields stay as they are.
type CompanyPatch struct {
	Version    int64
	Name       *string
	Domain     *string
	Attributes map[string]any
}

// purchaseTotalColumn is the SQL of the purchase total in whole units.
var purchaseTotalColumn = store.MoneyStorageSQL("c.purchase_total")

// decimalText is a number in plain decimal notation.
var decimalText = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)
