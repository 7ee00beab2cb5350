package store

import (
	"strconv"

	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit/core"
)

// MoneyStorageScale is the number of decimal places of the integers money
// is stored as: amounts are kept in BIGINT columns as 1/10,000 of a currency
// unit, so sums computed in SQL are exact on SQLite and PostgreSQL alike
// (SQLite's numeric type would round them through a double). It equals
// core.MaxMoneyDecimals, so every valid amount is stored exactly.
const MoneyStorageScale = core.MaxMoneyDecimals

// MoneyStorageFactor is 10^MoneyStorageScale: a stored integer divided by
// it is the amount in whole currency units.
const MoneyStorageFactor = 10000

// MoneyStorageSQL returns the SQL expression giving the stored money column
// col in whole currency units, as filters compare it: "(col / 10000.0)".
func MoneyStorageSQL(col string) string {
	return "(" + col + " / " + strconv.Itoa(MoneyStorageFactor) + ".0)"
}

// MoneyStorageFloat is MoneyStorageSQL in Go, for matching in memory: the
// same division, so SQL and memory agree to the last bit.
func MoneyStorageFloat(stored int64) float64 {
	return float64(stored) / MoneyStorageFactor
}

// MoneyToStorage returns the integer m.Amount is stored as (1/10,000 of a
// currency unit). It returns ErrInvalid for money that fails m.Validate.
func MoneyToStorage(m core.Money) (int64, error) {
	if err := m.Validate(); err != nil {
		return 0, err
	}
	return m.Amount.Shift(MoneyStorageScale).IntPart(), nil
}

// MoneyFromStorage is the inverse of MoneyToStorage.
func MoneyFromStorage(stored int64, currency string) core.Money {
	return core.Money{Amount: decimal.New(stored, -MoneyStorageScale), Currency: currency}
}

// DecimalFromStorage returns a stored amount as a decimal in whole units,
// shifted by extra further places (a sum of amount × percent is stored
// × 100 again).
func DecimalFromStorage(stored int64, extra int32) decimal.Decimal {
	return decimal.New(stored, -MoneyStorageScale-extra)
}
