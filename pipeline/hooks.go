package pipeline

import (
	"context"
	"slices"

	"github.com/google/uuid"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/module"
	"github.com/crmkit/crmkit/internal/store"
)

// onContactMerge moves the losers' deals to the winner.
func onContactMerge(ctx context.Context, tx *store.Tx, tenant string, m module.ContactMerge) error {
	for _, loser := range m.LoserIDs {
		if err := relink(ctx, tx, tenant, "contact_id", loser, core.About(m.WinnerID)); err != nil {
			return err
		}
	}
	return nil
}

// onContactDelete unlinks a deleted contact's deals (the deals stay).
func onContactDelete(ctx context.Context, tx *store.Tx, tenant string, contactID core.ID) error {
	return relink(ctx, tx, tenant, "contact_id", contactID, nil)
}

// registerHooks registers the module's other hooks: deleting a company
// unlinks its deals, and a tracked activity updates its contact's
// predicted score when the tenant has a trained lead model.
func registerHooks(rt *store.Runtime) (remove func()) {
	// A tracked activity changes its contact's features: predict again.
	removeTracked := rt.Hooks.Before([]string{contacts.EventActivityTracked}, func(ctx context.Context, tx *store.Tx, ev core.Event) error {
		if ev.ContactID == nil {
			return nil
		}
		return newDeals(store.NewScope(rt).WithTenant(ev.TenantID).WithTx(tx)).predictAgain(ctx, *ev.ContactID)
	})
	removeCompany := rt.Hooks.Before([]string{contacts.EventCompanyDeleted}, func(ctx context.Context, tx *store.Tx, ev core.Event) error {
		return relink(ctx, tx, ev.TenantID, "company_id", ev.SubjectID, nil)
	})
	return func() {
		removeTracked()
		removeCompany()
	}
}

// personalData is the deals of a contact, with their line items and stage
// history, for the privacy registry.
func personalData() []store.PersonalData {
	var out []store.PersonalData
	out = append(out, store.PersonalData{Name: "deals", Tables: []string{"crm_deals", "crm_line_items", "crm_deal_stage_history"},
		Export: func(ctx context.Context, sc store.Scope, id core.ID) (any, error) {
			tenant, _ := sc.Tenant()
			rows, err := sc.Q().Query(ctx, `SELECT `+dealColumns+` FROM crm_deals d WHERE d.tenant_id = ? AND d.contact_id = ? ORDER BY d.created_at, d.id`, tenant, id)
			if err != nil {
				return nil, err
			}
			var deals []*Deal
			if err := store.EachRow(rows, func(r store.Scanner) error {
				d, err := scanDeal(r)
				deals = append(deals, d)
				return err
			}); err != nil {
				return nil, err
			}
			type exported struct {
				*Deal
				LineItems []LineItem   `json:"line_items"`
				History   []StageVisit `json:"history"`
			}
			out := []exported{}
			// The export is the consent module's to allow: it covers every
			// deal of the person, whatever the caller sees of the pipeline.
			for _, d := range deals {
				lines, _, err := lineItems(ctx, sc.Q(), tenant, d)
				if err != nil {
					return nil, err
				}
				hist, err := history(ctx, sc, d.ID)
				if err != nil {
					return nil, err
				}
				out = append(out, exported{Deal: d, LineItems: lines, History: hist})
			}
			return out, nil
		},
		// Deals stay in revenue, unlinked from the person, their titles
		// scrubbed of the person's name and addresses — those of the
		// person's deals, and of deals once theirs (found by their events),
		// whose events are emptied too. A deal since moved to someone else
		// only has its title scrubbed.
		Erase: func(ctx context.Context, sc store.Scope, s store.Subject) error {
			tenant, _ := sc.Tenant()
			q := sc.Q()
			if err := store.EmptyEventsOf(ctx, sc, `SELECT d.id FROM crm_deals d WHERE d.tenant_id = ? AND d.contact_id = ?`, tenant, s.ContactID); err != nil {
				return err
			}
			once, err := store.RecordsNaming(ctx, sc, s, "deal")
			if err != nil {
				return err
			}
			if err := store.EmptyEventsAbout(ctx, sc, once); err != nil {
				return err
			}
			type deal struct {
				title string
				other bool // linked to another contact
			}
			deals := map[core.ID]deal{}
			read := func(where string, args ...any) error {
				rows, err := q.Query(ctx, `SELECT d.id, d.title, d.contact_id FROM crm_deals d WHERE d.tenant_id = ? AND `+where, append([]any{tenant}, args...)...)
				if err != nil {
					return err
				}
				return store.EachRow(rows, func(r store.Scanner) error {
					var id core.ID
					var title string
					var contact uuid.NullUUID
					err := r.Scan(&id, &title, &contact)
					deals[id] = deal{title: title, other: contact.Valid && !slices.Contains(s.IDs(), core.ID(contact.UUID))}
					return err
				})
			}
			if err := read("d.contact_id = ?", s.ContactID); err != nil {
				return err
			}
			if len(once) > 0 {
				if err := read(q.D.InList("d.id", "uuid"), q.D.IDsArg(once)); err != nil {
					return err
				}
			}
			for id, d := range deals {
				stmt := `UPDATE crm_deals SET contact_id = NULL, title = ?, attributes = '{}', updated_at = ?, version = version + 1 WHERE tenant_id = ? AND id = ?`
				if d.other {
					if s.Scrub(d.title) == d.title {
						continue
					}
					stmt = `UPDATE crm_deals SET title = ?, updated_at = ?, version = version + 1 WHERE tenant_id = ? AND id = ?`
				}
				if _, err := q.Exec(ctx, stmt, s.Scrub(d.title), sc.Runtime().Now(), tenant, id); err != nil {
					return err
				}
			}
			return nil
		}})
	return out
}

// relink points the deals whose column (contact_id or company_id) is from
// at to (nil: unlinks them), each a new version with a "deal.updated"
// event, so that subscribers, rules and webhooks see the change.
func relink(ctx context.Context, tx *store.Tx, tenant, column string, from core.ID, to *core.ID) error {
	q := tx.Q()
	rows, err := q.Query(ctx, `SELECT id FROM crm_deals WHERE tenant_id = ? AND `+column+` = ? ORDER BY id`+q.D.LockRows(), tenant, from)
	if err != nil {
		return err
	}
	var ids []core.ID
	if err := store.EachRow(rows, func(r store.Scanner) error {
		var id core.ID
		ids = append(ids, id)
		return r.Scan(&ids[len(ids)-1])
	}); err != nil {
		return err
	}
	now := tx.Runtime().Now()
	for _, id := range ids {
		if _, err := q.Exec(ctx, `UPDATE crm_deals SET `+column+` = ?, updated_at = ?, version = version + 1
			WHERE tenant_id = ? AND id = ?`, store.NullID(to), now, tenant, id); err != nil {
			return err
		}
		d, err := getDeal(ctx, q, tenant, id, false)
		if err != nil {
			return err
		}
		// The event names the contact the deal was about before an unlink,
		// so that the person's history (and erasure) still finds it.
		about := d.ContactID
		if column == "contact_id" && about == nil {
			about = core.About(from)
		}
		if err := tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventDealUpdated, SubjectType: "deal", SubjectID: id,
			ContactID: about, OccurredAt: now, Data: store.JSON(DealUpdated{Deal: d, Changed: []string{column}})}); err != nil {
			return err
		}
	}
	return nil
}
