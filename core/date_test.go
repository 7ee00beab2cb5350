package core_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/core"
)

func TestDate(t *testing.T) {
	d := core.NewDate(2026, time.June, 30)
	require.Equal(t, "2026-06-30", d.String())
	require.True(t, d.Valid())
	require.Equal(t, d, core.MustDate("2026-06-30"))
	require.Equal(t, core.NewDate(2026, time.July, 1), d.AddDays(1))
	require.True(t, d.Before(d.AddDays(1)) && d.AddDays(1).After(d))
	require.Equal(t, time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC), d.Time())

	// Midnight in Berlin is that day, not the day before in UTC.
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	require.Equal(t, d, core.DateOf(time.Date(2026, 6, 30, 0, 0, 0, 0, berlin)))

	for _, bad := range []string{"2026-02-30", "30.06.2026", "2026-6-30", "10000-01-01", ""} {
		_, err := core.ParseDate(bad)
		require.ErrorIs(t, err, core.ErrInvalid, bad)
	}
	require.False(t, core.Date{Year: 2026, Month: 2, Day: 30}.Valid())
	require.False(t, core.Date{Year: 10000, Month: 1, Day: 1}.Valid())
	require.False(t, core.Date{}.Valid())
	require.True(t, core.Date{}.IsZero())
	require.Equal(t, "", core.Date{}.String())

	type doc struct {
		Day  core.Date `json:"day,omitzero"`
		None core.Date `json:"none,omitzero"`
	}
	raw, err := json.Marshal(doc{Day: d})
	require.NoError(t, err)
	require.JSONEq(t, `{"day": "2026-06-30"}`, string(raw))
	var back doc
	require.NoError(t, json.Unmarshal(raw, &back))
	require.Equal(t, d, back.Day)
	require.Error(t, json.Unmarshal([]byte(`{"day": "2026-02-30"}`), &back))

	var scanned core.Date
	require.NoError(t, scanned.Scan("2026-06-30"))
	require.Equal(t, d, scanned)
	require.NoError(t, scanned.Scan(""))
	require.True(t, scanned.IsZero())
}
