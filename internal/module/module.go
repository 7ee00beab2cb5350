// Package module is the contract between package crm and the modules it
// wires (contacts, consent, pipeline, automation, and those to come).
//
// A module is one package. It declares, in one Module value, everything crm
// needs from it: its event catalogue, its personal data (export and
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
	"encoding/json"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
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

	// Schemas are the filter schemas of the module's entities ("contact",
	// "deal"), each with the tenant's custom fields: what segments, rule
	// conditions and list filters over the entity are checked against.
	Schemas map[string]SchemaFunc

	// FieldEntities are the module's entities that carry custom fields
	// ("contact", "deal"): their definitions live in the custom-field
	// facility and their values in the entity's attributes column.
	FieldEntities []string
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
