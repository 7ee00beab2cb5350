package fields

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

// Type is the type of a custom field.
type Type string

// Custom field types and how their values are stored in attributes (JSON).
const (
	Text      Type = "text"       // a string
	Number    Type = "number"     // a number
	Boolean   Type = "boolean"    // true or false
	Date      Type = "date"       // a string "2026-01-31"
	Enum      Type = "enum"       // one of Options
	MultiEnum Type = "multi_enum" // a list of Options
	Money     Type = "money"      // {"amount": "12.50", "currency": "EUR"}
)

// Types lists every type.
var Types = []Type{Text, Number, Boolean, Date, Enum, MultiEnum, Money}

// Definition describes one custom field of an entity. Values are kept
// in the record's Attributes under Key. Keys without a definition stay
// free-form; keys with one are checked on every write.
type Definition struct {
	Entity   string `json:"entity"`
	Key      string `json:"key"`
	Label    string `json:"label"`
	Type     Type   `json:"type"`
	Required bool   `json:"required"`
	// Options are the allowed values of enum and multi_enum fields.
	Options []string `json:"options,omitempty"`
	// Personal marks a field that holds personal data (a birthday, a
	// second address): the modules that keep the entity mask its values,
	// and refuse filters and sorts on it, for actors who do not see their
	// personal data (access.Effective.SeesPersonalData), as they do for
	// email and phone.
	Personal  bool      `json:"personal"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Version   int64     `json:"version"`
}

// Service manages custom field definitions (c.Fields).
type Service struct {
	sc store.Scope
}

// newService returns the service for scope sc. Hosts use crm.CRM.Fields.
func newService(sc store.Scope) *Service { return &Service{sc: sc} }

var datePattern = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

// MaxLabelLen bounds a field's label, in characters.
const MaxLabelLen = 200

// MaxOptionLen bounds one option of an enum, in characters.
const MaxOptionLen = 100

// MaxOptions bounds the options of an enum.
const MaxOptions = 500

// entities are the entities that carry custom fields: those the wired
// modules declare (their FieldEntities), or, in a runtime no crm wired
// (a module's own tests), contact, company and deal.
func (s *Service) entities() []string {
	if e := s.sc.Runtime().FieldEntities; len(e) > 0 {
		return e
	}
	return []string{"contact", "company", "deal"}
}

func (d *Definition) validate(entities []string) error {
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
	v.CheckText("label", d.Label, MaxLabelLen)
	if !slices.Contains(Types, d.Type) {
		v.Add("type", "%q is not one of text, number, boolean, date, enum, multi_enum, money", d.Type)
	}
	isEnum := d.Type == Enum || d.Type == MultiEnum
	switch {
	case isEnum && len(d.Options) == 0:
		v.Add("options", "are required for %s fields", d.Type)
	case !isEnum && len(d.Options) > 0:
		v.Add("options", "are only for enum and multi_enum fields")
	case len(d.Options) > MaxOptions:
		v.Add("options", "are more than %d", MaxOptions)
	}
	for i, o := range d.Options {
		if o == "" || !core.StorableText(o) || len(o) > MaxOptionLen || slices.Contains(d.Options[:i], o) {
			v.Add("options", "[%d] %q must be a unique, non-empty text of at most %d bytes", i, o, MaxOptionLen)
		}
	}
	return v.Err()
}

// Define creates or replaces the definition of (entity, key) and emits
// "field.defined". Existing values are not rewritten; a value that no longer
// fits is reported by the record's next write.
func (s *Service) Define(ctx context.Context, d Definition) (_ *Definition, err error) {
	ctx, span := s.sc.Span(ctx, "fields.Define")
	defer span.End(&err)

	d.Label = strings.TrimSpace(d.Label)
	if err := d.validate(s.entities()); err != nil {
		return nil, err
	}
	if d.Options == nil {
		d.Options = []string{}
	}
	if err := check(ctx, s.sc, d.Entity, d.Key); err != nil {
		return nil, err
	}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
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
		if _, err := tx.Q().Exec(ctx, `INSERT INTO crm_field_definitions (tenant_id, entity, key, label, type, required, options, personal, created_at, updated_at, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (tenant_id, entity, key) DO UPDATE SET label = excluded.label, type = excluded.type, required = excluded.required,
				options = excluded.options, personal = excluded.personal, updated_at = excluded.updated_at, version = excluded.version`,
			tenant, d.Entity, d.Key, d.Label, string(d.Type), d.Required, string(opts), d.Personal, d.CreatedAt, d.UpdatedAt, d.Version); err != nil {
			return err
		}
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventDefined, SubjectType: "field", SubjectID: fieldSubject(tenant, d.Entity, d.Key),
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
func (s *Service) Remove(ctx context.Context, entity, key string) (err error) {
	ctx, span := s.sc.Span(ctx, "fields.Remove")
	defer span.End(&err)

	if err := check(ctx, s.sc, entity, key); err != nil {
		return err
	}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		d, err := getField(ctx, tx.Q(), tenant, entity, key)
		if err != nil {
			return err
		}
		if _, err := tx.Q().Exec(ctx, `DELETE FROM crm_field_definitions WHERE tenant_id = ? AND entity = ? AND key = ?`, tenant, entity, key); err != nil {
			return err
		}
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventRemoved, SubjectType: "field", SubjectID: fieldSubject(tenant, entity, key), Data: store.JSON(d)})
	})
	return store.Wrap(err, "remove field")
}

// Get returns the definition of (entity, key).
func (s *Service) Get(ctx context.Context, entity, key string) (_ *Definition, err error) {
	ctx, span := s.sc.Span(ctx, "fields.Get")
	defer span.End(&err)

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
func (s *Service) List(ctx context.Context, entity string) (_ []*Definition, err error) {
	ctx, span := s.sc.Span(ctx, "fields.List")
	defer span.End(&err)

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
func (s *Service) CheckAttributes(ctx context.Context, v *core.ValidationError, entity string, attrs map[string]any) (_ []byte, err error) {
	ctx, span := s.sc.Span(ctx, "fields.CheckAttributes")
	defer span.End(&err)

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
func (s *Service) FilterFields(ctx context.Context, entity, attrCol string) (_ []filter.Field, err error) {
	ctx, span := s.sc.Span(ctx, "fields.FilterFields")
	defer span.End(&err)

	defs, err := s.List(ctx, entity)
	if err != nil {
		return nil, err
	}
	return filterFields(defs, s.sc.Runtime().Dialect, attrCol), nil
}

const fieldColumns = `entity, key, label, type, required, options, personal, created_at, updated_at, version`

func scanField(row store.Scanner) (*Definition, error) {
	var d Definition
	var typ string
	var opts []byte
	if err := row.Scan(&d.Entity, &d.Key, &d.Label, &typ, &d.Required, &opts, &d.Personal, &d.CreatedAt, &d.UpdatedAt, &d.Version); err != nil {
		return nil, err
	}
	d.Type = Type(typ)
	d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	if err := json.Unmarshal(opts, &d.Options); err != nil {
		return nil, fmt.Errorf("crm: field %s.%s: decode options: %w", d.Entity, d.Key, err)
	}
	return &d, nil
}

func getField(ctx context.Context, q store.Q, tenant, entity, key string) (*Definition, error) {
	d, err := scanField(q.QueryRow(ctx, `SELECT `+fieldColumns+` FROM crm_field_definitions WHERE tenant_id = ? AND entity = ? AND key = ?`, tenant, entity, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.NotFound("field", entity+"."+key)
	}
	return d, err
}

func listFields(ctx context.Context, q store.Q, tenant, entity string) ([]*Definition, error) {
	rows, err := q.Query(ctx, `SELECT `+fieldColumns+` FROM crm_field_definitions WHERE tenant_id = ? AND entity = ? ORDER BY key`, tenant, entity)
	if err != nil {
		return nil, err
	}
	defs := []*Definition{}
	err = store.EachRow(rows, func(r store.Scanner) error {
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
func checkValues(v *core.ValidationError, defs []*Definition, attrs map[string]any) {
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
func (d *Definition) check(val any) string {
	switch d.Type {
	case Text:
		if _, ok := val.(string); !ok {
			return "must be text"
		}
	case Number:
		switch val.(type) {
		case float64, float32, int, int32, int64, json.Number:
		default:
			return "must be a number"
		}
	case Boolean:
		if _, ok := val.(bool); !ok {
			return "must be true or false"
		}
	case Date:
		s, ok := val.(string)
		if !ok || !datePattern.MatchString(s) {
			return "must be a date such as 2026-01-31"
		}
		if d, err := core.ParseDate(s); err != nil || !d.Valid() {
			return "must be a date such as 2026-01-31 in years 1 to 9999"
		}
	case Enum:
		s, ok := val.(string)
		if !ok || !slices.Contains(d.Options, s) {
			return fmt.Sprintf("must be one of %s", strings.Join(d.Options, ", "))
		}
	case MultiEnum:
		list, ok := asStrings(val)
		if !ok {
			return "must be a list of options"
		}
		for _, s := range list {
			if !slices.Contains(d.Options, s) {
				return fmt.Sprintf("%q is not one of %s", s, strings.Join(d.Options, ", "))
			}
		}
	case Money:
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
func filterFields(defs []*Definition, d *dialect.Dialect, attrCol string) []filter.Field {
	var out []filter.Field
	for _, def := range defs {
		name := filter.AttributePrefix + def.Key
		switch def.Type {
		case Text, Date, Enum:
			expr := d.StringCompare(d.JSONText(attrCol, def.Key))
			f := filter.Field{Name: name, Column: expr, Type: filter.String, Sortable: true,
				SortColumn: "COALESCE(" + expr + ", '')", SortDefault: ""}
			if def.Type == Enum {
				f.Type, f.Values = filter.Enum, def.Options
			}
			out = append(out, f)
		case Number:
			expr := d.JSONNumber(attrCol, def.Key)
			out = append(out, filter.Field{Name: name, Column: expr, Type: filter.Number, Sortable: true,
				SortColumn: "COALESCE(" + expr + ", -1e300)", SortDefault: -1e300})
		case Boolean:
			out = append(out, filter.Field{Name: name, Column: d.JSONBool(attrCol, def.Key), Type: filter.Bool})
		case MultiEnum:
			out = append(out, filter.Field{Name: name, Column: d.JSONArray(attrCol, def.Key), Type: filter.Tags})
		case Money:
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

// namesAttribute reports whether f has a condition on a custom field
// ("attributes.<key>"). A related predicate's parameters may hold a filter
// of their own: they are searched in their JSON form.
func namesAttribute(f filter.Expr) bool {
	for cond := range f.Conditions() {
		if strings.HasPrefix(cond.Field, filter.AttributePrefix) {
			return true
		}
		if cond.Params != nil {
			b, err := json.Marshal(cond.Params)
			if err != nil || strings.Contains(string(b), `"field":"`+filter.AttributePrefix) {
				return true
			}
		}
	}
	return false
}

// schemaFor extends base with the tenant's custom fields of entity when the
// filter or sort names one ("attributes.<key>"); otherwise no definitions
// are read.
func schemaFor(ctx context.Context, sc store.Scope, base *filter.Schema, entity, attrCol string, f filter.Expr, sort string) (*filter.Schema, error) {
	base = base.WithRelations(sc.Runtime().Relations[entity]...)
	if !strings.Contains(sort, filter.AttributePrefix) && !namesAttribute(f) {
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
