package tickets_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/tickets"
)

func weekdays(start, end string, days ...time.Weekday) []tickets.Window {
	var out []tickets.Window
	for _, d := range days {
		out = append(out, tickets.Window{Weekday: d, Start: start, End: end})
	}
	return out
}

var (
	monFri   = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
	everyDay = []time.Weekday{time.Sunday, time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday}
)

// berlinOffice: Mon–Fri 09–12 and 13–17 (a lunch break), German public
// holidays, Christmas Eve, and a closure on the morning of 2026-03-30.
func berlinOffice() *tickets.Calendar {
	return &tickets.Calendar{Name: "Berlin office", TimeZone: "Europe/Berlin", Country: "DE",
		Windows:  append(weekdays("09:00", "12:00", monFri...), weekdays("13:00", "17:00", monFri...)...),
		Holidays: []core.Date{core.MustDate("2026-12-24")},
		Closures: []tickets.Closure{{From: utc("2026-03-30T07:00:00Z"), To: utc("2026-03-30T09:00:00Z"), Reason: "all hands"}}}
}

// berlinNight: a night shift every day, 22:00 to 06:00.
func berlinNight() *tickets.Calendar {
	return &tickets.Calendar{Name: "Berlin night", TimeZone: "Europe/Berlin", Windows: weekdays("22:00", "06:00", everyDay...)}
}

// newYork: Mon–Fri 08–18 and Sundays 09–17, US federal holidays.
func newYork() *tickets.Calendar {
	return &tickets.Calendar{Name: "New York", TimeZone: "America/New_York", Country: "US",
		Windows: append(weekdays("08:00", "18:00", monFri...), tickets.Window{Weekday: time.Sunday, Start: "09:00", End: "17:00"})}
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func compile(t testing.TB, c *tickets.Calendar) *tickets.Hours {
	t.Helper()
	h, err := c.Compile()
	require.NoError(t, err)
	return h
}

// Business-time arithmetic across clock changes, holidays, split and
// overnight windows and closures: every due time by hand, and measuring
// back gives the minutes added.
func TestBusinessTime(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		cal     func() *tickets.Calendar
		start   string
		minutes int
		due     string
	}{
		{"Berlin: Friday afternoon over the spring change to Monday, past its closure", berlinOffice, "2026-03-27T15:00:00Z", 180, "2026-03-30T12:00:00Z"},
		{"Berlin: a closure ends in the morning window, due at its end", berlinOffice, "2026-03-30T05:00:00Z", 60, "2026-03-30T10:00:00Z"},
		{"Berlin: the lunch break is skipped", berlinOffice, "2026-03-31T09:30:00Z", 60, "2026-03-31T11:30:00Z"},
		{"Berlin: before the first window", berlinOffice, "2026-03-31T05:00:00Z", 30, "2026-03-31T07:30:00Z"},
		{"Berlin: Good Friday and Easter Monday are closed", berlinOffice, "2026-04-02T14:30:00Z", 60, "2026-04-07T07:30:00Z"},
		{"Berlin: Friday afternoon over the autumn change to Monday", berlinOffice, "2026-10-23T14:00:00Z", 120, "2026-10-26T09:00:00Z"},
		{"Berlin: Christmas Eve (fixed) and Christmas Day (country) are closed", berlinOffice, "2026-12-23T15:00:00Z", 120, "2026-12-28T09:00:00Z"},
		{"Berlin: Tag der Deutschen Einheit on a Saturday changes nothing", berlinOffice, "2026-10-02T14:00:00Z", 120, "2026-10-05T08:00:00Z"},
		{"Berlin night: the spring night is 7 hours long", berlinNight, "2026-03-28T21:00:00Z", 420, "2026-03-29T04:00:00Z"},
		{"Berlin night: past the short night into the next", berlinNight, "2026-03-28T21:00:00Z", 480, "2026-03-29T21:00:00Z"},
		{"Berlin night: the autumn night is 9 hours long", berlinNight, "2026-10-24T20:00:00Z", 540, "2026-10-25T05:00:00Z"},
		{"Berlin night: started inside a window after midnight", berlinNight, "2026-10-25T02:30:00Z", 60, "2026-10-25T03:30:00Z"},
		{"Berlin night: from noon, the window of that evening", berlinNight, "2026-06-10T10:00:00Z", 90, "2026-06-10T21:30:00Z"},
		{"New York: the Sunday of the spring change opens at 09:00 EDT", newYork, "2026-03-08T05:00:00Z", 60, "2026-03-08T14:00:00Z"},
		{"New York: the Sunday of the autumn change opens at 09:00 EST", newYork, "2026-11-01T04:00:00Z", 60, "2026-11-01T15:00:00Z"},
		{"New York: Friday evening to the spring Sunday", newYork, "2026-03-06T22:00:00Z", 120, "2026-03-08T14:00:00Z"},
		{"New York: Friday evening to the autumn Sunday", newYork, "2026-10-30T21:00:00Z", 120, "2026-11-01T15:00:00Z"},
		{"New York: Thanksgiving is closed", newYork, "2026-11-25T22:00:00Z", 120, "2026-11-27T14:00:00Z"},
		{"New York: Independence Day on a Saturday is observed on Friday", newYork, "2026-07-02T21:00:00Z", 120, "2026-07-05T14:00:00Z"},
		{"New York: exactly the end of a window", newYork, "2026-03-09T12:00:00Z", 600, "2026-03-09T22:00:00Z"},
		{"zero minutes is the start", berlinOffice, "2026-03-28T12:00:00Z", 0, "2026-03-28T12:00:00Z"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := compile(t, tc.cal())
			start := utc(tc.start)
			due, err := h.AddBusiness(start, time.Duration(tc.minutes)*time.Minute)
			require.NoError(t, err)
			require.Equal(t, utc(tc.due), due, "due %s", due.In(h.Location()))
			require.Equal(t, time.Duration(tc.minutes)*time.Minute, h.BusinessBetween(start, due))
			require.Equal(t, -time.Duration(tc.minutes)*time.Minute, h.BusinessBetween(due, start))
		})
	}
}

// BusinessBetween over whole stretches: a week of the office is 35
// hours; the week of Easter 21 hours (Good Friday and Easter Monday
// closed); the night calendar's week of the spring change loses an hour,
// that of the autumn change gains one.
func TestBusinessBetween(t *testing.T) {
	t.Parallel()
	office, night := compile(t, berlinOffice()), compile(t, berlinNight())
	require.Equal(t, 35*time.Hour, office.BusinessBetween(utc("2026-06-07T22:00:00Z"), utc("2026-06-14T22:00:00Z")))
	require.Equal(t, 21*time.Hour, office.BusinessBetween(utc("2026-04-02T22:00:00Z"), utc("2026-04-09T22:00:00Z")))
	require.Equal(t, 7*8*time.Hour-time.Hour, night.BusinessBetween(utc("2026-03-23T11:00:00Z"), utc("2026-03-30T10:00:00Z")))
	require.Equal(t, 7*8*time.Hour+time.Hour, night.BusinessBetween(utc("2026-10-19T10:00:00Z"), utc("2026-10-26T11:00:00Z")))
	require.Zero(t, office.BusinessBetween(utc("2026-06-13T08:00:00Z"), utc("2026-06-13T18:00:00Z")), "a Saturday")
	require.True(t, office.IsHoliday(core.MustDate("2026-05-01")))
	require.False(t, office.IsHoliday(core.MustDate("2026-05-04")))
}

// Working time over a stretch is the sum of its parts, however long the
// stretch (one longer than the running totals kept is added day by day)
// and in whichever order stretches are asked for.
func TestBusinessBetweenAddsUp(t *testing.T) {
	t.Parallel()
	office := compile(t, berlinOffice())
	var sum time.Duration
	for y := 2100; y > 1950; y-- { // backwards: the running totals grow downwards
		sum += office.BusinessBetween(time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(y+1, 1, 1, 0, 0, 0, 0, time.UTC))
	}
	require.Equal(t, sum, office.BusinessBetween(time.Date(1951, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2101, 1, 1, 0, 0, 0, 0, time.UTC)))
	require.Equal(t, sum, compile(t, berlinOffice()).BusinessBetween(time.Date(1951, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2101, 1, 1, 0, 0, 0, 0, time.UTC)))
	require.Greater(t, sum, 150*48*35*time.Hour, "about 48 working weeks of 35 hours a year")
}

// Adding business time and measuring it back agree, and a due time never
// lies outside a working window (it is inside one, or at its end), for
// random starts (to the second) and amounts over two years that cross
// every clock change, on every calendar.
func TestBusinessTimeProperties(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	from, span := utc("2026-01-01T00:00:00Z"), 2*365*24*time.Hour
	for _, cal := range []*tickets.Calendar{berlinOffice(), berlinNight(), newYork()} {
		h := compile(t, cal)
		for range 1500 {
			start := from.Add(time.Duration(r.Int64N(int64(span/time.Second))) * time.Second)
			d := time.Duration(r.IntN(6000)+1)*time.Minute + time.Duration(r.IntN(60))*time.Second
			due, err := h.AddBusiness(start, d)
			require.NoError(t, err)
			require.Equal(t, d, h.BusinessBetween(start, due), "%s: %s + %s = %s", cal.Name, start, d, due)
			require.True(t, h.Working(due.Add(-time.Second)), "%s: %s + %s = %s lies outside a window", cal.Name, start, d, due)
			require.Less(t, h.BusinessBetween(start, due.Add(-time.Second)), d)
		}
	}
}

// A calendar with an unknown time zone, overlapping windows (a night
// shift's morning included, Saturday's night into Sunday too), malformed
// times, an unknown country and a closure that ends before it starts is
// refused, every problem listed.
func TestCalendarValidation(t *testing.T) {
	t.Parallel()
	c := &tickets.Calendar{Name: "bad", TimeZone: "Europe/Atlantis", Country: "XX",
		Windows: []tickets.Window{
			{Weekday: time.Monday, Start: "09:00", End: "12:00"},
			{Weekday: time.Monday, Start: "11:00", End: "13:00"}, // 1 overlaps 0
			{Weekday: time.Tuesday, Start: "22:00", End: "06:00"},
			{Weekday: time.Wednesday, Start: "05:00", End: "07:00"}, // 3 overlaps 2's morning
			{Weekday: time.Saturday, Start: "20:00", End: "02:00"},
			{Weekday: time.Sunday, Start: "01:00", End: "03:00"}, // 5 overlaps 4's morning
			{Weekday: time.Thursday, Start: "9:00", End: "25:00"},
			{Weekday: time.Friday, Start: "10:00", End: "10:00"},
		},
		Closures: []tickets.Closure{{From: utc("2026-03-02T10:00:00Z"), To: utc("2026-03-02T09:00:00Z")}}}
	_, err := c.Compile()
	require.ElementsMatch(t, []string{"time_zone", "country", "windows.1", "windows.3", "windows.5", "windows.6.start", "windows.7", "closures.0"},
		fieldsOf(t, err))
	_, err = (&tickets.Calendar{TimeZone: "UTC"}).Compile()
	require.Equal(t, []string{"windows"}, fieldsOf(t, err))
	_, err = (&tickets.Calendar{TimeZone: "UTC", Windows: weekdays("00:00", "24:00", everyDay...)}).Compile()
	require.NoError(t, err, "round the clock")
}

// A calendar whose working time is closed for longer than the search
// bound gives an error, not a hang.
func TestAddBusinessWithoutWorkingTime(t *testing.T) {
	t.Parallel()
	c := &tickets.Calendar{TimeZone: "UTC", Windows: weekdays("09:00", "17:00", monFri...),
		Closures: []tickets.Closure{{From: utc("2026-01-01T00:00:00Z"), To: utc("2036-01-01T00:00:00Z")}}}
	h := compile(t, c)
	_, err := h.AddBusiness(utc("2026-02-01T00:00:00Z"), time.Minute)
	require.ErrorIs(t, err, core.ErrInvalid)
}

func BenchmarkAddBusiness(b *testing.B) {
	h := compile(b, berlinOffice())
	start := utc("2026-03-27T15:00:00Z")
	for b.Loop() {
		if _, err := h.AddBusiness(start, 8*60*time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}

// The remaining business time of a ticket in an agent queue: now against
// a due time eight weeks earlier (overdue), as List computes it for every
// target of every ticket on a page.
func BenchmarkBusinessBetween(b *testing.B) {
	h := compile(b, berlinOffice())
	now, due := utc("2026-03-02T10:00:00Z"), utc("2026-01-05T12:00:00Z")
	for b.Loop() {
		if h.BusinessBetween(now, due) >= 0 {
			b.Fatal("not overdue")
		}
	}
}
