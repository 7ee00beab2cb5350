package crmcli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/pipeline"
)

// A table import: a file with a preset, or of companies or deals, read
// twice — once for the companies and pipelines its rows name, then to
// import them.

// source is the file an import reads, which a preset import reads twice
// (first for the companies and pipelines its rows name): standard input
// is kept in a temporary file.
type source struct {
	path  string
	size  int64
	spool string // the temporary copy of standard input, removed by close
}

func newSource(cmd *cobra.Command, path string) (*source, error) {
	if path != "-" {
		st, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("crmkit: %w", err)
		}
		return &source{path: path, size: st.Size()}, nil
	}
	f, err := os.CreateTemp("", "crmkit-import-*.csv")
	if err != nil {
		return nil, fmt.Errorf("crmkit: %w", err)
	}
	n, err := io.Copy(f, cmd.InOrStdin())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return nil, fmt.Errorf("crmkit: read standard input: %w", err)
	}
	return &source{path: f.Name(), size: n, spool: f.Name()}, nil
}

func (s *source) open() (*os.File, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return nil, fmt.Errorf("crmkit: %w", err)
	}
	return f, nil
}

func (s *source) close() {
	if s.spool != "" {
		os.Remove(s.spool)
	}
}

// tableImport is one run of a preset or companies or deals import.
type tableImport struct {
	c      *crm.CRM
	flags  *importFlags
	preset *preset
	object string
	topts  tableOptions
	// vendor names the preset's system ("hubspot"), whose record ids are
	// kept in "<vendor>_id" attributes; "" without a preset.
	vendor string
	types  map[string]fields.Type // custom fields of the object
	// companies: by name, by vendor id; pipelines by name.
	companyByName map[string]core.ID
	companyByRef  map[string]core.ID
	pipelines     []*pipeline.Pipeline
	// companyErr: names of companies that could not be created, with
	// why (the rows naming them fail).
	companyErr   map[string]error
	newCompanies int
}

// errDryRun ends the transaction of a dry run.
var errDryRun = errors.New("crmkit: dry run")

// errAllOrNothing ends an all-or-nothing import with failed rows.
var errAllOrNothing = fmt.Errorf("%w: rows failed", core.ErrInvalid)

// runTableImport imports a file with a preset, or companies or deals.
func runTableImport(cmd *cobra.Command, g *globals, f *importFlags, path string) error {
	opts, err := f.options()
	if err != nil {
		return err
	}
	var p *preset
	if f.preset != "" {
		p = presets[strings.ToLower(f.preset)]
		if p == nil {
			return usagef("import: --preset %q is not one of %s", f.preset, presetNames)
		}
	}
	object := strings.ToLower(f.object)
	if _, ok := importFields[object]; !ok {
		return usagef("import: --object %q is not one of contacts, companies, deals", f.object)
	}
	if f.currency != "" {
		if _, err := core.NewMoney("0", strings.ToUpper(f.currency)); err != nil {
			return usagef("import: --currency %q is not a currency code (EUR)", f.currency)
		}
	}
	src, err := newSource(cmd, path)
	if err != nil {
		return err
	}
	defer src.close()
	ctx := cmd.Context()
	c, closeCRM, err := g.open(ctx)
	if err != nil {
		return err
	}
	defer closeCRM()
	ti := &tableImport{c: c, flags: f, preset: p, object: object, companyByName: map[string]core.ID{}, companyByRef: map[string]core.ID{},
		topts: tableOptions{object: object, preset: p, mapping: opts.Mapping, comma: opts.Comma, encoding: opts.Encoding,
			ignoreUnknown: f.ignoreUnknown}}
	if p != nil {
		ti.vendor = p.name
	}
	entity := map[string]string{objectContacts: contacts.EntityContact, objectCompanies: contacts.EntityCompany, objectDeals: pipeline.EntityDeal}[object]
	defs, err := c.Fields.List(ctx, entity)
	if err != nil {
		return err
	}
	ti.types = map[string]fields.Type{}
	for _, d := range defs {
		ti.types[d.Key] = d.Type
	}

	out := cmd.OutOrStdout()
	// Pass one: the header, and what the rows refer to.
	file, err := src.open()
	if err != nil {
		return err
	}
	t, err := openTable(file, ti.topts)
	if err != nil {
		file.Close()
		if t != nil && len(t.format.Columns) > 0 {
			describeFormat(out, t.format)
		}
		return err
	}
	refs := ti.collect(t)
	file.Close()

	file, err = src.open()
	if err != nil {
		return err
	}
	defer file.Close()
	stderr := cmd.ErrOrStderr()
	counted := &countingReader{r: file}
	bar := progressbar.NewOptions64(src.size,
		progressbar.OptionSetWriter(stderr),
		progressbar.OptionSetVisibility(g.terminal(stderr)),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetDescription("importing"),
		progressbar.OptionThrottle(100_000_000),
		progressbar.OptionClearOnFinish())
	t, err = openTable(counted, ti.topts)
	if err != nil {
		return err
	}
	progress := func(contacts.ImportProgress) { _ = bar.Set64(counted.n) }

	var res contacts.ImportResult
	if object == objectContacts {
		res, err = ti.importContacts(ctx, t, refs, opts.ImportOptions, progress)
	} else {
		res, err = ti.importRecords(ctx, t, refs, opts.ImportOptions, progress)
	}
	_ = bar.Finish()
	res.CSV = t.format
	if f.dryRun {
		describeFormat(out, t.format)
	}
	if err != nil && res.Rows == 0 {
		return err
	}
	verb := "imported"
	if f.dryRun {
		verb = "would import"
	}
	fmt.Fprintf(out, "%s %d rows: %d created, %d updated, %d unchanged, %d failed\n", verb, res.Rows, res.Created, res.Updated,
		res.Unchanged, res.Failed)
	if ti.newCompanies > 0 {
		what := "created"
		if f.dryRun {
			what = "would create"
		}
		fmt.Fprintf(out, "%s %d companies the rows name\n", what, ti.newCompanies)
	}
	if !f.dryRun && object == objectContacts {
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

// refs are what the rows of a file refer to: companies by name and by
// the vendor's id, and the stages of each pipeline.
type refs struct {
	companies   []string
	companyRefs [][2]string           // vendor, id
	stages      map[string][]stageRef // by pipeline name
	pipelines   []string
}

// stageRef is a stage a row names, with what the row says of it.
type stageRef struct {
	name        string
	status      string
	probability string
}

// collect reads the rows once for what they refer to.
func (ti *tableImport) collect(t *table) refs {
	r := refs{stages: map[string][]stageRef{}}
	seen := map[string]bool{}
	for rec := range t.rows() {
		if rec.err != nil {
			continue
		}
		if name := rec.get("company"); name != "" && !seen["c\x00"+name] {
			seen["c\x00"+name] = true
			r.companies = append(r.companies, name)
		}
		for f, v := range rec.values {
			if src, ok := strings.CutPrefix(f, "company_id:"); ok && !seen["r\x00"+src+"\x00"+firstOf(v)] {
				seen["r\x00"+src+"\x00"+firstOf(v)] = true
				r.companyRefs = append(r.companyRefs, [2]string{src, firstOf(v)})
			}
		}
		if ti.object != objectDeals {
			continue
		}
		pl := ti.pipelineOf(rec)
		if !seen["p\x00"+pl] {
			seen["p\x00"+pl] = true
			r.pipelines = append(r.pipelines, pl)
		}
		st := stageRef{name: rec.get("stage"), status: strings.ToLower(rec.get("status")), probability: rec.get("probability")}
		if key := "s\x00" + pl + "\x00" + stageKey(st.name) + "\x00" + st.status; !seen[key] {
			seen[key] = true
			r.stages[pl] = append(r.stages[pl], st)
		}
	}
	return r
}

// pipelineOf is the pipeline a deal row names, else the preset's, else
// the tenant's default ("").
func (ti *tableImport) pipelineOf(rec record) string {
	if p := rec.get("pipeline"); p != "" {
		return p
	}
	if ti.preset != nil {
		return ti.preset.pipeline
	}
	return ""
}

// run runs fn as the import's writes: in one transaction that is rolled
// back for a dry run, else as fn's own.
func (ti *tableImport) run(ctx context.Context, dryRun bool, fn func(ctx context.Context, c *crm.CRM) error) error {
	if !dryRun {
		return fn(ctx, ti.c)
	}
	err := ti.c.InTx(ctx, func(ctx context.Context, tx *crm.CRM) error {
		if err := fn(ctx, tx); err != nil {
			return err
		}
		return errDryRun
	})
	if errors.Is(err, errDryRun) {
		return nil
	}
	return err
}
