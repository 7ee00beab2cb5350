package analytics

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// The ranges cover every id once, in order, open at both ends; too narrow
// a span, or none, is one open range.
func TestSplitIDs(t *testing.T) {
	t.Parallel()
	id := func(s string) uuid.NullUUID { return uuid.NullUUID{UUID: uuid.MustParse(s), Valid: true} }
	lo, hi := id("0190a000-0000-7000-8000-000000000000"), id("019b0000-0000-7000-8000-000000000000")
	rs := splitIDs(lo, hi, 3)
	require.Len(t, rs, 3)
	require.Nil(t, rs[0].from)
	require.Nil(t, rs[2].to)
	for i := 1; i < len(rs); i++ {
		require.Equal(t, rs[i-1].to, rs[i].from)
	}
	require.Less(t, rs[0].to.String(), rs[1].to.String(), "ascending")
	// Every id between lo and hi, and beyond, falls in exactly one range.
	for _, s := range []string{"00000000-0000-0000-0000-000000000000", lo.UUID.String(), "0194ffff-ffff-7fff-bfff-ffffffffffff",
		"01970000-0000-7000-8000-000000000000", hi.UUID.String(), "ffffffff-ffff-ffff-ffff-ffffffffffff"} {
		n := 0
		for _, r := range rs {
			if (r.from == nil || s >= r.from.String()) && (r.to == nil || s < r.to.String()) {
				n++
			}
		}
		require.Equal(t, 1, n, s)
	}
	cond, args := rs[1].where("a.contact_id")
	require.Equal(t, " AND a.contact_id >= ? AND a.contact_id < ?", cond)
	require.Equal(t, []any{*rs[1].from, *rs[1].to}, args)

	for _, c := range []struct{ lo, hi uuid.NullUUID }{
		{uuid.NullUUID{}, uuid.NullUUID{}}, // no purchases
		{lo, lo},                           // one contact
		{lo, id("0190a000-0000-7000-8000-000000000001")}, // differ past the leading 64 bits
		{hi, lo}, // never, but safe
	} {
		rs := splitIDs(c.lo, c.hi, 4)
		require.Equal(t, []idRange{{}}, rs)
		cond, args := rs[0].where("a.contact_id")
		require.Empty(t, cond)
		require.Empty(t, args)
	}
}
