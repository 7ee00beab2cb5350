//go:build !unix

package benchdata

import "time"

// cpuTime is unknown here: Report gives 0.
func cpuTime() time.Duration { return 0 }
