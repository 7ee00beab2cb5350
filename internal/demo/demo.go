package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/campaigns"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/modules"
	"github.com/crmkit/crmkit/pipeline"
	"github.com/crmkit/crmkit/tickets"
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

func (f *filler) setupAccess(ctx context.Context) error {
	c := f.c
	if _, err := c.Access.Roles.InstallBuiltins(ctx); err != nil {
		return err
	}
	type user struct{ id, name, role string }
	users := []user{
		{"u-admin", "Alex Admin", "admin"},
		{"u-sales-lead", "Sam Lead", "manager"},
		{"u-sales-1", "Robin Rep", "sales"},
		{"u-sales-2", "Kim Closer", "sales"},
		{"u-sales-3", "Jo Hunter", "sales"},
		{"u-support-lead", "Pat Helper", "manager"},
		{"u-support-1", "Lee Agent", "support"},
		{"u-support-2", "Max Fixer", "support"},
		{"u-marketing", "Mo Marketer", "marketing"},
	}
	hours := access.WorkingHours{}
	for _, u := range users {
		if _, err := c.Access.Users.Create(ctx, access.UserInput{ID: u.id, DisplayName: u.name, Email: u.id + "@crm.example",
			TimeZone: "Europe/Berlin", WorkingHours: hours, Roles: []string{u.role}}); err != nil {
			return err
		}
		f.sum.Users++
		switch u.role {
		case "sales":
			f.sales = append(f.sales, u.id)
		case "support":
			f.support = append(f.support, u.id)
		}
	}
	for _, t := range []struct {
		name, lead string
		members    []string
	}{{"Sales", "u-sales-lead", f.sales}, {"Support", "u-support-lead", f.support}} {
		team, err := c.Access.Teams.Create(ctx, access.TeamInput{Name: t.name, Description: t.name + " team"})
		if err != nil {
			return err
		}
		f.sum.Teams++
		team, err = c.Access.Teams.AddMember(ctx, team.ID, team.Version, access.Member{UserID: t.lead, Lead: true})
		if err != nil {
			return err
		}
		for _, m := range t.members {
			if team, err = c.Access.Teams.AddMember(ctx, team.ID, team.Version, access.Member{UserID: m, Capacity: 25,
				Skills: access.Skills{Languages: []string{"en", "de"}}}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (f *filler) setupSettings(ctx context.Context) error {
	c := f.c
	for _, d := range []fields.Definition{
		{Entity: contacts.EntityContact, Key: "plan", Label: "Plan", Type: fields.Enum, Options: plans},
		{Entity: contacts.EntityContact, Key: "city", Label: "City", Type: fields.Text},
		{Entity: contacts.EntityContact, Key: "newsletter_topics", Label: "Newsletter topics", Type: fields.MultiEnum,
			Options: []string{"product", "events", "tips"}},
		{Entity: contacts.EntityCompany, Key: "industry", Label: "Industry", Type: fields.Enum, Options: industries},
		{Entity: contacts.EntityCompany, Key: "employees", Label: "Employees", Type: fields.Number},
		{Entity: pipeline.EntityDeal, Key: "region", Label: "Region", Type: fields.Enum, Options: []string{"dach", "nordics", "west", "south", "east"}},
	} {
		if _, err := c.Fields.Define(ctx, d); err != nil {
			return err
		}
	}
	for _, p := range []consent.NewPurpose{
		{Key: "newsletter", Label: "Newsletter", LegalBasis: consent.BasisConsent, Channels: []consent.Channel{consent.Email},
			Wording: "Yes, send me the monthly newsletter. I can unsubscribe at any time."},
		{Key: "product_updates", Label: "Product updates", LegalBasis: consent.BasisConsent, Channels: []consent.Channel{consent.Email, consent.Phone},
			Wording: "Tell me about new features and offers by email or phone."},
	} {
		if _, err := c.Consent.DefinePurpose(ctx, p); err != nil {
			return err
		}
	}
	for _, p := range products {
		if _, err := c.Products.Create(ctx, pipeline.NewProduct{SKU: p.SKU, Name: p.Name, UnitPrice: core.MoneyFromMinor(p.Cents, "EUR"),
			TaxRate: decimal.NewFromInt(19)}); err != nil {
			return err
		}
	}
	sales, err := c.Pipelines.Default(ctx)
	if err != nil {
		return err
	}
	renewals, err := c.Pipelines.Create(ctx, pipeline.NewPipeline{Name: "Renewals", Stages: []pipeline.NewStage{
		{Name: "Upcoming", Probability: 60, Kind: pipeline.StageOpen},
		{Name: "Quote sent", Probability: 80, Kind: pipeline.StageOpen},
		{Name: "Renewed", Probability: 100, Kind: pipeline.StageWon},
		{Name: "Churned", Probability: 0, Kind: pipeline.StageLost},
	}})
	if err != nil {
		return err
	}
	f.pipelines = []*pipeline.Pipeline{sales, renewals}
	f.sum.Pipelines = 2

	var windows []tickets.Window
	for d := time.Monday; d <= time.Friday; d++ {
		windows = append(windows, tickets.Window{Weekday: d, Start: "08:00", End: "18:00"})
	}
	cal, err := c.Calendars.Create(ctx, tickets.NewCalendar{Name: "Support hours (Berlin)", TimeZone: "Europe/Berlin", Country: "DE", Windows: windows})
	if err != nil {
		return err
	}
	if _, err := c.SLAPolicies.Create(ctx, tickets.NewPolicy{Name: "Urgent", Position: 1, Condition: filter.Eq("priority", "urgent"),
		CalendarID: cal.ID, FirstResponseMinutes: 60, NextResponseMinutes: 120, ResolutionMinutes: 480, WarningMinutes: 15}); err != nil {
		return err
	}
	if _, err := c.SLAPolicies.Create(ctx, tickets.NewPolicy{Name: "Standard", Position: 2, CalendarID: cal.ID,
		FirstResponseMinutes: 240, NextResponseMinutes: 480, ResolutionMinutes: 2400, WarningMinutes: 30}); err != nil {
		return err
	}
	return nil
}

// slug makes text fit for an address: lower-case ASCII letters and
// digits.
func slug(s string) string {
	r := strings.NewReplacer("ä", "ae", "ö", "oe", "ü", "ue", "ß", "ss", "ø", "o", "å", "a", "æ", "ae", "é", "e", "è", "e",
		"í", "i", "ó", "o", "á", "a", "ñ", "n", "ç", "c", "ł", "l", "ż", "z", "ş", "s", "ı", "i")
	s = r.Replace(strings.ToLower(s))
	var b strings.Builder
	for _, ch := range s {
		switch {
		case ch >= 'a' && ch <= 'z', ch >= '0' && ch <= '9':
			b.WriteRune(ch)
		case ch == ' ' || ch == '-':
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-")
}

func (f *filler) makeCompanies(ctx context.Context) error {
	n := max(3, f.opts.Contacts/10)
	used := map[string]bool{}
	t := f.from.Add(time.Hour)
	for i := range n {
		name := pick(f.rng, companyFirst) + " " + pick(f.rng, companySecond)
		if used[name] {
			name = fmt.Sprintf("%s %d", name, i)
		}
		used[name] = true
		domain := slug(name) + ".example"
		f.at(t.Add(time.Duration(i) * time.Minute))
		co, err := f.c.Companies.Create(ctx, contacts.NewCompany{Name: name + " " + pick(f.rng, companyForms), Domain: domain,
			Attributes: map[string]any{"industry": pick(f.rng, industries), "employees": float64(5 + f.rng.IntN(2000))}})
		if err != nil {
			return err
		}
		f.companies = append(f.companies, co)
	}
	f.sum.Companies = n
	return nil
}

// The stages people end in, by share.
var stageShares = []struct {
	stage contacts.Stage
	share float64
}{
	{contacts.StageCustomer, 0.22}, {contacts.StageEvangelist, 0.03}, {contacts.StageOpportunity, 0.10}, {contacts.StageSQL, 0.10},
	{contacts.StageMQL, 0.15}, {contacts.StageSubscriber, 0.10}, {contacts.StageLead, 0.30},
}

// planPeople draws every person and plans, week by week, their import
// and what happens to them afterwards.
func (f *filler) planPeople(ctx context.Context) error {
	emails := map[string]bool{}
	weeks := map[int][]*person{}
	for i := range f.opts.Contacts {
		first, last := pick(f.rng, firstNames), pick(f.rng, lastNames)
		// More people arrive as the business grows.
		week := int(104 * math.Sqrt(f.rng.Float64()))
		created := f.from.Add(time.Duration(week)*7*24*time.Hour + 9*time.Hour)
		p := &person{ext: fmt.Sprintf("D%06d", i+1), created: created}
		var domain string
		if f.rng.Float64() < 0.75 {
			co := pick(f.rng, f.companies)
			p.companyID = &co.ID
			domain = co.Domain
		} else {
			domain = pick(f.rng, []string{"mail.example", "post.example", "inbox.example"})
		}
		local := slug(first) + "." + slug(last)
		email := local + "@" + domain
		for k := 2; emails[email]; k++ {
			email = fmt.Sprintf("%s%d@%s", local, k, domain)
		}
		emails[email] = true
		u := f.rng.Float64()
		for _, s := range stageShares {
			if u < s.share {
				p.stage = s.stage
				break
			}
			u -= s.share
		}
		if p.stage == "" {
			p.stage = contacts.StageLead
		}
		attrs := map[string]any{"city": pick(f.rng, cities)}
		switch p.stage {
		case contacts.StageCustomer, contacts.StageEvangelist:
			attrs["plan"] = pick(f.rng, plans[1:])
		case contacts.StageSubscriber:
			attrs["newsletter_topics"] = []any{pick(f.rng, []string{"product", "events", "tips"})}
		default:
			if f.rng.Float64() < 0.5 {
				attrs["plan"] = "free"
			}
		}
		var tags []string
		if f.rng.Float64() < 0.05 {
			tags = append(tags, "vip")
		}
		if f.rng.Float64() < 0.10 {
			tags = append(tags, "trade-fair")
		}
		phone := ""
		if f.rng.Float64() < 0.6 {
			phone = fmt.Sprintf("+49 30 %04d %04d", f.rng.IntN(10000), f.rng.IntN(10000))
		}
		owner := ""
		if p.stage != contacts.StageLead && p.stage != contacts.StageSubscriber {
			owner = pick(f.rng, f.sales)
		}
		p.contact = contacts.NewContact{Email: email, Phone: phone, FirstName: first, LastName: last, CompanyID: p.companyID,
			LifecycleStage: p.stage, OwnerID: owner, Tags: tags, Attributes: attrs,
			ExternalIDs: []contacts.ExternalID{{Source: "demo", ID: p.ext}}}
		f.people = append(f.people, p)
		weeks[week] = append(weeks[week], p)
	}
	for week := range 105 {
		batch := weeks[week]
		if len(batch) == 0 {
			continue
		}
		f.add(batch[0].created, func(ctx context.Context) error { return f.importWeek(ctx, batch) })
		for _, p := range batch {
			f.planLife(p)
		}
	}
	return nil
}

// add plans fn at t (in the demo's history, before Until).
func (f *filler) add(t time.Time, fn func(ctx context.Context) error) {
	if !t.Before(f.opts.Until) {
		return
	}
	f.ops = append(f.ops, op{at: t, seq: len(f.ops), run: fn})
}

// importWeek imports one week's new people in bulk.
func (f *filler) importWeek(ctx context.Context, batch []*person) error {
	rows := func(yield func(contacts.ImportRow) bool) {
		for i, p := range batch {
			if !yield(contacts.ImportRow{Line: i + 1, Contact: p.contact}) {
				return
			}
		}
	}
	res, err := f.c.Contacts.Import(ctx, iter.Seq[contacts.ImportRow](rows), contacts.ImportOptions{})
	if err != nil {
		return err
	}
	if res.Failed > 0 {
		return fmt.Errorf("import: %d rows failed: %v", res.Failed, res.Errors)
	}
	for _, p := range batch {
		ct, err := f.c.Contacts.GetByExternalID(ctx, "demo", p.ext)
		if err != nil {
			return err
		}
		f.contactIDs[p.ext] = ct.ID
	}
	f.sum.Contacts += len(batch)
	return nil
}

func (f *filler) id(p *person) core.ID { return f.contactIDs[p.ext] }

// planLife plans what happens to p after they arrive: consent,
// activities, purchases, a deal, tickets.
func (f *filler) planLife(p *person) {
	until := f.opts.Until
	// Consent, given with the sign-up, sometimes taken back.
	if f.rng.Float64() < 0.6 {
		at := p.created.Add(time.Hour)
		f.add(at, func(ctx context.Context) error {
			_, err := f.c.Consent.Grant(ctx, f.id(p), "newsletter", consent.Email, consent.Proof{Source: "form"})
			f.sum.Consents++
			return err
		})
		if f.rng.Float64() < 0.08 {
			f.add(f.between(at.Add(24*time.Hour), until), func(ctx context.Context) error {
				_, err := f.c.Consent.Withdraw(ctx, f.id(p), "newsletter", consent.Email, consent.Proof{Source: "preference_center"})
				f.sum.Consents++
				return err
			})
		}
	}
	if f.rng.Float64() < 0.25 {
		f.add(p.created.Add(2*time.Hour), func(ctx context.Context) error {
			_, err := f.c.Consent.Grant(ctx, f.id(p), "product_updates", consent.Email, consent.Proof{Source: "checkout"})
			f.sum.Consents++
			return err
		})
	}
	// Activities.
	for range 1 + f.rng.IntN(5) {
		at := f.between(p.created.Add(time.Hour), until)
		a := contacts.NewActivity{OccurredAt: at}
		switch u := f.rng.Float64(); {
		case u < 0.45:
			a.Kind, a.Name = contacts.KindWeb, pick(f.rng, webEvents)
			a.Properties = map[string]any{"path": "/" + strings.ReplaceAll(a.Name, "_", "-")}
		case u < 0.70:
			a.Kind, a.Name = contacts.KindEmail, pick(f.rng, emailSubjects)
			a.Properties = map[string]any{"direction": pick(f.rng, []string{"inbound", "outbound"})}
		case u < 0.85:
			a.Kind, a.Name = contacts.KindCall, pick(f.rng, callOutcomes)
			a.Properties = map[string]any{"duration_s": float64(30 + f.rng.IntN(1800))}
		case u < 0.95:
			a.Kind, a.Name = contacts.KindMeeting, pick(f.rng, meetingNames)
		default:
			a.Kind, a.Name = contacts.KindNote, "Spoke at the trade fair"
		}
		f.track(p, a)
	}
	// Purchases of customers.
	if p.stage == contacts.StageCustomer || p.stage == contacts.StageEvangelist {
		for range 1 + f.rng.IntN(5) {
			f.orders++
			order := fmt.Sprintf("SO-%07d", f.orders)
			at := f.between(p.created.Add(7*24*time.Hour), until)
			var items []contacts.PurchaseItem
			var total int64
			for range 1 + f.rng.IntN(3) {
				pr := pick(f.rng, products)
				q := int64(1 + f.rng.IntN(3))
				items = append(items, contacts.PurchaseItem{SKU: pr.SKU, Name: pr.Name, Quantity: q, Amount: core.MoneyFromMinor(pr.Cents*q, "EUR")})
				total += pr.Cents * q
			}
			f.track(p, contacts.NewActivity{Kind: contacts.KindPurchase, OccurredAt: at, IdempotencyKey: order,
				Purchase: &contacts.Purchase{OrderID: order, Total: core.MoneyFromMinor(total, "EUR"), Items: items}})
		}
	}
	// A deal for those far enough in the funnel.
	switch p.stage {
	case contacts.StageCustomer, contacts.StageEvangelist, contacts.StageOpportunity, contacts.StageSQL:
		f.planDeal(p, 0)
		if (p.stage == contacts.StageCustomer || p.stage == contacts.StageEvangelist) && f.rng.Float64() < 0.3 {
			f.planDeal(p, 1)
		}
	case contacts.StageMQL:
		if f.rng.Float64() < 0.3 {
			f.planDeal(p, 0)
		}
	}
	// Tickets.
	if f.rng.Float64() < 0.12 {
		for range 1 + f.rng.IntN(2) {
			f.planTicket(p)
		}
	}
}

func (f *filler) track(p *person, a contacts.NewActivity) {
	f.add(a.OccurredAt, func(ctx context.Context) error {
		_, err := f.c.Contacts.Track(ctx, contacts.ByID(f.id(p)), a)
		if a.Kind == contacts.KindPurchase {
			f.sum.Purchases++
		}
		f.sum.Activities++
		return err
	})
}

// planDeal plans a deal of p in pipeline pi: created, moved stage by
// stage, and won, lost or left open in a stage.
func (f *filler) planDeal(p *person, pi int) {
	pl := f.pipelines[pi]
	var open []pipeline.Stage
	var won, lost pipeline.Stage
	for _, s := range pl.Stages {
		switch s.Kind {
		case pipeline.StageOpen:
			open = append(open, s)
		case pipeline.StageWon:
			won = s
		case pipeline.StageLost:
			lost = s
		}
	}
	// The outcome: customers win (their renewal may churn); others lose
	// or stay open; the first deals of a pipeline cycle through all.
	outcomes := len(open) + 2 // open stages, won, lost
	var fate int
	if n := f.dealCount(pi); n < outcomes {
		fate = n
	} else {
		switch {
		case pi == 0 && (p.stage == contacts.StageCustomer || p.stage == contacts.StageEvangelist):
			fate = len(open)
		case f.rng.Float64() < 0.35:
			fate = len(open) + 1
		case pi == 1 && f.rng.Float64() < 0.6:
			fate = len(open)
		default:
			fate = f.rng.IntN(len(open))
		}
	}
	var path []pipeline.Stage
	switch {
	case fate < len(open):
		path = open[:fate+1]
	case fate == len(open):
		path = append(slices.Clone(open), won)
	default:
		path = append(slices.Clone(open[:1+f.rng.IntN(len(open))]), lost)
	}
	start := f.between(p.created.Add(24*time.Hour), p.created.Add(60*24*time.Hour))
	step := time.Duration(5+f.rng.IntN(20)) * 24 * time.Hour
	if room := f.opts.Until.Add(-time.Hour).Sub(start); room < step*time.Duration(len(path)) {
		if room <= 0 {
			return
		}
		step = room / time.Duration(len(path)+1)
	}
	pr := pick(f.rng, products)
	amount := pr.Cents * int64(1+f.rng.IntN(20))
	title := fmt.Sprintf("%s %s %s", p.contact.LastName, pick(f.rng, dealTitles), pr.SKU)
	if pi == 1 {
		title = fmt.Sprintf("%s renewal %s", p.contact.LastName, pr.SKU)
	}
	source := pick(f.rng, dealSources)
	region := pick(f.rng, []string{"dach", "nordics", "west", "south", "east"})
	reason := pick(f.rng, lostReasons)
	owner := p.contact.OwnerID
	var deal *pipeline.Deal
	f.add(start, func(ctx context.Context) error {
		var err error
		deal, err = f.c.Deals.Create(ctx, pipeline.NewDeal{Title: title, Amount: core.MoneyFromMinor(amount, "EUR"), ContactID: ptr(f.id(p)),
			CompanyID: p.companyID, OwnerID: owner, PipelineID: pl.ID, StageID: path[0].ID, Source: source,
			ExpectedClose: core.DateOf(start.Add(step * time.Duration(len(path)+1))), Attributes: map[string]any{"region": region}})
		f.sum.Deals++
		return err
	})
	for i, s := range path[1:] {
		at := start.Add(step * time.Duration(i+1))
		s := s
		f.add(at, func(ctx context.Context) error {
			if deal == nil {
				return errors.New("a deal moved before it was made")
			}
			var err error
			switch s.Kind {
			case pipeline.StageWon:
				deal, err = f.c.Deals.Win(ctx, deal.ID, deal.Version)
				f.sum.Won++
			case pipeline.StageLost:
				deal, err = f.c.Deals.Lose(ctx, deal.ID, deal.Version, reason)
				f.sum.Lost++
			default:
				deal, err = f.c.Deals.MoveStage(ctx, deal.ID, deal.Version, s.ID)
			}
			return err
		})
	}
	f.bumpDeal(pi)
}

// dealCount is how many deals of pipeline pi are planned: the first
// ones of each pipeline go through every outcome in turn, so that every
// stage has deals.
func (f *filler) dealCount(pi int) int { return f.planned[pi] }
func (f *filler) bumpDeal(pi int)      { f.planned[pi]++ }

func ptr[T any](v T) *T { return &v }

// planTicket plans a ticket of p: opened with the customer's message,
// answered, solved (and some closed), unless it is too recent.
func (f *filler) planTicket(p *person) {
	opened := f.between(p.created.Add(3*24*time.Hour), f.opts.Until)
	subject := pick(f.rng, ticketSubjects)
	body := fmt.Sprintf(pick(f.rng, customerMessages), strings.ToLower(subject[:1])+subject[1:])
	priority := tickets.PriorityNormal
	switch u := f.rng.Float64(); {
	case u < 0.1:
		priority = tickets.PriorityUrgent
	case u < 0.3:
		priority = tickets.PriorityHigh
	case u < 0.5:
		priority = tickets.PriorityLow
	}
	channel := pick(f.rng, []tickets.Channel{tickets.ChannelEmail, tickets.ChannelWeb, tickets.ChannelPhone})
	agent := pick(f.rng, f.support)
	reply := opened.Add(time.Duration(1+f.rng.IntN(30)) * time.Hour)
	replyText := pick(f.rng, agentReplies)
	solved := reply.Add(time.Duration(1+f.rng.IntN(10)) * 24 * time.Hour)
	closes := f.rng.Float64() < 0.2
	var t *tickets.Ticket
	f.add(opened, func(ctx context.Context) error {
		var err error
		t, err = f.c.Tickets.Create(ctx, tickets.NewTicket{Subject: subject, ContactID: f.id(p), CompanyID: p.companyID, Channel: channel,
			Priority: priority, AssigneeID: agent, Team: "Support", Language: "en",
			Message: &tickets.NewMessage{Public: true, AuthorKind: tickets.AuthorCustomer, Body: body}})
		f.sum.Tickets++
		f.sum.Messages++
		return err
	})
	f.add(reply, func(ctx context.Context) error {
		_, err := f.c.Tickets.AddMessage(ctx, t.ID, tickets.NewMessage{Public: true, AuthorKind: tickets.AuthorAgent, AuthorID: agent, Body: replyText})
		f.sum.Messages++
		return err
	})
	if f.rng.Float64() < 0.85 {
		f.add(solved, func(ctx context.Context) error {
			cur, err := f.c.Tickets.Get(ctx, t.ID)
			if err != nil {
				return err
			}
			t, err = f.c.Tickets.SetStatus(ctx, t.ID, tickets.StatusChange{Version: cur.Version, Status: tickets.StatusSolved})
			return err
		})
		if closes {
			f.add(solved.Add(3*24*time.Hour), func(ctx context.Context) error {
				cur, err := f.c.Tickets.Get(ctx, t.ID)
				if err != nil {
					return err
				}
				_, err = f.c.Tickets.SetStatus(ctx, t.ID, tickets.StatusChange{Version: cur.Version, Status: tickets.StatusClosed})
				return err
			})
		}
	}
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

// sendCampaign makes a segment, a template and a campaign at the end of
// the history and sends it: crmkit's workers run until it is sent and
// no job is due.
func (f *filler) sendCampaign(ctx context.Context) error {
	c := f.c
	f.at(f.opts.Until.Add(-30 * time.Minute))
	seg, err := c.Segments.Create(ctx, campaigns.NewSegment{Name: "Customers", Description: "Customers and evangelists",
		Filter: filter.In("lifecycle_stage", string(contacts.StageCustomer), string(contacts.StageEvangelist))})
	if err != nil {
		return err
	}
	if _, err := c.Segments.Create(ctx, campaigns.NewSegment{Name: "Hot leads in Berlin", Filter: filter.And(
		filter.In("lifecycle_stage", string(contacts.StageMQL), string(contacts.StageSQL)), filter.Eq("attributes.city", "Berlin"))}); err != nil {
		return err
	}
	f.sum.Segments = 2
	tpl, err := c.Templates.Create(ctx, campaigns.NewTemplate{Name: "Winter newsletter", Subject: "What is new this winter",
		HTML: `<html><head><style>h1 { color: #1f4e79; } p { font-family: sans-serif; }</style></head><body>` +
			`<h1>Hello {{.Contact.FirstName | default "there"}},</h1>` +
			`<p>Thank you for another year with us. Here is what we built for you: faster exports, a new dashboard and dark mode.</p>` +
			`<p><a href="https://crm.example/whats-new">Read more</a></p>` +
			`<p><a href="{{.UnsubscribeURL}}">Unsubscribe</a></p></body></html>`})
	if err != nil {
		return err
	}
	f.sum.Templates = 1
	camp, err := c.Campaigns.Create(ctx, campaigns.NewCampaign{Name: "Winter newsletter", SegmentID: seg.ID, TemplateID: tpl.ID,
		Purpose: "newsletter", FromName: "Demo Team", FromAddress: "news@crm.example"})
	if err != nil {
		return err
	}
	f.sum.Campaign = camp.ID
	f.at(f.opts.Until.Add(-15 * time.Minute))
	if err := c.Start(ctx); err != nil {
		return err
	}
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		return c.Stop(sctx)
	}
	defer func() { _ = stop() }()
	if _, err := c.Campaigns.Start(ctx, camp.ID, camp.Version); err != nil {
		return err
	}
	deadline := time.Now().Add(f.opts.SendTimeout)
	for {
		cur, err := c.Campaigns.Get(ctx, camp.ID)
		if err != nil {
			return err
		}
		if cur.Status == campaigns.StatusSent {
			due, err := dueJobs(ctx, c, f.clock.Now())
			if err != nil {
				return err
			}
			if due == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("campaign %s not sent after %s (status %s)", camp.ID, f.opts.SendTimeout, cur.Status)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err := stop(); err != nil {
		return err
	}
	if err := failedJobs(ctx, c, f.opts.Until.Add(-15*time.Minute)); err != nil {
		return err
	}
	st, err := c.Campaigns.Stats(ctx, camp.ID)
	if err != nil {
		return err
	}
	f.sum.Sent, f.sum.Skipped = st.Sent, st.Skipped
	return nil
}

// failedJobs returns an error for a job of c's tenant that failed in an
// attempt since (by the demo's clock): its retry would never come due
// with the clock standing, so the data set would lack its work.
func failedJobs(ctx context.Context, c *crm.CRM, since time.Time) error {
	res, err := c.River().JobList(ctx, river.NewJobListParams().States(rivertype.JobStateRetryable, rivertype.JobStateDiscarded).
		OrderBy(river.JobListOrderByID, river.SortOrderDesc).First(1000))
	if err != nil {
		return err
	}
	var tenant struct {
		Tenant string `json:"tenant"`
	}
	for _, j := range res.Jobs {
		if j.AttemptedAt == nil || j.AttemptedAt.Before(since) || json.Unmarshal(j.EncodedArgs, &tenant) != nil || tenant.Tenant != c.TenantID() {
			continue
		}
		msg := "no error recorded"
		if n := len(j.Errors); n > 0 {
			msg = j.Errors[n-1].Error
		}
		return fmt.Errorf("job %d (%s) failed: %s", j.ID, j.Kind, msg)
	}
	return nil
}

// dueJobs counts crmkit's jobs that are due at now or running: those
// available or running, and those scheduled (or waiting for a retry) at
// now or before. One query reads them all: River's scheduler moves a job
// from scheduled to available at any moment, and two queries (available,
// then scheduled) could each miss a job it moved between them.
func dueJobs(ctx context.Context, c *crm.CRM, now time.Time) (int, error) {
	res, err := c.River().JobList(ctx, river.NewJobListParams().
		States(rivertype.JobStateAvailable, rivertype.JobStateRunning, rivertype.JobStateScheduled, rivertype.JobStateRetryable).
		OrderBy(river.JobListOrderByScheduledAt, river.SortOrderAsc).First(1))
	if err != nil {
		return 0, err
	}
	if len(res.Jobs) > 0 && !res.Jobs[0].ScheduledAt.After(now) {
		return 1, nil
	}
	return 0, nil
}
