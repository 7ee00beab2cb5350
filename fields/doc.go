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
package fields
