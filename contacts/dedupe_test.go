package contacts_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
)

func TestFindDuplicates(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		co, err := b.companies.Create(ctx, contacts.NewCompany{Name: "Acme"})
		require.NoError(t, err)
		mk := func(in contacts.NewContact) core.ID {
			c, err := b.svc.Create(ctx, in)
			require.NoError(t, err)
			return c.ID
		}
		gmail1 := mk(contacts.NewContact{Email: "ada.lovelace@gmail.com"})
		gmail2 := mk(contacts.NewContact{Email: "adalovelace+crm@googlemail.com"})
		tag1 := mk(contacts.NewContact{Email: "grace@navy.example"})
		tag2 := mk(contacts.NewContact{Email: "grace+news@navy.example"})
		phone1 := mk(contacts.NewContact{Phone: "+49 30 1234567"})
		phone2 := mk(contacts.NewContact{Phone: "030 / 123 45 67"})
		phone3 := mk(contacts.NewContact{Phone: "0049-30-1234567"})
		nc1 := mk(contacts.NewContact{FirstName: "Alan", LastName: "Turing", CompanyID: &co.ID})
		nc2 := mk(contacts.NewContact{FirstName: "ALAN", LastName: "turing", CompanyID: &co.ID})
		// Case folds beyond ASCII, alike on both databases.
		nc3 := mk(contacts.NewContact{FirstName: "JÜRGEN", LastName: "MÜLLER", CompanyID: &co.ID})
		nc4 := mk(contacts.NewContact{FirstName: "Jürgen", LastName: "Müller", CompanyID: &co.ID})
		sim1 := mk(contacts.NewContact{FirstName: "Jonathan", LastName: "Swift"})
		sim2 := mk(contacts.NewContact{FirstName: "Johnathan", LastName: "Swift"})
		sim3 := mk(contacts.NewContact{FirstName: "J.", LastName: "Swift"})
		// Not duplicates: other first letters, other people's emails and phones.
		mk(contacts.NewContact{FirstName: "Mary", LastName: "Swift"})
		mk(contacts.NewContact{Email: "grace@army.example"})
		mk(contacts.NewContact{Phone: "+44 20 1234567"})

		groups, err := b.svc.FindDuplicates(ctx, contacts.DuplicateOptions{DefaultCountryCode: "49"})
		require.NoError(t, err)
		byReason := map[string][][]core.ID{}
		for _, g := range groups {
			for _, r := range g.Reasons {
				byReason[r] = append(byReason[r], g.ContactIDs)
			}
		}
		require.Len(t, groups, 6, "%v", groups)
		require.Equal(t, 0.95, groups[0].Score, "strongest first")
		require.ElementsMatch(t, [][]core.ID{{gmail1, gmail2}, {tag1, tag2}}, byReason[contacts.ReasonEmail], "gmail dots and +tags; oldest first")
		require.Equal(t, [][]core.ID{{phone1, phone2, phone3}}, byReason[contacts.ReasonPhone])
		require.ElementsMatch(t, [][]core.ID{{nc1, nc2}, {nc3, nc4}}, byReason[contacts.ReasonNameCompany])
		require.ElementsMatch(t, [][]core.ID{{nc1, nc2}, {sim1, sim2, sim3}}, byReason[contacts.ReasonSimilarName])
		for _, g := range groups {
			if len(g.Reasons) == 2 {
				require.Equal(t, 0.85, g.Score, "a group scores by its strongest reason")
			}
		}

		// Without a country code, the national number stands alone.
		groups, err = b.svc.FindDuplicates(ctx, contacts.DuplicateOptions{})
		require.NoError(t, err)
		phones := 0
		for _, g := range groups {
			if g.Reasons[0] == contacts.ReasonPhone {
				phones++
				require.Equal(t, []core.ID{phone1, phone3}, g.ContactIDs)
			}
		}
		require.Equal(t, 1, phones)
		// Duplicates merge into the oldest.
		_, err = b.svc.Merge(ctx, sim1, sim2, sim3)
		require.NoError(t, err)
		groups, err = b.svc.FindDuplicates(ctx, contacts.DuplicateOptions{Limit: 1})
		require.NoError(t, err)
		require.Len(t, groups, 1)
		_, err = b.svc.FindDuplicates(ctx, contacts.DuplicateOptions{DefaultCountryCode: "+49"})
		require.ErrorIs(t, err, core.ErrInvalid)

		// Another tenant's lookalikes are not this tenant's duplicates.
		other, _ := b.forTenant("other")
		_, err = other.Create(ctx, contacts.NewContact{Email: "ada.lovelace+x@gmail.com"})
		require.NoError(t, err)
		groups, err = other.FindDuplicates(ctx, contacts.DuplicateOptions{})
		require.NoError(t, err)
		require.Empty(t, groups)
	})
}
