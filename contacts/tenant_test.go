package contacts_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
)

// Tenant B reaches none of tenant A's rows through any public method:
// reads find nothing, writes refer to nothing, and A's rows stay as they were.
func TestTenantIsolation(t *testing.T) {
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		aContacts, aCompanies := b.forTenant("tenant-a")
		bContacts, bCompanies := b.forTenant("tenant-b")

		co, err := aCompanies.Create(ctx, contacts.NewCompany{Name: "A Corp", Domain: "a.example"})
		require.NoError(t, err)
		ada, err := aContacts.Create(ctx, contacts.NewContact{Email: "ada@a.example", FirstName: "Ada", CompanyID: &co.ID,
			Tags: []string{"vip"}, ExternalIDs: []contacts.ExternalID{{Source: "shop", ID: "1"}}})
		require.NoError(t, err)

		// Each row: a call through tenant B and what it must return.
		cases := []struct {
			name string
			call func() error
			want error // nil: must succeed without touching A
		}{
			{"Get", func() error { _, err := bContacts.Get(ctx, ada.ID); return err }, core.ErrNotFound},
			{"GetByEmail", func() error { _, err := bContacts.GetByEmail(ctx, ada.Email); return err }, core.ErrNotFound},
			{"GetByExternalID", func() error { _, err := bContacts.GetByExternalID(ctx, "shop", "1"); return err }, core.ErrNotFound},
			{"Update", func() error {
				_, err := bContacts.Update(ctx, ada.ID, contacts.ContactPatch{Version: ada.Version, FirstName: ptr("Eve")})
				return err
			}, core.ErrNotFound},
			{"Delete", func() error { return bContacts.Delete(ctx, ada.ID) }, core.ErrNotFound},
			{"LinkExternalID", func() error {
				_, err := bContacts.LinkExternalID(ctx, ada.ID, contacts.ExternalID{Source: "x", ID: "y"})
				return err
			}, core.ErrNotFound},
			{"List", func() error {
				page, err := bContacts.List(ctx, contacts.ListOptions{})
				if err == nil && len(page.Items) != 0 {
					t.Errorf("List of tenant B returned %d contacts", len(page.Items))
				}
				return err
			}, nil},
			{"List by email", func() error {
				page, err := bContacts.List(ctx, contacts.ListOptions{Filter: filter.Eq("email", ada.Email)})
				if err == nil && len(page.Items) != 0 {
					t.Errorf("List of tenant B found A's contact")
				}
				return err
			}, nil},
			{"Count", func() error {
				n, err := bContacts.Count(ctx, filter.Expr{})
				if err == nil && n != 0 {
					t.Errorf("Count of tenant B is %d", n)
				}
				return err
			}, nil},
			{"Create with A's company", func() error {
				_, err := bContacts.Create(ctx, contacts.NewContact{Email: "eve@b.example", CompanyID: &co.ID})
				return err
			}, core.ErrInvalid},
			// Upsert with A's email and external id makes a new contact in B
			// and leaves A's alone.
			{"Upsert over A's keys", func() error {
				c, created, err := bContacts.Upsert(ctx, contacts.NewContact{Email: ada.Email, FirstName: "Eve",
					ExternalIDs: []contacts.ExternalID{{Source: "shop", ID: "1"}}})
				if err == nil && (!created || c.ID == ada.ID) {
					t.Errorf("Upsert in tenant B touched A's contact")
				}
				return err
			}, nil},
			{"GetCompany", func() error { _, err := bCompanies.Get(ctx, co.ID); return err }, core.ErrNotFound},
			{"GetCompanyByDomain", func() error { _, err := bCompanies.GetByDomain(ctx, "a.example"); return err }, core.ErrNotFound},
			{"UpdateCompany", func() error {
				_, err := bCompanies.Update(ctx, co.ID, contacts.CompanyPatch{Version: co.Version, Name: ptr("Mine")})
				return err
			}, core.ErrNotFound},
			{"DeleteCompany", func() error { return bCompanies.Delete(ctx, co.ID) }, core.ErrNotFound},
			{"ListCompanies", func() error {
				page, err := bCompanies.List(ctx, contacts.CompanyListOptions{})
				if err == nil && len(page.Items) != 0 {
					t.Errorf("ListCompanies of tenant B returned %d", len(page.Items))
				}
				return err
			}, nil},
		}
		for _, tc := range cases {
			err := tc.call()
			if tc.want == nil {
				require.NoError(t, err, tc.name)
			} else {
				require.ErrorIs(t, err, tc.want, tc.name)
			}
		}

		// A's rows are exactly as they were.
		got, err := aContacts.Get(ctx, ada.ID)
		require.NoError(t, err)
		require.Equal(t, ada, got)
		gotCo, err := aCompanies.Get(ctx, co.ID)
		require.NoError(t, err)
		require.Equal(t, co, gotCo)
		n, err := aContacts.Count(ctx, filter.Expr{})
		require.NoError(t, err)
		require.Equal(t, int64(1), n)

		// A missing or malformed tenant is refused everywhere.
		for _, bad := range []string{"", "has space", "ünïcode", string(make([]byte, 65))} {
			s, _ := b.forTenant(bad)
			_, err := s.Get(ctx, ada.ID)
			require.ErrorIs(t, err, core.ErrInvalid)
			_, err = s.Create(ctx, contacts.NewContact{Email: "x@example.com"})
			require.ErrorIs(t, err, core.ErrInvalid)
			_, err = s.List(ctx, contacts.ListOptions{})
			require.ErrorIs(t, err, core.ErrInvalid)
			_, err = s.Count(ctx, filter.Expr{})
			require.ErrorIs(t, err, core.ErrInvalid)
		}
	})
}
