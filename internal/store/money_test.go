package store_test

import (
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

func TestMoneyStorage(t *testing.T) {
	require.Equal(t, decimal.New(1, store.MoneyStorageScale).IntPart(), int64(store.MoneyStorageFactor))
	m := core.MustMoney("12345.6789", "EUR")
	v, err := store.MoneyToStorage(m)
	require.NoError(t, err)
	require.Equal(t, int64(123456789), v)
	require.True(t, store.MoneyFromStorage(v, "EUR").Amount.Equal(m.Amount))
	require.Equal(t, 12345.6789, store.MoneyStorageFloat(v))
	require.Equal(t, "(x.amount / 10000.0)", store.MoneyStorageSQL("x.amount"))

	_, err = store.MoneyToStorage(core.Money{Amount: decimal.RequireFromString("0.00001"), Currency: "EUR"})
	require.ErrorIs(t, err, core.ErrInvalid)
}
