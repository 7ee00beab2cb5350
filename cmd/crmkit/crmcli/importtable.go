package crmcli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/shopspring/decimal"
	"github.com/spf13/cobra"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/pipeline"
)

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

// company returns the id of the company named name (exactly), creating it
// when there is none and create is set.
func (ti *tableImport) company(ctx context.Context, c *crm.CRM, name string, create bool) (core.ID, error) {
	if id, ok := ti.companyByName[name]; ok {
		return id, nil
	}
	page, err := c.Companies.List(ctx, contacts.CompanyListOptions{Filter: filter.Eq("name", name), Limit: 1})
	if err != nil {
		return core.NilID, err
	}
	if len(page.Items) > 0 {
		ti.companyByName[name] = page.Items[0].ID
		return page.Items[0].ID, nil
	}
	if !create {
		return core.NilID, nil
	}
	co, err := c.Companies.Create(ctx, contacts.NewCompany{Name: name})
	if err != nil {
		return core.NilID, err
	}
	ti.newCompanies++
	ti.companyByName[name] = co.ID
	return co.ID, nil
}

// companyRef returns the id of the company a vendor's id names: the one
// imported with it (its "<vendor>_id" attribute), or the zero id.
func (ti *tableImport) companyRef(ctx context.Context, c *crm.CRM, src, ref string) (core.ID, error) {
	key := src + "\x00" + ref
	if id, ok := ti.companyByRef[key]; ok {
		return id, nil
	}
	page, err := c.Companies.List(ctx, contacts.CompanyListOptions{Filter: filter.Eq("attributes."+src+"_id", ref), Limit: 1})
	if err != nil {
		return core.NilID, err
	}
	var id core.ID
	if len(page.Items) > 0 {
		id = page.Items[0].ID
	}
	ti.companyByRef[key] = id
	return id, nil
}

// fieldError names field in err when err does not name one.
func fieldError(field string, err error) error {
	var ve *core.ValidationError
	if errors.As(err, &ve) || !errors.Is(err, core.ErrInvalid) {
		return err
	}
	return core.Invalid(field, "%s", strings.TrimPrefix(err.Error(), "crm: invalid input: "))
}

// firstOf is the first of several values in one cell ("a@x, b@y").
func firstOf(v string) string {
	if i := strings.IndexAny(v, ",;"); i >= 0 {
		return strings.TrimSpace(v[:i])
	}
	return v
}

// attributes are a row's attributes.<key> fields, typed by the object's
// field definitions (text for keys without one).
func (ti *tableImport) attributes(rec record) (map[string]any, error) {
	var out map[string]any
	v := &core.ValidationError{}
	for f, val := range rec.values {
		key, ok := strings.CutPrefix(f, filter.AttributePrefix)
		if !ok {
			continue
		}
		x, err := attributeValue(val, ti.types[key])
		if err != nil {
			v.Add(f, "%v", err)
			continue
		}
		if out == nil {
			out = map[string]any{}
		}
		out[key] = x
	}
	return out, v.Err()
}

// attributeValue reads a cell as a custom field of type t reads it (as
// the contacts module's CSV import does); the definition then checks it.
func attributeValue(val string, t fields.Type) (any, error) {
	switch t {
	case fields.Number:
		n, err := parseNumber(val)
		if err != nil {
			return nil, errors.New("is not a number")
		}
		f, _ := n.Float64()
		return f, nil
	case fields.Boolean:
		b, err := strconv.ParseBool(strings.ToLower(val))
		if err != nil {
			return nil, errors.New("is not true or false")
		}
		return b, nil
	case fields.MultiEnum:
		parts := strings.FieldsFunc(val, func(r rune) bool { return r == '|' || r == ';' })
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = strings.TrimSpace(p)
		}
		return out, nil
	case fields.Date:
		d, err := parseDate(val)
		if err != nil {
			// Without the value: a date field may be a birthday.
			return nil, errors.New("is not a date (2026-03-31, 3/31/2026 or 31.03.2026)")
		}
		return d.String(), nil
	case fields.Money:
		m, err := parseMoney(val, "")
		if err != nil {
			return nil, err
		}
		return map[string]any{"amount": m.Amount.String(), "currency": m.Currency}, nil
	}
	return val, nil
}

// parseNumber reads a number as exports write them: "1234.5",
// "1,234.50", "1.234,50", "1 234,5".
func parseNumber(s string) (decimal.Decimal, error) {
	s = strings.NewReplacer(" ", "", "\u00a0", "", "'", "").Replace(strings.TrimSpace(s))
	dot, comma := strings.LastIndex(s, "."), strings.LastIndex(s, ",")
	switch {
	case dot >= 0 && comma >= 0 && comma > dot: // 1.234,50
		s = strings.ReplaceAll(s, ".", "")
		s = strings.Replace(s, ",", ".", 1)
	case dot >= 0 && comma >= 0: // 1,234.50
		s = strings.ReplaceAll(s, ",", "")
	case comma >= 0 && strings.Count(s, ",") == 1 && len(s)-comma-1 != 3: // 12,5
		s = strings.Replace(s, ",", ".", 1)
	case comma >= 0: // 1,234,567
		s = strings.ReplaceAll(s, ",", "")
	}
	return decimal.NewFromString(s)
}

// parseMoney reads an amount, with a currency code before or after it
// ("EUR 1,200.00", "1200 USD") or currency when it has none.
func parseMoney(s, currency string) (core.Money, error) {
	s = strings.TrimSpace(s)
	for _, sym := range []struct{ sym, code string }{{"€", "EUR"}, {"$", "USD"}, {"£", "GBP"}} {
		if strings.Contains(s, sym.sym) {
			s = strings.TrimSpace(strings.ReplaceAll(s, sym.sym, ""))
			if currency == "" {
				currency = sym.code
			}
		}
	}
	if f := strings.Fields(s); len(f) == 2 {
		switch {
		case len(f[0]) == 3 && isLetters(f[0]):
			currency, s = strings.ToUpper(f[0]), f[1]
		case len(f[1]) == 3 && isLetters(f[1]):
			currency, s = strings.ToUpper(f[1]), f[0]
		}
	}
	if currency == "" {
		return core.Money{}, errors.New("has no currency: add a currency column or --currency")
	}
	n, err := parseNumber(s)
	if err != nil {
		return core.Money{}, fmt.Errorf("%q is not an amount", s)
	}
	m, err := core.NewMoney(n.String(), strings.ToUpper(currency))
	if err != nil {
		return core.Money{}, err
	}
	return m, nil
}

func isLetters(s string) bool {
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') {
			return false
		}
	}
	return true
}

// dateLayouts are the forms of a day exports write: ISO (HubSpot,
// Pipedrive, Salesforce's Data Export), with a time after it, and the US
// and European forms of report exports.
var dateLayouts = []string{"2006-01-02", "2006-01-02 15:04", "2006-01-02 15:04:05", time.RFC3339, "1/2/2006", "01/02/2006",
	"2.1.2006", "02.01.2006", "1/2/2006 3:04 PM", "2006/01/02"}

// parseDate reads a day.
func parseDate(s string) (core.Date, error) {
	s = strings.TrimSpace(s)
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return core.DateOf(t), nil
		}
	}
	if len(s) > 10 {
		if t, err := time.Parse("2006-01-02", s[:10]); err == nil {
			return core.DateOf(t), nil
		}
	}
	return core.Date{}, fmt.Errorf("%q is not a date (2026-03-31, 3/31/2026 or 31.03.2026)", s)
}

// rowError turns a refused row's error into its RowErrors.
func rowError(line int, err error) []contacts.RowError {
	var ve *core.ValidationError
	if errors.As(err, &ve) {
		out := make([]contacts.RowError, len(ve.Fields))
		for i, f := range ve.Fields {
			out[i] = contacts.RowError{Line: line, Column: f.Field, Message: f.Message}
		}
		return out
	}
	return []contacts.RowError{{Line: line, Message: strings.TrimPrefix(err.Error(), "crm: ")}}
}

// rowFailure reports whether err fails only its row (bad input, a
// conflict, a record that is not there): others end the import.
func rowFailure(err error) bool {
	for _, e := range []error{core.ErrInvalid, core.ErrConflict, core.ErrNotFound} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// outcome is what one row did.
type outcome int

const (
	created outcome = iota
	updated
	unchanged
)

// importRecords imports companies or deals row by row through the Go
// API: rows in transactions of BatchSize (one for a dry run or
// all-or-nothing), each row in a savepoint of its own, so that a failed
// row leaves nothing behind and the others are written.
func (ti *tableImport) importRecords(ctx context.Context, t *table, r refs, o contacts.ImportOptions, progress func(contacts.ImportProgress)) (contacts.ImportResult, error) {
	res := contacts.ImportResult{ImportID: core.NewID(), DryRun: o.DryRun, Errors: []contacts.RowError{}}
	if o.BatchSize == 0 {
		o.BatchSize = 1000
	}
	if o.BatchSize < 0 || o.BatchSize > 10000 {
		return res, core.Invalid("batch-size", "must be 1-10000")
	}
	fail := func(errs []contacts.RowError) {
		res.Failed++
		for _, e := range errs {
			if len(res.Errors) < 1000 {
				res.Errors = append(res.Errors, e)
			}
		}
	}
	write := ti.writeCompany
	if ti.object == objectDeals {
		write = ti.writeDeal
	}
	apply := func(ctx context.Context, c *crm.CRM) error {
		if ti.object == objectDeals {
			if err := ti.preparePipelines(ctx, c, r); err != nil {
				return err
			}
			var err error
			if ti.companyErr, err = ti.prepareCompanies(ctx, c, r); err != nil {
				return err
			}
		}
		body := func(ctx context.Context, c *crm.CRM) error {
			var batch []record
			flush := func() error {
				if len(batch) == 0 {
					return nil
				}
				var n contacts.ImportProgress
				var failed [][]contacts.RowError
				err := c.InTx(ctx, func(ctx context.Context, tx *crm.CRM) error {
					n, failed = contacts.ImportProgress{}, nil
					for _, rec := range batch {
						n.Rows++
						if rec.err != nil {
							var se *contacts.SourceError
							if errors.As(rec.err, &se) {
								return se
							}
							failed = append(failed, rowError(rec.line, rec.err))
							continue
						}
						var out outcome
						err := tx.InTx(ctx, func(ctx context.Context, tx *crm.CRM) error {
							var err error
							out, err = write(ctx, tx, rec)
							return err
						})
						switch {
						case err != nil && rowFailure(err):
							failed = append(failed, rowError(rec.line, err))
						case err != nil:
							return fmt.Errorf("line %d: %w", rec.line, err)
						case out == created:
							n.Created++
						case out == updated:
							n.Updated++
						default:
							n.Unchanged++
						}
					}
					return nil
				})
				batch = batch[:0]
				if err != nil {
					return err
				}
				res.Rows += n.Rows
				res.Created += n.Created
				res.Updated += n.Updated
				res.Unchanged += n.Unchanged
				for _, f := range failed {
					fail(f)
				}
				if progress != nil {
					progress(res.ImportProgress)
				}
				return nil
			}
			for rec := range t.rows() {
				if err := ctx.Err(); err != nil {
					return err
				}
				batch = append(batch, rec)
				if len(batch) == o.BatchSize {
					if err := flush(); err != nil {
						return err
					}
				}
			}
			if err := flush(); err != nil {
				return err
			}
			if o.AllOrNothing && res.Failed > 0 {
				return errAllOrNothing
			}
			return nil
		}
		return body(ctx, c)
	}
	var err error
	switch {
	case o.DryRun:
		err = ti.run(ctx, true, apply)
	case o.AllOrNothing:
		// Pipelines and companies the rows name, with the rows.
		err = ti.c.InTx(ctx, apply)
	default:
		err = apply(ctx, ti.c)
	}
	if errors.Is(err, errAllOrNothing) {
		res.Created, res.Updated, res.Unchanged = 0, 0, 0
		return res, fmt.Errorf("%w: %d of %d rows failed; nothing was imported", core.ErrInvalid, res.Failed, res.Rows)
	}
	return res, err
}

// vendorKey is the attribute a row's vendor id is kept in, and the id;
// "" without a preset or an id.
func (ti *tableImport) vendorKey(rec record) (string, string) {
	if ti.vendor == "" {
		return "", ""
	}
	key := ti.vendor + "_id"
	return key, rec.get(filter.AttributePrefix + key)
}

// domainOf is a company's domain: the domain field, else the host of the
// website.
func domainOf(rec record) string {
	if d := rec.get("domain"); d != "" {
		return d
	}
	w := rec.get("website")
	if w == "" {
		return ""
	}
	if !strings.Contains(w, "://") {
		w = "https://" + w
	}
	u, err := url.Parse(w)
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(strings.ToLower(u.Hostname()), "www.")
}

// writeCompany creates or updates one company: found by the vendor's id,
// else its domain, else its exact name.
func (ti *tableImport) writeCompany(ctx context.Context, c *crm.CRM, rec record) (outcome, error) {
	attrs, err := ti.attributes(rec)
	if err != nil {
		return 0, err
	}
	name, domain := rec.get("name"), domainOf(rec)
	var found *contacts.Company
	if key, id := ti.vendorKey(rec); id != "" {
		page, err := c.Companies.List(ctx, contacts.CompanyListOptions{Filter: filter.Eq(filter.AttributePrefix+key, id), Limit: 1})
		if err != nil {
			return 0, err
		}
		if len(page.Items) > 0 {
			found = page.Items[0]
		}
	}
	if found == nil && domain != "" {
		co, err := c.Companies.GetByDomain(ctx, domain)
		switch {
		case err == nil:
			found = co
		case !errors.Is(err, core.ErrNotFound):
			return 0, fieldError("domain", err)
		}
	}
	if found == nil && name != "" {
		page, err := c.Companies.List(ctx, contacts.CompanyListOptions{Filter: filter.Eq("name", name), Limit: 1})
		if err != nil {
			return 0, err
		}
		if len(page.Items) > 0 {
			found = page.Items[0]
		}
	}
	if found == nil {
		co, err := c.Companies.Create(ctx, contacts.NewCompany{Name: name, Domain: domain, Attributes: attrs})
		if err != nil {
			return 0, err
		}
		if name != "" {
			ti.companyByName[name] = co.ID
		}
		return created, nil
	}
	patch := contacts.CompanyPatch{Version: found.Version}
	changed := false
	if name != "" && name != found.Name {
		patch.Name, changed = &name, true
	}
	if domain != "" && contacts.NormalizeDomain(domain) != found.Domain {
		patch.Domain, changed = &domain, true
	}
	for k, v := range attrs {
		if fmt.Sprint(found.Attributes[k]) != fmt.Sprint(v) {
			if patch.Attributes == nil {
				patch.Attributes = map[string]any{}
			}
			patch.Attributes[k], changed = v, true
		}
	}
	if !changed {
		return unchanged, nil
	}
	_, err = c.Companies.Update(ctx, found.ID, patch)
	return updated, err
}

// importContacts imports contacts through the contacts module's bulk
// import (Contacts.Import), with the companies the rows name linked — and
// created first when the tenant has none of that name. A dry run and an
// all-or-nothing import do it all in one transaction (rolled back for the
// dry run, and when a row of an all-or-nothing import fails), so the
// companies come and go with the contacts.
func (ti *tableImport) importContacts(ctx context.Context, t *table, r refs, o contacts.ImportOptions, progress func(contacts.ImportProgress)) (contacts.ImportResult, error) {
	var res contacts.ImportResult
	apply := func(ctx context.Context, c *crm.CRM) error {
		ti.companyErr = map[string]error{}
		for _, name := range r.companies {
			if _, err := ti.company(ctx, c, name, true); err != nil {
				if !rowFailure(err) {
					return err
				}
				ti.companyErr[name] = fieldError("company", err)
			}
		}
		for _, ref := range r.companyRefs {
			if _, err := ti.companyRef(ctx, c, ref[0], ref[1]); err != nil {
				return err
			}
		}
		// The rows are read while the import writes (in its
		// transaction, for a dry run): they query nothing, the companies
		// are known.
		rows := func(yield func(contacts.ImportRow) bool) {
			for rec := range t.rows() {
				row := contacts.ImportRow{Line: rec.line, Err: rec.err}
				if rec.err == nil {
					row.Contact, row.Err = ti.contact(rec, ti.companyErr)
				}
				if !yield(row) {
					return
				}
			}
		}
		io := o
		io.Progress = progress
		if o.DryRun {
			// Batches in savepoints of the transaction that is rolled
			// back below: the counts are those of a real import.
			io.DryRun, io.AllOrNothing = false, false
		}
		var err error
		res, err = c.Contacts.Import(ctx, iter.Seq[contacts.ImportRow](rows), io)
		return err
	}
	var err error
	switch {
	case o.DryRun:
		err = ti.run(ctx, true, apply)
		res.DryRun = true
	case o.AllOrNothing:
		err = ti.c.InTx(ctx, apply)
	default:
		err = apply(ctx, ti.c)
	}
	return res, err
}

// knownCompany is the company of a row among those looked up before: by
// the vendor's id, else by name; nil for none.
func (ti *tableImport) knownCompany(rec record) *core.ID {
	for f, v := range rec.values {
		if src, ok := strings.CutPrefix(f, "company_id:"); ok {
			if id := ti.companyByRef[src+"\x00"+firstOf(v)]; id != core.NilID {
				return &id
			}
		}
	}
	if id, ok := ti.companyByName[rec.get("company")]; ok && id != core.NilID {
		return &id
	}
	return nil
}

// contact builds the contact of one row.
func (ti *tableImport) contact(rec record, companyErr map[string]error) (contacts.NewContact, error) {
	var c contacts.NewContact
	v := &core.ValidationError{}
	c.Email = firstOf(rec.get("email"))
	c.Phone = firstOf(rec.get("phone"))
	c.FirstName, c.LastName = rec.get("first_name"), rec.get("last_name")
	if full := rec.get("name"); full != "" && c.FirstName == "" && c.LastName == "" {
		if i := strings.LastIndex(full, " "); i > 0 {
			c.FirstName, c.LastName = strings.TrimSpace(full[:i]), strings.TrimSpace(full[i+1:])
		} else {
			c.FirstName = full
		}
	}
	if s := rec.get("lifecycle_stage"); s != "" {
		st, ok := lifecycleStages[stageKey(s)]
		if !ok {
			v.Add("lifecycle_stage", "%q is not a lifecycle stage crmkit knows (subscriber, lead, MQL, SQL, opportunity, customer, evangelist, other): map the column to an attribute", s)
		}
		c.LifecycleStage = st
	}
	c.OwnerID = rec.get("owner_id")
	if tags := rec.get("tags"); tags != "" {
		for _, tg := range strings.FieldsFunc(tags, func(r rune) bool { return r == '|' || r == ',' || r == ';' }) {
			c.Tags = append(c.Tags, strings.TrimSpace(tg))
		}
	}
	for f, val := range rec.values {
		if src, ok := strings.CutPrefix(f, "external_id:"); ok {
			c.ExternalIDs = append(c.ExternalIDs, contacts.ExternalID{Source: src, ID: val})
		}
	}
	attrs, err := ti.attributes(rec)
	if ve := (*core.ValidationError)(nil); errors.As(err, &ve) {
		v.Fields = append(v.Fields, ve.Fields...)
	}
	c.Attributes = attrs
	if name := rec.get("company"); name != "" && companyErr[name] != nil {
		return c, companyErr[name]
	}
	if err := v.Err(); err != nil {
		return c, err
	}
	c.CompanyID = ti.knownCompany(rec)
	return c, nil
}
