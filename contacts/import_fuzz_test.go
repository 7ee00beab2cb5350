package contacts_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dbtest"
)

// FuzzImportCSV: no file makes ImportCSV panic or write in a dry run; it
// either refuses the file with ErrInvalid or reports every bad row with a
// line number; a byte-order mark before it changes nothing.
func FuzzImportCSV(f *testing.F) {
	for _, s := range []string{
		"email,first_name,tags\nada@example.com,Ada,vip|x\n",
		"email,first_name\n\"broken,quote\nbob@example.com,Bob\n",
		"email;first_name\na@b.example;A\n",
		"\ufeffemail,external_id:shop,attributes.plan\nx@y.example,1,pro\n",
		"\ufeff\"email\",\"first_name\"\r\n\"ada@example.com\",\"Ada\"\r\n",
		"email\n\xff\xfe\n",
		"email,first_name\nada@example.com\n",
		"email,email\na@b.example,c@d.example\n",
		"",
	} {
		f.Add([]byte(s))
	}
	b := setup(f, dbtest.SQLite(f))
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, data []byte) {
		opts := contacts.CSVImportOptions{ImportOptions: contacts.ImportOptions{DryRun: true, BatchSize: 3}}
		res, err := b.svc.ImportCSV(ctx, bytes.NewReader(data), opts)
		if !bytes.HasPrefix(data, []byte("\ufeff")) {
			marked, errMarked := b.svc.ImportCSV(ctx, bytes.NewReader(append([]byte("\ufeff"), data...)), opts)
			if fmt.Sprint(err) != fmt.Sprint(errMarked) || res.ImportProgress != marked.ImportProgress ||
				!reflect.DeepEqual(res.Errors, marked.Errors) || !reflect.DeepEqual(res.CSV, marked.CSV) {
				t.Fatalf("a byte-order mark changed the import: %v %+v %v against %v %+v %v",
					err, res.ImportProgress, res.Errors, errMarked, marked.ImportProgress, marked.Errors)
			}
		}
		if err != nil {
			if !errors.Is(err, core.ErrInvalid) {
				t.Fatalf("error does not match ErrInvalid: %v", err)
			}
			return
		}
		if res.Rows != res.Created+res.Updated+res.Unchanged+res.Failed || int64(len(res.Errors)) < res.Failed {
			t.Fatalf("counts do not add up: %+v", res.ImportProgress)
		}
		for _, e := range res.Errors {
			if e.Line <= 0 || e.Message == "" {
				t.Fatalf("row error without a line or message: %+v", e)
			}
		}
		if n, err := b.svc.Count(ctx, contacts.ListOptions{}.Filter); err != nil || n != 0 {
			t.Fatalf("a dry run wrote %d contacts (%v)", n, err)
		}
	})
}
