package crmcli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/filter"
)

// Reading a row's cells: several values in one cell, custom fields
// typed by their definitions, numbers, amounts and days as exports write
// them.

// firstOf is the first of several values in one cell ("a@x, b@y").
func firstOf(v string) string {
	if i := strings.IndexAny(v, ",;"); i >= 0 {
		return strings.TrimSpace(v[:i])
	}
	return v
}

// attributes are a row's attributes.<key> fields, typed by the object's
// field definitions (text for keys without one).
func (ti *tableImport) attributes(rec record) (map[string]any, error) {
	var out map[string]any
	v := &core.ValidationError{}
	for f, val := range rec.values {
		key, ok := strings.CutPrefix(f, filter.AttributePrefix)
		if !ok {
			continue
		}
		x, err := attributeValue(val, ti.types[key])
		if err != nil {
			v.Add(f, "%v", err)
			continue
		}
		if out == nil {
			out = map[string]any{}
		}
		out[key] = x
	}
	return out, v.Err()
}

// attributeValue reads a cell as a custom field of type t reads it (as
// the contacts module's CSV import does); the definition then checks it.
func attributeValue(val string, t fields.Type) (any, error) {
	switch t {
	case fields.Number:
		n, err := parseNumber(val)
		if err != nil {
			return nil, errors.New("is not a number")
		}
		f, _ := n.Float64()
		return f, nil
	case fields.Boolean:
		b, err := strconv.ParseBool(strings.ToLower(val))
		if err != nil {
			return nil, errors.New("is not true or false")
		}
		return b, nil
	case fields.MultiEnum:
		parts := strings.FieldsFunc(val, func(r rune) bool { return r == '|' || r == ';' })
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = strings.TrimSpace(p)
		}
		return out, nil
	case fields.Date:
		d, err := parseDate(val)
		if err != nil {
			// Without the value: a date field may be a birthday.
			return nil, errors.New("is not a date (2026-03-31, 3/31/2026 or 31.03.2026)")
		}
		return d.String(), nil
	case fields.Money:
		m, err := parseMoney(val, "")
		if err != nil {
			return nil, err
		}
		return map[string]any{"amount": m.Amount.String(), "currency": m.Currency}, nil
	}
	return val, nil
}

// parseNumber reads a number as exports write them: "1234.5",
// "1,234.50", "1.234,50", "1 234,5".
func parseNumber(s string) (decimal.Decimal, error) {
	s = strings.NewReplacer(" ", "", "\u00a0", "", "'", "").Replace(strings.TrimSpace(s))
	dot, comma := strings.LastIndex(s, "."), strings.LastIndex(s, ",")
	switch {
	case dot >= 0 && comma >= 0 && comma > dot: // 1.234,50
		s = strings.ReplaceAll(s, ".", "")
		s = strings.Replace(s, ",", ".", 1)
	case dot >= 0 && comma >= 0: // 1,234.50
		s = strings.ReplaceAll(s, ",", "")
	case comma >= 0 && strings.Count(s, ",") == 1 && len(s)-comma-1 != 3: // 12,5
		s = strings.Replace(s, ",", ".", 1)
	case comma >= 0: // 1,234,567
		s = strings.ReplaceAll(s, ",", "")
	}
	return decimal.NewFromString(s)
}

// parseMoney reads an amount, with a currency code before or after it
// ("EUR 1,200.00", "1200 USD") or currency when it has none.
func parseMoney(s, currency string) (core.Money, error) {
	s = strings.TrimSpace(s)
	for _, sym := range []struct{ sym, code string }{{"€", "EUR"}, {"$", "USD"}, {"£", "GBP"}} {
		if strings.Contains(s, sym.sym) {
			s = strings.TrimSpace(strings.ReplaceAll(s, sym.sym, ""))
			if currency == "" {
				currency = sym.code
			}
		}
	}
	if f := strings.Fields(s); len(f) == 2 {
		switch {
		case len(f[0]) == 3 && isLetters(f[0]):
			currency, s = strings.ToUpper(f[0]), f[1]
		case len(f[1]) == 3 && isLetters(f[1]):
			currency, s = strings.ToUpper(f[1]), f[0]
		}
	}
	if currency == "" {
		return core.Money{}, errors.New("has no currency: add a currency column or --currency")
	}
	n, err := parseNumber(s)
	if err != nil {
		return core.Money{}, fmt.Errorf("%q is not an amount", s)
	}
	m, err := core.NewMoney(n.String(), strings.ToUpper(currency))
	if err != nil {
		return core.Money{}, err
	}
	return m, nil
}

func isLetters(s string) bool {
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') {
			return false
		}
	}
	return true
}

// dateLayouts are the forms of a day exports write: ISO (HubSpot,
// Pipedrive, Salesforce's Data Export), with a time after it, and the US
// and European forms of report exports.
var dateLayouts = []string{"2006-01-02", "2006-01-02 15:04", "2006-01-02 15:04:05", time.RFC3339, "1/2/2006", "01/02/2006",
	"2.1.2006", "02.01.2006", "1/2/2006 3:04 PM", "2006/01/02"}

// parseDate reads a day.
func parseDate(s string) (core.Date, error) {
	s = strings.TrimSpace(s)
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return core.DateOf(t), nil
		}
	}
	if len(s) > 10 {
		if t, err := time.Parse("2006-01-02", s[:10]); err == nil {
			return core.DateOf(t), nil
		}
	}
	return core.Date{}, fmt.Errorf("%q is not a date (2026-03-31, 3/31/2026 or 31.03.2026)", s)
}
