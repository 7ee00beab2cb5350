package tickets

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rickar/cal/v2"
	"github.com/rickar/cal/v2/at"
	"github.com/rickar/cal/v2/be"
	"github.com/rickar/cal/v2/ch"
	"github.com/rickar/cal/v2/de"
	"github.com/rickar/cal/v2/es"
	"github.com/rickar/cal/v2/fr"
	"github.com/rickar/cal/v2/gb"
	"github.com/rickar/cal/v2/it"
	"github.com/rickar/cal/v2/nl"
	"github.com/rickar/cal/v2/us"

	"github.com/crmkit/crmkit/core"
)

// countryHolidays are the national holiday rules a calendar can name by
// ISO 3166-1 alpha-2 code (github.com/rickar/cal/v2; only its holiday
// rules are used, never its business-hours arithmetic).
func countryHolidays(code string) ([]*cal.Holiday, bool) {
	switch strings.ToUpper(code) {
	case "AT":
		return at.Holidays, true
	case "BE":
		return be.Holidays, true
	case "CH":
		return ch.Holidays, true
	case "DE":
		return de.Holidays, true
	case "ES":
		return es.Holidays, true
	case "FR":
		return fr.Holidays, true
	case "GB":
		return gb.Holidays, true
	case "IT":
		return it.Holidays, true
	case "NL":
		return nl.Holidays, true
	case "US":
		return us.Holidays, true
	}
	return nil, false
}

// Countries lists the country codes whose holiday rules a calendar can
// use.
var Countries = []string{"AT", "BE", "CH", "DE", "ES", "FR", "GB", "IT", "NL", "US"}

const (
	minutesPerDay = 24 * 60
	// searchDays bounds the search for working time: a calendar that has
	// none for three years (closures, holidays) gives an error.
	searchDays = 3 * 366
)

// span is a working window of a weekday in minutes after local midnight;
// end > 1440 crosses midnight into the next day.
type span struct{ start, end int }

// Hours is a calendar compiled for business-time arithmetic: its time
// zone loaded, its windows parsed, its closures sorted. It is safe for
// concurrent use. Working windows are laid out with time.Date in the
// calendar's zone, so a window from 09:00 to 17:00 is 09:00 to 17:00 on
// the wall clock on the days the clocks change too (and a night window
// across a change is an hour shorter or longer in real time).
type Hours struct {
	loc      *time.Location
	days     [7][]span
	fixed    map[core.Date]bool
	rules    []*cal.Holiday
	closures []Closure

	mu    sync.Mutex
	years map[int]map[core.Date]bool
	// totals caches the working time of the windows that start on a
	// date: long stretches add whole days without laying them out.
	totals map[day]time.Duration
	// work caches the working intervals of the dates whose windows were
	// laid out (see workOf): the first and last days of a stretch, which
	// the due times of many tickets share. Never changed once stored.
	work map[day][]interval
	// sums holds running totals over a stretch of dates, so that the
	// working time of the whole days between two times is one
	// subtraction (see sumDays). Replaced, never changed, under mu.
	sums *daySums
}

// daySums are running totals of dayTotal: cum[i] is the working time of
// the dates [from, from+i).
type daySums struct {
	from day
	cum  []time.Duration
}

// covers reports whether s holds the dates [lo, hi).
func (s *daySums) covers(lo, hi day) bool {
	return s != nil && lo >= s.from && hi <= s.from+day(len(s.cum)-1)
}

// maxSumDays bounds the stretch daySums keeps (about 110 years).
const maxSumDays = 40_000

// day is a local calendar date as a count of days since 1970-01-01:
// the loops over days count with it.
type day int64

func dayOf(d core.Date) day {
	return day(time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

func (n day) date() core.Date {
	y, m, d := time.Unix(int64(n)*86400, 0).UTC().Date()
	return core.Date{Year: y, Month: m, Day: d}
}

// Compile checks the calendar and returns its Hours. An invalid calendar
// is ErrInvalid with every problem listed.
func (c *Calendar) Compile() (*Hours, error) {
	v := &core.ValidationError{}
	h := c.compile(v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return h, nil
}

// compile checks the calendar's time zone, windows, holidays, country and
// closures, adding every problem to v.
func (c *Calendar) compile(v *core.ValidationError) *Hours {
	h := &Hours{fixed: map[core.Date]bool{}, years: map[int]map[core.Date]bool{}, totals: map[day]time.Duration{},
		work: map[day][]interval{}}
	loc, err := loadLocation(c.TimeZone)
	switch {
	case c.TimeZone == "":
		v.Add("time_zone", "is required: an IANA time zone such as Europe/Berlin")
	case err != nil || c.TimeZone == "Local":
		v.Add("time_zone", "%q is not an IANA time zone", c.TimeZone)
	default:
		h.loc = loc
	}
	if len(c.Windows) == 0 {
		v.Add("windows", "is required: at least one working window")
	}
	type weekSpan struct {
		i          int
		start, end int // minutes after Sunday 00:00
	}
	var week []weekSpan
	for i, w := range c.Windows {
		field := fmt.Sprintf("windows.%d", i)
		start, okS := parseClock(w.Start, false)
		end, okE := parseClock(w.End, true)
		switch {
		case w.Weekday < time.Sunday || w.Weekday > time.Saturday:
			v.Add(field+".weekday", "must be 0 (Sunday) to 6 (Saturday)")
			continue
		case !okS:
			v.Add(field+".start", "%q is not a time of day HH:MM", w.Start)
			continue
		case !okE:
			v.Add(field+".end", "%q is not a time of day HH:MM (24:00 for midnight)", w.End)
			continue
		case start == end:
			v.Add(field, "starts and ends at %s: a window needs a length", w.Start)
			continue
		}
		if end <= start {
			end += minutesPerDay // a night window, ending the next day
		}
		h.days[w.Weekday] = append(h.days[w.Weekday], span{start, end})
		week = append(week, weekSpan{i, int(w.Weekday)*minutesPerDay + start, int(w.Weekday)*minutesPerDay + end})
	}
	// Windows may not overlap, a night window's morning included (the
	// week wraps: Saturday night runs into Sunday).
	for a := range week {
		for b := a + 1; b < len(week); b++ {
			x, y := week[a], week[b]
			for _, shift := range []int{0, 7 * minutesPerDay, -7 * minutesPerDay} {
				if x.start < y.end+shift && y.start+shift < x.end {
					v.Add(fmt.Sprintf("windows.%d", y.i), "overlaps window %d", x.i)
					break
				}
			}
		}
	}
	for d := range h.days {
		slices.SortFunc(h.days[d], func(a, b span) int { return a.start - b.start })
	}
	for i, d := range c.Holidays {
		if !d.Valid() {
			v.Add(fmt.Sprintf("holidays.%d", i), "is not a date")
			continue
		}
		h.fixed[d] = true
	}
	if c.Country != "" {
		rules, ok := countryHolidays(c.Country)
		if !ok {
			v.Add("country", "%q has no holiday rules here; one of %s", c.Country, strings.Join(Countries, ", "))
		}
		h.rules = rules
	}
	for i, cl := range c.Closures {
		if cl.From.IsZero() || cl.To.IsZero() || !cl.To.After(cl.From) {
			v.Add(fmt.Sprintf("closures.%d", i), "needs from before to")
			continue
		}
		h.closures = append(h.closures, Closure{From: cl.From.UTC(), To: cl.To.UTC(), Reason: cl.Reason})
	}
	sort.Slice(h.closures, func(a, b int) bool { return h.closures[a].From.Before(h.closures[b].From) })
	return h
}

// locations caches time.LoadLocation, which reads the zone's file each
// time: calendars are compiled on every read of tickets. Zones do not
// change while a process runs.
var locations sync.Map // name → *time.Location

func loadLocation(name string) (*time.Location, error) {
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	locations.Store(name, l)
	return l, nil
}

// parseClock parses "HH:MM" into minutes after midnight; "24:00" only as
// an end.
func parseClock(s string, end bool) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	var hh, mm int
	for _, c := range s[:2] + s[3:] {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	hh = int(s[0]-'0')*10 + int(s[1]-'0')
	mm = int(s[3]-'0')*10 + int(s[4]-'0')
	if end && hh == 24 && mm == 0 {
		return minutesPerDay, true
	}
	if hh > 23 || mm > 59 {
		return 0, false
	}
	return hh*60 + mm, true
}

// Location returns the calendar's time zone.
func (h *Hours) Location() *time.Location { return h.loc }

// holiday reports whether the local date d is a holiday: a fixed date or
// (observed) one of the country's.
func (h *Hours) holiday(d core.Date) bool {
	if h.fixed[d] {
		return true
	}
	if len(h.rules) == 0 {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	set, ok := h.years[d.Year]
	if !ok {
		set = map[core.Date]bool{}
		for _, r := range h.rules {
			if r.Type != cal.ObservancePublic && r.Type != cal.ObservanceUnknown {
				continue
			}
			_, observed := r.Calc(d.Year)
			if !observed.IsZero() {
				set[core.NewDate(observed.Year(), observed.Month(), observed.Day())] = true
			}
		}
		h.years[d.Year] = set
	}
	return set[d]
}

// IsHoliday reports whether the calendar keeps the local date d closed.
func (h *Hours) IsHoliday(d core.Date) bool { return h.holiday(d) }

// interval is a stretch of working time.
type interval struct{ from, to time.Time }

// dayIntervals appends the working intervals of the windows that start on
// local date d (none on a holiday), closures cut out, in order.
func (h *Hours) dayIntervals(out []interval, n day) []interval {
	d := n.date()
	if h.holiday(d) {
		return out
	}
	wd := time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Weekday()
	for _, s := range h.days[wd] {
		from := time.Date(d.Year, d.Month, d.Day, 0, s.start, 0, 0, h.loc)
		to := time.Date(d.Year, d.Month, d.Day, 0, s.end, 0, 0, h.loc)
		if !to.After(from) {
			continue // a window inside a skipped hour of a clock change
		}
		out = h.cut(out, interval{from, to})
	}
	return out
}

// cut appends iv without the closures.
func (h *Hours) cut(out []interval, iv interval) []interval {
	for _, c := range h.closures {
		if !c.To.After(iv.from) {
			continue
		}
		if !c.From.Before(iv.to) {
			break
		}
		if c.From.After(iv.from) {
			out = append(out, interval{iv.from, c.From})
		}
		iv.from = c.To
		if !iv.to.After(iv.from) {
			return out
		}
	}
	return append(out, iv)
}

// workOf returns the working intervals of the windows that start on local
// date n (see dayIntervals), laid out once and kept: the caller must not
// change them.
func (h *Hours) workOf(n day) []interval {
	h.mu.Lock()
	ivs, ok := h.work[n]
	h.mu.Unlock()
	if ok {
		return ivs
	}
	ivs = h.dayIntervals(nil, n)
	h.mu.Lock()
	if len(h.work) > 100_000 {
		clear(h.work) // a bound on what a long-lived calendar keeps
	}
	h.work[n] = ivs
	h.mu.Unlock()
	return ivs
}

// dayTotal returns the working time of the windows that start on local
// date d, closures cut out.
func (h *Hours) dayTotal(d day, buf []interval) (time.Duration, []interval) {
	h.mu.Lock()
	total, ok := h.totals[d]
	h.mu.Unlock()
	if ok {
		return total, buf
	}
	buf = h.dayIntervals(buf[:0], d)
	for _, iv := range buf {
		total += iv.to.Sub(iv.from)
	}
	h.mu.Lock()
	if len(h.totals) > 100_000 {
		clear(h.totals) // a bound on what a long-lived calendar keeps
	}
	h.totals[d] = total
	h.mu.Unlock()
	return total, buf
}

// sumDays returns the working time of the windows that start on the
// dates [lo, hi): from running totals it keeps, extended (or laid anew
// around [lo, hi)) when they do not reach that far.
func (h *Hours) sumDays(lo, hi day) time.Duration {
	if hi <= lo {
		return 0
	}
	h.mu.Lock()
	s := h.sums
	h.mu.Unlock()
	if s.covers(lo, hi) {
		return s.cum[hi-s.from] - s.cum[lo-s.from]
	}
	from, end := lo, hi
	if s != nil {
		from, end = min(lo, s.from), max(hi, s.from+day(len(s.cum)-1))
	}
	if end-from > maxSumDays {
		if hi-lo > maxSumDays {
			// Too long a stretch to keep: add it up day by day.
			var sum, total time.Duration
			var buf []interval
			for d := lo; d < hi; d++ {
				total, buf = h.dayTotal(d, buf)
				sum += total
			}
			return sum
		}
		from, end, s = lo, hi, nil
	}
	next := &daySums{from: from, cum: make([]time.Duration, end-from+1)}
	var buf []interval
	for d := from; d < end; d++ {
		var total time.Duration
		if s.covers(d, d+1) {
			total = s.cum[d+1-s.from] - s.cum[d-s.from]
		} else {
			total, buf = h.dayTotal(d, buf)
		}
		next.cum[d+1-from] = next.cum[d-from] + total
	}
	h.mu.Lock()
	h.sums = next
	h.mu.Unlock()
	return next.cum[hi-from] - next.cum[lo-from]
}

// localDay is t's date in the calendar's zone.
func (h *Hours) localDay(t time.Time) day {
	y, m, d := t.In(h.loc).Date()
	return day(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// AddBusiness returns the instant when d of working time has passed
// after start: the due time of a target. The result lies inside a working
// window (at its end at the latest) for d > 0; for d <= 0 it is start.
// A calendar without working time in the next three years is an error.
func (h *Hours) AddBusiness(start time.Time, d time.Duration) (time.Time, error) {
	if d <= 0 {
		return start, nil
	}
	rem := d
	first := h.localDay(start)
	n := first - 1 // yesterday's night window may still run
	var buf []interval
	for range searchDays {
		if n > first {
			// Every window of n starts after start: a day that does not
			// finish the sum is added whole.
			var total time.Duration
			if total, buf = h.dayTotal(n, buf); rem > total {
				rem -= total
				n++
				continue
			}
		}
		for _, iv := range h.workOf(n) {
			if !iv.to.After(start) {
				continue
			}
			from := iv.from
			if start.After(from) {
				from = start
			}
			avail := iv.to.Sub(from)
			if rem <= avail {
				return from.Add(rem).UTC(), nil
			}
			rem -= avail
		}
		n++
	}
	return time.Time{}, fmt.Errorf("%w: the calendar has no working time in the %d days after %s", core.ErrInvalid, searchDays, start.UTC().Format(time.RFC3339))
}

// BusinessBetween returns the working time between a and b (negative when
// b is before a).
func (h *Hours) BusinessBetween(a, b time.Time) time.Duration {
	if b.Before(a) {
		return -h.BusinessBetween(b, a)
	}
	var sum time.Duration
	first, last := h.localDay(a), h.localDay(b)
	// The windows of the dates after a's and before the day before b's
	// start after a and end (by the next midnight) before b's date: all of
	// them count.
	if last-1 > first+1 {
		sum += h.sumDays(first+1, last-1)
	}
	for d := first - 1; d <= last; d++ {
		if d == first+1 && d < last-1 {
			d = last - 1 // the days between are in sum
		}
		for _, iv := range h.workOf(d) {
			from, to := iv.from, iv.to
			if from.Before(a) {
				from = a
			}
			if to.After(b) {
				to = b
			}
			if to.After(from) {
				sum += to.Sub(from)
			}
		}
	}
	return sum
}

// Working reports whether t lies inside a working window (its start
// included, its end not).
func (h *Hours) Working(t time.Time) bool {
	today := h.localDay(t)
	for _, d := range []day{today - 1, today} {
		for _, iv := range h.workOf(d) {
			if !t.Before(iv.from) && t.Before(iv.to) {
				return true
			}
		}
	}
	return false
}
