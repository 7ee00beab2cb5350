package contacts

import (
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
)

// Relations the contacts module offers on contacts (module.Module
// Relations): conditions over a contact's purchases, for segments and
// lists.
//
//	{"related": "purchases", "params": {"within": "90d", "sku": "TEA-1"}, "op": "gte", "value": 2}
//	{"related": "purchase_amount", "params": {"currency": "EUR", "within": "1y"}, "op": "gt", "value": 100}
//
// purchases counts the contact's purchase activities (within: only those
// of that last period; sku: only orders with an item of that SKU);
// purchase_amount sums their totals in one currency, in whole units.
const (
	RelationPurchases      = "purchases"
	RelationPurchaseAmount = "purchase_amount"
)

func relations() []filter.Relation {
	purchases := func(fd filter.Dialect, p map[string]any) (string, []any) {
		d := dialect.ForKind(dialect.Kind(fd))
		where, args := `a.tenant_id = c.tenant_id AND a.contact_id = c.id AND a.kind = 'purchase'`, []any{}
		if at, ok := p["within"]; ok {
			where += " AND a.occurred_at >= ?"
			args = append(args, at)
		}
		if sku, ok := p["sku"]; ok {
			where += " AND " + d.ArrayHasObject("a.items", "sku")
			args = append(args, sku)
		}
		if cur, ok := p["currency"]; ok {
			where += " AND a.currency = ?"
			args = append(args, cur)
		}
		return where, args
	}
	return []filter.Relation{
		{Name: RelationPurchases, Result: filter.Number, Doc: "the number of the contact's purchases (within a period, of a SKU)",
			Params: []filter.Param{{Name: "within", Type: filter.ParamWithin}, {Name: "sku", Type: filter.ParamString}},
			SQL: func(d filter.Dialect, p map[string]any) (string, []any) {
				where, args := purchases(d, p)
				return `SELECT count(*) FROM crm_activities a WHERE ` + where, args
			}},
		{Name: RelationPurchaseAmount, Result: filter.Number, Doc: "the sum of the contact's purchases in one currency, in whole units (within a period, of a SKU)",
			Params: []filter.Param{{Name: "currency", Type: filter.ParamString, Required: true}, {Name: "within", Type: filter.ParamWithin},
				{Name: "sku", Type: filter.ParamString}},
			SQL: func(d filter.Dialect, p map[string]any) (string, []any) {
				where, args := purchases(d, p)
				return `SELECT ` + store.MoneyStorageSQL("COALESCE(SUM(a.amount), 0)") + ` FROM crm_activities a WHERE ` + where, args
			}},
	}
}
