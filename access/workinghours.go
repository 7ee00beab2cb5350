package access

import (
	"fmt"
	"slices"
	"time"

	"github.com/crmkit/crmkit/core"
)

// When a user works: their working hours by day of the week in their
// time zone, and their time out of office.

// Period is a span of time, From included, Until excluded.
type Period struct {
	From  time.Time `json:"from"`
	Until time.Time `json:"until"`
}

// Contains reports whether t lies in p.
func (p Period) Contains(t time.Time) bool { return !t.Before(p.From) && t.Before(p.Until) }

// WorkingHours are the time frames a user works in, by day of the week:
// keys "mon", "tue", "wed", "thu", "fri", "sat", "sun", each with one or
// more frames in the user's time zone that do not overlap. A day without
// a key is a day off.
type WorkingHours map[string][]Frame

// Frame is one span of a working day, "09:00" to "17:00": Start before
// End, both "HH:MM" (End may be "24:00").
type Frame struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// weekdays are the keys of WorkingHours, by time.Weekday.
var weekdays = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// clockMinutes parses "HH:MM" into minutes after midnight; "24:00" only
// when end.
func clockMinutes(s string, end bool) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	var h, m int
	for _, c := range s[:2] + s[3:] {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	h = int(s[0]-'0')*10 + int(s[1]-'0')
	m = int(s[3]-'0')*10 + int(s[4]-'0')
	if m > 59 || h > 24 || (h == 24 && (m != 0 || !end)) {
		return 0, false
	}
	return h*60 + m, true
}

func (w WorkingHours) check(v *core.ValidationError, field string) {
	for day, frames := range w {
		f := field + "." + day
		if !slices.Contains(weekdays, day) {
			v.Add(f, "%q is not a day (one of mon, tue, wed, thu, fri, sat, sun)", day)
			continue
		}
		if len(frames) == 0 || len(frames) > MaxFramesPerDay {
			v.Add(f, "needs 1 to %d time frames (leave a day off out)", MaxFramesPerDay)
			continue
		}
		type span struct{ start, end, i int }
		var spans []span
		for i, fr := range frames {
			ff := fmt.Sprintf("%s[%d]", f, i)
			start, ok1 := clockMinutes(fr.Start, false)
			end, ok2 := clockMinutes(fr.End, true)
			switch {
			case !ok1 || !ok2:
				v.Add(ff, "must be two times HH:MM, such as 09:00 and 17:00")
			case start >= end:
				v.Add(ff, "starts at %s, not before its end %s", fr.Start, fr.End)
			default:
				spans = append(spans, span{start, end, i})
			}
		}
		slices.SortFunc(spans, func(a, b span) int { return a.start - b.start })
		for k := 1; k < len(spans); k++ {
			if spans[k].start < spans[k-1].end {
				v.Add(fmt.Sprintf("%s[%d]", f, spans[k].i), "overlaps %s[%d]", f, spans[k-1].i)
			}
		}
	}
}

// Working reports whether t falls in u's working hours, in u's time zone.
// A user without working hours counts as always working.
func (u *User) Working(t time.Time) bool {
	if len(u.WorkingHours) == 0 {
		return true
	}
	loc, err := time.LoadLocation(u.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	local := t.In(loc)
	minute := local.Hour()*60 + local.Minute()
	for _, fr := range u.WorkingHours[weekdays[local.Weekday()]] {
		start, _ := clockMinutes(fr.Start, false)
		end, _ := clockMinutes(fr.End, true)
		if minute >= start && minute < end {
			return true
		}
	}
	return false
}

// Away reports whether u is out of office at t.
func (u *User) Away(t time.Time) bool { return u.OutOfOffice != nil && u.OutOfOffice.Contains(t) }

// Available reports whether u can take work at t: active and not out of
// office.
func (u *User) Available(t time.Time) bool { return u.Active && !u.Away(t) }
