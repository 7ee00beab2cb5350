package core

import (
	"database/sql/driver"
	"fmt"
	"time"
)

// Date is a calendar day without a time of day or a time zone, such as a
// deal's expected close date or the bounds of a forecast: 2026-06-30 is the
// same day wherever the host runs. crmkit uses Date, not time.Time, where
// only the day matters, so that a time.Time at midnight in Berlin cannot
// become the day before in UTC. Its zero value means "no date".
//
// A Date is written and read as "2026-06-30" (JSON, SQL, String) and must
// lie in the supported range, years 1 to 9999.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// NewDate returns the day year-month-day; out-of-range months and days
// roll over as in time.Date (NewDate(2026, 2, 30) is 2026-03-02).
func NewDate(year int, month time.Month, day int) Date {
	return DateOf(time.Date(year, month, day, 0, 0, 0, 0, time.UTC))
}

// DateOf returns the day t falls on in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{Year: y, Month: m, Day: d}
}

// ParseDate parses "2026-06-30". It returns ErrInvalid for anything else,
// for a day that does not exist and for a year outside 1-9999.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("%w: not a date such as 2026-12-31", ErrInvalid)
	}
	return DateOf(t), nil
}

// MustDate is ParseDate for dates known to be valid (constants, tests); it
// panics on a malformed one.
func MustDate(s string) Date {
	d, err := ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// IsZero reports whether d is the zero Date, "no date".
func (d Date) IsZero() bool { return d == Date{} }

// Valid reports whether d is a day that exists, in years 1 to 9999.
func (d Date) Valid() bool {
	return d.Year >= MinYear && d.Year <= MaxYear && NewDate(d.Year, d.Month, d.Day) == d
}

// String returns "2026-06-30", or "" for the zero Date.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// Time returns the start of d in UTC.
func (d Date) Time() time.Time { return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC) }

// AddDays returns d moved by n days.
func (d Date) AddDays(n int) Date { return NewDate(d.Year, d.Month, d.Day+n) }

// Compare returns -1, 0 or +1 as d is before, equal to or after o.
func (d Date) Compare(o Date) int { return d.Time().Compare(o.Time()) }

// Before reports whether d is before o.
func (d Date) Before(o Date) bool { return d.Compare(o) < 0 }

// After reports whether d is after o.
func (d Date) After(o Date) bool { return d.Compare(o) > 0 }

// MarshalText writes "2026-06-30" ("" for the zero Date).
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads "2026-06-30"; "" is the zero Date.
func (d *Date) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*d = Date{}
		return nil
	}
	p, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = p
	return nil
}

// Value stores d as "2026-06-30" ("" for the zero Date), text that sorts
// and compares as days on both databases.
func (d Date) Value() (driver.Value, error) { return d.String(), nil }

// Scan reads what Value stored.
func (d *Date) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d = Date{}
		return nil
	case string:
		return d.UnmarshalText([]byte(v))
	case []byte:
		return d.UnmarshalText(v)
	case time.Time:
		*d = DateOf(v)
		return nil
	}
	return fmt.Errorf("crm: cannot scan %T into a core.Date", src)
}
