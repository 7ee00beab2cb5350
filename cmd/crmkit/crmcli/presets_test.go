package crmcli

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/pipeline"
)

// importFile runs crmkit import with args on a sample export.
func importFile(t *testing.T, dsn string, args ...string) result {
	t.Helper()
	return crmkit(t, "", append([]string{"--dsn", dsn, "import"}, args...)...)
}

func company(t *testing.T, c *crm.CRM, name string) *contacts.Company {
	t.Helper()
	page, err := c.Companies.List(context.Background(), contacts.CompanyListOptions{Filter: filter.Eq("name", name), Limit: 2})
	require.NoError(t, err)
	require.Len(t, page.Items, 1, name)
	return page.Items[0]
}

func deal(t *testing.T, c *crm.CRM, title string) (*pipeline.Deal, *pipeline.Pipeline, *pipeline.Stage) {
	t.Helper()
	ctx := context.Background()
	page, err := c.Deals.List(ctx, pipeline.DealListOptions{Filter: filter.Eq("title", title), Limit: 2})
	require.NoError(t, err)
	require.Len(t, page.Items, 1, title)
	d := page.Items[0]
	p, err := c.Pipelines.Get(ctx, d.PipelineID)
	require.NoError(t, err)
	return d, p, p.Stage(d.StageID)
}

func stageNames(p *pipeline.Pipeline) []string {
	var out []string
	for _, s := range p.Stages {
		out = append(out, s.Name)
	}
	return out
}

// HubSpot's exports of companies, contacts and deals: companies by their
// record ids, contacts linked to them by "Associated Company ID" (and a
// new one by name), lifecycle stages by label and code, deals in HubSpot's
// default pipeline and stages, won and lost with the reason, linked by
// "Associated Company IDs" and "Name (email)". Broken rows are reported by
// line; a second import of each file changes nothing.
func TestImportHubSpot(t *testing.T) {
	t.Parallel()
	eachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		require.Equal(t, ExitOK, crmkit(t, "", "--dsn", dsn, "migrate").code)
		r := importFile(t, dsn, "--preset", "hubspot", "--object", "companies", "testdata/hubspot-companies.csv")
		require.Equal(t, ExitOK, r.code, "%+v", r)
		require.Contains(t, r.out, "imported 3 rows: 3 created, 0 updated, 0 unchanged, 0 failed")
		c := open(t, dsn)
		ae := company(t, c, "Analytical Engines Ltd")
		require.Equal(t, "analytical.example", ae.Domain)
		require.Equal(t, "9001", ae.Attributes["hubspot_id"])
		require.Equal(t, "COMPUTER_SOFTWARE", ae.Attributes["industry"])
		require.Equal(t, "120", ae.Attributes["employees"], "text without a field definition")

		r = importFile(t, dsn, "--preset", "hubspot", "testdata/hubspot-contacts.csv")
		require.Equal(t, ExitFailure, r.code, "%+v", r)
		require.Contains(t, r.out, "imported 5 rows: 4 created, 0 updated, 0 unchanged, 1 failed", "%+v", r)
		require.Contains(t, r.out, "created 1 companies the rows name")
		require.Regexp(t, `(?m)^  line 5: email: `, r.out)
		ada, err := c.Contacts.GetByExternalID(ctx, "hubspot", "51")
		require.NoError(t, err)
		require.Equal(t, "ada@analytical.example", ada.Email)
		require.Equal(t, contacts.StageCustomer, ada.LifecycleStage)
		require.Equal(t, ae.ID, *ada.CompanyID, "by Associated Company ID")
		require.Equal(t, "London", ada.Attributes["city"])
		require.Equal(t, "Sam Lead", ada.Attributes["hubspot_owner"])
		grace, err := c.Contacts.GetByEmail(ctx, "grace@cobol.example")
		require.NoError(t, err)
		require.Equal(t, contacts.StageMQL, grace.LifecycleStage, "by label")
		require.Equal(t, "In Progress", grace.Attributes["lead_status"])
		edsger, err := c.Contacts.GetByEmail(ctx, "edsger@structured.example")
		require.NoError(t, err)
		require.Equal(t, contacts.StageSQL, edsger.LifecycleStage, "by internal value")
		require.Equal(t, company(t, c, "Structured Programming BV").ID, *edsger.CompanyID, "by name")
		barbara, err := c.Contacts.GetByEmail(ctx, "barbara@substitution.example")
		require.NoError(t, err)
		require.Equal(t, company(t, c, "Liskov Substitution LLC").ID, *barbara.CompanyID, "a company the import created")

		r = importFile(t, dsn, "--preset", "hubspot", "--object", "deals", "testdata/hubspot-deals.csv")
		require.Equal(t, ExitFailure, r.code, "%+v", r)
		require.Contains(t, r.out, "imported 5 rows: 4 created, 0 updated, 0 unchanged, 1 failed", "%+v", r)
		require.Regexp(t, `(?m)^  line 6: expected_close: "31/12/2024" is not a date`, r.out)
		d, p, st := deal(t, c, "Analytical Engines - 50 seats")
		require.Equal(t, "Sales Pipeline", p.Name)
		require.Equal(t, []string{"Appointment Scheduled", "Qualified To Buy", "Presentation Scheduled", "Decision Maker Bought-In",
			"Contract Sent", "Closed Won", "Closed Lost"}, stageNames(p))
		require.Equal(t, "Contract Sent", st.Name)
		require.Equal(t, 90, st.Probability)
		requireMoney(t, "12500", "EUR", d.Amount)
		require.Equal(t, "2024-09-30", d.ExpectedClose.String())
		require.Equal(t, ae.ID, *d.CompanyID)
		require.Equal(t, ada.ID, *d.ContactID, "by Name (email)")
		require.Equal(t, "7001", d.Attributes["hubspot_id"])
		d, _, st = deal(t, c, "Cobol Systems - renewal")
		require.Equal(t, pipeline.DealWon, d.Status)
		require.Equal(t, "Closed Won", st.Name)
		d, _, _ = deal(t, c, "Structured - pilot")
		require.Equal(t, pipeline.DealLost, d.Status)
		require.Equal(t, "Went with a competitor", d.LostReason)
		d, _, st = deal(t, c, "Analytical Engines - support")
		require.Equal(t, "Appointment Scheduled", st.Name, "by internal stage id")
		requireMoney(t, "1200.50", "EUR", d.Amount)

		// A second import of each file creates nothing.
		r = importFile(t, dsn, "--preset", "hubspot", "--object", "companies", "testdata/hubspot-companies.csv")
		require.Equal(t, ExitOK, r.code, "%+v", r)
		require.Contains(t, r.out, "3 rows: 0 created, 0 updated, 3 unchanged")
		r = importFile(t, dsn, "--preset", "hubspot", "testdata/hubspot-contacts.csv")
		require.Contains(t, r.out, "5 rows: 0 created, 0 updated, 4 unchanged, 1 failed")
		r = importFile(t, dsn, "--preset", "hubspot", "--object", "deals", "testdata/hubspot-deals.csv")
		require.Contains(t, r.out, "5 rows: 0 created, 0 updated, 4 unchanged, 1 failed")
		n, err := c.Deals.List(ctx, pipeline.DealListOptions{Limit: 100})
		require.NoError(t, err)
		require.Len(t, n.Items, 4)
	})
}

// Salesforce: a report export of contacts in Windows-1252 (detected) with
// field labels, a Data Export of accounts with API names and websites, and
// opportunities with amounts such as "EUR 85,000.00", US dates, default
// and custom stages.
func TestImportSalesforce(t *testing.T) {
	t.Parallel()
	eachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		require.Equal(t, ExitOK, crmkit(t, "", "--dsn", dsn, "migrate").code)
		r := importFile(t, dsn, "--preset", "salesforce", "--object", "companies", "testdata/salesforce-accounts.csv")
		require.Equal(t, ExitFailure, r.code, "%+v", r)
		require.Contains(t, r.out, "imported 3 rows: 2 created, 0 updated, 0 unchanged, 1 failed")
		require.Regexp(t, `(?m)^  line 4: name: is required`, r.out)
		c := open(t, dsn)
		mu := company(t, c, "Müller & Söhne GmbH")
		require.Equal(t, "muellersoehne.example", mu.Domain, "from the website")
		require.Equal(t, "0015g00000XyZaA", mu.Attributes["salesforce_id"])
		require.Equal(t, "München", mu.Attributes["city"])

		r = importFile(t, dsn, "--preset", "salesforce", "--dry-run", "testdata/salesforce-contacts.csv")
		require.Equal(t, ExitOK, r.code, "%+v", r)
		require.Contains(t, r.out, `delimiter ",", encoding windows-1252 (detected)`)
		require.Regexp(t, `(?m)^  Account Name\s+-> company$`, r.out)
		require.Contains(t, r.out, "would import 4 rows: 4 created")
		require.Contains(t, r.out, "would create 1 companies")
		_, err := c.Contacts.GetByExternalID(ctx, "salesforce", "0035g00000AbCdE")
		require.ErrorIs(t, err, core.ErrNotFound, "a dry run writes nothing")

		r = importFile(t, dsn, "--preset", "salesforce", "testdata/salesforce-contacts.csv")
		require.Equal(t, ExitOK, r.code, "%+v", r)
		require.Contains(t, r.out, "imported 4 rows: 4 created")
		j, err := c.Contacts.GetByExternalID(ctx, "salesforce", "0035g00000AbCdE")
		require.NoError(t, err)
		require.Equal(t, "Jürgen", j.FirstName)
		require.Equal(t, "Müller", j.LastName)
		require.Equal(t, mu.ID, *j.CompanyID)
		require.Equal(t, "Web", j.Attributes["lead_source"])
		require.Equal(t, "CTO", j.Attributes["job_title"])
		b, err := c.Contacts.GetByEmail(ctx, "bjorn@angstrom.example")
		require.NoError(t, err)
		require.Equal(t, "Ångström", b.LastName)
		require.Equal(t, company(t, c, "Ångström Instruments AB").ID, *b.CompanyID)

		r = importFile(t, dsn, "--preset", "salesforce", "--object", "deals", "testdata/salesforce-opportunities.csv")
		require.Equal(t, ExitFailure, r.code, "%+v", r)
		require.Contains(t, r.out, "imported 4 rows: 3 created, 0 updated, 0 unchanged, 1 failed")
		require.Regexp(t, `(?m)^  line 5: amount: "twelve thousand" is not an amount`, r.out)
		d, p, st := deal(t, c, "Müller - Line 3 retrofit")
		require.Equal(t, "Opportunities", p.Name)
		require.Equal(t, pipeline.DealWon, d.Status)
		require.Equal(t, "Closed Won", st.Name)
		requireMoney(t, "85000", "EUR", d.Amount)
		require.Equal(t, "2024-06-30", d.ExpectedClose.String())
		require.Equal(t, mu.ID, *d.CompanyID)
		require.Equal(t, "Web", d.Source)
		_, _, st = deal(t, c, "Müller - Spare parts")
		require.Equal(t, "Pilot Phase", st.Name, "a custom stage")
		require.Equal(t, 40, st.Probability)
		require.Equal(t, []string{"Prospecting", "Qualification", "Needs Analysis", "Value Proposition", "Id. Decision Makers",
			"Perception Analysis", "Proposal/Price Quote", "Negotiation/Review", "Pilot Phase", "Closed Won", "Closed Lost"}, stageNames(p))
	})
}

// Pipedrive: a semicolon-separated export of people (full names split,
// the first of several addresses, labels as tags), organizations, and
// deals with their status: won and lost deals go to the pipeline's won
// and lost stages whatever stage the export names.
func TestImportPipedrive(t *testing.T) {
	t.Parallel()
	eachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		require.Equal(t, ExitOK, crmkit(t, "", "--dsn", dsn, "migrate").code)
		r := importFile(t, dsn, "--preset", "pipedrive", "--object", "companies", "testdata/pipedrive-organizations.csv")
		require.Equal(t, ExitOK, r.code, "%+v", r)
		c := open(t, dsn)
		lt := company(t, c, "Lisboa Tiles Lda")
		require.Equal(t, "Rua Augusta 100, 1100-053 Lisboa, Portugal", lt.Attributes["address"])

		r = importFile(t, dsn, "--preset", "pipedrive", "testdata/pipedrive-people.csv")
		require.Equal(t, ExitFailure, r.code, "%+v", r)
		require.Contains(t, r.out, "imported 4 rows: 3 created, 0 updated, 0 unchanged, 1 failed")
		require.Regexp(t, `(?m)^  line 5: email: `, r.out)
		ines, err := c.Contacts.GetByExternalID(ctx, "pipedrive", "101")
		require.NoError(t, err)
		require.Equal(t, "Inês", ines.FirstName)
		require.Equal(t, "Costa", ines.LastName)
		require.Equal(t, []string{"Hot lead"}, ines.Tags)
		require.Equal(t, lt.ID, *ines.CompanyID)
		tariq, err := c.Contacts.GetByExternalID(ctx, "pipedrive", "102")
		require.NoError(t, err)
		require.Equal(t, "tariq.haddad@mail.example", tariq.Email, "the home address when there is no work one")
		yuki, err := c.Contacts.GetByExternalID(ctx, "pipedrive", "103")
		require.NoError(t, err)
		require.Equal(t, "yuki@sakura.example", yuki.Email, "the first of two")
		require.Equal(t, "Yuki", yuki.FirstName)

		r = importFile(t, dsn, "--preset", "pipedrive", "--object", "deals", "testdata/pipedrive-deals.csv")
		require.Equal(t, ExitFailure, r.code, "%+v", r)
		require.Contains(t, r.out, "imported 4 rows: 3 created, 0 updated, 0 unchanged, 1 failed")
		require.Regexp(t, `(?m)^  line 5: status: "deleted" is not open, won or lost`, r.out)
		d, p, st := deal(t, c, "Lisboa Tiles - showroom")
		require.Equal(t, "Pipeline", p.Name)
		require.Equal(t, "Proposal Made", st.Name)
		require.Equal(t, ines.ID, *d.ContactID, "by name")
		require.Equal(t, lt.ID, *d.CompanyID)
		d, _, st = deal(t, c, "Sakura - brand refresh")
		require.Equal(t, pipeline.DealWon, d.Status)
		require.Equal(t, "Won", st.Name)
		requireMoney(t, "2500000", "JPY", d.Amount)
		d, _, _ = deal(t, c, "Lisboa Tiles - second site")
		require.Equal(t, pipeline.DealLost, d.Status)
		require.Equal(t, "Budget cut", d.LostReason)
	})
}

// A mapping file overrides the preset's columns; columns neither knows are
// refused, or skipped with --ignore-unknown-columns; a bad preset or
// object is a usage error.
func TestImportPresetWithMapping(t *testing.T) {
	t.Parallel()
	dsn := migratedSQLite(t)
	ctx := context.Background()
	mapping := write(t, "hs.map", "City = attributes.town\nLead Status = -\n")
	r := importFile(t, dsn, "--preset", "hubspot", "--mapping", mapping, "testdata/hubspot-contacts.csv")
	require.Equal(t, ExitFailure, r.code, "%+v", r)
	c := open(t, dsn)
	grace, err := c.Contacts.GetByEmail(ctx, "grace@cobol.example")
	require.NoError(t, err)
	require.Equal(t, "Arlington", grace.Attributes["town"])
	require.NotContains(t, grace.Attributes, "city")
	require.NotContains(t, grace.Attributes, "lead_status")

	file := write(t, "extra.csv", "Email,First Name,Favourite Colour\nx@y.example,X,blue\n")
	r = importFile(t, dsn, "--preset", "hubspot", file)
	require.Equal(t, ExitFailure, r.code)
	require.Contains(t, r.errout, `column "Favourite Colour" maps to no field of contacts`)
	require.Regexp(t, `(?m)^  Favourite Colour\s+-> \(no field\)$`, r.out)
	r = importFile(t, dsn, "--preset", "hubspot", "--ignore-unknown-columns", file)
	require.Equal(t, ExitOK, r.code, "%+v", r)

	for _, args := range [][]string{{"--preset", "zoho", file}, {"--object", "tickets", file}, {"--object", "deals", "--currency", "euro", file}} {
		r = importFile(t, dsn, args...)
		require.Equal(t, ExitUsage, r.code, "%v: %+v", args, r)
	}
	// Companies and deals from standard input, without a preset.
	r = crmkit(t, "name,domain,attributes.tier\nGlobex,globex.example,gold\n,nameless.example,\n", "--dsn", dsn, "import", "--object", "companies", "-")
	require.Equal(t, ExitFailure, r.code, "%+v", r)
	require.Contains(t, r.out, "imported 2 rows: 1 created")
	require.Regexp(t, `(?m)^  line 3: name: is required`, r.out)
	require.Equal(t, "gold", company(t, c, "Globex").Attributes["tier"])
	r = crmkit(t, "title,amount,company,stage\nGlobex rollout,\"1,500.00\",Globex,Demo\n", "--dsn", dsn, "import", "--object", "deals", "-")
	require.Equal(t, ExitOK, r.code, "%+v", r)
	d, p, st := deal(t, c, "Globex rollout")
	require.Equal(t, pipeline.DefaultPipelineName, p.Name)
	require.Equal(t, "Demo", st.Name)
	requireMoney(t, "1500", "EUR", d.Amount)
}

func requireMoney(t *testing.T, amount, currency string, m core.Money) {
	t.Helper()
	require.True(t, m.Amount.Equal(core.MustMoney(amount, currency).Amount) && m.Currency == currency, "%s %s, not %s", amount, currency, m)
}

// A file of 100,000 contacts with two broken rows far into it: the others
// are imported, the summary names both lines, the exit code is 1. Under
// the race detector the file has 20,000 rows: instrumented, SQLite took
// eight minutes for 100,000.
func TestImportLargeFileWithBrokenRows(t *testing.T) {
	t.Parallel()
	rows := 100_000
	if raceEnabled {
		rows = 20_000
	}
	bad1, bad2 := rows*54/100, rows-2 // on lines bad1+1 and bad2+1
	eachDSN(t, func(t *testing.T, dsn string) {
		require.Equal(t, ExitOK, crmkit(t, "", "--dsn", dsn, "migrate").code)
		var b strings.Builder
		b.WriteString("email,first_name,last_name,attributes.n\n")
		for i := 1; i <= rows; i++ {
			switch i {
			case bad1:
				fmt.Fprintf(&b, "person%d@@example.com,P,%d,%d\n", i, i, i)
			case bad2:
				fmt.Fprintf(&b, "person%d@example.com,P\n", i)
			default:
				fmt.Fprintf(&b, "person%d@example.com,P,%d,%d\n", i, i, i)
			}
		}
		file := write(t, "large.csv", b.String())
		r := importFile(t, dsn, file)
		require.Equal(t, ExitFailure, r.code, "%+v", r)
		require.Contains(t, r.out, fmt.Sprintf("imported %d rows: %d created, 0 updated, 0 unchanged, 2 failed", rows, rows-2))
		require.Regexp(t, fmt.Sprintf(`(?m)^failed lines:\n  line %d: email: .*\n  line %d: has 2 cells, the header 4$`, bad1+1, bad2+1), r.out)
		n, err := open(t, dsn).Contacts.Count(context.Background(), filter.Expr{})
		require.NoError(t, err)
		require.Equal(t, int64(rows-2), n)
	})
}

// --all-or-nothing writes nothing when a row fails — not the companies
// and pipelines the rows name either — and a dry run counts what an
// import would do.
func TestImportPresetAllOrNothing(t *testing.T) {
	t.Parallel()
	eachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		require.Equal(t, ExitOK, crmkit(t, "", "--dsn", dsn, "migrate").code)
		c := open(t, dsn)
		r := importFile(t, dsn, "--preset", "hubspot", "--all-or-nothing", "testdata/hubspot-contacts.csv")
		require.Equal(t, ExitFailure, r.code, "%+v", r)
		require.Contains(t, r.out, "imported 5 rows: 0 created, 0 updated, 0 unchanged, 1 failed")
		require.Contains(t, r.errout, "1 of 5 rows failed; nothing was imported")
		r = importFile(t, dsn, "--preset", "hubspot", "--object", "deals", "--all-or-nothing", "testdata/hubspot-deals.csv")
		require.Equal(t, ExitFailure, r.code, "%+v", r)
		require.Contains(t, r.out, "imported 5 rows: 0 created, 0 updated, 0 unchanged, 1 failed")
		r = importFile(t, dsn, "--preset", "hubspot", "--object", "deals", "--dry-run", "testdata/hubspot-deals.csv")
		require.Equal(t, ExitFailure, r.code, "%+v", r)
		require.Contains(t, r.out, "would import 5 rows: 4 created, 0 updated, 0 unchanged, 1 failed")
		r = importFile(t, dsn, "--preset", "hubspot", "--dry-run", "testdata/hubspot-contacts.csv")
		require.Equal(t, ExitFailure, r.code, "%+v", r)
		require.Contains(t, r.out, "would import 5 rows: 4 created, 0 updated, 0 unchanged, 1 failed")
		require.Contains(t, r.out, "would create 4 companies the rows name")
		companies, err := c.Companies.List(ctx, contacts.CompanyListOptions{})
		require.NoError(t, err)
		require.Empty(t, companies.Items)
		n, err := c.Contacts.Count(ctx, filter.Expr{})
		require.NoError(t, err)
		require.Zero(t, n)
		ps, err := c.Pipelines.List(ctx)
		require.NoError(t, err)
		require.Empty(t, ps, "no pipeline was created")
	})
}
