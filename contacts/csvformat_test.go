package contacts_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding/charmap"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
)

func TestSniffCSV(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		head     string
		comma    rune
		encoding string
	}{
		"comma":                   {"email,first_name\nada@example.com,Ada\n", ',', contacts.EncodingUTF8},
		"semicolon":               {"email;first_name;last_name\nada@example.com;Ada;L\n", ';', contacts.EncodingUTF8},
		"tab":                     {"email\tfirst_name\n", '\t', contacts.EncodingUTF8},
		"quoted semicolons":       {"\"a;b;c\",email,first_name\n", ',', contacts.EncodingUTF8},
		"one column":              {"email\nada@example.com\n", ',', contacts.EncodingUTF8},
		"later lines do not vote": {"email;name\nx,y,z,w,v\n", ';', contacts.EncodingUTF8},
		"windows-1252":            {"email;first_name\nj@example.com;J\xfcrgen\n", ';', contacts.EncodingWindows1252},
		"utf-8 umlaut":            {"email;first_name\nj@example.com;Jürgen\n", ';', contacts.EncodingUTF8},
		"utf-8 cut at the end":    {"email,first_name\nj@example.com,J\xc3", ',', contacts.EncodingUTF8},
		"invalid before the end":  {"email,first_name\nj@example.com,J\xc3x", ',', contacts.EncodingWindows1252},
	} {
		comma, enc := contacts.SniffCSV([]byte(tc.head))
		require.Equal(t, string(tc.comma), string(comma), name)
		require.Equal(t, tc.encoding, enc, name)
	}
}

// A semicolon-separated Windows-1252 file, as a spreadsheet on Windows
// saves it: detected and read right; given explicitly too; refused
// options are ErrInvalid with their field.
func TestImportCSVDetectsDelimiterAndEncoding(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		text := "E-Mail;Vorname;Nachname\njuergen@example.com;Jürgen;Größ\nrene@example.com;René;Çelik\n"
		file, err := charmap.Windows1252.NewEncoder().String(text)
		require.NoError(t, err)
		require.NotContains(t, file, "ü", "the file is not UTF-8")
		mapping := map[string]string{"E-Mail": "email", "Vorname": "first_name", "Nachname": "last_name"}

		// Without detection the header does not parse as ','.
		_, err = b.svc.ImportCSV(ctx, strings.NewReader(file), contacts.CSVImportOptions{Mapping: mapping,
			ImportOptions: contacts.ImportOptions{DryRun: true}})
		require.ErrorIs(t, err, core.ErrInvalid)
		require.Contains(t, err.Error(), "delimiter")

		res, err := b.svc.ImportCSV(ctx, strings.NewReader(file), contacts.CSVImportOptions{Mapping: mapping, Detect: true})
		require.NoError(t, err)
		require.Equal(t, int64(2), res.Created, "%v", res.Errors)
		require.Equal(t, &contacts.CSVFormat{Comma: ";", Encoding: contacts.EncodingWindows1252, Detected: true,
			Columns: []contacts.ImportColumn{{"E-Mail", "email"}, {"Vorname", "first_name"}, {"Nachname", "last_name"}}}, res.CSV)
		j, err := b.svc.GetByEmail(ctx, "juergen@example.com")
		require.NoError(t, err)
		require.Equal(t, "Jürgen", j.FirstName)
		require.Equal(t, "Größ", j.LastName)

		// Given explicitly: the same contacts, unchanged.
		res, err = b.svc.ImportCSV(ctx, strings.NewReader(file), contacts.CSVImportOptions{Mapping: mapping, Comma: ';',
			Encoding: contacts.EncodingWindows1252})
		require.NoError(t, err)
		require.Equal(t, int64(2), res.Unchanged, "%v", res.Errors)
		require.False(t, res.CSV.Detected)

		// A UTF-8 file is detected as such; a given delimiter wins.
		res, err = b.svc.ImportCSV(ctx, strings.NewReader("email|first_name\nzoe@example.com|Zoë\n"),
			contacts.CSVImportOptions{Detect: true, ImportOptions: contacts.ImportOptions{DryRun: true}})
		require.NoError(t, err)
		require.Equal(t, int64(1), res.Created, "%v", res.Errors)
		require.Equal(t, "|", res.CSV.Comma)
		require.Equal(t, contacts.EncodingUTF8, res.CSV.Encoding)
		_, err = b.svc.ImportCSV(ctx, strings.NewReader("email|first_name\nzoe@example.com|Zoë\n"),
			contacts.CSVImportOptions{Detect: true, Comma: ','})
		require.ErrorIs(t, err, core.ErrInvalid)

		// The header's columns are told with a refused header too.
		res, err = b.svc.ImportCSV(ctx, strings.NewReader("email,shoe_size\n"), contacts.CSVImportOptions{})
		require.ErrorIs(t, err, core.ErrInvalid)
		require.Equal(t, []contacts.ImportColumn{{"email", "email"}, {"shoe_size", ""}}, res.CSV.Columns)

		_, err = b.svc.ImportCSV(ctx, strings.NewReader(file), contacts.CSVImportOptions{Encoding: "latin-9"})
		var ve *core.ValidationError
		require.ErrorAs(t, err, &ve)
		require.Equal(t, "encoding", ve.Fields[0].Field)
		_, err = b.svc.ImportCSV(ctx, strings.NewReader(file), contacts.CSVImportOptions{Comma: '"'})
		require.ErrorIs(t, err, core.ErrInvalid)
		require.Equal(t, int64(2), count(t, b.svc))
	})
}

// A UTF-8 file from a spreadsheet ("CSV UTF-8" in Excel) starts with a
// byte-order mark, before a quoted header too: the mark is not part of
// the first column, whatever the quoting, delimiter or encoding.
func TestImportCSVSkipsByteOrderMark(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		res, err := b.svc.ImportCSV(ctx, strings.NewReader("\ufeff\"email\",\"first_name\"\r\n\"ada@example.com\",\"Ada\"\r\n"),
			contacts.CSVImportOptions{})
		require.NoError(t, err)
		require.Equal(t, int64(1), res.Created, "%v", res.Errors)
		require.Equal(t, []contacts.ImportColumn{{"email", "email"}, {"first_name", "first_name"}}, res.CSV.Columns)
		ada, err := b.svc.GetByEmail(ctx, "ada@example.com")
		require.NoError(t, err)
		require.Equal(t, "Ada", ada.FirstName)

		for name, tc := range map[string]struct {
			file string
			opts contacts.CSVImportOptions
		}{
			"unquoted":                {"\ufeffemail,first_name\nbob@example.com,Bob\n", contacts.CSVImportOptions{}},
			"quoted, detected":        {"\ufeff\"email\";\"first_name\"\ncarl@example.com;Carl\n", contacts.CSVImportOptions{Detect: true}},
			"quoted, semicolon":       {"\ufeff\"email\";\"first_name\"\ndora@example.com;Dora\n", contacts.CSVImportOptions{Comma: ';'}},
			"quoted, windows-1252":    {"\ufeff\"email\",\"first_name\"\neve@example.com,Eve\n", contacts.CSVImportOptions{Encoding: contacts.EncodingWindows1252}},
			"quoted, mapped":          {"\ufeff\"E-Mail\",\"Vorname\"\nfrank@example.com,Frank\n", contacts.CSVImportOptions{Mapping: map[string]string{"E-Mail": "email", "Vorname": "first_name"}}},
			"quoted, one column":      {"\ufeff\"email\"\ngina@example.com\n", contacts.CSVImportOptions{}},
			"quoted with a delimiter": {"\ufeff\"first_name\",email\n\"Hal, Jr.\",hal@example.com\n", contacts.CSVImportOptions{}},
		} {
			res, err := b.svc.ImportCSV(ctx, strings.NewReader(tc.file), tc.opts)
			require.NoError(t, err, name)
			require.Equal(t, int64(1), res.Created, "%s: %v", name, res.Errors)
			require.NotContains(t, res.CSV.Columns[0].Column, "\ufeff", name)
		}
		hal, err := b.svc.GetByEmail(ctx, "hal@example.com")
		require.NoError(t, err)
		require.Equal(t, "Hal, Jr.", hal.FirstName)
		require.Equal(t, int64(8), count(t, b.svc))

		// A mark and nothing else is a file without a header; a mark
		// later in the file is data, and a quote after it a broken cell.
		_, err = b.svc.ImportCSV(ctx, strings.NewReader("\ufeff"), contacts.CSVImportOptions{})
		require.ErrorIs(t, err, core.ErrInvalid)
		res, err = b.svc.ImportCSV(ctx, strings.NewReader("email,first_name\nivy@example.com,\ufeff\"Ivy\"\n"), contacts.CSVImportOptions{})
		require.NoError(t, err)
		require.Equal(t, int64(1), res.Failed)
		require.Equal(t, 2, res.Errors[0].Line)
		require.Equal(t, int64(8), count(t, b.svc))
	})
}

// A refused export writes nothing, so an API can still answer with the
// problem.
func TestExportCSVRefusedWritesNothing(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		_, err := b.svc.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
		require.NoError(t, err)
		var buf strings.Builder
		_, err = b.svc.ExportCSV(ctx, &buf, contacts.ExportOptions{Filter: filter.Eq("shoe_size", 42)})
		require.ErrorIs(t, err, core.ErrInvalid)
		require.Empty(t, buf.String())
		n, err := b.svc.ExportCSV(ctx, &buf, contacts.ExportOptions{})
		require.NoError(t, err)
		require.Equal(t, int64(1), n)
		require.Contains(t, buf.String(), "ada@example.com")
	})
}

func ExampleSniffCSV() {
	comma, encoding := contacts.SniffCSV([]byte("E-Mail;Vorname\njuergen@example.com;J\xfcrgen\n"))
	fmt.Printf("%q %s\n", comma, encoding)
	// Output: ';' windows-1252
}
