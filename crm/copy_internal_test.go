package crm

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/internal/dialect"
)

// A value reads the same, canonically, however each database hands it
// over: the checksums of the two sides of a copy compare content, not
// storage.
func TestCopyCanonicalValues(t *testing.T) {
	id := uuid.MustParse("0190f7d2-1c2b-7c3d-8e4f-a1b2c3d4e5f6")
	at := time.Date(2026, 3, 29, 1, 30, 0, 123456000, time.UTC)
	for name, tc := range map[string]struct {
		kind colKind
		a, b any
	}{
		"id as text and as bytes":          {kindID, id.String(), [16]byte(id)},
		"id as text and as raw bytes":      {kindID, []byte(id.String()), id[:]},
		"time as SQLite text and as time":  {kindTime, at.Format(dialect.TimeLayout), at.In(time.FixedZone("CEST", 2*3600))},
		"time with nanoseconds":            {kindTime, at.Add(999), at},
		"JSON with spaces and sorted keys": {kindJSON, `{"b": 1.50, "a": [1e2, "x<y"]}`, []byte(`{"a":[100,"x\u003cy"],"b":1.5}`)},
		"boolean as an integer":            {kindBool, int64(1), true},
		"integer as text":                  {kindInt, "42", int64(42)},
		"text read as a time by SQLite":    {kindText, at.Format(dialect.TimeLayout), at},
	} {
		va, ca, err := decodeValue(tc.kind, tc.a)
		require.NoError(t, err, name)
		vb, cb, err := decodeValue(tc.kind, tc.b)
		require.NoError(t, err, name)
		require.Equal(t, ca, cb, name)
		if tc.kind != kindJSON {
			require.Equal(t, va, vb, name)
		}
	}
	for name, tc := range map[string]struct {
		kind colKind
		a, b any
	}{
		"other ids":     {kindID, id.String(), uuid.Nil.String()},
		"other times":   {kindTime, at, at.Add(time.Microsecond)},
		"other JSON":    {kindJSON, `{"a":1}`, `{"a":"1"}`},
		"other text":    {kindText, "a", "a "},
		"other bools":   {kindBool, int64(0), true},
		"null and zero": {kindInt, nil, int64(0)},
	} {
		va, ca, err := decodeValue(tc.kind, tc.a)
		require.NoError(t, err, name)
		vb, cb, err := decodeValue(tc.kind, tc.b)
		require.NoError(t, err, name)
		require.False(t, ca == cb && (va == nil) == (vb == nil), name)
	}
	_, _, err := decodeValue(kindID, "not an id")
	require.Error(t, err)
	_, _, err = decodeValue(kindJSON, "{")
	require.Error(t, err)
}
