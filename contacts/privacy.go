package contacts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// RegisterPersonalData registers what this package keeps about a contact
// with the privacy registry (consent.Export reads it): the contact with its
// external ids and facts, its activities, notes and tasks, and the contacts
// merged into it. The crm facade calls it once per CRM.
func RegisterPersonalData(rt *store.Runtime) {
	rt.RegisterPersonalData(store.PersonalData{Name: "contact",
		Tables: []string{"crm_contacts", "crm_contact_external_ids", "crm_search"},
		Export: func(ctx context.Context, sc store.Scope, id core.ID) (any, error) {
			tenant, _ := sc.Tenant()
			c, err := sqlRepository{}.getContact(ctx, sc.Q(), tenant, "c.id = ?", id)
			if errors.Is(err, core.ErrNotFound) {
				return nil, nil
			}
			return c, err
		}})
	// list registers the rows of table (alias a) about the contact.
	list := func(name, table, alias, columns, order string, scan func(scanner) (any, error)) {
		rt.RegisterPersonalData(store.PersonalData{Name: name, Tables: []string{table},
			Export: func(ctx context.Context, sc store.Scope, id core.ID) (any, error) {
				tenant, _ := sc.Tenant()
				rows, err := sc.Q().Query(ctx, `SELECT `+columns+` FROM `+table+` `+alias+` WHERE `+alias+`.tenant_id = ? AND `+alias+`.contact_id = ?
					ORDER BY `+order, tenant, id)
				if err != nil {
					return nil, err
				}
				out := []any{}
				err = store.EachRow(rows, func(r store.Scanner) error {
					v, err := scan(r)
					out = append(out, v)
					return err
				})
				return out, err
			}})
	}
	list("activities", "crm_activities", "a", activityColumns, "a.occurred_at, a.id", func(r scanner) (any, error) { return scanActivity(r) })
	list("notes", "crm_notes", "n", noteColumns, "n.created_at, n.id", func(r scanner) (any, error) { return scanNote(r) })
	list("tasks", "crm_tasks", "t", taskColumns, "t.created_at, t.id", func(r scanner) (any, error) { return scanTask(r) })
	rt.RegisterPersonalData(store.PersonalData{Name: "merged_contacts", Tables: []string{"crm_contact_merges"},
		Export: func(ctx context.Context, sc store.Scope, id core.ID) (any, error) {
			tenant, _ := sc.Tenant()
			rows, err := sc.Q().Query(ctx, `SELECT snapshot FROM crm_contact_merges WHERE tenant_id = ? AND winner_id = ? ORDER BY merged_at`, tenant, id)
			if err != nil {
				return nil, err
			}
			out := []json.RawMessage{}
			err = store.EachRow(rows, func(r store.Scanner) error {
				var b []byte
				if err := r.Scan(&b); err != nil {
					return err
				}
				if !json.Valid(b) {
					return fmt.Errorf("merge snapshot is not JSON")
				}
				out = append(out, json.RawMessage(b))
				return nil
			})
			return out, err
		}})
}
