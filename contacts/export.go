package contacts

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/store"
)

// ExportOptions select what an export writes.
type ExportOptions struct {
	// Filter selects contacts; the zero Expr exports all.
	Filter filter.Expr
	// EscapeFormulas prefixes CSV cells that start with = + - @ or a tab
	// with a single quote, so a spreadsheet shows them instead of running
	// them as formulas. Off by default, because it changes values (a phone
	// "+49 …" becomes "'+49 …") and the file is then no longer a faithful
	// copy for re-import.
	EscapeFormulas bool
}

// exportBatch is how many contacts an export reads at a time: memory stays
// flat whatever the number of contacts.
var exportBatch = 1000

// each calls fn for every contact matching f, oldest first, reading
// exportBatch at a time.
func (s *Service) each(ctx context.Context, g *guard, f filter.Expr, fn func(*Contact) error) (int64, error) {
	var n int64
	opts := ListOptions{Filter: f, Sort: "created_at", Limit: exportBatch}
	for {
		page, err := s.list(ctx, g, opts)
		if err != nil {
			return n, err
		}
		for _, c := range page.Items {
			if err := fn(c); err != nil {
				return n, err
			}
			n++
		}
		if page.Next == "" {
			return n, nil
		}
		opts.Cursor = page.Next
	}
}

// ExportJSONL writes the contacts matching opts.Filter to w as JSON Lines,
// one Contact object per line, and returns how many it wrote.
func (s *Service) ExportJSONL(ctx context.Context, w io.Writer, opts ExportOptions) (_ int64, err error) {
	ctx, span := s.sc.Span(ctx, "contacts.ExportJSONL")
	defer span.End(&err)

	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	g, err := s.exporter(ctx)
	if err != nil {
		return 0, err
	}
	n, err := s.each(ctx, g, opts.Filter, func(c *Contact) error { return enc.Encode(c) })
	return n, g.done(ctx, store.Wrap(err, "export contacts"))
}

// CSVColumns are the fixed columns of a contact CSV export, in order; one
// column "attributes.<key>" per custom field definition follows, then
// "other_attributes" (the attributes without a definition, as JSON).
var CSVColumns = []string{"id", "email", "phone", "first_name", "last_name", "company_id", "lifecycle_stage", "owner_id",
	"tags", "external_ids", "created_at", "updated_at", "last_activity_at", "purchase_count", "purchase_total",
	"purchase_currency"}

// ExportCSV writes the contacts matching opts.Filter to w as CSV with a
// header row (see CSVColumns) and returns how many it wrote. Tags are
// joined with "|", external ids as "source:id" joined with "|", times are
// RFC 3339 in UTC, money is a decimal in the currency's units. An export
// refused before its first contact (a filter on an unknown field, a
// missing permission) writes nothing to w.
func (s *Service) ExportCSV(ctx context.Context, w io.Writer, opts ExportOptions) (_ int64, err error) {
	ctx, span := s.sc.Span(ctx, "contacts.ExportCSV")
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return 0, err
	}
	g, err := s.exporter(ctx)
	if err != nil {
		return 0, err
	}
	defs, err := fields.Module.List(ctx, s.sc.Q(), tenant, EntityContact)
	if err != nil {
		return 0, store.Wrap(err, "export contacts")
	}
	cw := csv.NewWriter(w)
	header := append([]string(nil), CSVColumns...)
	defined := map[string]bool{}
	for _, d := range defs {
		header = append(header, filter.AttributePrefix+d.Key)
		defined[d.Key] = true
	}
	header = append(header, "other_attributes")
	if err := cw.Write(header); err != nil {
		return 0, err
	}
	cell := func(v string) string {
		if opts.EscapeFormulas && v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
			return "'" + v
		}
		return v
	}
	row := make([]string, len(header))
	n, err := s.each(ctx, g, opts.Filter, func(c *Contact) error {
		ext := make([]string, len(c.ExternalIDs))
		for i, x := range c.ExternalIDs {
			ext[i] = x.Source + ":" + x.ID
		}
		total, currency := "", ""
		if c.Facts.PurchaseTotal != nil {
			total, currency = c.Facts.PurchaseTotal.Amount.String(), c.Facts.PurchaseTotal.Currency
		}
		company := ""
		if c.CompanyID != nil {
			company = c.CompanyID.String()
		}
		fixed := []string{c.ID.String(), c.Email, c.Phone, c.FirstName, c.LastName, company, string(c.LifecycleStage), c.OwnerID,
			strings.Join(c.Tags, "|"), strings.Join(ext, "|"), csvTime(&c.CreatedAt), csvTime(&c.UpdatedAt),
			csvTime(c.Facts.LastActivityAt), strconv.FormatInt(c.Facts.PurchaseCount, 10), total, currency}
		i := copy(row, fixed)
		other := map[string]any{}
		for k, v := range c.Attributes {
			if !defined[k] {
				other[k] = v
			}
		}
		for _, d := range defs {
			row[i] = csvValue(c.Attributes[d.Key])
			i++
		}
		row[i] = ""
		if len(other) > 0 {
			b, err := json.Marshal(other)
			if err != nil {
				return err
			}
			row[i] = string(b)
		}
		for j := range row {
			row[j] = cell(row[j])
		}
		return cw.Write(row)
	})
	if err == nil {
		// A refused export (a filter or permission problem) writes
		// nothing, so that a caller can still answer with the error.
		cw.Flush()
		err = cw.Error()
	}
	return n, g.done(ctx, store.Wrap(err, "export contacts"))
}

func csvTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// csvValue renders a custom field value: text as is, numbers and booleans
// plainly, lists joined with "|", money as "12.50 EUR".
func csvValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = csvValue(e)
		}
		return strings.Join(parts, "|")
	case map[string]any:
		if a, ok := x["amount"].(string); ok {
			if c, ok := x["currency"].(string); ok {
				return a + " " + c
			}
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// exporter resolves the actor in ctx for an export: they need the contacts
// read and export permissions, and get the contacts they see, masked as
// List masks them (a refusal is recorded and returned).
func (s *Service) exporter(ctx context.Context) (*guard, error) {
	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return nil, err
	}
	if err := g.require("contact", core.NilID, access.Read, access.Export); err != nil {
		return nil, g.done(ctx, err)
	}
	return g, nil
}
