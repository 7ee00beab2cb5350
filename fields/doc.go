// Package fields is crmkit's custom-field facility: typed definitions
// (text, number, boolean, date, enum, multi-enum, money) of the keys a
// record's attributes may hold, for every entity a module declares
// (contacts and companies, deals, and the entities of modules to come).
//
//	_, err := c.Fields.Define(ctx, fields.Definition{Entity: "contact", Key: "plan",
//		Label: "Plan", Type: fields.Enum, Options: []string{"free", "pro"}})
//
// Keys without a definition stay free-form; keys with one are checked on
// every write of the entity (a required field must be present), and become
// filterable and sortable as "attributes.<key>" in the filter language,
// typed by their definition. Defining and removing emit "field.defined" and
// "field.removed".
//
// A definition marked Personal holds personal data: the module that
// keeps the entity masks its values, and refuses filters, sorts and
// writes on it, for actors who do not see the module's personal data
// (contacts does so for contacts' fields, as for email and phone).
//
// # Record access
//
// With an actor in the context (core.WithActor), Define and Remove need
// "fields" manage (package access); lacking it is ErrForbidden, nothing
// is written, and the attempt is recorded in the audit log (action
// "access.denied", detail "fields:manage", the definition's subject id).
// Reading definitions (Get, List, FilterFields, CheckAttributes) needs no
// permission: they are the schema every module's records, forms and
// filters use, and hold no record's data. Without an actor the call is
// the host's own code and may do everything.
package fields
