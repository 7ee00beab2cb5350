package migrate_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/migrate"
	"github.com/crmkit/crmkit/internal/modules"
)

// 0040 marks the contacts erased before it (an erasure receipt of their
// tenant whose identity is not held), so that no customer scores are
// stored on them; a contact whose identity a legal hold keeps, another
// tenant's receipt and a contact never erased stay unmarked.
func TestErasedContactsBackfill(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		d, err := dialect.For(db)
		require.NoError(t, err)
		migrateBelow(t, db, d, 40)
		now := d.Time(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		exec := func(q string, args ...any) {
			t.Helper()
			_, err := db.DB.ExecContext(ctx, d.Rebind(q), args...)
			require.NoError(t, err, q)
		}
		erased, held, otherTenants, kept := core.NewID(), core.NewID(), core.NewID(), core.NewID()
		for _, id := range []core.ID{erased, held, otherTenants, kept} {
			exec(`INSERT INTO crm_contacts (tenant_id, id, lifecycle_stage, tags, attributes, created_at, updated_at, version) VALUES ('a', ?, 'other', '[]', '{}', ?, ?, 1)`,
				id.String(), now, now)
		}
		receipt := func(tenant string, id core.ID, held string, until any) {
			exec(`INSERT INTO crm_erasures (tenant_id, contact_id, erased_at, reason, sections, held, hold_until) VALUES (?, ?, ?, 'request', '["contact"]', ?, ?)`,
				tenant, id.String(), now, held, until)
		}
		receipt("a", erased, "[]", nil)
		receipt("a", held, `["contact","events","activities"]`, d.Time(time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC)))
		receipt("b", otherTenants, "[]", nil)

		_, err = migrate.Up(ctx, db, modules.Migrations())
		require.NoError(t, err)
		for id, want := range map[core.ID]bool{erased: true, held: false, otherTenants: false, kept: false} {
			var got bool
			require.NoError(t, db.DB.QueryRowContext(ctx, d.Rebind(`SELECT erased FROM crm_contacts WHERE tenant_id = 'a' AND id = ?`), id.String()).Scan(&got))
			require.Equal(t, want, got, "%s", id)
		}
	})
}
