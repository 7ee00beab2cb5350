package contacts

import (
	"context"
	"time"

	"github.com/crmkit/crmkit/filter"
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
			"crm_notes", "crm_tasks", "crm_scoring_models", "crm_search", "crm_search_fts"},
		Events:       EventTypes(),
		PersonalData: personalData(),
		Periodic: []module.Periodic{{Name: "rescore", Every: 24 * time.Hour, Table: "crm_scoring_models",
			Run: func(ctx context.Context, sc store.Scope) error {
				_, err := newScoring(sc).Rescore(ctx)
				return err
			}}},
		FieldEntities: []string{EntityContact, EntityCompany},
		Schemas: map[string]module.SchemaFunc{
			EntityContact: func(ctx context.Context, sc store.Scope) (*filter.Schema, error) {
				return schemaOf(ctx, sc, EntityContact)
			},
			EntityCompany: func(ctx context.Context, sc store.Scope) (*filter.Schema, error) {
				return schemaOf(ctx, sc, EntityCompany)
			},
		},
	}
}

// The services of the module, bound to scope sc (crm binds them; tests of
// this and other modules bind them to a scope of their own).

// Contacts returns the contact service for sc.
func (declaration) Contacts(sc store.Scope) *Service { return newService(sc) }

// Companies returns the company service for sc.
func (declaration) Companies(sc store.Scope) *Companies { return newCompanies(sc) }

// Notes returns the notes for sc.
func (declaration) Notes(sc store.Scope) *Notes { return newNotes(sc) }

// Scoring returns lead scoring for sc.
func (declaration) Scoring(sc store.Scope) *Scoring { return newScoring(sc) }

// Tasks returns the tasks for sc.
func (declaration) Tasks(sc store.Scope) *Tasks { return newTasks(sc) }
