package pipeline

import (
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/internal/module"
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
		OnContactMerge:  onContactMerge,
		OnContactDelete: onContactDelete,
		Hooks:           registerHooks,
		FieldEntities:   []string{contacts.EntityDeal},
	}
}
