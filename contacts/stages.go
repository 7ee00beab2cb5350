package contacts

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// The stage history (crm_contact_stages) is kept from the module's own
// events, in the transaction that appends them: "contact.created" opens
// the contact's first stage, "contact.updated" with lifecycle_stage among
// the changed fields closes the open one and opens the next. One hook on
// every append (store.Hooks.OnAppend) serves single writes and bulk
// imports alike (one multi-row insert per import batch).

// recordStages writes the stage history of evs.
func recordStages(ctx context.Context, tx *store.Tx, evs []core.Event) error {
	var rows [][]any
	for _, ev := range evs {
		var c *Contact
		switch ev.Type {
		case EventContactCreated:
			var x Contact
			if err := json.Unmarshal(ev.Data, &x); err != nil {
				return err
			}
			c = &x
		case EventContactUpdated:
			var u ContactUpdated
			if err := json.Unmarshal(ev.Data, &u); err != nil {
				return err
			}
			if u.Contact == nil || !slices.Contains(u.Changed, "lifecycle_stage") {
				continue
			}
			c = u.Contact
			if _, err := tx.Q().Exec(ctx, `UPDATE crm_contact_stages SET left_at = ? WHERE tenant_id = ? AND contact_id = ? AND left_at IS NULL`,
				ev.OccurredAt, ev.TenantID, c.ID); err != nil {
				return err
			}
		default:
			continue
		}
		rows = append(rows, []any{ev.TenantID, core.NewID(), c.ID, string(c.LifecycleStage), ev.OccurredAt})
	}
	if len(rows) == 0 {
		return nil
	}
	return tx.InsertRows(ctx, "crm_contact_stages", []string{"tenant_id", "id", "contact_id", "stage", "entered_at"}, rows)
}

// StageVisit is one stay of a contact in a lifecycle stage.
type StageVisit struct {
	Stage     Stage      `json:"stage"`
	EnteredAt time.Time  `json:"entered_at"`
	LeftAt    *time.Time `json:"left_at,omitempty"`
}
