package benchdata

import (
	"testing"
	"time"
)

// CPU is the process's CPU time (user and system, all threads) at a
// point; see StartCPU.
type CPU struct{ start time.Duration }

// StartCPU reads the process's CPU time before a benchmark's loop;
// Report then gives the CPU time per operation beside ns/op. The two
// tell work from waiting: work read in ranges side by side takes less
// time than its CPU time, and on a loaded machine the CPU time moves
// less than the wall time.
func StartCPU() CPU { return CPU{cpuTime()} }

// Report records the CPU time per operation since StartCPU as
// "cpu-ms/op".
func (c CPU) Report(b *testing.B) {
	b.ReportMetric(float64(cpuTime()-c.start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}
