package pipeline

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// RegisterHooks keeps deals consistent with the contacts and companies they
// link: a merge moves the losers' deals to the winner, and deleting a
// contact or company clears the link of its deals (the deals stay), and a
// tracked activity updates its contact's predicted score when the tenant
// has a trained lead model. The crm facade registers them once per CRM.
func RegisterHooks(rt *store.Runtime) (remove func()) {
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
