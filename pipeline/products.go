package pipeline

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
)

// Products manages the product catalogue of one tenant (c.Products).
type Products struct {
	sc store.Scope
}

// newProducts returns the service for scope sc. Hosts use crm.CRM.Products.
func newProducts(sc store.Scope) *Products { return &Products{sc: sc} }

// ProductSchema is the filter allowlist of products.
var ProductSchema = filter.NewSchema("product", "",
	filter.Field{Name: "sku", Column: "p.sku", Type: filter.String, Sortable: true},
	filter.Field{Name: "name", Column: "p.name", Type: filter.String, Sortable: true},
	filter.Field{Name: "currency", Column: "p.currency", Type: filter.String},
	filter.Field{Name: "active", Column: "p.active", Type: filter.Bool},
	filter.Field{Name: "created_at", Column: "p.created_at", Type: filter.Time, Sortable: true},
)

// FilterValue implements filter.Record.
func (p *Product) FilterValue(field string) any {
	switch field {
	case "sku":
		return p.SKU
	case "name":
		return p.Name
	case "currency":
		return p.UnitPrice.Currency
	case "active":
		return p.Active
	case "created_at":
		return p.CreatedAt
	}
	return nil
}

var hundred = decimal.NewFromInt(100)

// checkPercent adds a problem unless 0 <= p <= 100 with at most 4 decimals.
func checkPercent(v *core.ValidationError, field string, p decimal.Decimal) {
	if p.IsNegative() || p.GreaterThan(hundred) {
		v.Add(field, "must be between 0 and 100")
	} else if !p.Equal(p.Truncate(core.MaxMoneyDecimals)) {
		v.Add(field, "has more than %d decimal places", core.MaxMoneyDecimals)
	}
}

func (p *Product) check() (int64, error) {
	v := &core.ValidationError{}
	p.SKU = strings.TrimSpace(p.SKU)
	p.Name = strings.TrimSpace(p.Name)
	if p.SKU == "" {
		v.Add("sku", "is required")
	}
	v.CheckText("sku", p.SKU, maxSKULen)
	if p.Name == "" {
		v.Add("name", "is required")
	}
	v.CheckText("name", p.Name, maxProductNameLen)
	v.CheckText("description", p.Description, maxDescriptionLen)
	price, err := store.MoneyToStorage(p.UnitPrice)
	var ve *core.ValidationError
	if errors.As(err, &ve) {
		for _, f := range ve.Fields {
			v.Add("unit_price."+f.Field, "%s", f.Message)
		}
	}
	if price < 0 {
		v.Add("unit_price.amount", "must not be negative")
	}
	checkPercent(v, "tax_rate", p.TaxRate)
	return price, v.Err()
}

const productColumns = `p.id, p.sku, p.name, p.description, p.unit_price, p.currency, p.tax_rate, p.active, p.created_at, p.updated_at, p.version`

func scanProduct(r store.Scanner) (*Product, error) {
	var p Product
	var price int64
	var currency, rate string
	if err := r.Scan(&p.ID, &p.SKU, &p.Name, &p.Description, &price, &currency, &rate, &p.Active, &p.CreatedAt, &p.UpdatedAt, &p.Version); err != nil {
		return nil, err
	}
	p.UnitPrice = store.MoneyFromStorage(price, currency)
	var err error
	if p.TaxRate, err = decimal.NewFromString(rate); err != nil {
		return nil, fmt.Errorf("decode tax rate %q: %w", rate, err)
	}
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return &p, nil
}

func getProduct(ctx context.Context, q store.Q, tenant, where string, args ...any) (*Product, error) {
	p, err := scanProduct(q.QueryRow(ctx, `SELECT `+productColumns+` FROM crm_products p WHERE p.tenant_id = ? AND `+where, append([]any{tenant}, args...)...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.NotFound("product", store.LookedUpID(args))
	}
	return p, err
}

// Create adds a product (active) and emits "product.created". SKUs are
// unique per tenant.
func (s *Products) Create(ctx context.Context, in NewProduct) (_ *Product, err error) {
	ctx, span := s.sc.Span(ctx, "pipeline.Products.Create")
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "product", core.NilID, access.Manage); err != nil {
		return nil, err
	}
	var out *Product
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		now := tx.Runtime().Now()
		p := &Product{ID: core.NewID(), SKU: in.SKU, Name: in.Name, Description: in.Description, UnitPrice: in.UnitPrice,
			TaxRate: in.TaxRate, Active: true, CreatedAt: now, UpdatedAt: now, Version: 1}
		price, err := p.check()
		if err != nil {
			return err
		}
		if _, err := tx.Q().Exec(ctx, `INSERT INTO crm_products (tenant_id, id, sku, name, description, unit_price, currency, tax_rate, active, created_at, updated_at, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, tenant, p.ID, p.SKU, p.Name, p.Description, price, p.UnitPrice.Currency,
			p.TaxRate.String(), p.Active, now, now, p.Version); err != nil {
			if dialect.IsUniqueViolation(err) {
				return fmt.Errorf("%w: a product with sku %q exists", core.ErrConflict, p.SKU)
			}
			return err
		}
		out = p
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventProductCreated, SubjectType: "product", SubjectID: p.ID, OccurredAt: now, Data: store.JSON(p)})
	})
	if err != nil {
		return nil, store.Wrap(err, "create product")
	}
	return out, nil
}

// Get returns the product with id.
func (s *Products) Get(ctx context.Context, id core.ID) (_ *Product, err error) {
	ctx, span := s.sc.SpanID(ctx, "pipeline.Products.Get", id)
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	if _, err := check(ctx, s.sc, "product", id, access.Read); err != nil {
		return nil, err
	}
	p, err := getProduct(ctx, s.sc.Q(), tenant, "p.id = ?", id)
	return p, store.Wrap(err, "get product")
}

// GetBySKU returns the product with sku.
func (s *Products) GetBySKU(ctx context.Context, sku string) (_ *Product, err error) {
	ctx, span := s.sc.Span(ctx, "pipeline.Products.GetBySKU")
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	v := &core.ValidationError{}
	v.CheckText("sku", sku, maxSKULen)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if _, err := check(ctx, s.sc, "product", core.NilID, access.Read); err != nil {
		return nil, err
	}
	p, err := getProduct(ctx, s.sc.Q(), tenant, "p.sku = ?", strings.TrimSpace(sku))
	return p, store.Wrap(err, "get product")
}

// Update applies patch if patch.Version is still the product's version and
// emits "product.updated". Deals keep the prices their lines were given.
func (s *Products) Update(ctx context.Context, id core.ID, patch ProductPatch) (_ *Product, err error) {
	ctx, span := s.sc.SpanID(ctx, "pipeline.Products.Update", id)
	defer span.End(&err)

	if err := core.CheckVersion(patch.Version); err != nil {
		return nil, err
	}
	if _, err := check(ctx, s.sc, "product", id, access.Manage); err != nil {
		return nil, err
	}
	var out *Product
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		cur, err := getProduct(ctx, tx.Q(), tenant, "p.id = ?"+tx.Q().D.LockRows(), id)
		if err != nil {
			return err
		}
		if patch.Version != cur.Version {
			return fmt.Errorf("%w: product %s is at version %d, not %d; read it again", core.ErrConflict, id, cur.Version, patch.Version)
		}
		next := *cur
		if patch.Name != nil {
			next.Name = *patch.Name
		}
		if patch.Description != nil {
			next.Description = *patch.Description
		}
		if patch.UnitPrice != nil {
			next.UnitPrice = *patch.UnitPrice
		}
		if patch.TaxRate != nil {
			next.TaxRate = *patch.TaxRate
		}
		if patch.Active != nil {
			next.Active = *patch.Active
		}
		price, err := next.check()
		if err != nil {
			return err
		}
		next.UpdatedAt = tx.Runtime().Now()
		next.Version++
		if _, err := tx.Q().Exec(ctx, `UPDATE crm_products SET name = ?, description = ?, unit_price = ?, currency = ?, tax_rate = ?, active = ?,
			updated_at = ?, version = ? WHERE tenant_id = ? AND id = ?`, next.Name, next.Description, price, next.UnitPrice.Currency,
			next.TaxRate.String(), next.Active, next.UpdatedAt, next.Version, tenant, id); err != nil {
			return err
		}
		out = &next
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventProductUpdated, SubjectType: "product", SubjectID: id, OccurredAt: next.UpdatedAt, Data: store.JSON(out)})
	})
	if err != nil {
		return nil, store.Wrap(err, "update product")
	}
	return out, nil
}

// ProductListOptions select, order and page a list of products.
type ProductListOptions struct {
	Filter filter.Expr
	// Sort is "name" (default), "sku" or "created_at", "-" for descending.
	Sort   string
	Limit  int
	Cursor string
}

// List returns one page of products.
func (s *Products) List(ctx context.Context, opts ProductListOptions) (_ core.Page[*Product], err error) {
	ctx, span := s.sc.Span(ctx, "pipeline.Products.List")
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "product", core.NilID, access.Read); err != nil {
		return core.Page[*Product]{}, err
	}
	plan, err := s.sc.PlanList(store.ListRequest{Schema: ProductSchema, Filter: opts.Filter, Sort: opts.Sort,
		DefaultSort: "name", Limit: opts.Limit, Cursor: opts.Cursor})
	if err != nil {
		return core.Page[*Product]{}, err
	}
	tenant, _ := s.sc.Tenant()
	rows, err := store.ListPage(ctx, s.sc.Q(), tenant, `SELECT `+productColumns+` FROM crm_products p `, "p", plan, scanProduct)
	if err != nil {
		return core.Page[*Product]{}, store.Wrap(err, "list products")
	}
	return store.PageOf(s.sc, plan, rows, func(p *Product) (any, core.ID) { return plan.Sort.Field.SortKey(p), p.ID })
}

// computeLine fills in the money of a line: net, tax, total, each rounded
// to the currency's minor unit. The caller has checked the inputs; it
// reports false when the discounts exceed the line.
func computeLine(li *LineItem) bool {
	gross := li.Quantity.Mul(li.UnitPrice.Amount)
	discount := gross.Mul(li.DiscountPercent).Div(hundred).Add(li.DiscountAmount.Amount)
	net := core.Money{Amount: gross.Sub(discount), Currency: li.UnitPrice.Currency}.RoundToMinorUnit()
	if net.Amount.IsNegative() {
		return false
	}
	tax := core.Money{Amount: net.Amount.Mul(li.TaxRate).Div(hundred), Currency: net.Currency}.RoundToMinorUnit()
	li.Net, li.Tax = net, tax
	li.Total = core.Money{Amount: net.Amount.Add(tax.Amount), Currency: net.Currency}
	return true
}

// SetLineItems replaces the deal's line items with items (none removes
// them all), if version is still the deal's version, and sets the deal's
// amount to the sum of their nets. Lines take a product's name, price and
// tax rate unless given; every price must be in the deal's currency.
// Emits "deal.updated".
func (s *Deals) SetLineItems(ctx context.Context, dealID core.ID, version int64, items []NewLineItem) (_ *Deal, _ []LineItem, _ Totals, err error) {
	ctx, span := s.sc.SpanID(ctx, "pipeline.Deals.SetLineItems", dealID)
	defer span.End(&err)

	if err := core.CheckVersion(version); err != nil {
		return nil, nil, Totals{}, err
	}
	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return nil, nil, Totals{}, err
	}
	var out *Deal
	var lines []LineItem
	var totals Totals
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		q := tx.Q()
		cur, err := g.lockDeal(ctx, q, tenant, dealID, version, access.Update)
		if err != nil {
			return err
		}
		currency := cur.Amount.Currency
		v := &core.ValidationError{}
		if len(items) > MaxLineItems {
			v.Add("items", "has more than %d lines", MaxLineItems)
			return v.Err()
		}
		lines = make([]LineItem, len(items))
		for i, in := range items {
			f := fmt.Sprintf("items[%d]", i)
			problems := len(v.Fields)
			li := LineItem{ID: core.NewID(), Position: i, ProductID: in.ProductID, Name: strings.TrimSpace(in.Name), Quantity: in.Quantity,
				DiscountPercent: in.DiscountPercent, DiscountAmount: core.Money{Amount: in.DiscountAmount, Currency: currency}}
			if in.ProductID != nil {
				p, err := getProduct(ctx, q, tenant, "p.id = ?", *in.ProductID)
				switch {
				case errors.Is(err, core.ErrNotFound):
					v.Add(f+".product_id", "product %s does not exist", *in.ProductID)
					continue
				case err != nil:
					return err
				}
				if li.Name == "" {
					li.Name = p.Name
				}
				li.UnitPrice, li.TaxRate = p.UnitPrice, p.TaxRate
			}
			if in.UnitPrice != nil {
				li.UnitPrice = *in.UnitPrice
			}
			if in.TaxRate != nil {
				li.TaxRate = *in.TaxRate
			}
			if li.Name == "" {
				v.Add(f+".name", "is required without a product")
			}
			v.CheckText(f+".name", li.Name, maxProductNameLen)
			if !li.Quantity.IsPositive() {
				v.Add(f+".quantity", "must be positive")
			} else if !li.Quantity.Equal(li.Quantity.Truncate(core.MaxMoneyDecimals)) {
				v.Add(f+".quantity", "has more than %d decimal places", core.MaxMoneyDecimals)
			}
			if li.UnitPrice.Currency != currency {
				v.Add(f+".unit_price", "is in %q, the deal in %q", li.UnitPrice.Currency, currency)
			}
			if err := li.UnitPrice.Validate(); err != nil || li.UnitPrice.Amount.IsNegative() {
				v.Add(f+".unit_price", "must be a non-negative amount with at most %d decimals", core.MaxMoneyDecimals)
			}
			if err := li.DiscountAmount.Validate(); err != nil || li.DiscountAmount.Amount.IsNegative() {
				v.Add(f+".discount_amount", "must be a non-negative amount with at most %d decimals", core.MaxMoneyDecimals)
			}
			checkPercent(v, f+".discount_percent", li.DiscountPercent)
			checkPercent(v, f+".tax_rate", li.TaxRate)
			if len(v.Fields) > problems {
				continue
			}
			if !computeLine(&li) {
				v.Add(f+".discount_amount", "the discounts are larger than the line (%s %s)", li.Quantity.Mul(li.UnitPrice.Amount), currency)
				continue
			}
			lines[i] = li
		}
		if err := v.Err(); err != nil {
			return err
		}
		totals = Totals{Net: core.Money{Currency: currency}, Tax: core.Money{Currency: currency}, Total: core.Money{Currency: currency}}
		if _, err := q.Exec(ctx, `DELETE FROM crm_line_items WHERE tenant_id = ? AND deal_id = ?`, tenant, dealID); err != nil {
			return err
		}
		for _, li := range lines {
			totals.Net.Amount = totals.Net.Amount.Add(li.Net.Amount)
			totals.Tax.Amount = totals.Tax.Amount.Add(li.Tax.Amount)
			price, _ := store.MoneyToStorage(li.UnitPrice)
			disc, _ := store.MoneyToStorage(li.DiscountAmount)
			net, _ := store.MoneyToStorage(li.Net)
			tax, _ := store.MoneyToStorage(li.Tax)
			if _, err := q.Exec(ctx, `INSERT INTO crm_line_items (tenant_id, id, deal_id, position, product_id, name, quantity, unit_price,
				discount_percent, discount_amount, tax_rate, net, tax) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				tenant, li.ID, dealID, li.Position, store.NullID(li.ProductID), li.Name, li.Quantity.String(), price,
				li.DiscountPercent.String(), disc, li.TaxRate.String(), net, tax); err != nil {
				return err
			}
		}
		totals.Total.Amount = totals.Net.Amount.Add(totals.Tax.Amount)
		next := *cur
		next.LineItems = len(lines)
		if len(lines) > 0 {
			next.Amount = totals.Net
		}
		amount, err := store.MoneyToStorage(next.Amount)
		if err != nil {
			return core.Invalid("amount", "the lines sum to more than can be stored")
		}
		next.UpdatedAt = tx.Runtime().Now()
		next.Version++
		if err := updateDeal(ctx, q, tenant, &next, amount, store.JSON(next.Attributes), cur.Version); err != nil {
			return err
		}
		out = &next
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventDealUpdated, SubjectType: "deal", SubjectID: dealID, ContactID: out.ContactID, OccurredAt: next.UpdatedAt,
			Data: store.JSON(DealUpdated{Deal: out, Changed: []string{"line_items", "amount"}})})
	})
	if err != nil {
		return nil, nil, Totals{}, g.done(ctx, store.Wrap(err, "set line items"))
	}
	return out, lines, totals, nil
}

// LineItems returns the deal's lines, in order, and their totals.
func (s *Deals) LineItems(ctx context.Context, dealID core.ID) (_ []LineItem, _ Totals, err error) {
	ctx, span := s.sc.SpanID(ctx, "pipeline.Deals.LineItems", dealID)
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, Totals{}, err
	}
	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return nil, Totals{}, err
	}
	q := s.sc.Q()
	d, err := g.deal(ctx, q, tenant, dealID, access.Read, false)
	if err != nil {
		return nil, Totals{}, g.done(ctx, store.Wrap(err, "line items"))
	}
	return lineItems(ctx, q, tenant, d)
}

// lineItems reads d's lines and their totals, for whoever may read d.
func lineItems(ctx context.Context, q store.Q, tenant string, d *Deal) ([]LineItem, Totals, error) {
	dealID := d.ID
	currency := d.Amount.Currency
	rows, err := q.Query(ctx, `SELECT id, position, product_id, name, quantity, unit_price, discount_percent, discount_amount, tax_rate, net, tax
		FROM crm_line_items WHERE tenant_id = ? AND deal_id = ? ORDER BY position`, tenant, dealID)
	if err != nil {
		return nil, Totals{}, store.Wrap(err, "line items")
	}
	lines := []LineItem{}
	totals := Totals{Net: core.Money{Currency: currency}, Tax: core.Money{Currency: currency}, Total: core.Money{Currency: currency}}
	err = store.EachRow(rows, func(r store.Scanner) error {
		var li LineItem
		var product uuid.NullUUID
		var qty, pct, rate string
		var price, disc, net, tax int64
		if err := r.Scan(&li.ID, &li.Position, &product, &li.Name, &qty, &price, &pct, &disc, &rate, &net, &tax); err != nil {
			return err
		}
		if product.Valid {
			id := core.ID(product.UUID)
			li.ProductID = &id
		}
		var err error
		for _, x := range []struct {
			dst *decimal.Decimal
			s   string
		}{{&li.Quantity, qty}, {&li.DiscountPercent, pct}, {&li.TaxRate, rate}} {
			if *x.dst, err = decimal.NewFromString(x.s); err != nil {
				return fmt.Errorf("decode line item: %w", err)
			}
		}
		li.UnitPrice = store.MoneyFromStorage(price, currency)
		li.DiscountAmount = store.MoneyFromStorage(disc, currency)
		li.Net = store.MoneyFromStorage(net, currency)
		li.Tax = store.MoneyFromStorage(tax, currency)
		li.Total = store.MoneyFromStorage(net+tax, currency)
		totals.Net.Amount = totals.Net.Amount.Add(li.Net.Amount)
		totals.Tax.Amount = totals.Tax.Amount.Add(li.Tax.Amount)
		lines = append(lines, li)
		return nil
	})
	totals.Total.Amount = totals.Net.Amount.Add(totals.Tax.Amount)
	return lines, totals, store.Wrap(err, "line items")
}
