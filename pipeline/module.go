package pipeline

import (
	"context"
	"embed"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/module"
	"github.com/crmkit/crmkit/internal/store"
)

// migrations are the module's schema migrations (module.Module.Migrations).
//
//go:embed migrations/*.sql
var migrations embed.FS

// Module declares the pipeline module to package crm, which wires it (see
// internal/module); hosts use the services crm binds (c.Pipelines,
// c.Deals, c.Products).
var Module declaration

type declaration struct{}

// Declare returns the module's contract.
func (declaration) Declare() module.Module {
	return module.Module{
		Name:        "pipeline",
		Permissions: []string{"pipeline"},
		Migrations:  module.Files(migrations),
		Tables: []string{"crm_pipelines", "crm_stages", "crm_deals", "crm_deal_stage_history", "crm_line_items",
			"crm_products", "crm_lead_models", "crm_forecast_snapshots", "crm_forecast_snapshot_lines"},
		Events:          EventTypes(),
		PersonalData:    personalData(),
		OnContactMerge:  onContactMerge,
		OnContactDelete: onContactDelete,
		Hooks:           registerHooks,
		Actions:         actions(),
		// A snapshot of the forecast of every tenant with deals, daily
		// (Deals.SnapshotForecast): what forecast accuracy is measured on.
		Periodic:      []module.Periodic{{Name: "forecast_snapshot", Every: 24 * time.Hour, Table: "crm_deals", Run: snapshotPeriodic}},
		FieldEntities: []string{EntityDeal},
		Schemas:       map[string]module.SchemaFunc{EntityDeal: dealSchema},
	}
}

// Deals returns the deal service for sc.
func (declaration) Deals(sc store.Scope) *Deals { return newDeals(sc) }

// Pipelines returns the pipelines for sc.
func (declaration) Pipelines(sc store.Scope) *Pipelines { return newPipelines(sc) }

// Products returns the product catalogue for sc.
func (declaration) Products(sc store.Scope) *Products { return newProducts(sc) }

// Visible returns the SQL condition, with its arguments, that holds where
// col (a deal id column, trusted SQL of the caller's) names a deal of sc's
// tenant that eff's actor sees in this module (its owner is the actor, a
// member of their teams, or any): "1 = 1" when they see every deal; never
// for a NULL id, nor for a deal that is gone, otherwise. For modules that
// show an actor records about deals (a rule's runs): the module that owns
// crm_deals writes the condition.
func (declaration) Visible(sc store.Scope, eff *access.Effective, col string) (string, []any, error) {
	cond, args := eff.Condition(permModule, "vd.owner_id")
	if cond == "1 = 1" {
		return cond, nil, nil
	}
	tenant, err := sc.Tenant()
	if err != nil {
		return "", nil, err
	}
	return `EXISTS (SELECT 1 FROM crm_deals vd WHERE vd.tenant_id = ? AND vd.id = ` + col + ` AND ` + cond + `)`,
		append([]any{tenant}, args...), nil
}

// dealSchema is DealSchema with sc's tenant's custom fields of deals.
func dealSchema(ctx context.Context, sc store.Scope) (*filter.Schema, error) {
	custom, err := fields.Module.Service(sc).FilterFields(ctx, EntityDeal, "d.attributes")
	if err != nil {
		return nil, err
	}
	return DealSchema.With(custom...), nil
}
