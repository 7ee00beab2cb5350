package dialect_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/internal/dialect"
)

// NullTime reads SQLite's text in TimeLayout as time.Parse does, other
// text as the SQLite driver does, and PostgreSQL's times as they come.
func TestNullTimeScan(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)
	for _, tc := range []struct {
		src  any
		want time.Time
	}{
		{"2026-01-02T03:04:05.123456Z", at},
		{[]byte("2026-01-02T03:04:05.123456Z"), at},
		{"2024-02-29T23:59:59.999999Z", time.Date(2024, 2, 29, 23, 59, 59, 999999000, time.UTC)},
		{"0001-01-01T00:00:00.000000Z", time.Time{}},
		{"9999-12-31T00:00:00.000000Z", time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)},
		// Not crmkit's layout: as the driver reads them.
		{"2026-01-02 03:04:05.123456", at},
		{"2026-01-02T03:04:05Z", at.Truncate(time.Second)},
		{"2026-01-02 03:04:05.123456+01:00", at.Add(-time.Hour)},
		{"2026-01-02 03:04:05.123456 +0000 UTC", at},
		{"2026-01-02", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)},
		{at.In(time.FixedZone("x", 3600)), at},
	} {
		var n dialect.NullTime
		require.NoError(t, n.Scan(tc.src), "%v", tc.src)
		require.True(t, n.Valid)
		require.True(t, tc.want.Equal(n.Time), "%v: %v", tc.src, n.Time)
	}
	for _, bad := range []any{"2026-02-29T00:00:00.000000Z", "2026-13-01T00:00:00.000000Z", "2026-01-02T24:00:00.000000Z",
		"2026-01-02T03:04:60.000000Z", "2026-01-0xT03:04:05.123456Z", "", "yesterday", 42} {
		var n dialect.NullTime
		require.Error(t, n.Scan(bad), "%v", bad)
	}
	n := dialect.NullTime{Time: at, Valid: true}
	require.NoError(t, n.Scan(nil))
	require.Equal(t, dialect.NullTime{}, n)

	// Every time as SQLite stores it reads back as time.Parse reads it.
	sqlite := dialect.ForKind(dialect.SQLite)
	r := rand.New(rand.NewPCG(1, 2))
	for range 10_000 {
		want := time.Unix(r.Int64N(400*365*86400)-200*365*86400, r.Int64N(1e9)).UTC()
		text := sqlite.Time(want).(string)
		parsed, err := time.Parse(dialect.TimeLayout, text)
		require.NoError(t, err)
		var n dialect.NullTime
		require.NoError(t, n.Scan(text))
		require.Equal(t, parsed, n.Time, text)
	}
}
