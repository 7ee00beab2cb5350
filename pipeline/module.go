package pipeline

import (
	"context"

	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/module"
	"github.com/crmkit/crmkit/internal/store"
)

// Module declares the pipeline module to package crm, which wires it (see
// internal/module); hosts use the services crm binds (c.Pipelines,
// c.Deals, c.Products).
var Module declaration

type declaration struct{}

// Declare returns the module's contract.
func (declaration) Declare() module.Module {
	return module.Module{
		Name: "pipeline",
		Tables: []string{"crm_pipelines", "crm_stages", "crm_deals", "crm_deal_stage_history", "crm_line_items",
			"crm_products", "crm_lead_models"},
		Events:          EventTypes(),
		PersonalData:    personalData(),
		OnContactMerge:  onContactMerge,
		OnContactDelete: onContactDelete,
		Hooks:           registerHooks,
		FieldEntities:   []string{EntityDeal},
		Schemas:         map[string]module.SchemaFunc{EntityDeal: dealSchema},
	}
}

// Deals returns the deal service for sc.
func (declaration) Deals(sc store.Scope) *Deals { return newDeals(sc) }

// Pipelines returns the pipelines for sc.
func (declaration) Pipelines(sc store.Scope) *Pipelines { return newPipelines(sc) }

// Products returns the product catalogue for sc.
func (declaration) Products(sc store.Scope) *Products { return newProducts(sc) }

// dealSchema is DealSchema with sc's tenant's custom fields of deals.
func dealSchema(ctx context.Context, sc store.Scope) (*filter.Schema, error) {
	custom, err := fields.Module.Service(sc).FilterFields(ctx, EntityDeal, "d.attributes")
	if err != nil {
		return nil, err
	}
	return DealSchema.With(custom...), nil
}
