package contacts_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/store"
)

func count(t *testing.T, svc *contacts.Service) int64 {
	t.Helper()
	n, err := svc.Count(context.Background(), filter.Expr{})
	require.NoError(t, err)
	return n
}

func TestImportCSVReportsRowsAndKeepsGoing(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		_, err := b.fields.Define(ctx, fields.Definition{Entity: "contact", Key: "plan", Label: "Plan", Type: fields.Enum, Options: []string{"free", "pro"}})
		require.NoError(t, err)
		_, err = b.fields.Define(ctx, fields.Definition{Entity: "contact", Key: "seats", Label: "Seats", Type: fields.Number})
		require.NoError(t, err)
		big := strings.Repeat("x", 10<<20)
		csv := "E-Mail,Vorname,Kundennummer,Plan,Seats,tags\n" +
			"ada@example.com,Ada,1001,pro,12,vip|newsletter\n" + // 2: ok
			"not-an-email,Bob,1002,free,1,\n" + // 3: invalid email
			"carl@example.com,Carl,1003,gold,1,\n" + // 4: not an option
			"ada@example.com,Ada again,1004,pro,2,\n" + // 5: same email as line 2
			"dora@example.com,\"Dora,1005,free,3,\n" + // 6: broken quote (swallows the rest)
			""
		// A second file for the rows after a broken quote, plus encoding and size problems.
		csv2 := "E-Mail,Vorname,Kundennummer,Plan,Seats,tags\n" +
			"eve@example.com,Eve,1006,free,three,\n" + // 2: not a number
			"frank@example.com,\xff\xfe,1007,free,1,\n" + // 3: invalid UTF-8
			"gina@example.com," + big + ",1008,free,1,\n" + // 4: a 10 MB cell
			"hal@example.com,Hal,1009,free\n" + // 5: too few cells
			"ivy@example.com,Ivy,1010,free,4,\n" // 6: ok
		opts := contacts.CSVImportOptions{Mapping: map[string]string{"E-Mail": "email", "Vorname": "first_name",
			"Kundennummer": "external_id:shop", "Plan": "attributes.plan", "Seats": "attributes.seats"}}

		var progress []contacts.ImportProgress
		opts.BatchSize = 10
		opts.Progress = func(p contacts.ImportProgress) { progress = append(progress, p) }
		res, err := b.svc.ImportCSV(ctx, strings.NewReader(csv), opts)
		require.NoError(t, err)
		require.Equal(t, int64(1), res.Created)
		lines := map[int]string{}
		for _, e := range res.Errors {
			lines[e.Line] += e.Column + ": " + e.Message + "; "
		}
		require.Contains(t, lines[3], "email")
		require.Contains(t, lines[4], "attributes.plan")
		require.Contains(t, lines[5], "same email as line 2")
		require.Contains(t, lines[6], "cannot be parsed")
		require.NotEmpty(t, progress)
		require.Equal(t, res.ImportProgress, progress[len(progress)-1])

		res2, err := b.svc.ImportCSV(ctx, strings.NewReader(csv2), opts)
		require.NoError(t, err)
		require.Equal(t, int64(1), res2.Created, "%v", res2.Errors)
		require.Equal(t, int64(4), res2.Failed)
		lines = map[int]string{}
		for _, e := range res2.Errors {
			lines[e.Line] += e.Column + ": " + e.Message + "; "
		}
		require.Contains(t, lines[2], "not a number")
		require.Contains(t, lines[3], "UTF-8")
		require.Contains(t, lines[4], "larger than")
		require.Contains(t, lines[5], "cells")

		ada, err := b.svc.GetByExternalID(ctx, "shop", "1001")
		require.NoError(t, err)
		require.Equal(t, []string{"vip", "newsletter"}, ada.Tags)
		require.Equal(t, map[string]any{"plan": "pro", "seats": float64(12)}, ada.Attributes)
		_, err = b.svc.GetByEmail(ctx, "ivy@example.com")
		require.NoError(t, err)
		require.Equal(t, int64(2), count(t, b.svc))

		// A repeated email or external id is an error however far apart the
		// lines are: here every line is a batch of its own. Ivy existed
		// before this import: line 5 updates her, line 6 repeats line 5.
		res3, err := b.svc.ImportCSV(ctx, strings.NewReader("email,first_name,external_id:crm\n"+
			"zed@example.com,Zed,z1\n"+ // 2: created
			"zed@example.com,Zedd,\n"+ // 3: the same email as line 2
			"yan@example.com,Yan,z1\n"+ // 4: the same external id as line 2
			"ivy@example.com,Ivy-Lou,\n"+ // 5: updates Ivy
			"ivy@example.com,Ivy again,\n"), // 6: the same email as line 5
			contacts.CSVImportOptions{ImportOptions: contacts.ImportOptions{BatchSize: 1}})
		require.NoError(t, err)
		require.Equal(t, contacts.ImportProgress{Rows: 5, Created: 1, Updated: 1, Failed: 3}, res3.ImportProgress, "%v", res3.Errors)
		require.Equal(t, []contacts.RowError{
			{Line: 3, Column: "email", Message: "the same email as an earlier line of this import"},
			{Line: 4, Column: "external_ids", Message: "the same external id as an earlier line of this import"},
			{Line: 6, Column: "email", Message: "the same email as an earlier line of this import"},
		}, res3.Errors)
		zed, err := b.svc.GetByEmail(ctx, "zed@example.com")
		require.NoError(t, err)
		require.Equal(t, "Zed", zed.FirstName)
		require.Equal(t, &res3.ImportID, zed.ImportID)
		ivy, err := b.svc.GetByEmail(ctx, "ivy@example.com")
		require.NoError(t, err)
		require.Equal(t, "Ivy-Lou", ivy.FirstName)
		require.Equal(t, &res3.ImportID, ivy.ImportID)
		_, err = b.svc.GetByEmail(ctx, "yan@example.com")
		require.ErrorIs(t, err, core.ErrNotFound)
		// The contacts of an import, in SQL and in memory.
		byImport := filter.Eq("import_id", res3.ImportID.String())
		listed, err := b.svc.List(ctx, contacts.ListOptions{Filter: byImport, Sort: "last_name"})
		require.NoError(t, err)
		require.Len(t, listed.Items, 2)
		for _, c := range listed.Items {
			ok, err := contacts.Schema.Match(byImport, c, time.Now())
			require.NoError(t, err)
			require.True(t, ok)
		}
		ok, err := contacts.Schema.Match(byImport, &contacts.Contact{}, time.Now())
		require.NoError(t, err)
		require.False(t, ok)
		require.NoError(t, b.svc.Delete(ctx, zed.ID))
		_, err = b.svc.Update(ctx, ivy.ID, contacts.ContactPatch{Version: ivy.Version, FirstName: ptr("Ivy")})
		require.NoError(t, err)

		// Importing the same file again changes nothing.
		again, err := b.svc.ImportCSV(ctx, strings.NewReader(csv2), opts)
		require.NoError(t, err)
		require.Equal(t, int64(0), again.Created)
		require.Equal(t, int64(1), again.Unchanged)
	})
}

// A reader that fails after some data: the import stops with the error.
type failingReader struct{ data []byte }

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, errors.New("connection reset")
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestImportStopsWhenTheSourceFails(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		_, err := b.svc.ImportCSV(ctx, &failingReader{data: []byte("email\nada@example.com\nbob@exa")},
			contacts.CSVImportOptions{ImportOptions: contacts.ImportOptions{AllOrNothing: true}})
		require.ErrorContains(t, err, "connection reset")
		require.Zero(t, count(t, b.svc))
	})
}

func TestImportCSVRefusesBadHeaders(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		for name, csv := range map[string]string{
			"wrong delimiter": "email;first_name\nada@example.com;Ada\n",
			"unknown column":  "email,shoe_size\nada@example.com,42\n",
			"empty file":      "",
		} {
			_, err := b.svc.ImportCSV(ctx, strings.NewReader(csv), contacts.CSVImportOptions{})
			require.ErrorIs(t, err, core.ErrInvalid, name)
		}
		_, err := b.svc.ImportCSV(ctx, strings.NewReader("email;first_name\nada@example.com;Ada\n"), contacts.CSVImportOptions{})
		require.Contains(t, err.Error(), "delimiter")
		require.Zero(t, count(t, b.svc))

		res, err := b.svc.ImportCSV(ctx, strings.NewReader("email;first_name\nada@example.com;Ada\n"), contacts.CSVImportOptions{Comma: ';'})
		require.NoError(t, err)
		require.Equal(t, int64(1), res.Created)
		res, err = b.svc.ImportCSV(ctx, strings.NewReader("email,shoe_size\nbob@example.com,42\n"), contacts.CSVImportOptions{IgnoreUnknownColumns: true})
		require.NoError(t, err)
		require.Equal(t, int64(1), res.Created)
	})
}

func TestImportDryRunAndAllOrNothing(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		good := "email,first_name\nada@example.com,Ada\nbob@example.com,Bob\n"
		bad := good + "broken,Carl\n"

		res, err := b.svc.ImportCSV(ctx, strings.NewReader(bad), contacts.CSVImportOptions{ImportOptions: contacts.ImportOptions{DryRun: true}})
		require.NoError(t, err)
		require.True(t, res.DryRun)
		require.Equal(t, int64(2), res.Created)
		require.Equal(t, int64(1), res.Failed)
		require.Zero(t, count(t, b.svc), "a dry run writes nothing")
		evs, err := b.sc.Events(ctx, store.EventQuery{})
		require.NoError(t, err)
		require.Empty(t, evs)

		_, err = b.svc.ImportCSV(ctx, strings.NewReader(bad), contacts.CSVImportOptions{ImportOptions: contacts.ImportOptions{AllOrNothing: true, BatchSize: 1}})
		require.ErrorIs(t, err, core.ErrInvalid)
		require.Contains(t, err.Error(), "nothing was imported")
		require.Zero(t, count(t, b.svc))

		res, err = b.svc.ImportCSV(ctx, strings.NewReader(good), contacts.CSVImportOptions{ImportOptions: contacts.ImportOptions{AllOrNothing: true}})
		require.NoError(t, err)
		require.Equal(t, int64(2), res.Created)
		require.Equal(t, int64(2), count(t, b.svc))
	})
}

// What ExportCSV writes, ImportCSV reads back: a tenant copied to another.
func TestExportImportRoundTrip(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		defs := []fields.Definition{
			{Entity: "contact", Key: "plan", Label: "Plan", Type: fields.Enum, Options: []string{"free", "pro"}},
			{Entity: "contact", Key: "seats", Label: "Seats", Type: fields.Number},
			{Entity: "contact", Key: "channels", Label: "Channels", Type: fields.MultiEnum, Options: []string{"email", "sms"}},
		}
		dst := contacts.Module.Contacts(b.sc.WithTenant("copy"))
		dstFields := fields.Module.Service(b.sc.WithTenant("copy"))
		for _, d := range defs {
			_, err := b.fields.Define(ctx, d)
			require.NoError(t, err)
			_, err = dstFields.Define(ctx, d)
			require.NoError(t, err)
		}
		for _, in := range []contacts.NewContact{
			{Email: "ada@example.com", FirstName: "Ada", LastName: "Lovelace", Phone: "+44 1", Tags: []string{"vip", "a b"},
				Attributes:  map[string]any{"plan": "pro", "seats": 12.5, "channels": []any{"email", "sms"}},
				ExternalIDs: []contacts.ExternalID{{Source: "shop", ID: "1"}}, LifecycleStage: contacts.StageCustomer, OwnerID: "rep-1"},
			{Email: "bob@example.com", FirstName: `Bob "the builder", Jr.`, Attributes: map[string]any{"plan": "free"}},
		} {
			_, err := b.svc.Create(ctx, in)
			require.NoError(t, err)
		}
		var buf bytes.Buffer
		_, err := b.svc.ExportCSV(ctx, &buf, contacts.ExportOptions{})
		require.NoError(t, err)
		res, err := dst.ImportCSV(ctx, &buf, contacts.CSVImportOptions{IgnoreUnknownColumns: true})
		require.NoError(t, err)
		require.Equal(t, int64(2), res.Created, "%v", res.Errors)

		for _, email := range []string{"ada@example.com", "bob@example.com"} {
			src, err := b.svc.GetByEmail(ctx, email)
			require.NoError(t, err)
			cp, err := dst.GetByEmail(ctx, email)
			require.NoError(t, err)
			require.Equal(t, src.FirstName, cp.FirstName)
			require.Equal(t, src.LastName, cp.LastName)
			require.Equal(t, src.Phone, cp.Phone)
			require.Equal(t, src.Tags, cp.Tags)
			require.Equal(t, src.LifecycleStage, cp.LifecycleStage)
			require.Equal(t, src.OwnerID, cp.OwnerID)
			require.Equal(t, src.Attributes, cp.Attributes)
		}
	})
}
