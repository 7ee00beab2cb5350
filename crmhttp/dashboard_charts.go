package crmhttp

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/go-analyze/charts"
	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit/core"
)

// The dashboard's charts are SVG drawn on the server by
// github.com/go-analyze/charts and put into the page as they are: an
// <svg role="img"> named by its <title> and described by its <desc>, with
// every bar's value written beside it, and the same numbers in a table
// next to the chart for those who do not see it.

// chartTheme is a light theme whose series colours keep a 3:1 contrast
// with the white background (WCAG 1.4.11) and whose text is near black.
type chartTheme struct{ palette charts.ColorPalette }

func newChartTheme() chartTheme {
	text := charts.ColorRGB(33, 37, 41)
	return chartTheme{palette: charts.MakeTheme(charts.ThemeOption{
		AxisStrokeColor:    charts.ColorRGB(90, 94, 102),
		AxisSplitLineColor: charts.ColorRGB(222, 226, 230),
		BackgroundColor:    charts.ColorWhite,
		TextColor:          text,
		SeriesColors: []charts.Color{
			charts.ColorRGB(31, 95, 168),  // blue
			charts.ColorRGB(46, 125, 50),  // green
			charts.ColorRGB(179, 84, 30),  // burnt orange
			charts.ColorRGB(123, 31, 162), // purple
			charts.ColorRGB(0, 121, 107),  // teal
			charts.ColorRGB(198, 40, 40),  // red
		},
	})}
}

// chartSeries is one named row of values, one per category.
type chartSeries struct {
	Name   string
	Values []float64
}

// barChart is a bar chart to draw.
type barChart struct {
	// ID makes the ids of the chart's title and description unique in
	// its page; Title names it, Desc says what it shows.
	ID, Title, Desc string
	Categories      []string
	Series          []chartSeries
	Horizontal      bool
	// Counts marks values that are whole numbers: the value axis then
	// steps by whole numbers too.
	Counts bool
	// Max fixes the value axis' end (100 for percentages); zero: from
	// the data.
	Max float64
	// Legend shows the series' names even when there is one (a currency).
	Legend bool
	// Label formats the value written at each bar (default: the number
	// with thousands separators and up to two decimals), Axis the value
	// axis' labels (default: short, 12k).
	Label, Axis func(float64) string
}

// maxCategoryLabel is the longest category label a chart writes; the
// table beside it has the whole name.
const maxCategoryLabel = 36

// svg draws the chart; nothing (and no error) when it has no category
// or no series, so the page says there is no data instead.
func (t chartTheme) svg(c barChart) (template.HTML, error) {
	if len(c.Categories) == 0 || len(c.Series) == 0 {
		return "", nil
	}
	values := make([][]float64, len(c.Series))
	names := make([]string, len(c.Series))
	categories := c.Categories
	top := 0.0
	for i, s := range c.Series {
		values[i], names[i] = s.Values, s.Name
		for _, x := range s.Values {
			top = math.Max(top, x)
		}
	}
	categories = slices.Clone(categories)
	for i, name := range categories {
		if r := []rune(name); len(r) > maxCategoryLabel {
			categories[i] = string(r[:maxCategoryLabel-1]) + "…"
		}
	}
	if c.Horizontal {
		// The library draws the first category at the bottom; a reader
		// expects it on top.
		categories = reversed(categories)
		for i := range values {
			values[i] = reversed(values[i])
		}
	}
	label := c.Label
	if label == nil {
		label = formatNumber
	}
	opt := charts.NewBarChartOptionWithData(values)
	opt.Theme = t.palette
	opt.Horizontal = c.Horizontal
	opt.CategoryAxis.Labels = categories
	opt.Legend.SeriesNames = names
	opt.Legend.Show = charts.Ptr(len(c.Series) > 1 || c.Legend)
	// The value axis starts at zero: a bar's length is its value.
	axis := charts.ValueAxisOption{Min: charts.Ptr(0.0), ValueFormatter: c.Axis}
	if axis.ValueFormatter == nil {
		axis.ValueFormatter = formatShort
	}
	switch {
	case c.Max > 0:
		axis.Max = charts.Ptr(c.Max)
	case c.Counts && top < 8:
		// Whole steps up to a whole maximum (no "0.8 deals").
		axis.Max = charts.Ptr(math.Floor(top) + 1)
		axis.LabelCount = int(*axis.Max) + 1
		axis.PreferNiceIntervals = charts.Ptr(false)
	}
	if c.Counts && c.Axis == nil {
		axis.ValueFormatter = formatNumber
	}
	opt.ValueAxis = []charts.ValueAxisOption{axis}
	opt.ValueFormatter = axis.ValueFormatter
	for i := range opt.SeriesList {
		opt.SeriesList[i].Name = names[i]
		opt.SeriesList[i].Label.Show = charts.Ptr(true)
		opt.SeriesList[i].Label.LabelFormatter = func(_ int, _ string, v float64) (string, *charts.LabelStyle) {
			return label(v), nil
		}
	}
	width, height := 720, 340
	if c.Horizontal {
		opt.SeriesLabelPosition = charts.PositionRight
		opt.Padding = charts.Box{Top: 20, Right: 70, Bottom: 20, Left: 20}
		height = 80 + 34*len(c.Categories)*len(c.Series)
		if height < 160 {
			height = 160
		}
	}
	if len(c.Categories) > 6 && !c.Horizontal {
		opt.CategoryAxis.LabelRotation = charts.DegreesToRadians(30)
		height += 40
	}
	p := charts.NewPainter(charts.PainterOptions{OutputFormat: charts.ChartOutputSVG, Width: width, Height: height, Theme: t.palette})
	if err := p.BarChart(opt); err != nil {
		return "", fmt.Errorf("crm: chart %s: %w", c.ID, err)
	}
	b, err := p.Bytes()
	if err != nil {
		return "", fmt.Errorf("crm: chart %s: %w", c.ID, err)
	}
	return accessibleSVG(string(b), c.ID, c.Title, c.Desc)
}

// accessibleSVG names the library's SVG for assistive technology: role
// img, labelled by a <title> and described by a <desc> (both escaped), at
// the start of the element as SVG wants them.
func accessibleSVG(svg, id, title, desc string) (template.HTML, error) {
	if !strings.HasPrefix(svg, "<svg ") {
		return "", fmt.Errorf("crm: chart %s: the drawing is not an SVG element", id)
	}
	end := strings.IndexByte(svg, '>')
	if end < 0 {
		return "", fmt.Errorf("crm: chart %s: the drawing is not an SVG element", id)
	}
	var b strings.Builder
	b.Grow(len(svg) + 256)
	b.WriteString(`<svg role="img" class="chart" aria-labelledby="` + id + `-title ` + id + `-desc" `)
	b.WriteString(svg[len("<svg "):end])
	b.WriteString(`><title id="` + id + `-title">` + html.EscapeString(title) + `</title><desc id="` + id + `-desc">` +
		html.EscapeString(desc) + `</desc>`)
	b.WriteString(svg[end+1:])
	return template.HTML(b.String()), nil // #nosec: every text the library writes is escaped by it, ours above
}

func reversed[T any](in []T) []T {
	out := make([]T, len(in))
	for i, x := range in {
		out[len(in)-1-i] = x
	}
	return out
}

// formatNumber writes v with thousands separators and at most two
// decimals ("12,000", "1,234.5").
func formatNumber(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return ""
	}
	return groupDigits(strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64))
}

// formatShort is the value axis' label: 12k, 1.5M.
func formatShort(v float64) string {
	s := charts.FormatValueHumanizeShort(v, 1, false)
	if n, unit, ok := strings.Cut(s, ".0"); ok && (unit == "" || !strings.ContainsAny(unit[:1], "0123456789")) {
		return n + unit
	}
	return s
}

// formatPercent writes a rate (0..1) as a percentage with one decimal.
func formatPercent(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return ""
	}
	return strconv.FormatFloat(math.Round(v*1000)/10, 'f', -1, 64) + " %"
}

// formatCount writes an integer with thousands separators.
func formatCount(n int64) string { return groupDigits(strconv.FormatInt(n, 10)) }

// formatMoney writes an amount with its currency's decimals and
// thousands separators: "12,000.00 EUR".
func formatMoney(m core.Money) string {
	if m.Currency == "" {
		return formatDecimal(m.Amount, 2)
	}
	return formatDecimal(m.Amount, core.CurrencyDecimals(m.Currency)) + " " + m.Currency
}

// formatDecimal writes d with places decimals (more when d has them:
// nothing is rounded away) and thousands separators.
func formatDecimal(d decimal.Decimal, places int32) string {
	for places < 10 && !d.Truncate(places).Equal(d) {
		places++
	}
	return groupDigits(d.StringFixed(places))
}

// groupDigits puts thousands separators into a decimal number's integer
// part.
func groupDigits(s string) string {
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	intPart, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	for i, r := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if hasFrac {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return sign + b.String()
}

// moneyFloat is an amount as a float for drawing (never for sums).
func moneyFloat(m core.Money) float64 {
	f, _ := m.Amount.Float64()
	return f
}
