package contacts

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/store"
)

// ImportRow is one record to import: the contact, and the line it came
// from (for errors).
type ImportRow struct {
	Line    int
	Contact NewContact
	// Err, when set, reports a row the source could not read; Import
	// records it as that line's error.
	Err error
}

// RowError is one problem with one row of an import.
type RowError struct {
	Line int `json:"line"`
	// Column names the CSV column (or field) at fault, "" for the row.
	Column  string `json:"column,omitempty"`
	Message string `json:"message"`
}

func (e RowError) String() string {
	if e.Column == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Message)
	}
	return fmt.Sprintf("line %d, %s: %s", e.Line, e.Column, e.Message)
}

// ImportProgress is reported after each batch.
type ImportProgress struct {
	Rows, Created, Updated, Unchanged, Failed int64
}

// ImportOptions tune an import.
type ImportOptions struct {
	// DryRun checks and applies every row in a transaction that is rolled
	// back: the result tells what an import would do; nothing is written.
	DryRun bool
	// AllOrNothing imports every row in one transaction and writes nothing
	// if any row fails. By default valid rows are imported and failed rows
	// reported. The events of an all-or-nothing import are delivered after
	// its one commit: events of types with a subscriber are held in memory
	// until then (events nobody subscribes to are not).
	AllOrNothing bool
	// BatchSize is the number of rows per transaction: default 1000. On
	// SQLite a batch holds the write lock while it runs (about 0.1 s for
	// 1000 new contacts here).
	BatchSize int
	// MaxErrors is how many row errors the result keeps (it counts them
	// all): default 1000.
	MaxErrors int
	// Progress, when set, is called after every batch.
	Progress func(ImportProgress)
}

// ImportResult tells what an import did (or, for a dry run, would do).
type ImportResult struct {
	ImportProgress
	// ImportID names this import. Every contact it created, updated or
	// found unchanged carries it as Contact.ImportID (until a later import
	// has a row for that contact).
	ImportID core.ID    `json:"import_id"`
	Errors   []RowError `json:"errors"`
	DryRun   bool       `json:"dry_run"`
	// CSV is how ImportCSV read the file (nil for Import).
	CSV *CSVFormat `json:"csv,omitempty"`
}

// SourceError, as an ImportRow's Err, reports that the source itself failed
// (a read error): Import stops and returns it instead of recording a row.
type SourceError struct{ Err error }

func (e *SourceError) Error() string { return "crm: reading the import: " + e.Err.Error() }
func (e *SourceError) Unwrap() error { return e.Err }

// errRollback ends a dry run's transaction.
var errRollback = errors.New("crm: dry run")

// errRowsFailed ends an all-or-nothing import with failed rows.
var errRowsFailed = fmt.Errorf("%w: rows failed", core.ErrInvalid)

// Import creates or updates a contact per row, as Upsert does (by external
// id, else email). Rows that fail validation or conflict are reported with
// their line and skipped; the others are imported, in transactions of
// BatchSize rows (see ImportOptions for dry runs and all-or-nothing). Two rows
// with the same email or external id are an error on the later row, however
// far apart they are: within a batch a map of its keys tells, across
// batches the contact's ImportID does, so memory stays flat (rows are read
// as they are imported).
//
// Rows that match no contact are written in bulk: COPY on PostgreSQL,
// multi-row INSERTs on SQLite, with one "contact.created" event each. Rows
// that match an existing contact are upserted one by one (see importBatch).
func (s *Service) Import(ctx context.Context, rows iter.Seq[ImportRow], opts ImportOptions) (_ ImportResult, err error) {
	ctx, span := s.sc.Span(ctx, "contacts.Import")
	defer span.End(&err)

	res := ImportResult{ImportID: core.NewID(), DryRun: opts.DryRun, Errors: []RowError{}}
	if _, err := s.sc.Tenant(); err != nil {
		return res, err
	}
	g, err := s.importer(ctx)
	if err != nil {
		return res, err
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = 1000
	}
	if opts.MaxErrors == 0 {
		opts.MaxErrors = 1000
	}
	if opts.BatchSize < 0 || opts.BatchSize > 10000 || opts.MaxErrors < 0 {
		return res, core.Invalid("options", "BatchSize must be 1-10000 and MaxErrors positive")
	}
	// fail records a failed row and its problems (one or more).
	fail := func(errs ...RowError) {
		res.Failed++
		for _, e := range errs {
			if len(res.Errors) < opts.MaxErrors {
				res.Errors = append(res.Errors, e)
			}
		}
	}
	// One transaction for everything (all-or-nothing, dry run), else one per
	// batch.
	whole := opts.AllOrNothing || opts.DryRun
	// A batch is one transaction (a savepoint of the whole import's, when
	// there is one); see importBatch.
	apply := func(ctx context.Context, sc store.Scope, batch []ImportRow) error {
		for _, r := range batch {
			var src *SourceError
			if errors.As(r.Err, &src) {
				return src
			}
		}
		return sc.InTx(ctx, func(ctx context.Context, bsc store.Scope) error {
			n, err := s.importBatch(ctx, g, bsc, res.ImportID, batch, fail)
			if err != nil {
				return err
			}
			res.Rows += int64(len(batch))
			res.Created += n.created
			res.Updated += n.updated
			res.Unchanged += n.unchanged
			return nil
		})
	}
	run := func(ctx context.Context, sc store.Scope) error {
		batch := make([]ImportRow, 0, opts.BatchSize)
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			err := apply(ctx, sc, batch)
			batch = batch[:0]
			if opts.Progress != nil && err == nil {
				opts.Progress(res.ImportProgress)
			}
			return err
		}
		for r := range rows {
			if err := ctx.Err(); err != nil {
				return err
			}
			batch = append(batch, r)
			if len(batch) == opts.BatchSize {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := flush(); err != nil {
			return err
		}
		switch {
		case opts.DryRun:
			return errRollback
		case opts.AllOrNothing && res.Failed > 0:
			return errRowsFailed
		}
		return nil
	}
	if whole {
		err = s.sc.InTx(ctx, run)
	} else {
		err = run(ctx, s.sc)
	}
	switch {
	case errors.Is(err, errRollback):
		return res, nil
	case errors.Is(err, errRowsFailed):
		res.Created, res.Updated, res.Unchanged = 0, 0, 0
		return res, fmt.Errorf("%w: %d of %d rows failed; nothing was imported", core.ErrInvalid, res.Failed, res.Rows)
	}
	return res, store.Wrap(err, "import contacts")
}

// duplicateIn reports whether r repeats an email or external id of an
// earlier row of its batch, and remembers its keys.
func duplicateIn(seen map[string]int, r ImportRow) string {
	keys := []string{}
	if e := NormalizeEmail(r.Contact.Email); e != "" {
		keys = append(keys, "email:"+e)
	}
	for _, x := range r.Contact.ExternalIDs {
		keys = append(keys, "ext:"+x.Source+"\x00"+x.ID)
	}
	for _, k := range keys {
		if line, ok := seen[k]; ok {
			what := "email"
			if strings.HasPrefix(k, "ext:") {
				what = "external id"
			}
			return fmt.Sprintf("the same %s as line %d", what, line)
		}
	}
	for _, k := range keys {
		seen[k] = r.Line
	}
	return ""
}

// rowErrors turns a refused row's error into one RowError per field.
func rowErrors(line int, err error) []RowError {
	var ve *core.ValidationError
	if errors.As(err, &ve) {
		out := make([]RowError, len(ve.Fields))
		for i, f := range ve.Fields {
			out[i] = RowError{Line: line, Column: f.Field, Message: f.Message}
		}
		return out
	}
	return []RowError{{Line: line, Message: strings.TrimPrefix(err.Error(), "crm: ")}}
}

// CSVImportOptions tune ImportCSV.
type CSVImportOptions struct {
	ImportOptions
	// Mapping maps CSV column names to fields: "email", "phone",
	// "first_name", "last_name", "lifecycle_stage", "owner_id", "tags"
	// (values joined with "|"), "external_id:<source>", and
	// "attributes.<key>" (typed by the key's field definition, text
	// otherwise). Columns not in Mapping map to the field of their own name;
	// with an empty Mapping the header must use field names (as ExportCSV
	// writes them). Map a column to "-" to skip it.
	Mapping map[string]string
	// Comma is the delimiter: default ',' (or detected, see Detect).
	Comma rune
	// Encoding is the file's character encoding: EncodingUTF8 (the
	// default) or EncodingWindows1252, decoded to UTF-8 as it is read.
	Encoding string
	// Detect detects the delimiter and the encoding that Comma and
	// Encoding leave open from the file's first 64 KiB (see SniffCSV).
	Detect bool
	// IgnoreUnknownColumns skips columns that map to no field instead of
	// refusing the file.
	IgnoreUnknownColumns bool
}

// MaxCSVField bounds one CSV cell; a longer one fails its row.
const MaxCSVField = 1 << 20

// ImportCSV imports contacts from CSV with a header row. A header that maps
// to no fields (unknown columns, a wrong delimiter) is refused before
// anything is written; a row that cannot be parsed (a broken quote, invalid
// UTF-8, a wrong number of cells) is reported with its line, and the rows
// after it are still read.
func (s *Service) ImportCSV(ctx context.Context, r io.Reader, opts CSVImportOptions) (_ ImportResult, err error) {
	ctx, span := s.sc.Span(ctx, "contacts.ImportCSV")
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return ImportResult{}, err
	}
	if _, err := s.importer(ctx); err != nil {
		return ImportResult{}, err
	}
	src, format, err := csvSource(r, opts)
	if err != nil {
		return ImportResult{}, err
	}
	cr := csv.NewReader(src)
	cr.Comma, _ = utf8.DecodeRuneInString(format.Comma)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return ImportResult{CSV: format}, core.Invalid("header", "cannot be read: %v", err)
	}
	header = slices.Clone(header)
	defs, err := fields.Module.List(ctx, s.sc.Q(), tenant, EntityContact)
	if err != nil {
		return ImportResult{CSV: format}, store.Wrap(err, "import contacts")
	}
	types := map[string]fields.Type{}
	for _, d := range defs {
		types[d.Key] = d.Type
	}
	fields := make([]string, len(header))
	v := &core.ValidationError{}
	for i, col := range header {
		f := col
		if m, ok := opts.Mapping[col]; ok {
			f = m
		}
		switch {
		case f == "-":
		case validImportField(f):
		case opts.IgnoreUnknownColumns:
			f = "-"
		default:
			hint := ""
			if strings.ContainsAny(col, ";\t|") {
				hint = " (is the delimiter right?)"
			}
			v.Add("header", "column %q maps to no field%s", col, hint)
			format.Columns = append(format.Columns, ImportColumn{Column: col})
			continue
		}
		fields[i] = f
		format.Columns = append(format.Columns, ImportColumn{Column: col, Field: f})
	}
	if err := v.Err(); err != nil {
		return ImportResult{CSV: format}, err
	}

	lastLine := 1
	rows := func(yield func(ImportRow) bool) {
		for {
			rec, err := cr.Read()
			if err == io.EOF {
				return
			}
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				// The reader goes on after a broken record.
				if !yield(ImportRow{Line: pe.StartLine, Err: fmt.Errorf("cannot be parsed: %v", pe.Err)}) {
					return
				}
				continue
			}
			if err != nil { // the source failed: stop
				yield(ImportRow{Line: lastLine + 1, Err: &SourceError{Err: err}})
				return
			}
			line, _ := cr.FieldPos(0) // only valid after a successful Read
			lastLine = line
			row, err := csvContact(fields, header, rec, types)
			if !yield(ImportRow{Line: line, Contact: row, Err: err}) {
				return
			}
		}
	}
	res, err := s.Import(ctx, rows, opts.ImportOptions)
	res.CSV = format
	return res, err
}

func validImportField(f string) bool {
	switch f {
	case "email", "phone", "first_name", "last_name", "lifecycle_stage", "owner_id", "tags":
		return true
	}
	if src, ok := strings.CutPrefix(f, "external_id:"); ok {
		return sourcePattern.MatchString(src)
	}
	if key, ok := strings.CutPrefix(f, filter.AttributePrefix); ok {
		return filter.ValidAttributeKey(key)
	}
	return false
}

// csvContact builds a contact from one record.
func csvContact(fields, header, rec []string, types map[string]fields.Type) (NewContact, error) {
	var c NewContact
	if len(rec) != len(fields) {
		return c, fmt.Errorf("has %d cells, the header %d", len(rec), len(fields))
	}
	for i, val := range rec {
		f := fields[i]
		if f == "-" || val == "" {
			continue
		}
		if len(val) > MaxCSVField {
			return c, fmt.Errorf("column %s is larger than %d bytes", header[i], MaxCSVField)
		}
		if !utf8.ValidString(val) {
			return c, fmt.Errorf("column %s is not valid UTF-8", header[i])
		}
		switch f {
		case "email":
			c.Email = val
		case "phone":
			c.Phone = val
		case "first_name":
			c.FirstName = val
		case "last_name":
			c.LastName = val
		case "lifecycle_stage":
			c.LifecycleStage = Stage(val)
		case "owner_id":
			c.OwnerID = val
		case "tags":
			c.Tags = strings.Split(val, "|")
		default:
			if src, ok := strings.CutPrefix(f, "external_id:"); ok {
				c.ExternalIDs = append(c.ExternalIDs, ExternalID{Source: src, ID: val})
				continue
			}
			key := strings.TrimPrefix(f, filter.AttributePrefix)
			v, err := csvAttribute(val, types[key])
			if err != nil {
				return c, fmt.Errorf("column %s: %v", header[i], err)
			}
			if c.Attributes == nil {
				c.Attributes = map[string]any{}
			}
			c.Attributes[key] = v
		}
	}
	return c, nil
}

// csvAttribute reads a cell as its field type reads it (the inverse of the
// export's csvValue); the definition then checks the value.
func csvAttribute(val string, t fields.Type) (any, error) {
	switch t {
	case fields.Number:
		f, err := strconv.ParseFloat(val, 64)
		if err != nil {
			return nil, errors.New("is not a number")
		}
		return f, nil
	case fields.Boolean:
		b, err := strconv.ParseBool(val)
		if err != nil {
			return nil, errors.New("is not true or false")
		}
		return b, nil
	case fields.MultiEnum:
		parts := strings.Split(val, "|")
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return out, nil
	case fields.Money:
		amount, currency, ok := strings.Cut(val, " ")
		if !ok {
			return nil, errors.New("is not an amount such as 12.50 EUR")
		}
		return map[string]any{"amount": amount, "currency": currency}, nil
	}
	return val, nil
}

// importer resolves the actor in ctx for an import. An import matches rows
// to contacts across the tenant by email and external id and writes
// personal data: an actor needs the contacts create and update
// permissions, to see every contact and to see personal data (a refusal
// is recorded and returned).
func (s *Service) importer(ctx context.Context) (*guard, error) {
	g, err := check(ctx, s.sc, "contact", core.NilID, access.Create, access.Update)
	if err != nil {
		return nil, err
	}
	if !g.all() || !g.pd() {
		return nil, g.done(ctx, g.forbid("contact", core.NilID, access.Create, "import without seeing all contacts and their personal data"))
	}
	return g, nil
}
