package contacts

import (
	"bufio"
	"bytes"
	"io"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"

	"github.com/crmkit/crmkit/core"
)

// Encodings ImportCSV reads (CSVImportOptions.Encoding).
const (
	EncodingUTF8        = "utf-8"
	EncodingWindows1252 = "windows-1252"
)

// CSVFormat is how ImportCSV read a file: the delimiter and encoding it
// was given or detected, and the field each column of the header maps to.
type CSVFormat struct {
	// Comma is the delimiter.
	Comma string `json:"comma"`
	// Encoding is EncodingUTF8 or EncodingWindows1252.
	Encoding string `json:"encoding"`
	// Detected tells that Comma or Encoding was detected, not given.
	Detected bool `json:"detected"`
	// Columns are the header's columns, in order, with their fields.
	Columns []ImportColumn `json:"columns"`
}

// ImportColumn is one column of a CSV header and the field it maps to:
// "-" for a column that is skipped, "" for one that maps to no field
// (the header is then refused).
type ImportColumn struct {
	Column string `json:"column"`
	Field  string `json:"field"`
}

// sniffSize is how much of a file SniffCSV looks at.
const sniffSize = 64 << 10

// SniffCSV guesses the delimiter and the encoding of a CSV file from its
// first bytes (head; 64 KiB are plenty). The delimiter is the one of
// , ; tab and | that the header line has most of outside quotes (','
// when it has none). The encoding is UTF-8 when head is valid UTF-8 (a
// sequence cut at its end aside), else Windows-1252, the encoding
// spreadsheets on Windows save "CSV" in.
func SniffCSV(head []byte) (comma rune, encoding string) {
	encoding = EncodingUTF8
	if !validUTF8Head(head) {
		encoding = EncodingWindows1252
	}
	counts := map[byte]int{}
	quoted := false
	for _, b := range head {
		if b == '"' {
			quoted = !quoted
			continue
		}
		if quoted {
			continue
		}
		if b == '\n' || b == '\r' {
			break
		}
		switch b {
		case ',', ';', '\t', '|':
			counts[b]++
		}
	}
	comma = ','
	best := counts[',']
	for _, c := range []byte{';', '\t', '|'} {
		if counts[c] > best {
			comma, best = rune(c), counts[c]
		}
	}
	return comma, encoding
}

// validUTF8Head reports whether b is valid UTF-8 but for a multi-byte
// sequence cut by its end.
func validUTF8Head(b []byte) bool {
	if utf8.Valid(b) {
		return true
	}
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			return !utf8.FullRune(b[i:]) && utf8.Valid(b[:i])
		}
	}
	return false
}

// csvSource reads r as opts say: it detects what opts leave open when
// opts.Detect is set, decodes Windows-1252 to UTF-8, and tells the format.
func csvSource(r io.Reader, opts CSVImportOptions) (io.Reader, *CSVFormat, error) {
	f := &CSVFormat{Comma: ",", Encoding: EncodingUTF8, Columns: []ImportColumn{}}
	switch opts.Encoding {
	case "", EncodingUTF8, EncodingWindows1252:
	default:
		return nil, nil, core.Invalid("encoding", "%q is not one of %s, %s", opts.Encoding, EncodingUTF8, EncodingWindows1252)
	}
	if opts.Comma != 0 {
		if opts.Comma == '"' || opts.Comma == '\r' || opts.Comma == '\n' || !utf8.ValidRune(opts.Comma) || opts.Comma == utf8.RuneError {
			return nil, nil, core.Invalid("comma", "is not a valid delimiter")
		}
		f.Comma = string(opts.Comma)
	}
	if opts.Encoding != "" {
		f.Encoding = opts.Encoding
	}
	if opts.Detect && (opts.Comma == 0 || opts.Encoding == "") {
		br := bufio.NewReaderSize(r, sniffSize)
		head, err := br.Peek(sniffSize)
		if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
			return nil, nil, &SourceError{Err: err}
		}
		comma, enc := SniffCSV(bytes.TrimPrefix(head, utf8BOM))
		if opts.Comma == 0 {
			f.Comma = string(comma)
		}
		if opts.Encoding == "" {
			f.Encoding = enc
		}
		f.Detected = true
		r = br
	}
	// A UTF-8 byte-order mark (spreadsheets write one before "CSV UTF-8")
	// is not part of the first cell: left in the stream, it made a quoted
	// first column (U+FEFF, then "email") a bare quote, and the header was
	// refused. It goes before decoding: read as Windows-1252 its bytes
	// would be "ï»¿", never data.
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(r)
	}
	head, err := br.Peek(len(utf8BOM))
	if err != nil && err != io.EOF {
		return nil, nil, &SourceError{Err: err}
	}
	if bytes.Equal(head, utf8BOM) {
		_, _ = br.Discard(len(utf8BOM))
	}
	r = br
	if f.Encoding == EncodingWindows1252 {
		r = charmap.Windows1252.NewDecoder().Reader(r)
	}
	return r, f, nil
}

// utf8BOM is the UTF-8 encoding of the byte-order mark U+FEFF.
var utf8BOM = []byte("\ufeff")
