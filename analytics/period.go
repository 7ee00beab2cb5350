package analytics

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
)

// Period is a range of days [From, To): From inclusive, To exclusive, as
// pipeline's forecasts take them. Days are UTC days, except in Cohorts,
// which reads them in its time zone.
type Period struct {
	From core.Date `json:"from"`
	To   core.Date `json:"to"`
}

// start and end are the period's bounds as UTC instants.
func (p Period) start() time.Time { return p.From.Time() }
func (p Period) end() time.Time   { return p.To.Time() }

// checkRequired checks a period whose both ends are required.
func (p Period) checkRequired(v *core.ValidationError) {
	n := len(v.Fields)
	for _, x := range []struct {
		field string
		d     core.Date
	}{{"period.from", p.From}, {"period.to", p.To}} {
		if x.d.IsZero() {
			v.Add(x.field, "is required")
		} else {
			v.CheckDate(x.field, x.d)
		}
	}
	if len(v.Fields) == n && !p.From.Before(p.To) {
		v.Add("period.to", "must be after period.from")
	}
}

// checkOptional checks a period whose ends may be left zero (the open
// start of history; now).
func (p Period) checkOptional(v *core.ValidationError) {
	n := len(v.Fields)
	if !p.From.IsZero() {
		v.CheckDate("period.from", p.From)
	}
	if !p.To.IsZero() {
		v.CheckDate("period.to", p.To)
	}
	if len(v.Fields) == n && !p.From.IsZero() && !p.To.IsZero() && !p.From.Before(p.To) {
		v.Add("period.to", "must be after period.from")
	}
}

// asOf is the end of an optional period: To, or now.
func (s *Service) asOf(p Period) time.Time {
	if p.To.IsZero() {
		return s.sc.Runtime().Now()
	}
	return p.end()
}

// pipelineExists returns core.NotFound for a pipeline the tenant lacks.
func pipelineExists(ctx context.Context, q store.Q, tenant string, id core.ID) error {
	var n int64
	if err := q.QueryRow(ctx, `SELECT count(*) FROM crm_pipelines WHERE tenant_id = ? AND id = ?`, tenant, id).Scan(&n); err != nil {
		return store.Wrap(err, "find pipeline")
	}
	if n == 0 {
		return core.NotFound("pipeline", id)
	}
	return nil
}

// finite is f, or 0 when f is NaN or infinite: no report carries either.
func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

// weeks is d in weeks, the time unit of the purchase models.
func weeks(seconds float64) float64 { return seconds / (7 * 86400) }

// stamp is a stored time scanned for comparisons only (see
// dialect.StoredTime): SQLite's text, unparsed, or PostgreSQL's time.
type stamp struct {
	text string
	t    time.Time
}

func (s *stamp) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		s.t, s.text = v, ""
	case string:
		s.text = v
	case []byte:
		s.text = string(v)
	default:
		return fmt.Errorf("crm: a time scanned from %T", src)
	}
	return nil
}

// time is the instant of s, parsed when it is SQLite's text.
func (s stamp) time() (time.Time, error) {
	if s.text == "" {
		return s.t, nil
	}
	var n dialect.NullTime
	err := n.Scan(s.text)
	return n.Time, err
}

// bounds are ascending instants that stamps are placed among.
type bounds struct {
	times []time.Time
	texts []string // as SQLite stores them
}

func newBounds(times []time.Time) bounds {
	b := bounds{times: times}
	for _, t := range times {
		b.texts = append(b.texts, t.UTC().Format(dialect.TimeLayout))
	}
	return b
}

// before is the number of bounds at or before s: i when s is in
// [times[i-1], times[i]).
func (b bounds) before(s stamp) int {
	if s.text != "" {
		return sort.Search(len(b.texts), func(i int) bool { return s.text < b.texts[i] })
	}
	return sort.Search(len(b.times), func(i int) bool { return s.t.Before(b.times[i]) })
}
