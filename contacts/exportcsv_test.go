package contacts_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/filter"
)

func TestExport(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		defer contacts.SetExportBatch(4)()
		_, err := b.fields.Define(ctx, fields.Definition{Entity: "contact", Key: "plan", Label: "Plan", Type: fields.Enum, Options: []string{"free", "pro"}})
		require.NoError(t, err)
		_, err = b.fields.Define(ctx, fields.Definition{Entity: "contact", Key: "budget", Label: "Budget", Type: fields.Money})
		require.NoError(t, err)
		for i := 0; i < 11; i++ {
			attrs := map[string]any{"plan": []string{"free", "pro"}[i%2], "note": fmt.Sprint("n", i)}
			if i == 3 {
				attrs["budget"] = map[string]any{"amount": "12.50", "currency": "EUR"}
			}
			_, err := b.svc.Create(ctx, contacts.NewContact{Email: fmt.Sprintf("c%02d@example.com", i), FirstName: "=cmd|' /C calc'!A0",
				Phone: "+49 30 1", Tags: []string{"a", "b"}, Attributes: attrs,
				ExternalIDs: []contacts.ExternalID{{Source: "shop", ID: fmt.Sprint(i)}}})
			require.NoError(t, err)
		}
		c3, err := b.svc.GetByEmail(ctx, "c03@example.com")
		require.NoError(t, err)
		_, err = b.svc.Track(ctx, contacts.ByID(c3.ID), contacts.NewActivity{Kind: contacts.KindPurchase,
			Purchase: &contacts.Purchase{OrderID: "1", Total: core.MoneyFromMinor(1999, "EUR")}})
		require.NoError(t, err)

		var buf bytes.Buffer
		n, err := b.svc.ExportCSV(ctx, &buf, contacts.ExportOptions{Filter: filter.Eq("attributes.plan", "pro")})
		require.NoError(t, err)
		require.Equal(t, int64(5), n)
		records, err := csv.NewReader(&buf).ReadAll()
		require.NoError(t, err)
		require.Len(t, records, 6, "a header and one row per contact, across pages of 4")
		header := records[0]
		require.Equal(t, contacts.CSVColumns, header[:len(contacts.CSVColumns)])
		require.Equal(t, []string{"attributes.budget", "attributes.plan", "other_attributes"}, header[len(contacts.CSVColumns):])
		col := func(row []string, name string) string {
			for i, h := range header {
				if h == name {
					return row[i]
				}
			}
			t.Fatalf("no column %s", name)
			return ""
		}
		row3 := records[2] // c01, c03, c05, … in creation order
		require.Equal(t, "c03@example.com", col(row3, "email"))
		require.Equal(t, "a|b", col(row3, "tags"))
		require.Equal(t, "shop:3", col(row3, "external_ids"))
		require.Equal(t, "12.50 EUR", col(row3, "attributes.budget"))
		require.Equal(t, "pro", col(row3, "attributes.plan"))
		require.JSONEq(t, `{"note":"n3"}`, col(row3, "other_attributes"))
		require.Equal(t, "1", col(row3, "purchase_count"))
		require.Equal(t, "19.99", col(row3, "purchase_total"))
		require.Equal(t, "=cmd|' /C calc'!A0", col(row3, "first_name"), "a faithful copy by default")

		buf.Reset()
		_, err = b.svc.ExportCSV(ctx, &buf, contacts.ExportOptions{EscapeFormulas: true})
		require.NoError(t, err)
		require.Contains(t, buf.String(), `'=cmd|`)
		require.Contains(t, buf.String(), `'+49 30 1`)

		buf.Reset()
		n, err = b.svc.ExportJSONL(ctx, &buf, contacts.ExportOptions{})
		require.NoError(t, err)
		require.Equal(t, int64(11), n)
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		require.Len(t, lines, 11)
		var first contacts.Contact
		require.NoError(t, json.Unmarshal([]byte(lines[0]), &first))
		require.Equal(t, "c00@example.com", first.Email)

		_, err = b.svc.ExportCSV(ctx, &buf, contacts.ExportOptions{Filter: filter.Eq("nope", 1)})
		require.ErrorIs(t, err, core.ErrInvalid)
	})
}
