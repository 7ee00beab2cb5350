package analytics

import (
	"context"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// FunnelOptions select the funnel.
type FunnelOptions struct {
	// Period selects the stage entries counted (both ends required).
	Period Period
	// Stages are the funnel's steps in order (default: the lifecycle
	// stages from subscriber to customer).
	Stages []contacts.Stage
	// ByOwner reports the funnel per contact owner too.
	ByOwner bool
}

// DefaultFunnel is FunnelOptions.Stages' default.
var DefaultFunnel = []contacts.Stage{contacts.StageSubscriber, contacts.StageLead, contacts.StageMQL, contacts.StageSQL,
	contacts.StageOpportunity, contacts.StageCustomer}

// Funnel is how contacts moved through the lifecycle stages.
type Funnel struct {
	Stages []FunnelStage `json:"stages"`
	// Owners has the funnel of each contact owner ("" for none), when
	// asked for, by owner id.
	Owners []OwnerFunnel `json:"owners,omitempty"`
}

// OwnerFunnel is one owner's funnel.
type OwnerFunnel struct {
	OwnerID string        `json:"owner_id"`
	Stages  []FunnelStage `json:"stages"`
}

// FunnelStage is one step of the funnel: the contacts that entered the
// stage in the period (each once), how many of them entered a later stage
// of the funnel afterwards (at any time up to now), and the time that
// took — median and 90th percentile, in hours, over those who moved on.
type FunnelStage struct {
	Stage       contacts.Stage `json:"stage"`
	Entered     int64          `json:"entered"`
	MovedOn     int64          `json:"moved_on"`
	Conversion  float64        `json:"conversion"`
	MedianHours float64        `json:"median_hours"`
	P90Hours    float64        `json:"p90_hours"`
}

// Funnel reports how contacts moved through the lifecycle stages, from
// the stage history the contacts module keeps (crm_contact_stages). One
// query streams the history of the contacts with an entry in the period,
// in contact and time order; the counts and percentiles are computed from
// it in Go (memory grows with the entries of one contact and the
// durations kept for the percentiles). A contact that moved straight from
// lead to customer counts as moving on from lead (a later stage), and
// never as entering the stages it skipped.
func (s *Service) Funnel(ctx context.Context, o FunnelOptions) (_ *Funnel, err error) {
	ctx, span := s.sc.Span(ctx, "analytics.Funnel")
	defer span.End(&err)

	g, err := s.guard(ctx)
	if err != nil {
		return nil, err
	}
	v := &core.ValidationError{}
	o.Period.checkRequired(v)
	if len(o.Stages) == 0 {
		o.Stages = DefaultFunnel
	}
	seen := map[contacts.Stage]bool{}
	for _, st := range o.Stages {
		if !slices.Contains(contacts.Stages, st) {
			v.Add("stages", "%q is not a lifecycle stage", st)
		}
		if seen[st] {
			v.Add("stages", "%q is named twice", st)
		}
		seen[st] = true
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	pos := map[contacts.Stage]int{}
	for i, st := range o.Stages {
		pos[st] = i
	}
	type acc struct {
		entered, movedOn []int64
		hours            [][]float64
	}
	newAcc := func() *acc {
		n := len(o.Stages)
		return &acc{entered: make([]int64, n), movedOn: make([]int64, n), hours: make([][]float64, n)}
	}
	total := newAcc()
	owners := map[string]*acc{}
	start, end := o.Period.start(), o.Period.end()
	type entry struct {
		stage contacts.Stage
		at    stamp
	}
	period := newBounds([]time.Time{start, end})
	var cur core.ID
	var curOwner string
	var hist []entry
	flush := func() error {
		defer func() { hist = hist[:0] }()
		counted := make([]bool, len(o.Stages))
		for i, e := range hist {
			p, ok := pos[e.stage]
			if !ok || period.before(e.at) != 1 || counted[p] {
				continue
			}
			counted[p] = true
			targets := []*acc{total}
			if o.ByOwner {
				if owners[curOwner] == nil {
					owners[curOwner] = newAcc()
				}
				targets = append(targets, owners[curOwner])
			}
			var next *entry
			for j := i + 1; j < len(hist); j++ {
				if q, ok := pos[hist[j].stage]; ok && q > p {
					next = &hist[j]
					break
				}
			}
			var from, to time.Time
			if next != nil {
				var err error
				if from, err = e.at.time(); err != nil {
					return err
				}
				if to, err = next.at.time(); err != nil {
					return err
				}
			}
			for _, a := range targets {
				a.entered[p]++
				if next != nil {
					a.movedOn[p]++
					a.hours[p] = append(a.hours[p], to.Sub(from).Hours())
				}
			}
		}
		return nil
	}
	// The contacts with an entry of a funnel stage in the period, and
	// their entries from the period's start: an earlier entry is neither
	// counted nor the next stage of one. The contact is joined for its
	// owner, when the funnel is per owner or the actor sees only some
	// contacts.
	vis, vargs := g.contacts("c")
	owner, join := "''", ""
	if o.ByOwner || vis != "" {
		owner, join = "c.owner_id", `
		JOIN crm_contacts c ON c.tenant_id = h.tenant_id AND c.id = h.contact_id`
	}
	args := []any{tenant, start, tenant}
	for _, st := range o.Stages {
		args = append(args, string(st))
	}
	args = append(append(args, start, end), vargs...)
	rows, err := s.sc.Q().Query(ctx, `SELECT h.contact_id, `+owner+`, h.stage, `+s.sc.Q().D.StoredTime("h.entered_at")+` FROM crm_contact_stages h`+join+`
		WHERE h.tenant_id = ? AND h.entered_at >= ? AND h.contact_id IN (SELECT x.contact_id FROM crm_contact_stages x
			WHERE x.tenant_id = ? AND x.stage IN (?`+strings.Repeat(", ?", len(o.Stages)-1)+`) AND x.entered_at >= ? AND x.entered_at < ?)`+vis+`
		ORDER BY h.contact_id, h.entered_at, h.id`, args...)
	if err != nil {
		return nil, store.Wrap(err, "funnel")
	}
	if err := store.EachRow(rows, func(r store.Scanner) error {
		var id core.ID
		var own, stage string
		var at stamp
		if err := r.Scan(&id, &own, &stage, &at); err != nil {
			return err
		}
		if id != cur {
			if err := flush(); err != nil {
				return err
			}
			cur, curOwner = id, own
		}
		hist = append(hist, entry{stage: contacts.Stage(stage), at: at})
		return nil
	}); err != nil {
		return nil, store.Wrap(err, "funnel")
	}
	if err := flush(); err != nil {
		return nil, store.Wrap(err, "funnel")
	}
	build := func(a *acc) []FunnelStage {
		out := make([]FunnelStage, len(o.Stages))
		for i, st := range o.Stages {
			f := FunnelStage{Stage: st, Entered: a.entered[i], MovedOn: a.movedOn[i]}
			if f.Entered > 0 {
				f.Conversion = finite(float64(f.MovedOn) / float64(f.Entered))
			}
			f.MedianHours, f.P90Hours = percentile(a.hours[i], 0.5), percentile(a.hours[i], 0.9)
			out[i] = f
		}
		return out
	}
	out := &Funnel{Stages: build(total)}
	if o.ByOwner {
		ids := make([]string, 0, len(owners))
		for id := range owners {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			out.Owners = append(out.Owners, OwnerFunnel{OwnerID: id, Stages: build(owners[id])})
		}
	}
	return out, nil
}

// percentile is the q-quantile of xs by linear interpolation between
// closest ranks (0 for none).
func percentile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	pos := q * float64(len(s)-1)
	lo := int(pos)
	if lo+1 >= len(s) {
		return finite(s[lo])
	}
	return finite(s[lo] + (s[lo+1]-s[lo])*(pos-float64(lo)))
}

// WriteCSV writes one row per stage, owner "(all)", then one per owner
// and stage when asked.
func (f *Funnel) WriteCSV(w io.Writer) error {
	return table(w, []string{"owner_id", "stage", "entered", "moved_on", "conversion", "median_hours", "p90_hours"},
		func(add func(...string) error) error {
			write := func(owner string, stages []FunnelStage) error {
				for _, st := range stages {
					if err := add(owner, string(st.Stage), itoa64(st.Entered), itoa64(st.MovedOn), ftoa(st.Conversion),
						ftoa(st.MedianHours), ftoa(st.P90Hours)); err != nil {
						return err
					}
				}
				return nil
			}
			if err := write("(all)", f.Stages); err != nil {
				return err
			}
			for _, o := range f.Owners {
				if err := write(o.OwnerID, o.Stages); err != nil {
					return err
				}
			}
			return nil
		})
}
