package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// RegisterHooks keeps deals consistent with the contacts and companies they
// link: a merge moves the losers' deals to the winner, and deleting a
// contact or company clears the link of its deals (the deals stay), and a
// tracked activity updates its contact's predicted score when the tenant
// has a trained lead model. It also registers deals with the privacy
// registry (subject access export). The crm facade calls it once per CRM.
func RegisterHooks(rt *store.Runtime) (remove func()) {
	registerPersonalData(rt)
	removeMerge := contacts.OnMerge(rt, func(ctx context.Context, tx *store.Tx, tenant string, m contacts.Merged) error {
		for _, loser := range m.LoserIDs {
			if _, err := tx.Q().Exec(ctx, `UPDATE crm_deals SET contact_id = ?, updated_at = ?, version = version + 1
				WHERE tenant_id = ? AND contact_id = ?`, m.WinnerID, rt.Now(), tenant, loser); err != nil {
				return err
			}
		}
		return nil
	})
	detach := func(column string) store.BeforeFunc {
		return func(ctx context.Context, tx *store.Tx, ev core.Event) error {
			_, err := tx.Q().Exec(ctx, `UPDATE crm_deals SET `+column+` = NULL, updated_at = ?, version = version + 1
				WHERE tenant_id = ? AND `+column+` = ?`, rt.Now(), ev.TenantID, ev.SubjectID)
			return err
		}
	}
	// A tracked activity changes its contact's features: predict again.
	removeTracked := rt.Hooks.Before([]string{"activity.tracked"}, func(ctx context.Context, tx *store.Tx, ev core.Event) error {
		var a struct {
			ContactID core.ID `json:"contact_id"`
		}
		if err := json.Unmarshal(ev.Data, &a); err != nil {
			return fmt.Errorf("crm: decode activity.tracked: %w", err)
		}
		return NewDeals(store.NewScope(rt).WithTenant(ev.TenantID).WithTx(tx)).predictAgain(ctx, a.ContactID)
	})
	removeContact := rt.Hooks.Before([]string{"contact.deleted"}, detach("contact_id"))
	removeCompany := rt.Hooks.Before([]string{"company.deleted"}, detach("company_id"))
	return func() {
		removeMerge()
		removeTracked()
		removeContact()
		removeCompany()
	}
}

// registerPersonalData adds the deals of a contact, with their line items
// and stage history, to the privacy registry.
func registerPersonalData(rt *store.Runtime) {
	rt.RegisterPersonalData(store.PersonalData{Name: "deals", Tables: []string{"crm_deals", "crm_line_items", "crm_deal_stage_history"},
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
			svc := NewDeals(sc)
			for _, d := range deals {
				lines, _, err := svc.LineItems(ctx, d.ID)
				if err != nil {
					return nil, err
				}
				hist, err := svc.History(ctx, d.ID)
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
			once, err := store.RecordsNaming(ctx, sc, s, dealEvents...)
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
			for chunk := range slices.Chunk(once, 500) {
				args := make([]any, len(chunk))
				for i, id := range chunk {
					args[i] = id
				}
				if err := read("d.id IN (?"+strings.Repeat(", ?", len(chunk)-1)+")", args...); err != nil {
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
}

// Where the deal events name the deal's contact (store.EmptyEventsNaming).
var dealEvents = []store.EventRef{
	{Types: []string{"deal.created", "deal.won", "deal.lost", "deal.reopened"}, Path: []string{"contact_id"}},
	{Types: []string{"deal.updated", "deal.stage_changed"}, Path: []string{"deal", "contact_id"}},
}
