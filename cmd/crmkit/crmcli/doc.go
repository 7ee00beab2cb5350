// Package crmcli is crmkit's command line as a cobra command: the crmkit
// program (cmd/crmkit) runs it, and a host adds it to its own command
// line, so that its operators migrate, import and copy with the host's
// binary and configuration:
//
//	root := &cobra.Command{Use: "shop"}
//	root.AddCommand(crmcli.Command(crmcli.Options{
//		Use: "crm",
//		Open: func(ctx context.Context, cfg crm.Config) (*crm.CRM, error) {
//			cfg.Logger = logger // the host's settings
//			return crm.Open(ctx, cfg)
//		},
//	}))
//	err := root.ExecuteContext(ctx)
//	os.Exit(crmcli.Report(os.Stderr, err)) // 0, 1 or 2, as crmkit's own
//
// Then "shop crm migrate", "shop crm import --preset hubspot contacts.csv"
// and so on. Every command takes --dsn (default $CRMKIT_DSN, else
// file:crm.db; the default is not shown in the help, as a DSN may hold a
// password) and --tenant (default "default").
//
//	crmkit migrate
//	crmkit import --dry-run contacts.csv   # the column mapping and the first problems
//	crmkit import --mapping shop.map contacts.csv
//	crmkit import --preset hubspot --object companies companies.csv
//	crmkit export --out contacts.csv
//	crmkit erase 0190f7d2-…
//	crmkit demo --seed 42 --contacts 5000
//	crmkit copy --from file:crm.db --to postgres://crm@db/crm
//	crmkit serve --addr 127.0.0.1:8080 --token secret
//	crmkit version
//
// # Import
//
// import reads CSV with a header. Contacts (--object contacts, the
// default) go through the contacts module's CSV import
// (contacts.Service.ImportCSV): a contact per row, created or updated by
// external id, else email; failed rows are listed by line after the
// counts, and the others imported (--all-or-nothing imports nothing when
// a row fails). Columns map to fields by their own names or by --mapping,
// a file of lines "Column = field" (# starts a comment) or a JSON object:
//
//	# shop.map
//	E-Mail       = email
//	Vorname      = first_name
//	Kundennummer = external_id:shop
//	Notizen      = -
//
// The delimiter (, ; tab |) and the encoding (UTF-8, or Windows-1252 as
// spreadsheets on Windows save CSV) are detected unless --delimiter and
// --encoding give them. --dry-run shows the delimiter, the encoding and
// the field of every column, and what the import would do with its first
// problems, and writes nothing. A progress bar shows on standard error
// when it is a terminal.
//
// --preset hubspot, salesforce or pipedrive reads those systems' exports
// of contacts, companies and deals (--object): their column names map to
// crmkit's fields (the vendor's record id to an external id or a
// "<vendor>_id" attribute, a company name to a link to the company,
// lifecycle stages and deal stages by their labels, a full name split),
// and a --mapping file overrides any of them. Companies and deals, which
// have no bulk import in the Go API, are imported row by row through
// c.Companies and c.Deals, a batch of rows per transaction, each row in
// a savepoint of its own, with the same per-line summary; a row whose
// vendor id was imported before updates that company or deal.
//
// # Demo
//
// demo fills an empty tenant with two years of a small business's CRM,
// the same data for the same --seed (a digest of the content is printed
// to compare), and sends a campaign to a mailer that only records it
// (--mail-dir writes the messages as files; --smtp sends them). serve
// then shows the data.
//
// # Copy
//
// copy moves a whole CRM from --from (default --dsn) to --to with
// crm.Copy: every tenant, every table, the jobs not yet done, checked by
// rows and checksums before the destination's transaction commits.
//
// # Serve
//
// serve is for trying crmkit, not for production: one bearer token
// (--token) stands for every caller, and each request acts in --tenant as
// the host's trusted code, with no roles checked. A host mounts
// crmhttp.New in its own server behind its own login instead.
//
// # Exit codes
//
// 0 when the command did its work, 1 when it failed (an import with a
// failed row included), 2 for a command line that does not make sense.
// Errors are written to standard error, one message each (Report).
package crmcli
