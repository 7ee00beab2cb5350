package core_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
)

func TestMoneyMinorIsTheCurrencysMinorUnit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		minor    int64
		currency string
		want     string
	}{
		{4990, "EUR", "49.90"}, // cents
		{4990, "USD", "49.9"},
		{4990, "JPY", "4990"},  // no minor unit
		{4990, "KWD", "4.990"}, // fils, 1/1000
		{-1, "EUR", "-0.01"},
	} {
		m := core.MoneyFromMinor(tc.minor, tc.currency)
		require.True(t, m.Amount.Equal(decimal.RequireFromString(tc.want)), "%d %s = %s, want %s", tc.minor, tc.currency, m.Amount, tc.want)
		require.Equal(t, tc.currency, m.Currency)
		back, err := m.Minor()
		require.NoError(t, err)
		require.Equal(t, tc.minor, back, "%s", m)
	}

	// Minor refuses what its currency cannot say in minor units, and
	// everything Validate refuses.
	for name, m := range map[string]core.Money{
		"a tenth of a cent": core.MustMoney("49.905", "EUR"),
		"half a yen":        core.MustMoney("0.5", "JPY"),
		"finer than a fils": core.MustMoney("1.0001", "KWD"),
		"bad currency":      {Amount: decimal.NewFromInt(1), Currency: "eur"},
		"too many decimals": {Amount: decimal.RequireFromString("0.00001"), Currency: "EUR"},
	} {
		_, err := m.Minor()
		require.ErrorIs(t, err, core.ErrInvalid, name)
	}
	units, err := core.MustMoney("49.9050", "EUR").RoundToMinorUnit().Minor()
	require.NoError(t, err)
	require.Equal(t, int64(4991), units)
}

func TestMoneyValidate(t *testing.T) {
	require.NoError(t, core.MustMoney("12345.6789", "EUR").Validate(), "four decimals are kept exactly")
	for name, tc := range map[string]struct{ amount, currency, field string }{
		"too many decimals": {"0.00001", "EUR", "amount"},
		"too large":         {"1000000000000000", "EUR", "amount"},
		"bad currency":      {"1", "eur", "currency"},
		"not a number":      {"one", "EUR", "amount"},
	} {
		_, err := core.NewMoney(tc.amount, tc.currency)
		require.ErrorIs(t, err, core.ErrInvalid, name)
		var ve *core.ValidationError
		require.True(t, errors.As(err, &ve))
		require.True(t, ve.Has(tc.field), "%s: %v", name, err)
	}
	_, err := core.Money{Amount: decimal.RequireFromString("1.5"), Currency: "EUR"}.Add(core.Money{Amount: decimal.NewFromInt(1), Currency: "USD"})
	require.ErrorIs(t, err, core.ErrInvalid)
}

// Money stored as scaled integers sums exactly in SQL on both databases,
// where SQLite's numeric type would round 12345678901234.5678 through a
// double.
func TestMoneySumsExactlyInSQL(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		d, err := dialect.For(db)
		require.NoError(t, err)
		_, err = db.DB.ExecContext(ctx, "CREATE TABLE crm_money_probe (amount "+d.Types()["BIGINT"]+" NOT NULL)")
		require.NoError(t, err)
		amounts := []string{"12345678901234.5678", "0.0001", "99999999999.9999", "-0.5", "7"}
		want := decimal.Zero
		for _, a := range amounts {
			m, err := core.NewMoney(a, "EUR")
			require.NoError(t, err)
			units, err := store.MoneyToStorage(m)
			require.NoError(t, err)
			_, err = db.DB.ExecContext(ctx, d.Rebind("INSERT INTO crm_money_probe (amount) VALUES (?)"), units)
			require.NoError(t, err)
			want = want.Add(m.Amount)
		}
		var sum int64
		require.NoError(t, db.DB.QueryRowContext(ctx, "SELECT sum(amount) FROM crm_money_probe").Scan(&sum))
		got := store.MoneyFromStorage(sum, "EUR")
		require.True(t, got.Amount.Equal(want), "sum %s, want %s", got.Amount, want)
	})
}

func TestCursorSigner(t *testing.T) {
	t.Parallel()
	s := core.NewCursorSigner([]byte("0123456789abcdef0123456789abcdef"))
	c, err := s.Encode("tenant-a|contacts", "2026-01-01T00:00:00Z", "id-1")
	require.NoError(t, err)
	vals, err := s.Decode("tenant-a|contacts", c)
	require.NoError(t, err)
	require.Len(t, vals, 2)

	_, err = s.Decode("tenant-b|contacts", c)
	require.ErrorIs(t, err, core.ErrInvalid, "another scope")
	other := core.NewCursorSigner([]byte("another key, another key, another"))
	_, err = other.Decode("tenant-a|contacts", c)
	require.ErrorIs(t, err, core.ErrInvalid, "another key")
	payload, sig, _ := strings.Cut(c, ".")
	tampered := []byte(payload)
	tampered[3] ^= 1
	_, err = s.Decode("tenant-a|contacts", string(tampered)+"."+sig)
	require.ErrorIs(t, err, core.ErrInvalid, "tampered")
	for _, bad := range []string{"", ".", "x.y", "%%%.%%%"} {
		_, err := s.Decode("tenant-a|contacts", bad)
		require.ErrorIs(t, err, core.ErrInvalid, bad)
	}
}

func TestValidationError(t *testing.T) {
	t.Parallel()
	v := &core.ValidationError{}
	require.NoError(t, v.Err())
	v.Add("email", "is not a valid address")
	v.Add("phone", "is longer than %d characters", 50)
	err := v.Err()
	require.ErrorIs(t, err, core.ErrInvalid)
	require.NotErrorIs(t, err, core.ErrNotFound)
	require.Equal(t, "crm: invalid input: email is not a valid address; phone is longer than 50 characters", err.Error())
	wrapped := errors.Join(errors.New("context"), err)
	require.ErrorIs(t, wrapped, core.ErrInvalid)
}

func TestIDsAreTimeOrdered(t *testing.T) {
	t.Parallel()
	prev := core.NewID()
	for i := 0; i < 1000; i++ {
		id := core.NewID()
		require.Equal(t, 7, int(id.Version()))
		require.Less(t, prev.String(), id.String())
		prev = id
	}
	_, err := core.ParseID("nope")
	require.ErrorIs(t, err, core.ErrInvalid)
}

func TestActorInContext(t *testing.T) {
	t.Parallel()
	_, ok := core.ActorFrom(context.Background())
	require.False(t, ok)
	ctx := core.WithActor(context.Background(), core.Actor{ID: "u1", Roles: []string{"admin"}})
	a, ok := core.ActorFrom(ctx)
	require.True(t, ok)
	require.True(t, a.HasRole("admin"))
	require.False(t, a.HasRole("sales"))
}
