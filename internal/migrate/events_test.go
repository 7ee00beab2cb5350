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

// Events stored before 0016 get the contact they are about from their
// subject or payload: a contact's own, an activity's or note's
// (contact_id), a task's (task.contact_id), a deal's (deal.contact_id);
// events about no person keep none.
func TestEventContactBackfill(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		d, err := dialect.For(db)
		require.NoError(t, err)
		migrateBelow(t, db, d, 16)
		person := core.NewID()
		now := d.Time(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		events := map[string]struct {
			subjectType string
			subject     core.ID
			data        string
			want        *core.ID
		}{
			"contact.created":    {"contact", person, `{"email":"a@example.com"}`, &person},
			"activity.tracked":   {"activity", core.NewID(), `{"contact_id":"` + person.String() + `"}`, &person},
			"task.created":       {"task", core.NewID(), `{"task":{"contact_id":"` + person.String() + `"}}`, &person},
			"deal.stage_changed": {"deal", core.NewID(), `{"deal":{"contact_id":"` + person.String() + `"}}`, &person},
			"pipeline.created":   {"pipeline", core.NewID(), `{"id":"x"}`, nil},
			"note.created":       {"note", core.NewID(), `{"contact_id":"not an id"}`, nil},
		}
		ids := map[string]core.ID{}
		for typ, ev := range events {
			ids[typ] = core.NewID()
			_, err := db.DB.ExecContext(ctx, d.Rebind(`INSERT INTO crm_events (tenant_id, id, type, subject_type, subject_id, actor_id, occurred_at, data)
				VALUES ('a', ?, ?, ?, ?, '', ?, ?)`), ids[typ], typ, ev.subjectType, ev.subject, now, ev.data)
			require.NoError(t, err)
		}
		_, err = migrate.Up(ctx, db, modules.Migrations())
		require.NoError(t, err)
		for typ, ev := range events {
			var got *core.ID
			require.NoError(t, db.DB.QueryRowContext(ctx, d.Rebind(`SELECT contact_id FROM crm_events WHERE tenant_id = 'a' AND id = ?`), ids[typ]).Scan(&got))
			require.Equal(t, ev.want, got, typ)
		}
	})
}
