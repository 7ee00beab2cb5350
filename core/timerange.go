package core

import "time"

// The supported time range. Every time crmkit takes from a caller, an
// activity's OccurredAt, a task's due date, a hold's end, a filter's time
// value, the bounds of a report, must fall in years MinYear to MaxYear in
// UTC; anything else is refused with ErrInvalid naming the field. Both
// databases store and compare every time in that range alike (SQLite as
// fixed-width text, PostgreSQL as timestamptz), and nothing outside it
// reaches storage. The zero time.Time (year 1) is in range; where a method
// gives it a meaning ("now", "no limit") its documentation says so.
const (
	MinYear = 1
	MaxYear = 9999
)

// MinTime and MaxTime are the first and last instants of the supported
// range, in UTC.
var (
	MinTime = time.Date(MinYear, time.January, 1, 0, 0, 0, 0, time.UTC)
	MaxTime = time.Date(MaxYear, time.December, 31, 23, 59, 59, 999999999, time.UTC)
)

// InTimeRange reports whether t lies in the supported range (years 1 to
// 9999 UTC).
func InTimeRange(t time.Time) bool {
	y := t.UTC().Year()
	return y >= MinYear && y <= MaxYear
}

// CheckTime adds a problem for field unless t lies in the supported range
// (years 1 to 9999 UTC).
func (e *ValidationError) CheckTime(field string, t time.Time) {
	if !InTimeRange(t) {
		e.Add(field, "is outside the supported range (years %d to %d UTC)", MinYear, MaxYear)
	}
}

// CheckTimePtr is CheckTime for an optional time; nil is accepted.
func (e *ValidationError) CheckTimePtr(field string, t *time.Time) {
	if t != nil {
		e.CheckTime(field, *t)
	}
}

// CheckDate adds a problem for field unless d is the zero Date (no date)
// or a day that exists in years 1 to 9999.
func (e *ValidationError) CheckDate(field string, d Date) {
	if !d.IsZero() && !d.Valid() {
		e.Add(field, "is not a day in years %d to %d", MinYear, MaxYear)
	}
}

// CheckTime returns ErrInvalid naming field unless t lies in the supported
// range: the one-time form of ValidationError.CheckTime.
func CheckTime(field string, t time.Time) error {
	v := &ValidationError{}
	v.CheckTime(field, t)
	return v.Err()
}
