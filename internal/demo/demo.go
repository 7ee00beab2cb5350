package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/crmkit/crmkit/campaigns"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/modules"
	"github.com/crmkit/crmkit/pipeline"
)

// DefaultUntil is where the demo's two years end unless Options.Until
// says otherwise: a fixed day, so that the same seed gives the same data
// on every run and machine.
var DefaultUntil = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// Span is how far back the demo's history reaches from Until.
const Span = 104 * 7 * 24 * time.Hour

// Options configure Fill.
type Options struct {
	// Seed chooses the data set: the same seed, the same data.
	Seed uint64
	// Contacts is how many people the demo makes: default 5000, at least
	// 20 and at most 1,000,000.
	Contacts int
	// Until is the end of the two years of history (the clock stands
	// there when Fill returns). Default DefaultUntil.
	Until time.Time
	// Progress, when set, is told each step as it begins.
	Progress func(step string)
	// SendTimeout bounds the wait for the campaign to be sent. Default
	// 10 minutes.
	SendTimeout time.Duration
}

// Summary counts what Fill made.
type Summary struct {
	Users, Teams, Companies, Contacts   int
	Consents, Activities, Purchases     int
	Deals, Won, Lost, Tickets, Messages int
	Pipelines, Segments, Templates      int
	Campaign                            core.ID
	Sent, Skipped                       int64
	From, Until                         time.Time
	Digest                              string
}

// Configure sets in cfg what a CRM the demo fills needs: the demo's
// clock, mailer (the Recorder unless the host gives another) and an
// unsubscribe address (https://crm.example/unsubscribe, which campaigns
// require); no periodic work (retention, rescoring, the modules' and the
// rule engine's sweeps), which would run at times of its own; and one
// worker per queue, so that the jobs the campaign phase runs run one
// after the other, never racing each other to a conflict that a retry
// (which the standing clock never makes due) would have to settle. (Under
// a clock of its own crmkit's engine rescues no job: River's rescuer
// would take a job running under the demo's clock, which stands in the
// past, for one stuck since then; see automation.Options.RescueAfter.)
// Two runs then do the same.
func Configure(cfg *crm.Config, clock *Clock, mailer campaigns.Mailer) {
	cfg.Automation.Workers, cfg.Automation.WebhookWorkers = 1, 1
	cfg.Automation.SweepEvery = -1
	cfg.Clock = clock
	cfg.Campaigns.Mailer = mailer
	if cfg.Campaigns.UnsubscribeURL == "" {
		cfg.Campaigns.UnsubscribeURL = "https://crm.example/unsubscribe"
	}
	if cfg.Campaigns.TrackingURL == "" {
		cfg.Campaigns.TrackingURL = "https://crm.example/t"
	}
	cfg.RetentionEvery, cfg.RescoreEvery = -1, -1
	off := map[string]time.Duration{}
	for _, m := range modules.All() {
		for _, p := range m.Periodic {
			off[p.Name] = -1
		}
	}
	cfg.Periodic = off
}

// op is one thing that happens in the demo's history, at a time.
type op struct {
	at  time.Time
	seq int
	run func(ctx context.Context) error
}

// filler holds what Fill has made so far.
type filler struct {
	c     *crm.CRM
	clock *Clock
	rng   *rand.Rand
	opts  Options
	from  time.Time
	sum   Summary
	ops   []op

	sales, support []string // user ids
	companies      []*contacts.Company
	people         []*person
	contactIDs     map[string]core.ID // external id → contact id
	pipelines      []*pipeline.Pipeline
	planned        [2]int
	orders         int
}

// person is one contact the demo makes and what happens to them.
type person struct {
	ext       string
	created   time.Time
	contact   contacts.NewContact
	stage     contacts.Stage
	companyID *core.ID
}

// Fill fills the tenant of c, which must have no contacts yet, with a
// realistic data set through crmkit's public API: users, teams and the
// built-in roles; custom fields; consent purposes; companies; contacts
// (imported in bulk, week by week) with custom fields and consent;
// activities and purchases over two years; two pipelines with deals in
// every stage, won and lost ones included; products; an SLA calendar and
// policies and tickets with messages; a segment, a template and a
// campaign sent to the configured mailer. c must be opened with a
// configuration Configure prepared, with clock: Fill moves the clock
// through the two years as it goes, so every time is the demo's. It runs
// crmkit's workers (Start) while the campaign is sent and stops them
// before it returns.
func Fill(ctx context.Context, c *crm.CRM, clock *Clock, opts Options) (*Summary, error) {
	if opts.Contacts == 0 {
		opts.Contacts = 5000
	}
	if opts.Until.IsZero() {
		opts.Until = DefaultUntil
	}
	if opts.SendTimeout == 0 {
		opts.SendTimeout = 10 * time.Minute
	}
	if opts.Contacts < 20 || opts.Contacts > 1_000_000 {
		return nil, core.Invalid("contacts", "must be 20 to 1,000,000")
	}
	n, err := c.Contacts.Count(ctx, filter.Expr{})
	if err != nil {
		return nil, err
	}
	if n > 0 {
		return nil, core.Invalid("tenant", "has %d contacts already: the demo fills an empty tenant", n)
	}
	f := &filler{c: c, clock: clock, opts: opts, rng: rand.New(rand.NewPCG(opts.Seed, 0x6372_6d6b_6974)),
		contactIDs: map[string]core.ID{}}
	f.opts.Until = opts.Until.UTC().Truncate(time.Hour)
	f.from = f.opts.Until.Add(-Span)
	f.sum.From, f.sum.Until = f.from, f.opts.Until
	clock.Set(f.from)

	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"users, teams and roles", f.setupAccess},
		{"custom fields, purposes, products, pipelines and SLAs", f.setupSettings},
		{"companies", f.makeCompanies},
		{"people", f.planPeople},
		{"two years of history", f.runHistory},
		{"the campaign", f.sendCampaign},
	}
	for _, s := range steps {
		if f.opts.Progress != nil {
			f.opts.Progress(s.name)
		}
		if err := s.fn(ctx); err != nil {
			return nil, fmt.Errorf("demo: %s: %w", s.name, err)
		}
	}
	clock.Set(f.opts.Until)
	d, err := Digest(ctx, c)
	if err != nil {
		return nil, err
	}
	f.sum.Digest = d
	return &f.sum, nil
}

// at sets the clock to t.
func (f *filler) at(t time.Time) { f.clock.Set(t) }

// pick returns one of list.
func pick[T any](r *rand.Rand, list []T) T { return list[r.IntN(len(list))] }

// between returns a time in [a, b).
func (f *filler) between(a, b time.Time) time.Time {
	if !b.After(a) {
		return a
	}
	return a.Add(time.Duration(f.rng.Int64N(int64(b.Sub(a)))))
}

// add plans fn at t (in the demo's history, before Until).
func (f *filler) add(t time.Time, fn func(ctx context.Context) error) {
	if !t.Before(f.opts.Until) {
		return
	}
	f.ops = append(f.ops, op{at: t, seq: len(f.ops), run: fn})
}

// runHistory does what was planned, in the order of time, with the clock
// at each thing's time.
func (f *filler) runHistory(ctx context.Context) error {
	slices.SortStableFunc(f.ops, func(a, b op) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.seq - b.seq
	})
	for _, o := range f.ops {
		if err := ctx.Err(); err != nil {
			return err
		}
		f.at(o.at)
		if err := o.run(ctx); err != nil {
			return err
		}
	}
	f.ops = nil
	return nil
}
