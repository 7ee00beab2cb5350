package demo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/pipeline"
	"github.com/crmkit/crmkit/tickets"
)

// What the demo sets up before its history: users, teams and roles;
// custom fields, consent purposes, products, pipelines and SLA policies;
// the companies.

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
