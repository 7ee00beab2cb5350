package contacts

import (
	"context"
	"time"

	"github.com/crmkit/crmkit/internal/module"
	"github.com/crmkit/crmkit/internal/store"
)

// Module declares the contacts module to package crm, which wires it
// (see internal/module); hosts use the services crm binds (c.Contacts,
// c.Companies, c.Notes, c.Tasks, c.Fields, c.Scoring).
var Module declaration

type declaration struct{}

// Declare returns the module's contract.
func (declaration) Declare() module.Module {
	return module.Module{
		Name: "contacts",
		Tables: []string{"crm_contacts", "crm_contact_external_ids", "crm_contact_merges", "crm_companies", "crm_activities",
			"crm_notes", "crm_tasks", "crm_field_definitions", "crm_scoring_models", "crm_search", "crm_search_fts"},
		Events: EventTypes(),
		Hooks: func(rt *store.Runtime) func() {
			RegisterPersonalData(rt)
			return func() {}
		},
		Periodic: []module.Periodic{{Name: "rescore", Every: 24 * time.Hour, Table: "crm_scoring_models",
			Run: func(ctx context.Context, sc store.Scope) error {
				_, err := NewScoring(sc).Rescore(ctx)
				return err
			}}},
		FieldEntities: []string{EntityContact, EntityCompany},
	}
}
