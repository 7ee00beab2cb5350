package core

import (
	"fmt"
	"math"

	"github.com/shopspring/decimal"
)

// MaxMoneyDecimals is the most decimal places an amount may carry: 1/10,000
// of a currency unit, finer than any currency's minor unit, so prices per
// unit and tax rates stay exact. An amount with more decimals is refused with
// ErrInvalid, never rounded.
const MaxMoneyDecimals = 4

// MaxMoneyUnits is the largest absolute amount crmkit accepts, in whole
// currency units (about 922 trillion).
var MaxMoneyUnits = decimal.New(math.MaxInt64, -MaxMoneyDecimals).Truncate(0)

// Money is an exact amount in one currency.
type Money struct {
	Amount decimal.Decimal `json:"amount"`
	// Currency is an ISO 4217 code such as "EUR".
	Currency string `json:"currency"`
}

// NewMoney parses amount in whole currency units ("12.50" is twelve euros
// fifty) in currency. It returns ErrInvalid for a malformed amount or
// currency and for more decimals than MaxMoneyDecimals.
func NewMoney(amount, currency string) (Money, error) {
	d, err := decimal.NewFromString(amount)
	if err != nil {
		return Money{}, Invalid("amount", "is not a decimal number")
	}
	m := Money{Amount: d, Currency: currency}
	if err := m.Validate(); err != nil {
		return Money{}, err
	}
	return m, nil
}

// String formats m as "12.5 EUR".
func (m Money) String() string { return m.Amount.String() + " " + m.Currency }

// Validate reports, with ErrInvalid, a currency that is not three upper-case
// letters, an amount with more than MaxMoneyDecimals decimals and an amount
// beyond MaxMoneyUnits: the amounts crmkit cannot keep exactly. Every write
// that takes Money validates it; nothing is ever rounded silently.
func (m Money) Validate() error {
	v := &ValidationError{}
	if !validCurrency(m.Currency) {
		v.Add("currency", "must be a three-letter ISO 4217 code such as EUR")
	}
	scaled := m.Amount.Shift(MaxMoneyDecimals)
	if !scaled.Equal(scaled.Truncate(0)) {
		v.Add("amount", "has more than %d decimal places", MaxMoneyDecimals)
	} else if !scaled.Abs().LessThanOrEqual(decimal.NewFromInt(math.MaxInt64)) {
		v.Add("amount", "is too large (the limit is %s)", MaxMoneyUnits)
	}
	return v.Err()
}

// MoneyFromMinor builds Money from an amount in the ISO 4217 minor unit of
// currency (see CurrencyDecimals): MoneyFromMinor(4990, "EUR") is 49.90 EUR,
// MoneyFromMinor(4990, "JPY") is 4990 JPY, MoneyFromMinor(4990, "KWD") is
// 4.990 KWD. It is the inverse of Minor; shops that keep cents pass them here.
func MoneyFromMinor(minor int64, currency string) Money {
	return Money{Amount: decimal.New(minor, -CurrencyDecimals(currency)), Currency: currency}
}

// Minor returns m.Amount in the ISO 4217 minor unit of its currency (cents
// for EUR: 49.90 EUR is 4990). It returns ErrInvalid for money that fails
// Validate and for an amount finer than the minor unit (49.905 EUR); round
// first with RoundToMinorUnit when that is what you mean.
func (m Money) Minor() (int64, error) {
	if err := m.Validate(); err != nil {
		return 0, err
	}
	d := CurrencyDecimals(m.Currency)
	scaled := m.Amount.Shift(d)
	if !scaled.Equal(scaled.Truncate(0)) {
		return 0, Invalid("amount", "is finer than the minor unit of %s (%d decimal places)", m.Currency, d)
	}
	return scaled.IntPart(), nil
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
