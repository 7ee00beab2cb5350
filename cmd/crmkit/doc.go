// Command crmkit is crmkit's command line: it migrates a crmkit database,
// imports contacts, companies and deals from CSV (crmkit's own columns, or
// HubSpot's, Salesforce's and Pipedrive's exports), exports contacts,
// erases a person, fills a database with a demo data set, copies a whole
// CRM from SQLite to PostgreSQL (or back) and serves the HTTP API for
// trying crmkit out.
//
//	go install github.com/crmkit/crmkit/cmd/crmkit@latest
//	export CRMKIT_DSN=file:crm.db        # or postgres://user@host/db
//	crmkit migrate
//	crmkit import --preset hubspot contacts.csv
//	crmkit demo --seed 42 --contacts 5000
//	crmkit copy --from file:crm.db --to postgres://crm@db/crm
//	crmkit serve --token secret
//
// The commands are built by package crmcli (cmd/crmkit/crmcli), which a
// host calls to add them to its own cobra command line; see its
// documentation for every command, flag and exit code.
package main
