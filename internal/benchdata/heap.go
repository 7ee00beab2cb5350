package benchdata

import (
	"runtime/metrics"
	"time"
)

// WatchHeap samples the live heap every few milliseconds until the
// returned function is called, which returns the largest sample in bytes:
// the peak memory of the work in between, for benchmarks that promise
// memory flat in some input.
func WatchHeap() (stop func() uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-finished
		return peak
	}
}
