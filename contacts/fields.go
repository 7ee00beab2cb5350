package contacts

import (
	"context"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/store"
)

// Entities of this module that carry custom fields (see package fields).
const (
	EntityContact = "contact"
	EntityCompany = "company"
)

// schemaOf returns the filter schema of entity (EntityContact or
// EntityCompany) extended with the tenant's custom fields, typed by their
// definitions: to check a stored filter, or to test records in memory with
// Match as List would select them in SQL. A money field "budget" is
// addressed as "attributes.budget.amount" (a number) and
// "attributes.budget.currency".
func schemaOf(ctx context.Context, sc store.Scope, entity string) (*filter.Schema, error) {
	base, attrCol := Schema, "c.attributes"
	switch entity {
	case EntityContact:
	case EntityCompany:
		base, attrCol = CompanySchema, "co.attributes"
	default:
		return nil, core.Invalid("entity", "must be contact or company")
	}
	defs, err := fields.Module.Service(sc).List(ctx, entity)
	if err != nil {
		return nil, err
	}
	return base.With(fields.Module.FilterFields(defs, sc.Runtime().Dialect, attrCol)...), nil
}
