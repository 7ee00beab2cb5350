package contacts_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
)

func ptr[T any](v T) *T { return &v }

func TestCreateAndGet(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := b.as(t, "user-7", access.RoleAdmin)
		co, err := b.companies.Create(ctx, contacts.NewCompany{Name: "Acme", Domain: "www.Acme.example"})
		require.NoError(t, err)
		require.Equal(t, "acme.example", co.Domain)

		in := contacts.NewContact{
			Email: " Ada@Example.COM ", Phone: "+49 30 123456", FirstName: " Ada ", LastName: "Lovelace",
			CompanyID: &co.ID, OwnerID: "user-7", Tags: []string{"vip", "newsletter", "vip", " "},
			Attributes:  map[string]any{"plan": "pro", "seats": 12, "beta": true},
			ExternalIDs: []contacts.ExternalID{{Source: "shop", ID: "c-1"}, {Source: "erp", ID: "4711"}},
		}
		c, err := b.svc.Create(ctx, in)
		require.NoError(t, err)
		require.Equal(t, "ada@example.com", c.Email)
		require.Equal(t, "Ada", c.FirstName)
		require.Equal(t, contacts.StageLead, c.LifecycleStage)
		require.Equal(t, []string{"vip", "newsletter"}, c.Tags)
		require.Equal(t, int64(1), c.Version)

		for name, get := range map[string]func() (*contacts.Contact, error){
			"id":          func() (*contacts.Contact, error) { return b.svc.Get(ctx, c.ID) },
			"email":       func() (*contacts.Contact, error) { return b.svc.GetByEmail(ctx, "ADA@example.com") },
			"external id": func() (*contacts.Contact, error) { return b.svc.GetByExternalID(ctx, "erp", "4711") },
		} {
			got, err := get()
			require.NoError(t, err, name)
			require.Equal(t, c.ID, got.ID, name)
			require.Equal(t, c.Email, got.Email)
			require.Equal(t, c.Phone, got.Phone)
			require.Equal(t, co.ID, *got.CompanyID)
			require.Equal(t, c.Tags, got.Tags)
			require.Equal(t, map[string]any{"plan": "pro", "seats": float64(12), "beta": true}, got.Attributes)
			require.Equal(t, []contacts.ExternalID{{Source: "erp", ID: "4711"}, {Source: "shop", ID: "c-1"}}, got.ExternalIDs)
			require.True(t, c.CreatedAt.Equal(got.CreatedAt), "created_at %v != %v", c.CreatedAt, got.CreatedAt)
			require.Equal(t, c.CreatedAt, got.CreatedAt)
		}

		_, err = b.svc.Get(ctx, core.NewID())
		require.ErrorIs(t, err, core.ErrNotFound)
		_, err = b.svc.GetByEmail(ctx, "nobody@example.com")
		require.ErrorIs(t, err, core.ErrNotFound)
		_, err = b.svc.GetByExternalID(ctx, "shop", "nope")
		require.ErrorIs(t, err, core.ErrNotFound)

		evs := b.events(t)
		require.Len(t, evs, 2)
		require.Equal(t, "contact.created", evs[1].Type)
		require.Equal(t, c.ID, evs[1].SubjectID)
		require.Equal(t, "user-7", evs[1].ActorID)
		var data contacts.Contact
		require.NoError(t, json.Unmarshal(evs[1].Data, &data))
		require.Equal(t, "ada@example.com", data.Email)
	})
}

func TestCreateRejectsBadInputWithoutWriting(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		cases := []struct {
			name   string
			in     contacts.NewContact
			fields []string
		}{
			{"bad email", contacts.NewContact{Email: "ada@"}, []string{"email"}},
			{"email with name", contacts.NewContact{Email: "Ada <ada@example.com>"}, []string{"email"}},
			{"email without dot", contacts.NewContact{Email: "ada@localhost"}, []string{"email"}},
			{"long email", contacts.NewContact{Email: strings.Repeat("a", 250) + "@example.com"}, []string{"email"}},
			{"nothing to identify", contacts.NewContact{OwnerID: "u1"}, []string{"contact"}},
			{"every problem at once", contacts.NewContact{
				Email: "x", Phone: "call me", FirstName: strings.Repeat("n", 201), LastName: "a\x00b",
				LifecycleStage: "champion", Tags: []string{strings.Repeat("t", 101)},
				Attributes:  map[string]any{"Bad Key": 1},
				ExternalIDs: []contacts.ExternalID{{Source: "Shop!", ID: ""}},
			}, []string{"email", "phone", "first_name", "last_name", "lifecycle_stage", "tags", "attributes", "external_ids"}},
			{"invalid utf-8", contacts.NewContact{FirstName: "\xff\xfe"}, []string{"first_name"}},
			{"unknown company", contacts.NewContact{Email: "x@example.com", CompanyID: ptr(core.NewID())}, []string{"company_id"}},
		}
		for _, tc := range cases {
			_, err := b.svc.Create(ctx, tc.in)
			require.ErrorIs(t, err, core.ErrInvalid, tc.name)
			var ve *core.ValidationError
			require.True(t, errors.As(err, &ve), tc.name)
			for _, f := range tc.fields {
				require.True(t, ve.Has(f), "%s: want a problem with %s in %v", tc.name, f, err)
			}
			require.True(t, strings.HasPrefix(err.Error(), "crm: "), err.Error())
		}
		n, err := b.svc.Count(ctx, filter.Expr{})
		require.NoError(t, err)
		require.Zero(t, n)
		require.Empty(t, b.events(t))
	})
}

func TestUniqueEmailAndExternalID(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		_, err := b.svc.Create(ctx, contacts.NewContact{Email: "ada@example.com", ExternalIDs: []contacts.ExternalID{{Source: "shop", ID: "1"}}})
		require.NoError(t, err)

		_, err = b.svc.Create(ctx, contacts.NewContact{Email: "ADA@example.com"})
		require.ErrorIs(t, err, core.ErrConflict)
		_, err = b.svc.Create(ctx, contacts.NewContact{Email: "other@example.com", ExternalIDs: []contacts.ExternalID{{Source: "shop", ID: "1"}}})
		require.ErrorIs(t, err, core.ErrConflict)
		n, err := b.svc.Count(ctx, filter.Expr{})
		require.NoError(t, err)
		require.Equal(t, int64(1), n, "a refused create writes nothing")
		_, err = b.svc.GetByEmail(ctx, "other@example.com")
		require.ErrorIs(t, err, core.ErrNotFound)

		// Contacts without email do not collide on "".
		for i := 0; i < 2; i++ {
			_, err := b.svc.Create(ctx, contacts.NewContact{FirstName: "Anonymous"})
			require.NoError(t, err)
		}
	})
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		c, err := b.svc.Create(ctx, contacts.NewContact{Email: "ada@example.com", FirstName: "Ada", Tags: []string{"a"},
			Attributes: map[string]any{"plan": "free", "seats": 1}})
		require.NoError(t, err)

		u, err := b.svc.Update(ctx, c.ID, contacts.ContactPatch{Version: c.Version, LastName: ptr("Lovelace"),
			LifecycleStage: ptr(contacts.StageCustomer), Attributes: map[string]any{"plan": "pro", "seats": nil, "region": "eu"}})
		require.NoError(t, err)
		require.Equal(t, int64(2), u.Version)
		require.Equal(t, "Ada", u.FirstName, "nil fields stay")
		require.Equal(t, "Lovelace", u.LastName)
		require.Equal(t, map[string]any{"plan": "pro", "region": "eu"}, u.Attributes)
		require.True(t, u.UpdatedAt.After(c.UpdatedAt))

		got, err := b.svc.Get(ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, u, got)

		// A patch that changes nothing keeps the version and emits nothing.
		before := len(b.events(t))
		same, err := b.svc.Update(ctx, c.ID, contacts.ContactPatch{Version: u.Version, FirstName: ptr("Ada")})
		require.NoError(t, err)
		require.Equal(t, u.Version, same.Version)
		require.Len(t, b.events(t), before)

		// Stale version.
		_, err = b.svc.Update(ctx, c.ID, contacts.ContactPatch{Version: c.Version, FirstName: ptr("Eve")})
		require.ErrorIs(t, err, core.ErrConflict)
		// Invalid patch: nothing written.
		_, err = b.svc.Update(ctx, c.ID, contacts.ContactPatch{Version: u.Version, Email: ptr("broken"), Phone: ptr("x")})
		require.ErrorIs(t, err, core.ErrInvalid)
		require.Contains(t, err.Error(), "email")
		require.Contains(t, err.Error(), "phone")
		got, err = b.svc.Get(ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, u, got)
		// Removing the company with a nil id.
		co, err := b.companies.Create(ctx, contacts.NewCompany{Name: "Acme"})
		require.NoError(t, err)
		withCo, err := b.svc.Update(ctx, c.ID, contacts.ContactPatch{Version: u.Version, CompanyID: &co.ID})
		require.NoError(t, err)
		require.Equal(t, co.ID, *withCo.CompanyID)
		noCo, err := b.svc.Update(ctx, c.ID, contacts.ContactPatch{Version: withCo.Version, CompanyID: &core.NilID})
		require.NoError(t, err)
		require.Nil(t, noCo.CompanyID)

		_, err = b.svc.Update(ctx, core.NewID(), contacts.ContactPatch{Version: 1})
		require.ErrorIs(t, err, core.ErrNotFound)

		updated, err := b.sc.Events(ctx, eventsOf(c.ID))
		require.NoError(t, err)
		require.Equal(t, []string{"contact.created", "contact.updated", "contact.updated", "contact.updated"}, types(updated))
	})
}

// Two writers holding the same version: exactly one wins, the other gets
// ErrConflict; no update is lost silently.
func TestConcurrentUpdatesConflict(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		c, err := b.svc.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
		require.NoError(t, err)
		const writers = 8
		var wg sync.WaitGroup
		errs := make([]error, writers)
		for i := 0; i < writers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = b.svc.Update(ctx, c.ID, contacts.ContactPatch{Version: c.Version, OwnerID: ptr(strings.Repeat("o", i+1))})
			}()
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			if err == nil {
				wins++
			} else {
				require.ErrorIs(t, err, core.ErrConflict)
			}
		}
		require.Equal(t, 1, wins)
		got, err := b.svc.Get(ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, int64(2), got.Version)
	})
}

func TestDelete(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		c, err := b.svc.Create(ctx, contacts.NewContact{Email: "ada@example.com", ExternalIDs: []contacts.ExternalID{{Source: "shop", ID: "1"}}})
		require.NoError(t, err)
		require.NoError(t, b.svc.Delete(ctx, c.ID))
		_, err = b.svc.Get(ctx, c.ID)
		require.ErrorIs(t, err, core.ErrNotFound)
		_, err = b.svc.GetByExternalID(ctx, "shop", "1")
		require.ErrorIs(t, err, core.ErrNotFound)
		require.ErrorIs(t, b.svc.Delete(ctx, c.ID), core.ErrNotFound)
		// The email and the external id are free again.
		_, err = b.svc.Create(ctx, contacts.NewContact{Email: "ada@example.com", ExternalIDs: []contacts.ExternalID{{Source: "shop", ID: "1"}}})
		require.NoError(t, err)
		evs, err := b.sc.Events(ctx, eventsOf(c.ID))
		require.NoError(t, err)
		require.Equal(t, []string{"contact.created", "contact.deleted"}, types(evs))
	})
}

func TestUpsert(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		in := contacts.NewContact{Email: "ada@example.com", FirstName: "Ada", Tags: []string{"shop"},
			ExternalIDs: []contacts.ExternalID{{Source: "shop", ID: "42"}}}
		c, created, err := b.svc.Upsert(ctx, in)
		require.NoError(t, err)
		require.True(t, created)

		// Idempotent: the same input again changes nothing, emits nothing.
		before := len(b.events(t))
		again, created, err := b.svc.Upsert(ctx, in)
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, c.ID, again.ID)
		require.Equal(t, c.Version, again.Version)
		require.Len(t, b.events(t), before)

		// Found by external id: given fields are set, others kept, tags and ids added.
		u, created, err := b.svc.Upsert(ctx, contacts.NewContact{Phone: "+1 555 0100", Tags: []string{"vip"},
			ExternalIDs: []contacts.ExternalID{{Source: "shop", ID: "42"}, {Source: "erp", ID: "E-1"}}})
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, c.ID, u.ID)
		require.Equal(t, "Ada", u.FirstName)
		require.Equal(t, "+1 555 0100", u.Phone)
		require.Equal(t, []string{"shop", "vip"}, u.Tags)
		require.Len(t, u.ExternalIDs, 2)

		// Found by email.
		e, created, err := b.svc.Upsert(ctx, contacts.NewContact{Email: "ADA@example.com", LastName: "Lovelace"})
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, c.ID, e.ID)
		require.Equal(t, "Lovelace", e.LastName)

		// Invalid input: nothing written.
		_, _, err = b.svc.Upsert(ctx, contacts.NewContact{Email: "nope"})
		require.ErrorIs(t, err, core.ErrInvalid)
		n, err := b.svc.Count(ctx, filter.Expr{})
		require.NoError(t, err)
		require.Equal(t, int64(1), n)
	})
}

// Many callers upserting the same new person at once end with one contact.
func TestConcurrentUpsertsMakeOneContact(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		var wg sync.WaitGroup
		errs := make([]error, 6)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, errs[i] = b.svc.Upsert(ctx, contacts.NewContact{Email: "race@example.com", Tags: []string{"t" + string(rune('a'+i))}})
			}()
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		n, err := b.svc.Count(ctx, filter.Expr{})
		require.NoError(t, err)
		require.Equal(t, int64(1), n)
		c, err := b.svc.GetByEmail(ctx, "race@example.com")
		require.NoError(t, err)
		require.Len(t, c.Tags, 6, "every upsert's tag arrived")
	})
}

func TestLinkExternalID(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		a, err := b.svc.Create(ctx, contacts.NewContact{Email: "a@example.com"})
		require.NoError(t, err)
		other, err := b.svc.Create(ctx, contacts.NewContact{Email: "b@example.com", ExternalIDs: []contacts.ExternalID{{Source: "shop", ID: "2"}}})
		require.NoError(t, err)
		l, err := b.svc.LinkExternalID(ctx, a.ID, contacts.ExternalID{Source: "shop", ID: "1"})
		require.NoError(t, err)
		require.Equal(t, []contacts.ExternalID{{Source: "shop", ID: "1"}}, l.ExternalIDs)
		again, err := b.svc.LinkExternalID(ctx, a.ID, contacts.ExternalID{Source: "shop", ID: "1"})
		require.NoError(t, err)
		require.Equal(t, l.Version, again.Version)
		_, err = b.svc.LinkExternalID(ctx, a.ID, contacts.ExternalID{Source: "shop", ID: "2"})
		require.ErrorIs(t, err, core.ErrConflict)
		got, err := b.svc.GetByExternalID(ctx, "shop", "2")
		require.NoError(t, err)
		require.Equal(t, other.ID, got.ID)
	})
}

func TestCompanies(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		co, err := b.companies.Create(ctx, contacts.NewCompany{Name: "Acme", Domain: "acme.example", Attributes: map[string]any{"size": 50}})
		require.NoError(t, err)
		_, err = b.companies.Create(ctx, contacts.NewCompany{Name: "Acme 2", Domain: "ACME.example"})
		require.ErrorIs(t, err, core.ErrConflict)
		_, err = b.companies.Create(ctx, contacts.NewCompany{Domain: "not a domain"})
		require.ErrorIs(t, err, core.ErrInvalid)
		require.Contains(t, err.Error(), "name is required")
		require.Contains(t, err.Error(), "domain")

		got, err := b.companies.GetByDomain(ctx, "https://www.acme.example/about")
		require.NoError(t, err)
		require.Equal(t, co.ID, got.ID)

		u, err := b.companies.Update(ctx, co.ID, contacts.CompanyPatch{Version: co.Version, Name: ptr("Acme GmbH")})
		require.NoError(t, err)
		require.Equal(t, int64(2), u.Version)
		_, err = b.companies.Update(ctx, co.ID, contacts.CompanyPatch{Version: co.Version, Name: ptr("Stale")})
		require.ErrorIs(t, err, core.ErrConflict)

		c, err := b.svc.Create(ctx, contacts.NewContact{Email: "a@acme.example", CompanyID: &co.ID})
		require.NoError(t, err)
		require.NoError(t, b.companies.Delete(ctx, co.ID))
		got2, err := b.svc.Get(ctx, c.ID)
		require.NoError(t, err)
		require.Nil(t, got2.CompanyID, "deleting a company unlinks its contacts")

		for i := 0; i < 5; i++ {
			_, err := b.companies.Create(ctx, contacts.NewCompany{Name: string(rune('E' - i))})
			require.NoError(t, err)
		}
		page, err := b.companies.List(ctx, contacts.CompanyListOptions{Limit: 3})
		require.NoError(t, err)
		require.Equal(t, []string{"A", "B", "C"}, companyNames(page.Items))
		page, err = b.companies.List(ctx, contacts.CompanyListOptions{Limit: 3, Cursor: page.Next})
		require.NoError(t, err)
		require.Equal(t, []string{"D", "E"}, companyNames(page.Items))
		require.Empty(t, page.Next)
	})
}

func companyNames(cs []*contacts.Company) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func types(evs []core.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}
