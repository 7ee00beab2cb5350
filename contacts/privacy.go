package contacts

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// personalData is what this package keeps about a contact, for the
// privacy registry (consent.Export and consent.Erase use it): the contact
// with its external ids and facts, its activities, notes and tasks, and
// the contacts merged into it — each section exported and erased on its
// own, so that a legal hold can keep one. The module declares it.
func personalData() []store.PersonalData {
	var out []store.PersonalData
	// The stages a contact went through: no personal data of their own
	// (stage names and times), exported with the person and deleted with
	// the contact.
	out = append(out, store.PersonalData{Name: "stages", Tables: []string{"crm_contact_stages"},
		Export: func(ctx context.Context, sc store.Scope, id core.ID) (any, error) {
			tenant, _ := sc.Tenant()
			rows, err := sc.Q().Query(ctx, `SELECT stage, entered_at, left_at FROM crm_contact_stages WHERE tenant_id = ? AND contact_id = ?
				ORDER BY entered_at, id`, tenant, id)
			if err != nil {
				return nil, err
			}
			out := []StageVisit{}
			err = store.EachRow(rows, func(r store.Scanner) error {
				var v StageVisit
				var stage string
				var left sql.NullTime
				if err := r.Scan(&stage, &v.EnteredAt, &left); err != nil {
					return err
				}
				v.Stage, v.EnteredAt = Stage(stage), v.EnteredAt.UTC()
				if left.Valid {
					t := left.Time.UTC()
					v.LeftAt = &t
				}
				out = append(out, v)
				return nil
			})
			return out, err
		}})
	// exec runs statements that take (tenant, contact id).
	exec := func(ctx context.Context, sc store.Scope, id core.ID, stmts ...string) error {
		tenant, _ := sc.Tenant()
		for _, stmt := range stmts {
			if _, err := sc.Q().Exec(ctx, stmt, tenant, id); err != nil {
				return err
			}
		}
		return nil
	}
	out = append(out, store.PersonalData{Name: "contact",
		Tables: []string{"crm_contacts", "crm_contact_external_ids", "crm_search"},
		Export: func(ctx context.Context, sc store.Scope, id core.ID) (any, error) {
			tenant, _ := sc.Tenant()
			c, err := sqlRepository{}.getContact(ctx, sc.Q(), tenant, "c.id = ?", id)
			if errors.Is(err, core.ErrNotFound) {
				return nil, nil
			}
			return c, err
		},
		// The contact row stays, anonymous, so that what refers to it
		// (purchases, deal counts) still adds up; everything personal goes,
		// and an erased contact is nobody's lead any more (stage other).
		// Its stored customer scores (RFM, churn risk) are a profile of
		// the person: they go too, and the row is marked erased so that
		// SetCustomerScores stores none on it again.
		Erase: func(ctx context.Context, sc store.Scope, s store.Subject) error {
			tenant, _ := sc.Tenant()
			if _, err := sc.Q().Exec(ctx, `UPDATE crm_contacts SET email = '', phone = '', first_name = '', last_name = '', tags = '[]',
				attributes = '{}', lifecycle_stage = 'other', `+clearCustomerScores+`, erased = TRUE, updated_at = ?, version = version + 1
				WHERE tenant_id = ? AND id = ?`,
				sc.Runtime().Now(), tenant, s.ContactID); err != nil {
				return err
			}
			return exec(ctx, sc, s.ContactID,
				`DELETE FROM crm_contact_external_ids WHERE tenant_id = ? AND contact_id = ?`,
				`DELETE FROM crm_search WHERE tenant_id = ? AND entity = 'contact' AND entity_id = ?`)
		}})
	// list registers the rows of table (alias a) about the contact.
	list := func(name, table, alias, columns, order string, scan func(scanner) (any, error), erase func(ctx context.Context, sc store.Scope, s store.Subject) error) {
		out = append(out, store.PersonalData{Name: name, Tables: []string{table}, Erase: erase,
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
	// ofContact selects the ids of a table's rows about the contact, for
	// store.EmptyEventsOf.
	ofContact := func(ctx context.Context, sc store.Scope, table string, id core.ID) error {
		tenant, _ := sc.Tenant()
		return store.EmptyEventsOf(ctx, sc, `SELECT x.id FROM `+table+` x WHERE x.tenant_id = ? AND x.contact_id = ?`, tenant, id)
	}
	// Activities keep kind, time and purchase amounts (revenue), and their
	// name scrubbed of the person ("Re: your quote, [erased]").
	list("activities", "crm_activities", "a", activityColumns, "a.occurred_at, a.id", func(r scanner) (any, error) { return scanActivity(r) },
		func(ctx context.Context, sc store.Scope, s store.Subject) error {
			if err := ofContact(ctx, sc, "crm_activities", s.ContactID); err != nil {
				return err
			}
			if err := store.EmptyEventsNaming(ctx, sc, s, "activity"); err != nil {
				return err
			}
			if err := scrubColumns(ctx, sc, s, "crm_activities", nil, "name"); err != nil {
				return err
			}
			return exec(ctx, sc, s.ContactID, `UPDATE crm_activities SET properties = '{}', items = NULL, idempotency_key = ''
				WHERE tenant_id = ? AND contact_id = ?`)
		})
	list("notes", "crm_notes", "n", noteColumns, "n.created_at, n.id", func(r scanner) (any, error) { return scanNote(r) },
		func(ctx context.Context, sc store.Scope, s store.Subject) error {
			if err := ofContact(ctx, sc, "crm_notes", s.ContactID); err != nil {
				return err
			}
			if err := store.EmptyEventsNaming(ctx, sc, s, "note"); err != nil {
				return err
			}
			return exec(ctx, sc, s.ContactID, `UPDATE crm_notes SET body = '[erased]' WHERE tenant_id = ? AND contact_id = ?`)
		})
	// Tasks keep their work, scrubbed of the person.
	list("tasks", "crm_tasks", "t", taskColumns, "t.created_at, t.id", func(r scanner) (any, error) { return scanTask(r) },
		func(ctx context.Context, sc store.Scope, s store.Subject) error {
			if err := ofContact(ctx, sc, "crm_tasks", s.ContactID); err != nil {
				return err
			}
			// Tasks once about the person (deleted, or unlinked since) are
			// found by their events.
			ids, err := store.RecordsNaming(ctx, sc, s, "task")
			if err != nil {
				return err
			}
			if err := store.EmptyEventsAbout(ctx, sc, ids); err != nil {
				return err
			}
			return scrubColumns(ctx, sc, s, "crm_tasks", ids, "title", "description")
		})
	out = append(out, store.PersonalData{Name: "merged_contacts", Tables: []string{"crm_contact_merges"},
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
		},
		// The contacts merged into this one: their snapshots and events.
		Erase: func(ctx context.Context, sc store.Scope, s store.Subject) error {
			tenant, _ := sc.Tenant()
			if err := store.EmptyEventsOf(ctx, sc, `SELECT m.loser_id FROM crm_contact_merges m WHERE m.tenant_id = ? AND m.winner_id = ?`,
				tenant, s.ContactID); err != nil {
				return err
			}
			return exec(ctx, sc, s.ContactID, `UPDATE crm_contact_merges SET snapshot = '{}' WHERE tenant_id = ? AND winner_id = ?`)
		}})
	return out
}

// scrubColumns scrubs the subject's texts out of the text columns of
// table's rows about the subject's contact and of the rows ids, writing
// only the rows that change.
func scrubColumns(ctx context.Context, sc store.Scope, s store.Subject, table string, ids []core.ID, columns ...string) error {
	tenant, _ := sc.Tenant()
	q := sc.Q()
	type row struct {
		id   core.ID
		vals []any
	}
	seen := map[core.ID]bool{}
	var changed []row
	read := func(where string, args ...any) error {
		rows, err := q.Query(ctx, `SELECT x.id, x.`+strings.Join(columns, ", x.")+` FROM `+table+` x WHERE x.tenant_id = ? AND `+where,
			append([]any{tenant}, args...)...)
		if err != nil {
			return err
		}
		return store.EachRow(rows, func(r store.Scanner) error {
			var id core.ID
			texts := make([]string, len(columns))
			dest := []any{&id}
			for i := range texts {
				dest = append(dest, &texts[i])
			}
			if err := r.Scan(dest...); err != nil || seen[id] {
				return err
			}
			seen[id] = true
			differ := false
			vals := make([]any, len(texts))
			for i, t := range texts {
				vals[i] = s.Scrub(t)
				differ = differ || vals[i] != t
			}
			if differ {
				changed = append(changed, row{id, vals})
			}
			return nil
		})
	}
	if err := read("x.contact_id = ?", s.ContactID); err != nil {
		return err
	}
	if len(ids) > 0 {
		if err := read(q.D.InList("x.id", "uuid"), q.D.IDsArg(ids)); err != nil {
			return err
		}
	}
	for _, r := range changed {
		if _, err := q.Exec(ctx, `UPDATE `+table+` SET `+strings.Join(columns, " = ?, ")+` = ? WHERE tenant_id = ? AND id = ?`,
			append(r.vals, tenant, r.id)...); err != nil {
			return err
		}
	}
	return nil
}
