package dialect

import (
	"fmt"
	"strings"
	"time"
)

// NullTime is a scan destination for a time column read as StoredTime(col)
// (or as col itself): PostgreSQL's time as it comes, SQLite's text parsed
// here. The SQLite driver parses a column declared TIMESTAMP itself, trying
// layouts in turn (the first one fails on crmkit's TimeLayout, at the cost
// of an error value per time); a row of many times, such as a ticket's,
// reads faster with the text parsed in its one known layout.
type NullTime struct {
	Time  time.Time // in UTC when read from text
	Valid bool
}

// Scan implements sql.Scanner.
func (n *NullTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		n.Time, n.Valid = time.Time{}, false
		return nil
	case time.Time:
		n.Time, n.Valid = v, true
		return nil
	case string:
		return n.parse(v)
	case []byte:
		return n.parse(string(v))
	}
	return fmt.Errorf("crm: a time scanned from %T", src)
}

func (n *NullTime) parse(s string) error {
	t, ok := parseTimeLayout(s)
	if !ok {
		var err error
		if t, err = parseStoredText(s); err != nil {
			return err
		}
	}
	n.Time, n.Valid = t, true
	return nil
}

// parseTimeLayout parses s in TimeLayout ("2006-01-02T15:04:05.000000Z")
// without time.Parse; ok is false for any other text, an impossible date
// included.
func parseTimeLayout(s string) (_ time.Time, ok bool) {
	if len(s) != len(TimeLayout) || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
		s[19] != '.' || s[26] != 'Z' {
		return time.Time{}, false
	}
	num := func(from, to int) int {
		n := 0
		for i := from; i < to; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				ok = false
				return 0
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	ok = true
	year, month, day := num(0, 4), num(5, 7), num(8, 10)
	hour, minute, sec, micro := num(11, 13), num(14, 16), num(17, 19), num(20, 26)
	if !ok || month < 1 || month > 12 || day < 1 || day > daysIn(time.Month(month), year) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, micro*1000, time.UTC), true
}

func daysIn(m time.Month, year int) int {
	switch m {
	case time.February:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

// storedTextLayouts are the layouts the SQLite driver (modernc.org/sqlite)
// tries for a TIMESTAMP column's text, in its order, after the form of
// time.Time.String: text crmkit did not write in TimeLayout reads as it
// would through the driver.
var storedTextLayouts = []string{
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02T15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02T15:04",
	"2006-01-02",
}

// parseStoredText parses a time's text as the SQLite driver does.
func parseStoredText(s string) (time.Time, error) {
	str := s
	if i := strings.Index(str, "m="); i > 0 {
		str = str[:i]
	}
	if t, err := time.Parse("2006-01-02 15:04:05.999999999 -0700 MST", strings.TrimSpace(str)); err == nil {
		return t, nil
	}
	trimmed := strings.TrimSuffix(s, "Z")
	for _, layout := range storedTextLayouts {
		if t, err := time.Parse(layout, trimmed); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("crm: %q is not a stored time", s)
}
