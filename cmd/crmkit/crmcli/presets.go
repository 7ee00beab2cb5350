package crmcli

import (
	"strings"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/pipeline"
)

// Objects import reads.
const (
	objectContacts  = "contacts"
	objectCompanies = "companies"
	objectDeals     = "deals"
)

// preset is how one system's CSV exports map to crmkit's fields: by
// object, the field of each column (matched without regard to case or
// repeated spaces), and for deals the pipeline to put them in when the
// file names none, with that system's default stages.
type preset struct {
	name    string
	columns map[string]map[string]string // object → column → field
	// pipeline is the pipeline deals go to when no column names one.
	pipeline string
	// stages are the system's default stages of that pipeline, in order:
	// a pipeline the import creates gets them (and any other stage the
	// file names, open, before the won and lost ones).
	stages []pipeline.NewStage
}

// The presets' column names are those of each system's export files,
// which carry the fields' labels (and, from Salesforce's Data Export
// Service and Data Loader, the API names); a --mapping file overrides any
// of them. Fields: see importFields. The vendor's record id goes to an
// external id (contacts) or to the attribute "<vendor>_id" (companies and
// deals), which a later import of the same file matches.
var presets = map[string]*preset{
	// HubSpot: the labels of HubSpot's default properties, as its exports
	// name the columns — knowledge base, "HubSpot's default contact
	// properties", "HubSpot's default company properties" and "HubSpot's
	// default deal properties" (knowledge.hubspot.com/properties/…,
	// /crm-deals/hubspots-default-deal-properties); "Record ID" is the
	// record's id in exports since 2023, "Contact ID"/"Company ID"/"Deal
	// ID" before. Lifecycle stages by label ("Marketing Qualified Lead")
	// or internal value ("marketingqualifiedlead"): knowledge base, "Use
	// lifecycle stages". The deal stages of HubSpot's default "Sales
	// Pipeline" with their default probabilities: knowledge base, "Set up
	// and customize your deal pipelines and deal stages".
	"hubspot": {
		name: "hubspot",
		columns: map[string]map[string]string{
			objectContacts: {
				"Record ID": "external_id:hubspot", "Contact ID": "external_id:hubspot",
				"First Name": "first_name", "Last Name": "last_name", "Email": "email",
				"Phone Number": "phone", "Mobile Phone Number": "phone",
				"Company Name": "company", "Associated Company ID": "company_id:hubspot",
				"Associated Company IDs": "company_id:hubspot", "Associated Company IDs (Primary)": "company_id:hubspot",
				"Primary Associated Company ID": "company_id:hubspot",
				"Lifecycle Stage":               "lifecycle_stage", "Lead Status": "attributes.lead_status",
				"Contact owner": "attributes.hubspot_owner", "Create Date": "attributes.hubspot_created",
				"Job Title": "attributes.job_title", "City": "attributes.city", "State/Region": "attributes.state",
				"Country/Region": "attributes.country", "Original Source": "attributes.original_source",
			},
			objectCompanies: {
				"Record ID": "attributes.hubspot_id", "Company ID": "attributes.hubspot_id",
				"Company name": "name", "Company Domain Name": "domain", "Website URL": "website",
				"Industry": "attributes.industry", "Number of Employees": "attributes.employees",
				"Annual Revenue": "attributes.annual_revenue", "Phone Number": "attributes.phone",
				"City": "attributes.city", "State/Region": "attributes.state", "Country/Region": "attributes.country",
				"Company owner": "attributes.hubspot_owner", "Create Date": "attributes.hubspot_created",
				"Lifecycle Stage": "attributes.lifecycle_stage", "Type": "attributes.company_type",
			},
			objectDeals: {
				"Record ID": "attributes.hubspot_id", "Deal ID": "attributes.hubspot_id",
				"Deal Name": "title", "Amount": "amount", "Currency": "currency", "Deal Currency Code": "currency",
				"Pipeline": "pipeline", "Deal Stage": "stage", "Close Date": "expected_close",
				"Deal owner": "attributes.hubspot_owner", "Deal Type": "attributes.deal_type",
				"Create Date": "attributes.hubspot_created", "Closed Lost Reason": "lost_reason",
				"Associated Company": "company", "Associated Company IDs": "company_id:hubspot",
				"Associated Company IDs (Primary)": "company_id:hubspot",
				"Associated Contact":               "contact_name", "Associated Contact IDs": "contact_id:hubspot",
			},
		},
		pipeline: "Sales Pipeline",
		stages: []pipeline.NewStage{
			{Name: "Appointment Scheduled", Probability: 20, Kind: pipeline.StageOpen},
			{Name: "Qualified To Buy", Probability: 40, Kind: pipeline.StageOpen},
			{Name: "Presentation Scheduled", Probability: 60, Kind: pipeline.StageOpen},
			{Name: "Decision Maker Bought-In", Probability: 80, Kind: pipeline.StageOpen},
			{Name: "Contract Sent", Probability: 90, Kind: pipeline.StageOpen},
			{Name: "Closed Won", Probability: 100, Kind: pipeline.StageWon},
			{Name: "Closed Lost", Probability: 0, Kind: pipeline.StageLost},
		},
	},
	// Salesforce: report exports name columns by field label, the Data
	// Export Service and Data Loader by API name — Salesforce Object
	// Reference, "Contact", "Lead", "Account" and "Opportunity" (FirstName
	// "First Name", AccountId, LeadSource "Lead Source", MailingCity
	// "Mailing City", StageName "Stage", CloseDate "Close Date", …). The
	// default values of the Opportunity Stage picklist with their default
	// probabilities (Setup, Object Manager, Opportunity, Stage).
	"salesforce": {
		name: "salesforce",
		columns: map[string]map[string]string{
			objectContacts: {
				"Contact ID": "external_id:salesforce", "Lead ID": "external_id:salesforce", "Id": "external_id:salesforce",
				"First Name": "first_name", "FirstName": "first_name", "Last Name": "last_name", "LastName": "last_name",
				"Full Name": "name", "Name": "name", "Email": "email",
				"Phone": "phone", "Business Phone": "phone", "Mobile": "phone", "Mobile Phone": "phone", "MobilePhone": "phone",
				"Account Name": "company", "Company": "company", "Company / Account": "company",
				"Account ID": "company_id:salesforce", "AccountId": "company_id:salesforce",
				"Lead Source": "attributes.lead_source", "LeadSource": "attributes.lead_source",
				"Lead Status": "attributes.lead_status", "Status": "attributes.lead_status",
				"Title": "attributes.job_title", "Department": "attributes.department",
				"Mailing City": "attributes.city", "MailingCity": "attributes.city", "City": "attributes.city",
				"Mailing State/Province": "attributes.state", "MailingState": "attributes.state",
				"Mailing Country": "attributes.country", "MailingCountry": "attributes.country", "Country": "attributes.country",
				"Contact Owner": "attributes.salesforce_owner", "Lead Owner": "attributes.salesforce_owner", "OwnerId": "attributes.salesforce_owner",
				"Created Date": "attributes.salesforce_created", "CreatedDate": "attributes.salesforce_created",
			},
			objectCompanies: {
				"Account ID": "attributes.salesforce_id", "Id": "attributes.salesforce_id",
				"Account Name": "name", "Name": "name", "Website": "website",
				"Industry": "attributes.industry", "Employees": "attributes.employees", "NumberOfEmployees": "attributes.employees",
				"Annual Revenue": "attributes.annual_revenue", "AnnualRevenue": "attributes.annual_revenue",
				"Phone": "attributes.phone", "Type": "attributes.company_type", "Account Type": "attributes.company_type",
				"Billing City": "attributes.city", "BillingCity": "attributes.city",
				"Billing State/Province": "attributes.state", "BillingState": "attributes.state",
				"Billing Country": "attributes.country", "BillingCountry": "attributes.country",
				"Account Owner": "attributes.salesforce_owner", "OwnerId": "attributes.salesforce_owner",
				"Created Date": "attributes.salesforce_created", "CreatedDate": "attributes.salesforce_created",
			},
			objectDeals: {
				"Opportunity ID": "attributes.salesforce_id", "Id": "attributes.salesforce_id",
				"Opportunity Name": "title", "Name": "title", "Amount": "amount",
				"Opportunity Currency": "currency", "Currency": "currency", "CurrencyIsoCode": "currency",
				"Stage": "stage", "StageName": "stage", "Close Date": "expected_close", "CloseDate": "expected_close",
				"Probability (%)": "probability", "Probability": "probability",
				"Lead Source": "source", "LeadSource": "source", "Type": "attributes.deal_type",
				"Account Name": "company", "Account ID": "company_id:salesforce", "AccountId": "company_id:salesforce",
				"Opportunity Owner": "attributes.salesforce_owner", "OwnerId": "attributes.salesforce_owner",
				"Created Date": "attributes.salesforce_created", "CreatedDate": "attributes.salesforce_created",
			},
		},
		pipeline: "Opportunities",
		stages: []pipeline.NewStage{
			{Name: "Prospecting", Probability: 10, Kind: pipeline.StageOpen},
			{Name: "Qualification", Probability: 10, Kind: pipeline.StageOpen},
			{Name: "Needs Analysis", Probability: 20, Kind: pipeline.StageOpen},
			{Name: "Value Proposition", Probability: 50, Kind: pipeline.StageOpen},
			{Name: "Id. Decision Makers", Probability: 60, Kind: pipeline.StageOpen},
			{Name: "Perception Analysis", Probability: 70, Kind: pipeline.StageOpen},
			{Name: "Proposal/Price Quote", Probability: 75, Kind: pipeline.StageOpen},
			{Name: "Negotiation/Review", Probability: 90, Kind: pipeline.StageOpen},
			{Name: "Closed Won", Probability: 100, Kind: pipeline.StageWon},
			{Name: "Closed Lost", Probability: 0, Kind: pipeline.StageLost},
		},
	},
	// Pipedrive: its spreadsheet export (Tools and apps, Export data)
	// prefixes each column with the record type and a field's parts with
	// their labels — "Person - Name", "Person - Email - Work", "Deal -
	// Title", "Organization - Name" — the field names Pipedrive's own
	// import maps columns to (Pipedrive Knowledge Base, "Importing data
	// into Pipedrive with spreadsheets"). A deal's outcome is "Deal -
	// Status" (open, won, lost); the stages of Pipedrive's default
	// pipeline carry no probability in an export, so the import gives them
	// crmkit's.
	"pipedrive": {
		name: "pipedrive",
		columns: map[string]map[string]string{
			objectContacts: {
				"Person - ID": "external_id:pipedrive", "Person - Name": "name",
				"Person - First name": "first_name", "Person - Last name": "last_name",
				"Person - Email": "email", "Person - Email - Work": "email", "Person - Email - Home": "email", "Person - Email - Other": "email",
				"Person - Phone": "phone", "Person - Phone - Work": "phone", "Person - Phone - Mobile": "phone",
				"Person - Phone - Home": "phone", "Person - Phone - Other": "phone",
				"Person - Organization": "company", "Person - Organization ID": "company_id:pipedrive",
				"Person - Label": "tags", "Person - Owner": "attributes.pipedrive_owner",
				"Person - Job title": "attributes.job_title", "Person - Person created": "attributes.pipedrive_created",
			},
			objectCompanies: {
				"Organization - ID": "attributes.pipedrive_id", "Organization - Name": "name",
				"Organization - Website": "website", "Organization - Address": "attributes.address",
				"Organization - Industry": "attributes.industry", "Organization - Number of employees": "attributes.employees",
				"Organization - Label": "attributes.label", "Organization - Owner": "attributes.pipedrive_owner",
				"Organization - Organization created": "attributes.pipedrive_created",
			},
			objectDeals: {
				"Deal - ID": "attributes.pipedrive_id", "Deal - Title": "title", "Deal - Value": "amount",
				"Deal - Currency": "currency", "Deal - Pipeline": "pipeline", "Deal - Stage": "stage",
				"Deal - Status": "status", "Deal - Expected close date": "expected_close",
				"Deal - Probability": "probability", "Deal - Lost reason": "lost_reason", "Deal - Source": "source",
				"Deal - Organization": "company", "Deal - Organization ID": "company_id:pipedrive",
				"Deal - Contact person": "contact_name", "Deal - Contact person ID": "contact_id:pipedrive",
				"Deal - Owner": "attributes.pipedrive_owner", "Deal - Deal created": "attributes.pipedrive_created",
			},
		},
		pipeline: "Pipeline",
		stages: []pipeline.NewStage{
			{Name: "Qualified", Probability: 10, Kind: pipeline.StageOpen},
			{Name: "Contact Made", Probability: 20, Kind: pipeline.StageOpen},
			{Name: "Demo Scheduled", Probability: 40, Kind: pipeline.StageOpen},
			{Name: "Proposal Made", Probability: 60, Kind: pipeline.StageOpen},
			{Name: "Negotiations Started", Probability: 80, Kind: pipeline.StageOpen},
			{Name: "Won", Probability: 100, Kind: pipeline.StageWon},
			{Name: "Lost", Probability: 0, Kind: pipeline.StageLost},
		},
	},
}

// presetNames lists the presets for messages.
const presetNames = "hubspot, salesforce, pipedrive"

// columnKey is how columns are compared: without regard to case, outer
// spaces or runs of spaces.
func columnKey(col string) string {
	return strings.ToLower(strings.Join(strings.Fields(col), " "))
}

// field returns the field of col for object, if the preset knows it.
func (p *preset) field(object, col string) (string, bool) {
	want := columnKey(col)
	for c, f := range p.columns[object] {
		if columnKey(c) == want {
			return f, true
		}
	}
	return "", false
}

// lifecycleStages reads a lifecycle stage by its label or code, as HubSpot
// writes them ("Marketing Qualified Lead", "marketingqualifiedlead").
var lifecycleStages = map[string]contacts.Stage{
	"subscriber": contacts.StageSubscriber, "lead": contacts.StageLead,
	"marketingqualifiedlead": contacts.StageMQL, "mql": contacts.StageMQL,
	"salesqualifiedlead": contacts.StageSQL, "sql": contacts.StageSQL,
	"opportunity": contacts.StageOpportunity, "customer": contacts.StageCustomer,
	"evangelist": contacts.StageEvangelist, "other": contacts.StageOther,
}

// stageKey is a stage's label reduced to letters and digits, lower-case.
func stageKey(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}
