package contacts

import (
	"context"
	"embed"
	"slices"
	"time"

	"github.com/crmkit/crmkit/access"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/module"
	"github.com/crmkit/crmkit/internal/store"
)

// migrations are the module's schema migrations (module.Module.Migrations).
//
//go:embed migrations/*.sql
var migrations embed.FS

// Module declares the contacts module to package crm, which wires it
// (see internal/module); hosts use the services crm binds (c.Contacts,
// c.Companies, c.Notes, c.Tasks, c.Fields, c.Scoring).
var Module declaration

type declaration struct{}

// Declare returns the module's contract.
func (declaration) Declare() module.Module {
	return module.Module{
		Name:        "contacts",
		Permissions: []string{permModule},
		Migrations:  module.Files(migrations),
		Tables: []string{"crm_contacts", "crm_contact_external_ids", "crm_contact_merges", "crm_companies", "crm_activities",
			"crm_notes", "crm_tasks", "crm_scoring_models", "crm_search", "crm_search_fts", "crm_contact_stages"},
		// The stage history follows the module's own events.
		Hooks:        func(rt *store.Runtime) (remove func()) { return rt.Hooks.OnAppend(recordStages) },
		Events:       EventTypes(),
		PersonalData: personalData(),
		Periodic: []module.Periodic{{Name: "rescore", Every: 24 * time.Hour, Table: "crm_scoring_models",
			Run: func(ctx context.Context, sc store.Scope) error {
				_, err := newScoring(sc).Rescore(ctx)
				return err
			}}},
		FieldEntities: []string{EntityContact, EntityCompany},
		Relations:     map[string][]filter.Relation{EntityContact: relations()},
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

// Recipients returns a query of the id and email of sc's tenant's
// contacts that match f, have an email and are not restricted (columns
// id, email; unordered): what campaigns snapshot as a segment's recipients. The module that
// owns crm_contacts writes the query; the caller runs it (or selects
// from it) in its own statement. f is checked against the contact schema
// with the tenant's custom fields.
func (declaration) Recipients(ctx context.Context, sc store.Scope, f filter.Expr) (query string, args []any, err error) {
	tenant, err := sc.Tenant()
	if err != nil {
		return "", nil, err
	}
	schema, err := fields.Module.SchemaFor(ctx, sc, Schema, EntityContact, "c.attributes", f, "")
	if err != nil {
		return "", nil, err
	}
	where, err := schema.Compile(f, filter.Dialect(sc.Runtime().Dialect.Kind), sc.Runtime().Now())
	if err != nil {
		return "", nil, err
	}
	query = `SELECT c.id, c.email FROM crm_contacts c WHERE c.tenant_id = ? AND c.email <> '' AND NOT c.restricted AND (` + where.Where + `)`
	return query, append([]any{tenant}, where.Args...), nil
}

// Visible returns the SQL condition, with its arguments, that holds where
// col (a contact id column, trusted SQL of the caller's) names a contact
// of sc's tenant that eff's actor sees in this module: "1 = 1" when they
// see every contact; never for a NULL id otherwise. For modules that show
// people who are contacts (a segment's members, a campaign's recipients)
// to an actor: the module that owns crm_contacts writes the condition.
func (declaration) Visible(sc store.Scope, eff *access.Effective, col string) (string, []any, error) {
	cond, args := eff.Condition(permModule, "vc.owner_id")
	if cond == "1 = 1" {
		return cond, nil, nil
	}
	tenant, err := sc.Tenant()
	if err != nil {
		return "", nil, err
	}
	return `EXISTS (SELECT 1 FROM crm_contacts vc WHERE vc.tenant_id = ? AND vc.id = ` + col + ` AND ` + cond + `)`,
		append([]any{tenant}, args...), nil
}

// VisibleTask returns the SQL condition, with its arguments, that holds
// where col (a task id column, trusted SQL of the caller's) names a task
// of sc's tenant that eff's actor sees in this module (its assignee is
// the actor, a member of their teams, or any): "1 = 1" when they see
// every task; never for a NULL id, nor for a task that is gone,
// otherwise. For modules that show an actor records about tasks (a
// rule's runs).
func (declaration) VisibleTask(sc store.Scope, eff *access.Effective, col string) (string, []any, error) {
	cond, args := eff.Condition(permModule, "vt.assignee_id")
	if cond == "1 = 1" {
		return cond, nil, nil
	}
	tenant, err := sc.Tenant()
	if err != nil {
		return "", nil, err
	}
	return `EXISTS (SELECT 1 FROM crm_tasks vt WHERE vt.tenant_id = ? AND vt.id = ` + col + ` AND ` + cond + `)`,
		append([]any{tenant}, args...), nil
}

// PersonalFields returns the filter names of the contact fields that are
// personal data in sc's tenant: email, phone and "attributes.<key>" of
// each custom field of contacts marked personal (fields.Definition
// Personal). A filter that names one of them, or one of its parts
// ("attributes.salary.amount"), tells its user about personal data; for
// modules that filter contacts on an actor's behalf (a segment) and must
// refuse, as this module does, such filters from actors who do not see
// personal data. Read through sc (its transaction, if any).
func (declaration) PersonalFields(ctx context.Context, sc store.Scope) ([]string, error) {
	tenant, err := sc.Tenant()
	if err != nil {
		return nil, err
	}
	defs, err := fields.Module.List(ctx, sc.Q(), tenant, EntityContact)
	if err != nil {
		return nil, store.Wrap(err, "read field definitions")
	}
	out := slices.Clone(personalFields)
	for _, d := range defs {
		if d.Personal {
			out = append(out, filter.AttributePrefix+d.Key)
		}
	}
	return out, nil
}

// NamesPersonal returns the first of personal (filter names, as
// PersonalFields returns them) that f names, itself or one of its parts,
// or "".
func (declaration) NamesPersonal(f filter.Expr, personal []string) string {
	return personalIn(f, personal)
}

// GetMany returns the contacts of sc's tenant with the given ids, by id,
// in one query; ids that name no contact are absent. For modules that
// act on many contacts at once (a campaign's batch).
func (declaration) GetMany(ctx context.Context, sc store.Scope, ids []core.ID) (map[core.ID]*Contact, error) {
	tenant, err := sc.Tenant()
	if err != nil {
		return nil, err
	}
	out := make(map[core.ID]*Contact, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	q := sc.Q()
	rows, err := q.Query(ctx, selectContacts(q.D)+`WHERE c.tenant_id = ? AND `+q.D.InList("c.id", "uuid"), tenant, q.D.IDsArg(ids))
	if err != nil {
		return nil, store.Wrap(err, "get contacts")
	}
	err = store.EachRow(rows, func(r store.Scanner) error {
		c, err := scanContact(r)
		if err == nil {
			out[c.ID] = c
		}
		return err
	})
	return out, store.Wrap(err, "get contacts")
}
