package contacts_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
)

// Text PostgreSQL cannot store (a NUL byte, invalid UTF-8) is refused with
// ErrInvalid by every method that takes text, on both databases alike; no
// driver error reaches the caller.
func TestBadTextNeverReachesTheDriver(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		c, err := b.svc.Create(ctx, contacts.NewContact{Email: "ok@example.com"})
		require.NoError(t, err)
		for _, bad := range []string{"a\x00b", "\xff\xfe", "ok@example.com\x00"} {
			calls := map[string]func() error{
				"GetByEmail": func() error { _, err := b.svc.GetByEmail(ctx, bad); return err },
				"GetByExternalID source": func() error {
					_, err := b.svc.GetByExternalID(ctx, bad, "1")
					return err
				},
				"GetByExternalID id": func() error { _, err := b.svc.GetByExternalID(ctx, "shop", bad); return err },
				"GetByDomain":        func() error { _, err := b.companies.GetByDomain(ctx, bad); return err },
				"Create":             func() error { _, err := b.svc.Create(ctx, contacts.NewContact{FirstName: bad}); return err },
				"Create tag": func() error {
					_, err := b.svc.Create(ctx, contacts.NewContact{Email: "x@example.com", Tags: []string{bad}})
					return err
				},
				"Create attribute": func() error {
					_, err := b.svc.Create(ctx, contacts.NewContact{Email: "x@example.com", Attributes: map[string]any{"note": bad}})
					return err
				},
				"Upsert": func() error { _, _, err := b.svc.Upsert(ctx, contacts.NewContact{Email: bad}); return err },
				"Update": func() error {
					_, err := b.svc.Update(ctx, c.ID, contacts.ContactPatch{Version: c.Version, OwnerID: &bad})
					return err
				},
				"LinkExternalID": func() error {
					_, err := b.svc.LinkExternalID(ctx, c.ID, contacts.ExternalID{Source: "shop", ID: bad})
					return err
				},
				"CreateCompany": func() error { _, err := b.companies.Create(ctx, contacts.NewCompany{Name: bad}); return err },
				"filter field": func() error {
					_, err := b.svc.List(ctx, contacts.ListOptions{Filter: filter.Eq("first_name", bad)})
					return err
				},
				"filter attribute": func() error { _, err := b.svc.Count(ctx, filter.Contains("attributes.note", bad)); return err },
				"filter tag":       func() error { _, err := b.svc.Count(ctx, filter.In("tags", "ok", bad)); return err },
			}
			for name, call := range calls {
				err := call()
				require.ErrorIs(t, err, core.ErrInvalid, "%s with %q: %v", name, bad, err)
			}
		}
		got, err := b.svc.Get(ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, c, got)
	})
}
