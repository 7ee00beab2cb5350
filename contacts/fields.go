package contacts

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
)

// FieldType is the type of a custom field.
type FieldType string

// Custom field types and how their values are stored in attributes (JSON).
const (
	FieldText      FieldType = "text"       // a string
	FieldNumber    FieldType = "number"     // a number
	FieldBoolean   FieldType = "boolean"    // true or false
	FieldDate      FieldType = "date"       // a string "2026-01-31"
	FieldEnum      FieldType = "enum"       // one of Options
	FieldMultiEnum FieldType = "multi_enum" // a list of Options
	FieldMoney     FieldType = "money"      // {"amount": "12.50", "currency": "EUR"}
)

// FieldTypes lists every type.
var FieldTypes = []FieldType{FieldText, FieldNumber, FieldBoolean, FieldDate, FieldEnum, FieldMultiEnum, FieldMoney}

// Entities that have custom fields. Deals live in the pipeline package and
// use the same definitions.
const (
	EntityContact = "contact"
	EntityCompany = "company"
	EntityDeal    = "deal"
)

// FieldDefinition describes one custom field of an entity. Values are kept
// in the record's Attributes under Key. Keys without a definition stay
// free-form; keys with one are checked on every write.
type FieldDefinition struct {
	Entity   string    `json:"entity"`
	Key      string    `json:"key"`
	Label    string    `json:"label"`
	Type     FieldType `json:"type"`
	Required bool      `json:"required"`
	// Options are the allowed values of enum and multi_enum fields.
	Options   []string  `json:"options,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Version   int64     `json:"version"`
}

// Fields manages custom field definitions (c.Fields).
type Fields struct {
	sc store.Scope
}

// newFields returns the service for scope sc. Hosts use crm.CRM.Fields.
func newFields(sc store.Scope) *Fields { return &Fields{sc: sc} }

var datePattern = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

// MaxFieldOptions bounds the options of an enum.
const MaxFieldOptions = 500

// entities are the entities that carry custom fields: those the wired
// modules declare (module.Module.FieldEntities), or, in a runtime no crm
// wired, contact, company and deal.
func (s *Fields) entities() []string {
	if e := s.sc.Runtime().FieldEntities; len(e) > 0 {
		return e
	}
	return []string{EntityContact, EntityCompany, EntityDeal}
}

func (d *FieldDefinition) validate(entities []string) error {
	v := &core.ValidationError{}
	if !slices.Contains(entities, d.Entity) {
		v.Add("entity", "%q is not one of %s", d.Entity, strings.Join(entities, ", "))
	}
	if !filter.ValidAttributeKey(d.Key) {
		v.Add("key", "%q is not a valid key (a lower-case letter, then lower-case letters, digits and _)", d.Key)
	}
	if strings.TrimSpace(d.Label) == "" {
		v.Add("label", "is required")
	}
	v.CheckText("label", d.Label, MaxNameLen)
	if !slices.Contains(FieldTypes, d.Type) {
		v.Add("type", "%q is not one of text, number, boolean, date, enum, multi_enum, money", d.Type)
	}
	isEnum := d.Type == FieldEnum || d.Type == FieldMultiEnum
	switch {
	case isEnum && len(d.Options) == 0:
		v.Add("options", "are required for %s fields", d.Type)
	case !isEnum && len(d.Options) > 0:
		v.Add("options", "are only for enum and multi_enum fields")
	case len(d.Options) > MaxFieldOptions:
		v.Add("options", "are more than %d", MaxFieldOptions)
	}
	for i, o := range d.Options {
		if o == "" || !core.StorableText(o) || len(o) > MaxTagLen || slices.Contains(d.Options[:i], o) {
			v.Add("options", "[%d] %q must be a unique, non-empty text of at most %d bytes", i, o, MaxTagLen)
		}
	}
	return v.Err()
}

// Define creates or replaces the definition of (entity, key) and emits
// "field.defined". Existing values are not rewritten; a value that no longer
// fits is reported by the record's next write.
func (s *Fields) Define(ctx context.Context, d FieldDefinition) (*FieldDefinition, error) {
	d.Label = strings.TrimSpace(d.Label)
	if err := d.validate(s.entities()); err != nil {
		return nil, err
	}
	if d.Options == nil {
		d.Options = []string{}
	}
	err := s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		now := tx.Runtime().Now()
		cur, err := getField(ctx, tx.Q(), tenant, d.Entity, d.Key)
		switch {
		case errors.Is(err, core.ErrNotFound):
			d.CreatedAt, d.Version = now, 1
		case err != nil:
			return err
		default:
			d.CreatedAt, d.Version = cur.CreatedAt, cur.Version+1
		}
		d.UpdatedAt = now
		opts, _ := json.Marshal(d.Options)
		if _, err := tx.Q().Exec(ctx, `INSERT INTO crm_field_definitions (tenant_id, entity, key, label, type, required, options, created_at, updated_at, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (tenant_id, entity, key) DO UPDATE SET label = excluded.label, type = excluded.type, required = excluded.required,
				options = excluded.options, updated_at = excluded.updated_at, version = excluded.version`,
			tenant, d.Entity, d.Key, d.Label, string(d.Type), d.Required, string(opts), d.CreatedAt, d.UpdatedAt, d.Version); err != nil {
			return err
		}
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventFieldDefined, SubjectType: "field", SubjectID: fieldSubject(tenant, d.Entity, d.Key),
			OccurredAt: now, Data: store.JSON(d)})
	})
	if err != nil {
		return nil, store.Wrap(err, "define field")
	}
	return &d, nil
}

// fieldSubject is a stable id for a definition's events.
func fieldSubject(tenant, entity, key string) core.ID {
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte("crmkit-field\x00"+tenant+"\x00"+entity+"\x00"+key))
}

// Remove deletes the definition of (entity, key) and emits "field.removed".
// Values stay in the records' attributes, readable and free-form.
func (s *Fields) Remove(ctx context.Context, entity, key string) error {
	err := s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		d, err := getField(ctx, tx.Q(), tenant, entity, key)
		if err != nil {
			return err
		}
		if _, err := tx.Q().Exec(ctx, `DELETE FROM crm_field_definitions WHERE tenant_id = ? AND entity = ? AND key = ?`, tenant, entity, key); err != nil {
			return err
		}
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventFieldRemoved, SubjectType: "field", SubjectID: fieldSubject(tenant, entity, key), Data: store.JSON(d)})
	})
	return store.Wrap(err, "remove field")
}

// Get returns the definition of (entity, key).
func (s *Fields) Get(ctx context.Context, entity, key string) (*FieldDefinition, error) {
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	if !core.StorableText(entity + key) {
		return nil, core.Invalid("key", "is not valid text")
	}
	d, err := getField(ctx, s.sc.Q(), tenant, entity, key)
	return d, store.Wrap(err, "get field")
}

// List returns the definitions of entity, by key.
func (s *Fields) List(ctx context.Context, entity string) ([]*FieldDefinition, error) {
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	defs, err := listFields(ctx, s.sc.Q(), tenant, entity)
	return defs, store.Wrap(err, "list fields")
}

// CheckAttributes adds to v every problem of the attributes of a record of
// entity (keys, size, text, and the entity's field definitions) and returns
// them as JSON: for modules that keep custom fields on their own records
// (deals). Run it in the write's scope so the definitions are read in its
// transaction.
func (s *Fields) CheckAttributes(ctx context.Context, v *core.ValidationError, entity string, attrs map[string]any) ([]byte, error) {
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	defs, err := listFields(ctx, s.sc.Q(), tenant, entity)
	if err != nil {
		return nil, store.Wrap(err, "read field definitions")
	}
	b := checkAttributes(v, attrs)
	checkValues(v, defs, attrs)
	return b, nil
}

// FilterFields returns the filter fields of entity's custom fields, their
// JSON held in column attrCol: for modules whose lists filter by them.
func (s *Fields) FilterFields(ctx context.Context, entity, attrCol string) ([]filter.Field, error) {
	defs, err := s.List(ctx, entity)
	if err != nil {
		return nil, err
	}
	return filterFields(defs, s.sc.Runtime().Dialect, attrCol), nil
}

// Schema returns the filter schema of entity (EntityContact or
// EntityCompany) extended with the tenant's custom fields, typed by their
// definitions: to check a stored filter, or to test records in memory with
// Match as List would select them in SQL. A money field "budget" is
// addressed as "attributes.budget.amount" (a number) and
// "attributes.budget.currency".
func (s *Fields) Schema(ctx context.Context, entity string) (*filter.Schema, error) {
	base, attrCol := Schema, "c.attributes"
	switch entity {
	case EntityContact:
	case EntityCompany:
		base, attrCol = CompanySchema, "co.attributes"
	default:
		return nil, core.Invalid("entity", "must be contact or company")
	}
	defs, err := s.List(ctx, entity)
	if err != nil {
		return nil, err
	}
	return base.With(filterFields(defs, s.sc.Runtime().Dialect, attrCol)...), nil
}

const fieldColumns = `entity, key, label, type, required, options, created_at, updated_at, version`

func scanField(row scanner) (*FieldDefinition, error) {
	var d FieldDefinition
	var typ string
	var opts []byte
	if err := row.Scan(&d.Entity, &d.Key, &d.Label, &typ, &d.Required, &opts, &d.CreatedAt, &d.UpdatedAt, &d.Version); err != nil {
		return nil, err
	}
	d.Type = FieldType(typ)
	d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	if err := json.Unmarshal(opts, &d.Options); err != nil {
		return nil, fmt.Errorf("crm: field %s.%s: decode options: %w", d.Entity, d.Key, err)
	}
	return &d, nil
}

func getField(ctx context.Context, q store.Q, tenant, entity, key string) (*FieldDefinition, error) {
	d, err := scanField(q.QueryRow(ctx, `SELECT `+fieldColumns+` FROM crm_field_definitions WHERE tenant_id = ? AND entity = ? AND key = ?`, tenant, entity, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.NotFound("field", entity+"."+key)
	}
	return d, err
}

func listFields(ctx context.Context, q store.Q, tenant, entity string) ([]*FieldDefinition, error) {
	rows, err := q.Query(ctx, `SELECT `+fieldColumns+` FROM crm_field_definitions WHERE tenant_id = ? AND entity = ? ORDER BY key`, tenant, entity)
	if err != nil {
		return nil, err
	}
	defs := []*FieldDefinition{}
	err = store.EachRow(rows, func(r scanner) error {
		d, err := scanField(r)
		if err == nil {
			defs = append(defs, d)
		}
		return err
	})
	return defs, err
}

// decimalPattern is how a money amount is written: plain decimal notation.
var decimalPattern = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// checkValues reports every attribute that does not fit its definition,
// and every required field that is missing.
func checkValues(v *core.ValidationError, defs []*FieldDefinition, attrs map[string]any) {
	for _, d := range defs {
		val, ok := attrs[d.Key]
		if !ok || val == nil {
			if d.Required {
				v.Add("attributes."+d.Key, "is required (%s)", d.Label)
			}
			continue
		}
		if msg := d.check(val); msg != "" {
			v.Add("attributes."+d.Key, "%s", msg)
		}
	}
}

// check returns what is wrong with val for d, or "".
func (d *FieldDefinition) check(val any) string {
	switch d.Type {
	case FieldText:
		if _, ok := val.(string); !ok {
			return "must be text"
		}
	case FieldNumber:
		switch val.(type) {
		case float64, float32, int, int32, int64, json.Number:
		default:
			return "must be a number"
		}
	case FieldBoolean:
		if _, ok := val.(bool); !ok {
			return "must be true or false"
		}
	case FieldDate:
		s, ok := val.(string)
		if !ok || !datePattern.MatchString(s) {
			return "must be a date such as 2026-01-31"
		}
		if d, err := core.ParseDate(s); err != nil || !d.Valid() {
			return "must be a date such as 2026-01-31 in years 1 to 9999"
		}
	case FieldEnum:
		s, ok := val.(string)
		if !ok || !slices.Contains(d.Options, s) {
			return fmt.Sprintf("must be one of %s", strings.Join(d.Options, ", "))
		}
	case FieldMultiEnum:
		list, ok := asStrings(val)
		if !ok {
			return "must be a list of options"
		}
		for _, s := range list {
			if !slices.Contains(d.Options, s) {
				return fmt.Sprintf("%q is not one of %s", s, strings.Join(d.Options, ", "))
			}
		}
	case FieldMoney:
		m, ok := val.(map[string]any)
		if !ok {
			return `must be {"amount": "12.50", "currency": "EUR"}`
		}
		amount, _ := m["amount"].(string)
		currency, _ := m["currency"].(string)
		d, err := decimal.NewFromString(amount)
		if err != nil || len(m) != 2 || !decimalPattern.MatchString(amount) {
			return `must be {"amount": "12.50", "currency": "EUR"}`
		}
		if err := (core.Money{Amount: d, Currency: currency}).Validate(); err != nil {
			return strings.TrimPrefix(err.Error(), core.ErrInvalid.Error()+": ")
		}
	}
	return ""
}

func asStrings(v any) ([]string, bool) {
	switch l := v.(type) {
	case []string:
		return l, true
	case []any:
		out := make([]string, 0, len(l))
		for _, e := range l {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

// filterFields turns definitions into typed filter fields on the JSON
// column attrCol: "attributes.<key>", sortable when single-valued.
func filterFields(defs []*FieldDefinition, d *dialect.Dialect, attrCol string) []filter.Field {
	var out []filter.Field
	for _, def := range defs {
		name := filter.AttributePrefix + def.Key
		switch def.Type {
		case FieldText, FieldDate, FieldEnum:
			expr := d.StringCompare(d.JSONText(attrCol, def.Key))
			f := filter.Field{Name: name, Column: expr, Type: filter.String, Sortable: true,
				SortColumn: "COALESCE(" + expr + ", '')", SortDefault: ""}
			if def.Type == FieldEnum {
				f.Type, f.Values = filter.Enum, def.Options
			}
			out = append(out, f)
		case FieldNumber:
			expr := d.JSONNumber(attrCol, def.Key)
			out = append(out, filter.Field{Name: name, Column: expr, Type: filter.Number, Sortable: true,
				SortColumn: "COALESCE(" + expr + ", -1e300)", SortDefault: -1e300})
		case FieldBoolean:
			out = append(out, filter.Field{Name: name, Column: d.JSONBool(attrCol, def.Key), Type: filter.Bool})
		case FieldMultiEnum:
			out = append(out, filter.Field{Name: name, Column: d.JSONArray(attrCol, def.Key), Type: filter.Tags})
		case FieldMoney:
			// A money field filters and sorts by its amount and its currency;
			// amounts compare as numbers, whatever the currency.
			amount := d.JSONDecimal(attrCol, def.Key, "amount")
			currency := d.StringCompare(d.JSONText(attrCol, def.Key, "currency"))
			out = append(out,
				filter.Field{Name: name + ".amount", Column: amount, Type: filter.Number, Sortable: true,
					SortColumn: "COALESCE(" + amount + ", -1e300)", SortDefault: -1e300},
				filter.Field{Name: name + ".currency", Column: currency, Type: filter.String, Sortable: true,
					SortColumn: "COALESCE(" + currency + ", '')", SortDefault: ""})
		}
	}
	return out
}

// schemaFor extends base with the tenant's custom fields of entity when the
// filter or sort names one ("attributes.<key>"); otherwise no definitions
// are read.
func schemaFor(ctx context.Context, sc store.Scope, base *filter.Schema, entity, attrCol string, f filter.Expr, sort string) (*filter.Schema, error) {
	if !strings.Contains(sort, filter.AttributePrefix) && !strings.Contains(f.String(), `"field":"`+filter.AttributePrefix) {
		return base, nil
	}
	tenant, err := sc.Tenant()
	if err != nil {
		return nil, err
	}
	defs, err := listFields(ctx, sc.Q(), tenant, entity)
	if err != nil {
		return nil, store.Wrap(err, "read field definitions")
	}
	return base.With(filterFields(defs, sc.Runtime().Dialect, attrCol)...), nil
}
