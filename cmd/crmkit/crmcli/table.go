package crmcli

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
)

// importFields are the fields the preset imports know, by object; a
// field ending in ":" takes a suffix (external_id:<source>), and every
// object takes attributes.<key>.
var importFields = map[string][]string{
	objectContacts: {"email", "phone", "first_name", "last_name", "name", "lifecycle_stage", "owner_id", "tags",
		"external_id:", "company", "company_id:"},
	objectCompanies: {"name", "domain", "website"},
	objectDeals: {"title", "amount", "currency", "pipeline", "stage", "status", "probability", "expected_close", "owner_id",
		"source", "lost_reason", "company", "company_id:", "contact_email", "contact_name", "contact_id:"},
}

// validField reports whether f is a field of object.
func validField(object, f string) bool {
	if key, ok := strings.CutPrefix(f, filter.AttributePrefix); ok {
		return filter.ValidAttributeKey(key)
	}
	for _, known := range importFields[object] {
		if prefix, ok := strings.CutSuffix(known, ":"); ok {
			if src, ok := strings.CutPrefix(f, prefix+":"); ok && validSource(src) {
				return true
			}
			continue
		}
		if f == known {
			return true
		}
	}
	return false
}

// validSource: a system's name as external ids take it.
func validSource(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// table reads a CSV file of records by field: its header mapped to the
// fields of one object (by --mapping, the preset, or the fields' own
// names), its rows with their line numbers.
type table struct {
	object string
	format *contacts.CSVFormat
	header []string
	fields []string // by column: the field, "-" to skip
	r      *csv.Reader
}

// record is one row of a table: the value of each field (the first
// column with a value, when several map to one field), or why the row
// cannot be read.
type record struct {
	line   int
	values map[string]string
	err    error
}

// get returns the value of field f, "" when none.
func (r record) get(f string) string { return r.values[f] }

// tableOptions say how to read a table.
type tableOptions struct {
	object        string
	preset        *preset
	mapping       map[string]string
	comma         rune
	encoding      string
	ignoreUnknown bool
}

// openTable reads the header of r (detecting the delimiter and encoding
// that o leaves open, as contacts.SniffCSV does) and maps its columns. A
// header with columns that map to no field is refused, listing them all.
func openTable(r io.Reader, o tableOptions) (*table, error) {
	f := &contacts.CSVFormat{Comma: ",", Encoding: contacts.EncodingUTF8, Columns: []contacts.ImportColumn{}}
	if o.comma != 0 {
		f.Comma = string(o.comma)
	}
	if o.encoding != "" {
		f.Encoding = o.encoding
	}
	br := bufio.NewReaderSize(r, 64<<10)
	r = br
	// A byte-order mark (spreadsheets and HubSpot write one) is not part
	// of the first column's name, nor its quote.
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\ufeff")) {
		_, _ = br.Discard(3)
	}
	if o.comma == 0 || o.encoding == "" {
		head, err := br.Peek(64 << 10)
		if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
			return nil, fmt.Errorf("crmkit: read the file: %w", err)
		}
		comma, enc := contacts.SniffCSV(bytes.TrimPrefix(head, []byte("\ufeff")))
		if o.comma == 0 {
			f.Comma = string(comma)
		}
		if o.encoding == "" {
			f.Encoding = enc
		}
		f.Detected = true
	}
	if f.Encoding == contacts.EncodingWindows1252 {
		r = charmap.Windows1252.NewDecoder().Reader(r)
	}
	cr := csv.NewReader(r)
	cr.Comma, _ = utf8.DecodeRuneInString(f.Comma)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	t := &table{object: o.object, format: f, r: cr}
	header, err := cr.Read()
	if err != nil {
		return t, core.Invalid("header", "cannot be read: %v", err)
	}
	t.header = slices.Clone(header)
	v := &core.ValidationError{}
	for i, col := range t.header {
		col = strings.TrimSpace(strings.TrimPrefix(col, "\ufeff"))
		t.header[i] = col
		field, fromMapping := o.mapping[col]
		ok := fromMapping
		if !ok && o.preset != nil {
			field, ok = o.preset.field(o.object, col)
		}
		if !ok {
			field, ok = col, validField(o.object, col)
		}
		switch {
		case field == "-":
		case ok && validField(o.object, field):
		case o.ignoreUnknown && !fromMapping:
			field = "-"
		default:
			hint := ""
			if strings.ContainsAny(col, ";\t|") {
				hint = " (is the delimiter right?)"
			}
			v.Add("header", "column %q maps to no field of %s%s", col, o.object, hint)
			f.Columns = append(f.Columns, contacts.ImportColumn{Column: col})
			t.fields = append(t.fields, "")
			continue
		}
		t.fields = append(t.fields, field)
		f.Columns = append(f.Columns, contacts.ImportColumn{Column: col, Field: field})
	}
	return t, v.Err()
}

// rows yields the table's records. A row that cannot be parsed (a broken
// quote, a wrong number of cells, a cell too large) is a record with err
// and its line; the rows after it are read on. A failing source ends the
// rows with a *contacts.SourceError.
func (t *table) rows() iter.Seq[record] {
	return func(yield func(record) bool) {
		last := 1
		for {
			rec, err := t.r.Read()
			if err == io.EOF {
				return
			}
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				if !yield(record{line: pe.StartLine, err: fmt.Errorf("cannot be parsed: %v", pe.Err)}) {
					return
				}
				continue
			}
			if err != nil {
				yield(record{line: last + 1, err: &contacts.SourceError{Err: err}})
				return
			}
			line, _ := t.r.FieldPos(0)
			last = line
			r := record{line: line, values: map[string]string{}}
			if len(rec) != len(t.fields) {
				r.err = fmt.Errorf("has %d cells, the header %d", len(rec), len(t.fields))
			}
			for i, val := range rec {
				if r.err != nil || i >= len(t.fields) {
					break
				}
				field := t.fields[i]
				val = strings.TrimSpace(val)
				if field == "-" || val == "" {
					continue
				}
				switch {
				case len(val) > contacts.MaxCSVField:
					r.err = fmt.Errorf("column %s is larger than %d bytes", t.header[i], contacts.MaxCSVField)
				case !utf8.ValidString(val):
					r.err = fmt.Errorf("column %s is not valid UTF-8", t.header[i])
				case r.values[field] == "":
					r.values[field] = val
				}
			}
			if !yield(r) {
				return
			}
		}
	}
}
