package analytics

import (
	"math/rand/v2"
	"sort"
	"testing"
)

// The linear split equals the largest-remainder split in integers, ties
// to the earlier name: remainders equal in exact arithmetic are a tie
// even where the floating-point shares differ in their last bits.
func TestAllocateMatchesIntegerLargestRemainder(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{"a", "b", "c", "d", "e", "f"}
	for range 200_000 {
		k := 2 + rng.IntN(5)
		counts := make([]int64, k)
		shares := make([]float64, k)
		n := int64(0)
		for i := range counts {
			counts[i] = 1 + rng.Int64N(6)
			shares[i] = float64(counts[i])
			n += counts[i]
		}
		amount := (1 + rng.Int64N(1_000_000)) * 10_000 // whole euros
		if rng.IntN(5) == 0 {
			amount += rng.Int64N(100) // finer than a cent: storage units
		}
		got := allocate(amount, "EUR", names[:k], shares)
		unit := int64(1)
		if amount%100 == 0 {
			unit = 100
		}
		total := amount / unit
		want := make([]int64, k)
		order := make([]int, k)
		left := total
		for i, c := range counts {
			want[i] = total * c / n
			left -= want[i]
			order[i] = i
		}
		sort.SliceStable(order, func(x, y int) bool { return total*counts[order[x]]%n > total*counts[order[y]]%n })
		for i := range left {
			want[order[i]]++
		}
		for i := range want {
			if want[i]*unit != got[i] {
				t.Fatalf("amount %d, touches %v: got %v, want %v (× %d)", amount, counts, got, want, unit)
			}
		}
	}
}
