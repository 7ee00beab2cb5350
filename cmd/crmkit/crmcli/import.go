package crmcli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/crmkit/crmkit/contacts"
)

type importFlags struct {
	dryRun, allOrNothing, ignoreUnknown bool
	mapping, delimiter, encoding        string
	preset, object, currency            string
	batchSize, showErrors               int
}

func newImport(g *globals) *cobra.Command {
	f := &importFlags{}
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Import contacts, companies or deals from a CSV file (- reads standard input)",
		Long: "import creates or updates a contact per row of a CSV file with a header (by external id, else email), through\n" +
			"the contacts module's import: rows that fail are reported by line and the others imported, unless --all-or-nothing.\n\n" +
			"Columns map to fields by their own name (email, phone, first_name, last_name, lifecycle_stage, owner_id, tags,\n" +
			"external_id:<source>, attributes.<key>) or by --mapping, a file of lines \"Column = field\" (or a JSON object);\n" +
			"map a column to - to skip it. The delimiter (, ; tab |) and the encoding (UTF-8 or Windows-1252) are detected\n" +
			"unless given. --dry-run shows the mapping and the first problems and writes nothing.\n\n" +
			"--preset hubspot|salesforce|pipedrive reads those systems' exports; --object companies or deals imports those\n" +
			"(fields of companies: name, domain, website, attributes.<key>; of deals: title, amount, currency, pipeline, stage,\n" +
			"status, probability, expected_close, owner_id, source, lost_reason, company, company_id:<source>, contact_email,\n" +
			"contact_name, contact_id:<source>, attributes.<key>; contacts with a preset also take name, company and\n" +
			"company_id:<source>). Companies and pipelines the rows name are created; a preset's vendor ids let a second\n" +
			"import of the same file update what the first created.\n\n" +
			"Exit code 1 when a row failed.",
		Example: "  crmkit import --dsn file:crm.db contacts.csv\n  crmkit import --dry-run --mapping shop.map --delimiter ';' export.csv\n" +
			"  crmkit import --preset hubspot --object companies hubspot-companies.csv\n  crmkit import --preset pipedrive --object deals deals.csv",
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return runImport(cmd, g, f, a[0])
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.dryRun, "dry-run", false, "check every row and tell what would be done; write nothing")
	fl.BoolVar(&f.allOrNothing, "all-or-nothing", false, "import nothing if any row fails")
	fl.BoolVar(&f.ignoreUnknown, "ignore-unknown-columns", false, "skip columns that map to no field instead of refusing the file")
	fl.StringVar(&f.mapping, "mapping", "", "a file mapping columns to fields: lines \"Column = field\" (# comments) or a JSON object")
	fl.StringVar(&f.delimiter, "delimiter", "", "the delimiter: , ; | or tab (default: detected)")
	fl.StringVar(&f.encoding, "encoding", "", "utf-8 or windows-1252 (default: detected)")
	fl.IntVar(&f.batchSize, "batch-size", 0, "rows per transaction (default 1000)")
	fl.IntVar(&f.showErrors, "errors", 20, "how many failed lines to list")
	fl.StringVar(&f.preset, "preset", "", "read the export format of hubspot, salesforce or pipedrive (a --mapping file overrides its columns)")
	fl.StringVar(&f.object, "object", objectContacts, "what the rows are: contacts, companies or deals")
	fl.StringVar(&f.currency, "currency", "EUR", "the currency of deal amounts that name none")
	return cmd
}

func (f *importFlags) options() (contacts.CSVImportOptions, error) {
	opts := contacts.CSVImportOptions{Detect: true, IgnoreUnknownColumns: f.ignoreUnknown,
		ImportOptions: contacts.ImportOptions{DryRun: f.dryRun, AllOrNothing: f.allOrNothing, BatchSize: f.batchSize}}
	switch f.delimiter {
	case "":
	case "tab", `\t`, "\t":
		opts.Comma = '\t'
	case ",", ";", "|":
		opts.Comma = rune(f.delimiter[0])
	default:
		return opts, usagef("--delimiter %q is not one of , ; | tab", f.delimiter)
	}
	switch strings.ToLower(f.encoding) {
	case "":
	case "utf-8", "utf8":
		opts.Encoding = contacts.EncodingUTF8
	case "windows-1252", "cp1252":
		opts.Encoding = contacts.EncodingWindows1252
	default:
		return opts, usagef("--encoding %q is not utf-8 or windows-1252", f.encoding)
	}
	if f.showErrors < 0 {
		return opts, usagef("--errors must not be negative")
	}
	if f.mapping != "" {
		m, err := readMapping(f.mapping)
		if err != nil {
			return opts, err
		}
		opts.Mapping = m
	}
	return opts, nil
}

// readMapping reads a mapping file: a JSON object {"Column": "field"}, or
// lines "Column = field" with # comments.
func readMapping(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("crmkit: read the mapping: %w", err)
	}
	m := map[string]string{}
	if t := bytes.TrimSpace(b); bytes.HasPrefix(t, []byte("{")) {
		if err := json.Unmarshal(t, &m); err != nil {
			return nil, fmt.Errorf("crmkit: the mapping %s is not a JSON object of strings: %v", path, err)
		}
		return m, nil
	}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(line, "\ufeff"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		col, field, ok := strings.Cut(line, "=")
		col, field = strings.TrimSpace(col), strings.TrimSpace(field)
		if !ok || col == "" || field == "" {
			return nil, fmt.Errorf("crmkit: the mapping %s, line %d: not \"Column = field\"", path, i+1)
		}
		m[col] = field
	}
	return m, nil
}

// countingReader counts what is read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// terminal reports whether w is a terminal.
func terminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func runImport(cmd *cobra.Command, g *globals, f *importFlags, path string) error {
	if f.preset != "" || !strings.EqualFold(f.object, objectContacts) {
		return runTableImport(cmd, g, f, path)
	}
	opts, err := f.options()
	if err != nil {
		return err
	}
	var in io.Reader
	size := int64(-1)
	if path == "-" {
		in = cmd.InOrStdin()
	} else {
		file, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("crmkit: %w", err)
		}
		defer file.Close()
		if st, err := file.Stat(); err == nil {
			size = st.Size()
		}
		in = file
	}
	ctx := cmd.Context()
	c, closeCRM, err := g.open(ctx)
	if err != nil {
		return err
	}
	defer closeCRM()

	stderr := cmd.ErrOrStderr()
	counted := &countingReader{r: in}
	bar := progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(stderr),
		progressbar.OptionSetVisibility(g.terminal(stderr)),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetDescription("importing"),
		progressbar.OptionThrottle(100_000_000),
		progressbar.OptionClearOnFinish())
	opts.Progress = func(contacts.ImportProgress) { _ = bar.Set64(counted.n) }
	res, err := c.Contacts.ImportCSV(ctx, counted, opts)
	_ = bar.Finish()

	out := cmd.OutOrStdout()
	if f.dryRun || (err != nil && res.CSV != nil && len(res.CSV.Columns) > 0) {
		describeFormat(out, res.CSV)
	}
	if err != nil && res.Rows == 0 {
		return err
	}
	verb := "imported"
	if res.DryRun {
		verb = "would import"
	}
	fmt.Fprintf(out, "%s %d rows: %d created, %d updated, %d unchanged, %d failed\n", verb, res.Rows, res.Created, res.Updated,
		res.Unchanged, res.Failed)
	if !res.DryRun {
		fmt.Fprintf(out, "import id: %s\n", res.ImportID)
	}
	summarize(out, res, f.showErrors)
	if err != nil {
		return err
	}
	if res.Failed > 0 {
		return errReported
	}
	return nil
}

// describeFormat tells how the file is read: delimiter, encoding, and the
// field of each column.
func describeFormat(w io.Writer, f *contacts.CSVFormat) {
	if f == nil {
		return
	}
	comma := f.Comma
	if comma == "\t" {
		comma = "tab"
	}
	how := "given"
	if f.Detected {
		how = "detected"
	}
	fmt.Fprintf(w, "delimiter %q, encoding %s (%s)\n", comma, f.Encoding, how)
	fmt.Fprintln(w, "columns:")
	for _, c := range f.Columns {
		field := c.Field
		switch field {
		case "-":
			field = "(skipped)"
		case "":
			field = "(no field)"
		}
		fmt.Fprintf(w, "  %-24s -> %s\n", c.Column, field)
	}
}

// summarize lists the problems of the first max failed lines, one line
// each.
func summarize(w io.Writer, res contacts.ImportResult, max int) {
	if len(res.Errors) == 0 {
		return
	}
	byLine := map[int][]string{}
	for _, e := range res.Errors {
		msg := e.Message
		if e.Column != "" {
			msg = e.Column + ": " + msg
		}
		byLine[e.Line] = append(byLine[e.Line], msg)
	}
	lines := make([]int, 0, len(byLine))
	for l := range byLine {
		lines = append(lines, l)
	}
	slices.Sort(lines)
	fmt.Fprintln(w, "failed lines:")
	for i, l := range lines {
		if i == max {
			fmt.Fprintf(w, "  … and %d more lines\n", res.Failed-int64(max))
			break
		}
		fmt.Fprintf(w, "  line %d: %s\n", l, strings.Join(byLine[l], "; "))
	}
}
