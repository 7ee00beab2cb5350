package crmhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/filter"
)

// DefaultMaxImportBytes is the largest CSV body POST /imports/contacts
// takes unless Options.MaxImportBytes says otherwise.
const DefaultMaxImportBytes = 32 << 20

type importInput struct {
	DryRun        bool   `query:"dry_run" doc:"Check every row and tell what would be done; write nothing."`
	AllOrNothing  bool   `query:"all_or_nothing" doc:"Import nothing if any row fails (then 422)."`
	IgnoreUnknown bool   `query:"ignore_unknown_columns" doc:"Skip columns that map to no field instead of refusing the file."`
	Delimiter     string `query:"delimiter" doc:"The delimiter: , ; | or tab (also comma, semicolon, pipe); detected when not given."`
	Encoding      string `query:"encoding" enum:"utf-8,windows-1252" doc:"The file's encoding; detected when not given."`
	Mapping       string `query:"mapping" doc:"A JSON object mapping CSV columns to fields, e.g. {\"E-Mail\":\"email\"}; a multipart body may send it as its mapping part."`
	ContentType   string `header:"Content-Type"`
	RawBody       []byte `contentType:"text/csv"`
}

// csvFile reads the CSV of an import's body: the body itself (text/csv),
// or the part "file" of a multipart form, whose part "mapping" may hold
// the mapping.
func (in *importInput) csvFile() (io.Reader, string, error) {
	mt, params, err := mime.ParseMediaType(in.ContentType)
	if err != nil && in.ContentType != "" {
		return nil, "", huma.Error400BadRequest("the Content-Type cannot be read")
	}
	switch mt {
	case "text/csv", "text/plain", "":
		return bytes.NewReader(in.RawBody), "", nil
	case "multipart/form-data":
	default:
		return nil, "", huma.NewError(http.StatusUnsupportedMediaType, fmt.Sprintf("the body must be text/csv or multipart/form-data, not %s", mt))
	}
	mr := multipart.NewReader(bytes.NewReader(in.RawBody), params["boundary"])
	var file io.Reader
	mapping := ""
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, "", huma.Error400BadRequest("the multipart body cannot be read")
		}
		b, err := io.ReadAll(p)
		if err != nil {
			return nil, "", huma.Error400BadRequest("the multipart body cannot be read")
		}
		switch p.FormName() {
		case "file":
			file = bytes.NewReader(b)
		case "mapping":
			mapping = string(b)
		}
	}
	if file == nil {
		return nil, "", huma.Error400BadRequest("the multipart body has no part named file")
	}
	return file, mapping, nil
}

func (in *importInput) options(mapping string) (contacts.CSVImportOptions, error) {
	opts := contacts.CSVImportOptions{Detect: true, Encoding: in.Encoding, IgnoreUnknownColumns: in.IgnoreUnknown,
		ImportOptions: contacts.ImportOptions{DryRun: in.DryRun, AllOrNothing: in.AllOrNothing}}
	switch in.Delimiter {
	case "":
	case ",", "comma":
		opts.Comma = ','
	case ";", "semicolon":
		opts.Comma = ';'
	case "|", "pipe":
		opts.Comma = '|'
	case "tab", "\t":
		opts.Comma = '\t'
	default:
		return opts, huma.Error422UnprocessableEntity("the delimiter is not valid",
			&huma.ErrorDetail{Location: "query.delimiter", Message: "must be one of , ; | tab", Value: in.Delimiter})
	}
	if in.Mapping != "" {
		mapping = in.Mapping
	}
	if mapping != "" {
		if err := json.Unmarshal([]byte(mapping), &opts.Mapping); err != nil {
			return opts, huma.Error422UnprocessableEntity("the mapping is not valid",
				&huma.ErrorDetail{Location: "query.mapping", Message: "must be a JSON object of column names to fields"})
		}
	}
	return opts, nil
}

func registerImports(api huma.API, maxBytes int64) {
	huma.Register(api, common(huma.Operation{OperationID: "import-contacts", Method: http.MethodPost, Path: "/imports/contacts",
		Tags: []string{"contacts"}, Summary: "Import contacts from CSV",
		Description: fmt.Sprintf("Creates or updates a contact per row of a CSV file with a header (by external id, else email), "+
			"sent as the body (text/csv) or as the part file of a multipart form (at most %d bytes). Failed rows are listed "+
			"by line and the others imported, unless all_or_nothing. The answer tells the delimiter, the encoding and the "+
			"field of each column.", maxBytes),
		MaxBodyBytes: maxBytes,
		// The body is read here (RawBody): CSV or a multipart form.
		SkipValidateBody: true,
		Errors: []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType,
			http.StatusUnprocessableEntity},
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"multipart/form-data": {Schema: &huma.Schema{Type: "object", Required: []string{"file"}, Properties: map[string]*huma.Schema{
				"file":    {Type: "string", Format: "binary", Description: "The CSV file."},
				"mapping": {Type: "string", Description: "A JSON object mapping CSV columns to fields."},
			}}},
		}}}),
		func(ctx context.Context, in *importInput) (*struct{ Body contacts.ImportResult }, error) {
			file, mapping, err := in.csvFile()
			if err != nil {
				return nil, err
			}
			opts, err := in.options(mapping)
			if err != nil {
				return nil, err
			}
			res, err := crmOf(ctx).Contacts.ImportCSV(ctx, file, opts)
			if err != nil {
				return nil, problem(err, false)
			}
			return &struct{ Body contacts.ImportResult }{Body: res}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "export-contacts", Method: http.MethodGet, Path: "/exports/contacts",
		Tags: []string{"contacts"}, Summary: "Export contacts as CSV",
		Description: "The contacts matching the filter as CSV with a header, streamed, as the import reads it back: the fixed columns, " +
			"one column per custom field, then the other attributes as JSON.",
		Errors: []int{http.StatusUnprocessableEntity},
		Responses: map[string]*huma.Response{"200": {Description: "The CSV file.",
			Content: map[string]*huma.MediaType{"text/csv": {Schema: &huma.Schema{Type: "string"}}}}}}),
		func(ctx context.Context, in *struct {
			Filter         string `query:"filter" doc:"A filter in the filter language's JSON form."`
			EscapeFormulas bool   `query:"escape_formulas" doc:"Prefix cells a spreadsheet would run as formulas with '."`
		}) (*huma.StreamResponse, error) {
			opts := contacts.ExportOptions{EscapeFormulas: in.EscapeFormulas}
			if in.Filter != "" {
				f, err := filter.Parse([]byte(in.Filter))
				if err != nil {
					return nil, problem(err, false)
				}
				opts.Filter = f
			}
			c := crmOf(ctx)
			return &huma.StreamResponse{Body: func(hctx huma.Context) {
				w := &lazyCSV{ctx: hctx}
				_, err := c.Contacts.ExportCSV(ctx, w, opts)
				var se huma.StatusError
				if err != nil && !w.started && errors.As(problem(err, false), &se) {
					hctx.SetHeader("Content-Type", "application/problem+json")
					hctx.SetStatus(se.GetStatus())
					_ = json.NewEncoder(hctx.BodyWriter()).Encode(se)
				}
			}}, nil
		})
}

// lazyCSV starts a CSV answer at its first write, so that an export that
// fails before writing anything can answer with a problem instead.
type lazyCSV struct {
	ctx     huma.Context
	started bool
}

func (w *lazyCSV) Write(p []byte) (int, error) {
	if !w.started {
		w.started = true
		w.ctx.SetHeader("Content-Type", "text/csv; charset=utf-8")
		w.ctx.SetHeader("Content-Disposition", `attachment; filename="contacts.csv"`)
		w.ctx.SetStatus(http.StatusOK)
	}
	return w.ctx.BodyWriter().Write(p)
}
