package core

import "time"

// Clock tells crmkit the time. Hosts and tests replace it to control time;
// the default is the system clock in UTC.
type Clock interface {
	Now() time.Time
}

// ClockFunc adapts a function to Clock.
type ClockFunc func() time.Time

// Now calls f.
func (f ClockFunc) Now() time.Time { return f() }

// SystemClock is the wall clock, in UTC.
var SystemClock Clock = ClockFunc(func() time.Time { return time.Now().UTC() })

// TimePrecision is the resolution at which crmkit stores times (both
// databases keep microseconds). Times are truncated to it before they are
// written, so a value read back equals the value written.
const TimePrecision = time.Microsecond

// NormalizeTime returns t in UTC truncated to TimePrecision.
func NormalizeTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(TimePrecision)
}
