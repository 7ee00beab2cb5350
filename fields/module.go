package fields

import (
	"context"
	"embed"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/module"
	"github.com/crmkit/crmkit/internal/store"
)

// migrations are the module's schema migrations (module.Module.Migrations).
//
//go:embed migrations/*.sql
var migrations embed.FS

// Module declares the custom-field facility to package crm, which wires
// it (see internal/module); hosts use c.Fields. The other modules use its
// unexported-type methods to check and filter their records' attributes.
var Module declaration

type declaration struct{}

// Declare returns the facility's contract: its table and events. The
// entities it serves are those the other modules declare.
func (declaration) Declare() module.Module {
	return module.Module{
		Name:        "fields",
		Permissions: []string{"fields"},
		Migrations:  module.Files(migrations),
		Tables:      []string{"crm_field_definitions"},
		Events:      EventTypes(),
	}
}

// Service returns the field definitions of sc's tenant.
func (declaration) Service(sc store.Scope) *Service { return newService(sc) }

// List reads entity's definitions through q (a module's transaction).
func (declaration) List(ctx context.Context, q store.Q, tenant, entity string) ([]*Definition, error) {
	return listFields(ctx, q, tenant, entity)
}

// Cached is List for writes in tx: the definitions are kept per tenant
// and entity for the runtime's SettingsTTL (store.Cached), and read anew
// after a change of definitions — at once in this process and in the
// transaction that made it. The result is shared: callers must not change
// it.
func (declaration) Cached(ctx context.Context, tx *store.Tx, tenant, entity string) ([]*Definition, error) {
	c := store.CacheOf[[]*Definition](tx.Runtime(), "fields.definitions", EventDefined, EventRemoved)
	return c.Get(tx, tenant+"\x00"+entity, func() ([]*Definition, error) { return listFields(ctx, tx.Q(), tenant, entity) })
}

// Check adds a problem to v for every value of attrs that its definition
// refuses, and for every required field missing.
func (declaration) Check(v *core.ValidationError, defs []*Definition, attrs map[string]any) {
	checkValues(v, defs, attrs)
}

// FilterFields are the filter fields of defs, read from JSON column
// attrCol.
func (declaration) FilterFields(defs []*Definition, d *dialect.Dialect, attrCol string) []filter.Field {
	return filterFields(defs, d, attrCol)
}

// SchemaFor extends base with the tenant's custom fields of entity when
// the filter or sort names one ("attributes.<key>").
func (declaration) SchemaFor(ctx context.Context, sc store.Scope, base *filter.Schema, entity, attrCol string, f filter.Expr, sort string) (*filter.Schema, error) {
	return schemaFor(ctx, sc, base, entity, attrCol, f, sort)
}

// CheckAttributes checks a record's attributes (keys, size, storable text)
// and returns their JSON; problems are added to v.
func (declaration) CheckAttributes(v *core.ValidationError, attrs map[string]any) []byte {
	return checkAttributes(v, attrs)
}

// CheckMap checks a free-form JSON object under field (size, storable
// text) and returns its JSON; problems are added to v.
func (declaration) CheckMap(v *core.ValidationError, field string, m map[string]any) []byte {
	return checkMap(v, field, m)
}
