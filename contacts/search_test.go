package contacts_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
)

func titles(t *testing.T, hits []contacts.SearchHit, err error) []string {
	t.Helper()
	require.NoError(t, err)
	out := []string{}
	for _, h := range hits {
		out = append(out, h.Title)
	}
	return out
}

func TestSearch(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		acme, err := b.companies.Create(ctx, contacts.NewCompany{Name: "Acme Widgets", Domain: "acme-widgets.example"})
		require.NoError(t, err)
		ada, err := b.svc.Create(ctx, contacts.NewContact{FirstName: "Ada", LastName: "Lovelace", Email: "ada@analytical.example",
			Phone: "+44 20 7946 0958", CompanyID: &acme.ID, Tags: []string{"vip"}})
		require.NoError(t, err)
		_, err = b.svc.Create(ctx, contacts.NewContact{FirstName: "Adam", LastName: "Smith", Email: "adam@smith.example"})
		require.NoError(t, err)
		_, err = b.svc.Create(ctx, contacts.NewContact{FirstName: "Grace", LastName: "Hopper", Email: "grace@navy.example"})
		require.NoError(t, err)
		search := func(q string, opts ...contacts.SearchOptions) []string {
			o := contacts.SearchOptions{}
			if len(opts) > 0 {
				o = opts[0]
			}
			hits, err := b.svc.Search(ctx, q, o)
			return titles(t, hits, err)
		}

		require.ElementsMatch(t, []string{"Ada Lovelace", "Adam Smith"}, search("ada"), "a prefix")
		require.Equal(t, []string{"Ada Lovelace"}, search("ada lov"), "every word must match")
		require.Equal(t, []string{"Ada Lovelace"}, search("LOVELACE"), "case-insensitive")
		require.Equal(t, []string{"Ada Lovelace"}, search("analytical"), "the email's domain")
		require.Equal(t, []string{"Ada Lovelace"}, search("7946"), "the phone")
		require.Equal(t, []string{"Ada Lovelace"}, search("vip"), "a tag")
		require.ElementsMatch(t, []string{"Ada Lovelace", "Acme Widgets"}, search("acme"), "a company and its contacts")
		require.Equal(t, []string{"Acme Widgets"}, search("acme", contacts.SearchOptions{Entities: []string{"company"}}))
		require.Empty(t, search("zuse"))
		require.Equal(t, []string{"Ada Lovelace"}, search(`"ada"* | lov:* & ) lovel ( -:*`), "query syntax is not passed through")

		// Kept in sync with every change.
		u, err := b.svc.Update(ctx, ada.ID, contacts.ContactPatch{Version: ada.Version, LastName: ptr("King"), Tags: &[]string{}})
		require.NoError(t, err)
		require.Empty(t, search("lovelace"))
		require.Equal(t, []string{"Ada King"}, search("king"))
		require.Empty(t, search("vip"))
		acme2, err := b.companies.Update(ctx, acme.ID, contacts.CompanyPatch{Version: acme.Version, Name: ptr("Babbage Engines")})
		require.NoError(t, err)
		require.ElementsMatch(t, []string{"Ada King", "Babbage Engines"}, search("babbage"))
		// The old name leaves its contacts (the company keeps its domain).
		require.Empty(t, search("widgets", contacts.SearchOptions{Entities: []string{"contact"}}))
		require.Equal(t, []string{"Babbage Engines"}, search("widgets"))
		require.NoError(t, b.companies.Delete(ctx, acme2.ID))
		require.Empty(t, search("babbage"), "a deleted company, and its name on its contacts, are gone")
		require.NoError(t, b.svc.Delete(ctx, u.ID))
		require.Empty(t, search("king"))

		// Another tenant's records are never found.
		other, _ := b.forTenant("other")
		_, err = other.Create(ctx, contacts.NewContact{FirstName: "Grace", LastName: "Other", Email: "grace@other.example"})
		require.NoError(t, err)
		require.Equal(t, []string{"Grace Hopper"}, search("grace"))
		hits, err := other.Search(ctx, "hopper", contacts.SearchOptions{})
		require.Empty(t, titles(t, hits, err))

		for name, q := range map[string]string{"empty": "", "only punctuation": "@!*", "invalid text": "\xff"} {
			_, err := b.svc.Search(ctx, q, contacts.SearchOptions{})
			require.ErrorIs(t, err, core.ErrInvalid, name)
		}
		_, err = b.svc.Search(ctx, "ada", contacts.SearchOptions{Entities: []string{"deal"}, Limit: 1000})
		require.ErrorIs(t, err, core.ErrInvalid)
	})
}

// Rows written around crmkit (here by SQL) have no search documents until
// RebuildSearchIndex writes them; it also drops documents of records that
// are gone, leaves other tenants alone, and can run again.
func TestRebuildSearchIndex(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		acme, err := b.companies.Create(ctx, contacts.NewCompany{Name: "Acme Widgets", Domain: "acme-widgets.example"})
		require.NoError(t, err)
		ada, err := b.svc.Create(ctx, contacts.NewContact{FirstName: "Ada", LastName: "Lovelace", CompanyID: &acme.ID})
		require.NoError(t, err)
		otherSvc, _ := b.forTenant("other")
		_, err = otherSvc.Create(ctx, contacts.NewContact{FirstName: "Otto", LastName: "Other"})
		require.NoError(t, err)

		// Loaded around crmkit: a contact at Acme, and Ada deleted.
		q := b.sc.Q()
		_, err = q.Exec(ctx, `INSERT INTO crm_contacts (tenant_id, id, email, phone, first_name, last_name, company_id,
			lifecycle_stage, owner_id, tags, attributes, created_at, updated_at, version)
			VALUES ('default', ?, 'bulk@example.com', '', 'Bulk', 'Loaded', ?, 'lead', '', '["restored"]', '{}', ?, ?, 1)`,
			core.NewID(), acme.ID, b.clock.Now(), b.clock.Now())
		require.NoError(t, err)
		_, err = q.Exec(ctx, `DELETE FROM crm_contacts WHERE tenant_id = 'default' AND id = ?`, ada.ID)
		require.NoError(t, err)
		hits, err := b.svc.Search(ctx, "loaded", contacts.SearchOptions{})
		require.Empty(t, titles(t, hits, err))
		hits, err = b.svc.Search(ctx, "lovelace", contacts.SearchOptions{})
		require.Equal(t, []string{"Ada Lovelace"}, titles(t, hits, err))

		n, err := b.svc.RebuildSearchIndex(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(2), n, "the company and the loaded contact")
		hits, err = b.svc.Search(ctx, "restored acme", contacts.SearchOptions{})
		require.Equal(t, []string{"Bulk Loaded"}, titles(t, hits, err))
		hits, err = b.svc.Search(ctx, "lovelace", contacts.SearchOptions{})
		require.Empty(t, titles(t, hits, err))
		hits, err = otherSvc.Search(ctx, "otto", contacts.SearchOptions{})
		require.Equal(t, []string{"Otto Other"}, titles(t, hits, err))

		again, err := b.svc.RebuildSearchIndex(ctx)
		require.NoError(t, err)
		require.Equal(t, n, again)
		hits, err = b.svc.Search(ctx, "bulk", contacts.SearchOptions{})
		require.Equal(t, []string{"Bulk Loaded"}, titles(t, hits, err))
	})
}
