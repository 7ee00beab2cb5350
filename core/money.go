package core

import (
	"fmt"
	"math"

	"github.com/shopspring/decimal"
)

// MoneyScale is the number of decimal places crmkit stores: amounts are kept
// as integers of 1/10,000 of a currency unit, so sums computed in SQL are
// exact on SQLite and PostgreSQL alike (SQLite's numeric type would round
// them through a double).
const MoneyScale = 4

// MaxMoneyUnits is the largest absolute amount that can be stored, in whole
// currency units (about 922 trillion).
var MaxMoneyUnits = decimal.New(math.MaxInt64, -MoneyScale).Truncate(0)

// Money is an exact amount in one currency.
type Money struct {
	Amount decimal.Decimal `json:"amount"`
	// Currency is an ISO 4217 code such as "EUR".
	Currency string `json:"currency"`
}

// NewMoney parses amount ("12.50") in currency. It returns ErrInvalid for a
// malformed amount or currency and for more decimals than MoneyScale.
func NewMoney(amount, currency string) (Money, error) {
	d, err := decimal.NewFromString(amount)
	if err != nil {
		return Money{}, Invalid("amount", "is not a decimal number")
	}
	m := Money{Amount: d, Currency: currency}
	if _, err := m.Minor(); err != nil {
		return Money{}, err
	}
	return m, nil
}

// String formats m as "12.5 EUR".
func (m Money) String() string { return m.Amount.String() + " " + m.Currency }

// Minor returns m.Amount in storage units (1/10,000 of a currency unit). It
// rejects, with ErrInvalid, an amount with more than MoneyScale decimals, an
// amount too large to store, and a currency that is not three upper-case
// letters; nothing is ever rounded silently.
func (m Money) Minor() (int64, error) {
	v := &ValidationError{}
	if !validCurrency(m.Currency) {
		v.Add("currency", "must be a three-letter ISO 4217 code such as EUR")
	}
	scaled := m.Amount.Shift(MoneyScale)
	if !scaled.Equal(scaled.Truncate(0)) {
		v.Add("amount", "has more than %d decimal places", MoneyScale)
	} else if !scaled.Abs().LessThanOrEqual(decimal.NewFromInt(math.MaxInt64)) {
		v.Add("amount", "is too large (the limit is %s)", MaxMoneyUnits)
	}
	if err := v.Err(); err != nil {
		return 0, err
	}
	return scaled.IntPart(), nil
}

// MoneyFromMinor builds Money from storage units, the inverse of Minor.
func MoneyFromMinor(units int64, currency string) Money {
	return Money{Amount: decimal.New(units, -MoneyScale), Currency: currency}
}

// Add returns m+o. Adding different currencies is an error.
func (m Money) Add(o Money) (Money, error) {
	if m.Currency != o.Currency {
		return Money{}, fmt.Errorf("%w: cannot add %s to %s", ErrInvalid, o.Currency, m.Currency)
	}
	return Money{Amount: m.Amount.Add(o.Amount), Currency: m.Currency}, nil
}

func validCurrency(c string) bool {
	if len(c) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if c[i] < 'A' || c[i] > 'Z' {
			return false
		}
	}
	return true
}

// CurrencyDecimals is the number of decimals of currency's minor unit
// (ISO 4217): 2 for most, 0 for JPY, KRW and others, 3 for BHD, KWD and
// others.
func CurrencyDecimals(currency string) int32 {
	switch currency {
	case "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF":
		return 0
	case "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND":
		return 3
	}
	return 2
}

// RoundToMinorUnit rounds m to its currency's minor unit (cents), half away
// from zero, as invoices do.
func (m Money) RoundToMinorUnit() Money {
	return Money{Amount: m.Amount.Round(CurrencyDecimals(m.Currency)), Currency: m.Currency}
}

// MustMoney is NewMoney for amounts known to be valid (constants, tests);
// it panics on a malformed one.
func MustMoney(amount, currency string) Money {
	m, err := NewMoney(amount, currency)
	if err != nil {
		panic(err)
	}
	return m
}
