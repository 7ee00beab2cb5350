// Package module is the contract between package crm and the modules it
// wires (contacts, consent, pipeline, automation, and those to come).
//
// A module is one package. It declares, in one Module value, everything crm
// needs from it: its migrations, its durable jobs, its rule actions, its event catalogue, its personal data (export and
// erasure), its hooks on contacts (merge, delete) and on other events, its
// periodic work, and the entities that carry custom fields. crm holds the
// list of modules and loops over it, so adding a module is its folder plus
// one line in that list (and, when hosts call it, a field on crm.CRM).
//
// The contract lives here, in an internal package, because it speaks of
// crmkit's plumbing (store.Runtime, store.Scope): hosts never build a
// Module, they get the services crm binds.
package module

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"time"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/migrate"
	"github.com/crmkit/crmkit/internal/store"
)

// Module is what one module declares for crm to wire it.
type Module struct {
	// Name is the module's package name: "contacts", "pipeline".
	Name string

	// Tables are the crm_ tables the module owns. A module writes only its
	// own tables (a test reads every package's SQL); changes to another
	// module's rows go through that module, so that its events fire.
	Tables []string

	// Migrations are the module's schema migrations: the files of its
	// migrations/ folder (Files), named NNNN_name.sql, in the one
	// numbered history of internal/migrate (a new file takes the next
	// version free across all modules). They create and change only the
	// module's own Tables.
	Migrations fs.FS

	// Events is the module's event catalogue: every type it emits, with
	// its payload type. Types are named "entity.verb"; an entity belongs
	// to one module.
	Events []core.EventType

	// PersonalData are the module's shares of what the CRM holds about a
	// person, for the subject access export and erasure. Every crm_ table
	// of the module that refers to a contact is covered by one of them (a
	// test checks).
	PersonalData []store.PersonalData

	// OnContactMerge runs in the transaction of a merge of contacts, after
	// the losers' own records moved to the winner: the module moves what it
	// keeps about the losers (deals, consent requests) to the winner.
	OnContactMerge func(ctx context.Context, tx *store.Tx, tenant string, m ContactMerge) error

	// OnContactDelete runs in the transaction that deletes a contact (not
	// one merged away): the module unlinks or deletes what it keeps about
	// the contact.
	OnContactDelete func(ctx context.Context, tx *store.Tx, tenant string, contactID core.ID) error

	// Hooks registers any other hooks of the module on rt (before hooks on
	// other modules' events) and returns the function that removes them.
	Hooks func(rt *store.Runtime) (remove func())

	// Periodic is work the workers run once per interval across all
	// processes.
	Periodic []Periodic

	// Jobs are the kinds of durable job the module runs on the workers
	// (sending a campaign's batches, an SLA timer): it queues one with
	// store.Tx.Enqueue in the transaction of the change that asks for it.
	Jobs []Job

	// Actions are the rule actions the module offers to automation: rules
	// use one as {"type": Name, "params": {...}}, like a host's action.
	Actions []Action

	// Schemas are the filter schemas of the module's entities ("contact",
	// "deal"), each with the tenant's custom fields: what segments, rule
	// conditions and list filters over the entity are checked against.
	Schemas map[string]SchemaFunc

	// Relations are related conditions the module offers on entities
	// (its own or another module's), by entity: {"contact": purchases}
	// lets a segment filter contacts by their purchases, read by the SQL
	// of the module that owns them (see filter.Relation).
	Relations map[string][]filter.Relation

	// FieldEntities are the module's entities that carry custom fields
	// ("contact", "deal"): their definitions live in the custom-field
	// facility and their values in the entity's attributes column.
	FieldEntities []string

	// Permissions are the names under which roles grant permissions on
	// the module's records and settings ("pipeline"): usually the
	// module's Name. Each is one of access.Modules (a new module adds its
	// name to that list); a role that does not name it grants nothing on
	// the module.
	Permissions []string
}

// Files returns the migrations/ folder of a module's embedded files, for
// Module.Migrations:
//
//	//go:embed migrations/*.sql
//	var migrations embed.FS
//	… Migrations: module.Files(migrations),
func Files(embedded embed.FS) fs.FS {
	sub, err := fs.Sub(embedded, "migrations")
	if err != nil {
		panic(err) // only for a path that is not valid, which "migrations" is
	}
	return sub
}

// Migrations returns the migration sources of modules, in their order.
func Migrations(modules []Module) []migrate.Source {
	out := make([]migrate.Source, 0, len(modules))
	for _, m := range modules {
		if m.Migrations != nil {
			out = append(out, migrate.Source{Module: m.Name, FS: m.Migrations})
		}
	}
	return out
}

// Action is a rule action a module offers: automation checks a rule's
// params with Validate when the rule is saved and calls Run when a run
// reaches the action.
type Action struct {
	// Name is the action's type in rules: a code (lower-case letters,
	// digits, _), unique across modules, automation's built-in actions and
	// the host's.
	Name string
	// Doc says what the action does and what its params are.
	Doc string
	// Validate checks the params of a rule at save time, in the rule's
	// tenant (sc). An error wrapping core.ErrInvalid is a problem of the
	// rule, listed under the action's params; any other error is a failure
	// to check. Nil accepts any params.
	Validate func(ctx context.Context, sc store.Scope, params json.RawMessage) error
	// Run does the action in the transaction of the rule's step (sc is
	// bound to it and to the rule's tenant), so what it writes commits
	// exactly once, with the step's record. Its result, if any, is stored
	// with the step (JSON). An error the store knows (core.ErrInvalid,
	// core.ErrNotFound, …) fails the run; any other is retried.
	Run func(ctx context.Context, sc store.Scope, call ActionCall) (result any, err error)
}

// ActionCall is one execution of an action: the rule, the run, the step
// and the event that started the run.
type ActionCall struct {
	Tenant string
	RuleID core.ID
	RunID  core.ID
	// Step is the action's place in the rule: "0", "2.then.1".
	Step string
	// Event is the event that started the run.
	Event core.Event
	// ContactID is the contact the event is about, if any.
	ContactID *core.ID
	Params    json.RawMessage
	// IdempotencyKey is the same for every attempt of this step of this
	// run, and differs from every other: for effects outside the database.
	IdempotencyKey string
}

// Job is a kind of durable job of a module. Jobs run at least once: a job
// whose process dies mid-way, or whose Work fails, runs again (River's
// retries, with backoff), so Work must be idempotent — keep the state of
// the work in the module's tables and pick up where it stopped.
type Job struct {
	// Kind names the job: "<module>.<name>", unique across modules.
	Kind string
	// Work does the job for the tenant sc is bound to, outside any
	// transaction (it opens its own, and may talk to the network between
	// them). An error the store knows (core.ErrInvalid, core.ErrNotFound,
	// …) ends the job for good (logged); any other is retried later.
	Work func(ctx context.Context, sc store.Scope, args json.RawMessage) error
	// MaxAttempts bounds the tries (default 10).
	MaxAttempts int
}

// Jobs returns the kinds of job modules declare, in their order.
func Jobs(modules []Module) []Job {
	var out []Job
	for _, m := range modules {
		out = append(out, m.Jobs...)
	}
	return out
}

// Actions returns the rule actions modules offer, in their order.
func Actions(modules []Module) []Action {
	var out []Action
	for _, m := range modules {
		out = append(out, m.Actions...)
	}
	return out
}

// SchemaFunc returns an entity's filter schema for sc's tenant.
type SchemaFunc func(ctx context.Context, sc store.Scope) (*filter.Schema, error)

// ContactMerge says which contacts a merge folded into which. It decodes
// the payload of "contact.merged" (contacts.Merged).
type ContactMerge struct {
	WinnerID core.ID   `json:"winner_id"`
	LoserIDs []core.ID `json:"loser_ids"`
}

// contactDeleted decodes the payload of "contact.deleted"
// (contacts.ContactDeleted): set MergedInto marks a contact merged away.
type contactDeleted struct {
	MergedInto *core.ID `json:"merged_into"`
}

// The contacts module's events that OnContactMerge and OnContactDelete
// follow (contacts.EventContactMerged, contacts.EventContactDeleted; a
// test in crm holds them equal).
const (
	EventContactMerged  = "contact.merged"
	EventContactDeleted = "contact.deleted"
)

// Periodic is one piece of periodic work of a module.
type Periodic struct {
	// Name identifies the work (unique across modules): "rescore".
	Name string
	// Every is the default interval; crm.Config may override it by name.
	// Zero: off unless crm.Config gives it an interval.
	Every time.Duration
	// Table names the crm_ table whose tenants the work applies to: it runs
	// for every tenant with a row there.
	Table string
	// Run does the work for the tenant sc is bound to.
	Run func(ctx context.Context, sc store.Scope) error
}

// Catalogue builds the event catalogue of modules.
func Catalogue(modules []Module) *core.EventCatalogue {
	var types []core.EventType
	for _, m := range modules {
		types = append(types, m.Events...)
	}
	return core.NewEventCatalogue(types...)
}

// Wire installs modules on rt, as crm does (and tests of one module do
// with the modules they need): the event catalogue, the custom-field
// entities, the filter schemas, the personal data, the contact hooks and
// the other hooks.
func Wire(rt *store.Runtime, modules []Module) {
	rt.Events = Catalogue(modules)
	rt.SubjectModules = map[string]string{}
	for _, m := range modules {
		for _, ev := range m.Events {
			if _, ok := rt.SubjectModules[ev.Subject]; !ok && ev.Subject != "" && len(m.Permissions) > 0 {
				rt.SubjectModules[ev.Subject] = m.Permissions[0]
			}
		}
	}
	var onMerge []func(ctx context.Context, tx *store.Tx, tenant string, m ContactMerge) error
	var onDelete []func(ctx context.Context, tx *store.Tx, tenant string, contactID core.ID) error
	for _, m := range modules {
		rt.FieldEntities = append(rt.FieldEntities, m.FieldEntities...)
		for entity, fn := range m.Schemas {
			if rt.Schemas == nil {
				rt.Schemas = map[string]func(ctx context.Context, sc store.Scope) (*filter.Schema, error){}
			}
			if _, dup := rt.Schemas[entity]; dup {
				panic(fmt.Sprintf("crm: two modules declare the filter schema of %q", entity))
			}
			rt.Schemas[entity] = fn
		}
		for _, pd := range m.PersonalData {
			rt.RegisterPersonalData(pd)
		}
		for entity, rels := range m.Relations {
			if rt.Relations == nil {
				rt.Relations = map[string][]filter.Relation{}
			}
			rt.Relations[entity] = append(rt.Relations[entity], rels...)
		}
		if m.OnContactMerge != nil {
			onMerge = append(onMerge, m.OnContactMerge)
		}
		if m.OnContactDelete != nil {
			onDelete = append(onDelete, m.OnContactDelete)
		}
	}
	// One hook each for merges and deletions decodes the event once and
	// calls the modules in their order.
	if len(onMerge) > 0 {
		rt.Hooks.Before([]string{EventContactMerged}, func(ctx context.Context, tx *store.Tx, ev core.Event) error {
			var mg ContactMerge
			if err := json.Unmarshal(ev.Data, &mg); err != nil {
				return fmt.Errorf("crm: decode %s: %w", ev.Type, err)
			}
			for _, fn := range onMerge {
				if err := fn(ctx, tx, ev.TenantID, mg); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if len(onDelete) > 0 {
		rt.Hooks.Before([]string{EventContactDeleted}, func(ctx context.Context, tx *store.Tx, ev core.Event) error {
			var d contactDeleted
			if err := json.Unmarshal(ev.Data, &d); err != nil {
				return fmt.Errorf("crm: decode %s: %w", ev.Type, err)
			}
			if d.MergedInto != nil {
				return nil // merged away: OnContactMerge moved its records
			}
			for _, fn := range onDelete {
				if err := fn(ctx, tx, ev.TenantID, ev.SubjectID); err != nil {
					return err
				}
			}
			return nil
		})
	}
	for _, m := range modules {
		if m.Hooks != nil {
			m.Hooks(rt)
		}
	}
}
