package crm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/modules"
)

// migrated is the template database of these tests: crmkit's migrations and
// River's, run once per test binary (see dbtest.Template).
var migrated = &dbtest.Template{Name: "crm", Sources: modules.Migrations(), Migrate: func(ctx context.Context, db *bun.DB) error {
	c, err := crm.New(db, crm.Config{})
	if err != nil {
		return err
	}
	return c.Migrate(ctx)
}}

func newCRM(t *testing.T, db *bun.DB) *crm.CRM {
	t.Helper()
	c, err := crm.New(db, crm.Config{})
	require.NoError(t, err)
	require.NoError(t, c.Migrate(context.Background()))
	return c
}

func count(t *testing.T, c *crm.CRM) int64 {
	t.Helper()
	n, err := c.Contacts.Count(context.Background(), filter.Expr{})
	require.NoError(t, err)
	return n
}

// The host's order and the CRM update commit together or not at all, and
// crmkit never ends the host's transaction.
func TestHostTransaction(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := newCRM(t, db)
		_, err := db.ExecContext(ctx, "CREATE TABLE shop_orders (id INTEGER PRIMARY KEY, customer TEXT NOT NULL)")
		require.NoError(t, err)
		orders := func() int {
			var n int
			require.NoError(t, db.NewSelect().Table("shop_orders").ColumnExpr("count(*)").Scan(ctx, &n))
			return n
		}
		var delivered atomic.Int32
		c.Subscribe(func(ctx context.Context, ev core.Event) { delivered.Add(1) }, "contact.created")

		for _, commit := range []bool{false, true} {
			tx, err := db.BeginTx(ctx, nil)
			require.NoError(t, err)
			_, err = tx.ExecContext(ctx, "INSERT INTO shop_orders (id, customer) VALUES (?, ?)", map[bool]int{false: 1, true: 2}[commit], "ada")
			require.NoError(t, err)
			txc := c.WithTx(tx)
			_, err = txc.Contacts.Create(ctx, contacts.NewContact{Email: fmt.Sprintf("ada-%v@example.com", commit)})
			require.NoError(t, err)
			// A failing write inside the host's transaction leaves nothing
			// behind and does not poison the transaction.
			_, err = txc.Contacts.Create(ctx, contacts.NewContact{Email: fmt.Sprintf("ada-%v@example.com", commit)})
			require.ErrorIs(t, err, core.ErrConflict)
			// The transaction is still the host's, and still usable.
			_, err = tx.ExecContext(ctx, "UPDATE shop_orders SET customer = 'ada lovelace'")
			require.NoError(t, err)
			require.Zero(t, delivered.Load(), "no subscriber runs before the host commits")
			if commit {
				require.NoError(t, tx.Commit())
				txc.Committed(ctx)
			} else {
				require.NoError(t, tx.Rollback())
				txc.Discarded()
			}
		}
		require.Equal(t, 1, orders())
		require.Equal(t, int64(1), count(t, c))
		_, err = c.Contacts.GetByEmail(ctx, "ada-true@example.com")
		require.NoError(t, err)
		_, err = c.Contacts.GetByEmail(ctx, "ada-false@example.com")
		require.ErrorIs(t, err, core.ErrNotFound)
		require.Equal(t, int32(1), delivered.Load())
		evs, err := c.Events(ctx, crm.EventQuery{})
		require.NoError(t, err)
		require.Len(t, evs, 1, "the rolled-back change left no event")
	})
}

func TestInTx(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := newCRM(t, db)
		var seen []string
		var mu sync.Mutex
		c.Subscribe(func(ctx context.Context, ev core.Event) {
			// After commit: the change is visible outside the transaction.
			_, err := c.Contacts.Get(ctx, ev.SubjectID)
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, fmt.Sprintf("%s:%v", ev.Type, err == nil))
		})

		boom := errors.New("boom")
		err := c.InTx(ctx, func(ctx context.Context, tx *crm.CRM) error {
			if _, err := tx.Contacts.Create(ctx, contacts.NewContact{Email: "a@example.com"}); err != nil {
				return err
			}
			return boom
		})
		require.ErrorIs(t, err, boom)
		require.Zero(t, count(t, c))
		require.Empty(t, seen, "a rolled-back change calls no subscriber")

		require.Panics(t, func() {
			_ = c.InTx(ctx, func(ctx context.Context, tx *crm.CRM) error {
				_, _ = tx.Contacts.Create(ctx, contacts.NewContact{Email: "p@example.com"})
				panic("host bug")
			})
		})
		require.Zero(t, count(t, c))

		err = c.InTx(ctx, func(ctx context.Context, tx *crm.CRM) error {
			a, err := tx.Contacts.Create(ctx, contacts.NewContact{Email: "a@example.com"})
			if err != nil {
				return err
			}
			// Reads inside see the transaction's own writes.
			if _, err := tx.Contacts.Get(ctx, a.ID); err != nil {
				return err
			}
			// A nested InTx is a savepoint: its failure undoes only itself.
			inner := tx.InTx(ctx, func(ctx context.Context, tx *crm.CRM) error {
				_, _ = tx.Contacts.Create(ctx, contacts.NewContact{Email: "inner@example.com"})
				return boom
			})
			if !errors.Is(inner, boom) {
				return fmt.Errorf("inner: %v", inner)
			}
			_, err = tx.Contacts.Create(ctx, contacts.NewContact{Email: "b@example.com"})
			return err
		})
		require.NoError(t, err)
		require.Equal(t, int64(2), count(t, c))
		require.Equal(t, []string{"contact.created:true", "contact.created:true"}, seen)
	})
}

func TestBeforeHookVetoes(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := newCRM(t, db)
		errBlocked := errors.New("blocked domain")
		remove := c.Before(func(ctx context.Context, tx *crm.CRM, ev core.Event) error {
			if ev.Type == "contact.created" && bytes.Contains(ev.Data, []byte("@blocked.example")) {
				return errBlocked
			}
			return nil
		}, "contact.*")
		var after atomic.Int32
		c.Subscribe(func(context.Context, core.Event) { after.Add(1) })

		_, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "x@blocked.example", ExternalIDs: []contacts.ExternalID{{Source: "s", ID: "1"}}})
		require.ErrorIs(t, err, errBlocked)
		require.Zero(t, count(t, c))
		_, err = c.Contacts.GetByExternalID(ctx, "s", "1")
		require.ErrorIs(t, err, core.ErrNotFound)
		evs, err := c.Events(ctx, crm.EventQuery{})
		require.NoError(t, err)
		require.Empty(t, evs)
		require.Zero(t, after.Load())

		// A hook writes in the change's transaction through tx.
		remove()
		c.Before(func(ctx context.Context, tx *crm.CRM, ev core.Event) error {
			_, err := tx.Companies.Create(ctx, contacts.NewCompany{Name: "Made by hook " + ev.SubjectID.String()})
			return err
		}, "contact.created")
		_, err = c.Tenant("acme").Contacts.Create(ctx, contacts.NewContact{Email: "ok@example.com"})
		require.NoError(t, err)
		page, err := c.Tenant("acme").Companies.List(ctx, contacts.CompanyListOptions{})
		require.NoError(t, err)
		require.Len(t, page.Items, 1, "the hook wrote in the event's tenant")
		page, err = c.Companies.List(ctx, contacts.CompanyListOptions{})
		require.NoError(t, err)
		require.Empty(t, page.Items)
	})
}

// The events of one subject keep the order of its changes.
func TestEventsKeepOrder(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := newCRM(t, db)
		a, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "a@example.com"})
		require.NoError(t, err)
		other, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "b@example.com"})
		require.NoError(t, err)
		for i := 1; i <= 20; i++ {
			a, err = c.Contacts.Update(ctx, a.ID, contacts.ContactPatch{Version: a.Version, OwnerID: ptr(fmt.Sprint("owner-", i))})
			require.NoError(t, err)
			_, _, err = c.Contacts.Upsert(ctx, contacts.NewContact{Email: other.Email, OwnerID: fmt.Sprint("x-", i)})
			require.NoError(t, err)
		}
		// A deletion empties the payloads (they are personal data) and
		// keeps the types and times.
		before, err := c.Events(ctx, crm.EventQuery{SubjectID: a.ID})
		require.NoError(t, err)
		require.NoError(t, c.Contacts.Delete(ctx, a.ID))
		evs, err := c.Events(ctx, crm.EventQuery{SubjectID: a.ID})
		require.NoError(t, err)
		require.Len(t, evs, 22)
		require.Equal(t, "contact.created", evs[0].Type)
		require.Equal(t, "contact.deleted", evs[21].Type)
		for i := 1; i <= 20; i++ {
			require.Equal(t, "contact.updated", evs[i].Type)
			require.Equal(t, before[i].ID, evs[i].ID)
			require.JSONEq(t, `{}`, string(evs[i].Data))
			var data struct {
				Contact contacts.Contact `json:"contact"`
				Changed []string         `json:"changed"`
			}
			require.NoError(t, json.Unmarshal(before[i].Data, &data))
			require.Equal(t, fmt.Sprint("owner-", i), data.Contact.OwnerID)
			require.Equal(t, int64(i+1), data.Contact.Version)
			require.Equal(t, []string{"owner_id"}, data.Changed)
			require.False(t, evs[i].OccurredAt.Before(evs[i-1].OccurredAt))
		}
		// Paging through events.
		first, err := c.Events(ctx, crm.EventQuery{SubjectID: a.ID, Limit: 10})
		require.NoError(t, err)
		rest, err := c.Events(ctx, crm.EventQuery{SubjectID: a.ID, After: first[9].ID})
		require.NoError(t, err)
		require.Equal(t, evs, append(first, rest...))
		deleted, err := c.Events(ctx, crm.EventQuery{Types: []string{"contact.deleted"}})
		require.NoError(t, err)
		require.Len(t, deleted, 1)
	})
}

func ptr[T any](v T) *T { return &v }
