// Package modules is the list of crmkit's modules: what package crm wires,
// and what the tests of one module migrate (the schema's history crosses
// modules, so every test database holds every module's tables).
//
// It sits above the modules it lists (it is internal plumbing of crm's
// floor): no module imports it, and only tests outside a module's own
// package do.
package modules

import (
	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/analytics"
	"github.com/crmkit/crmkit/automation"
	"github.com/crmkit/crmkit/campaigns"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/internal/migrate"
	"github.com/crmkit/crmkit/internal/module"
	"github.com/crmkit/crmkit/pipeline"
	"github.com/crmkit/crmkit/tickets"
)

// All lists crmkit's modules in the order they are wired (and in which the
// parts of a migration they share run). Adding a module is its package
// (which declares a module.Module: its migrations, tables, events, personal
// data, hooks, periodic work and custom-field entities) and one line here;
// a service hosts call also gets a field on crm.CRM, bound in crm's bind.
func All() []module.Module {
	return []module.Module{
		fields.Module.Declare(),
		access.Module.Declare(),
		contacts.Module.Declare(),
		consent.Module.Declare(),
		pipeline.Module.Declare(),
		campaigns.Module.Declare(),
		tickets.Module.Declare(),
		automation.Module.Declare(),
		analytics.Module.Declare(),
	}
}

// Migrations returns the migration sources of every module: what
// migrate.Up takes to build crmkit's whole schema.
func Migrations() []migrate.Source { return module.Migrations(All()) }
