package benchdata

import (
	"testing"
	"time"
)

// Op is one contestant of a benchmark: crmkit's call or a baseline doing
// the same work, one operation per run.
type Op struct {
	Name string
	Run  func(b *testing.B)
}

// InTurns runs each op as a sub-benchmark of its own, then all of them in
// turns as "interleaved", so that a load that changes during the run
// changes all alike. Each turn runs a block of operations: on PostgreSQL
// crmkit's pool and a baseline's connection are two server processes, and
// a single operation per turn would measure the wake-up of an idle one as
// much as the query. The interleaved form reports each op's time per
// operation (<name>-µs/op) and the first op's ratio to each other one
// (x-<name>).
func InTurns(b *testing.B, block int, ops []Op) {
	b.Helper()
	for _, op := range ops {
		b.Run(op.Name, func(b *testing.B) {
			for b.Loop() {
				op.Run(b)
			}
		})
	}
	b.Run("interleaved", func(b *testing.B) {
		spent := make([]time.Duration, len(ops))
		for b.Loop() {
			for k, op := range ops {
				start := time.Now()
				for range block {
					op.Run(b)
				}
				spent[k] += time.Since(start)
			}
		}
		for k, op := range ops {
			b.ReportMetric(float64(spent[k].Microseconds())/float64(b.N*block), op.Name+"-µs/op")
		}
		for k, op := range ops[1:] {
			b.ReportMetric(spent[0].Seconds()/spent[k+1].Seconds(), "x-"+op.Name)
		}
	})
}
