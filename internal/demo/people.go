package demo

import (
	"context"
	"fmt"
	"iter"
	"math"
	"strings"
	"time"

	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
)

// The demo's people: drawn at random, imported week by week, and what
// happens to each afterwards (consent, activities, purchases).

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
