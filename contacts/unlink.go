package contacts

import (
	"context"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// Records another one points at can be deleted: the contacts, tasks and
// activities that pointed at it stay, without the link. A contact or task
// so changed gets its next version and an event ("contact.updated" with
// Changed ["company_id"], "task.updated"), as any change of it does, so a
// writer holding the old version gets ErrConflict and subscribers see the
// link go. Activities are a log without versions or update events: their
// link is cleared, and the event of the deletion ("deal.deleted",
// "company.deleted") records the change.

// UnlinkDeal clears the links of the tenant's tasks and activities to the
// deal dealID, in the transaction sc is bound to: the pipeline module
// calls it when it deletes the deal, before the deal's row goes.
func (declaration) UnlinkDeal(ctx context.Context, sc store.Scope, dealID core.ID) error {
	tx := sc.Tx()
	if tx == nil {
		return sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
			return declaration{}.UnlinkDeal(ctx, sc.WithTx(tx), dealID)
		})
	}
	tenant, err := sc.Tenant()
	if err != nil {
		return err
	}
	if err := unlinkTasks(ctx, tx, tenant, "deal_id", dealID); err != nil {
		return err
	}
	_, err = tx.Q().Exec(ctx, `UPDATE crm_activities SET deal_id = NULL WHERE tenant_id = ? AND deal_id = ?`, tenant, dealID)
	return err
}

// unlinkTasks clears column (deal_id, company_id) of the tenant's tasks
// that point at id, each with its next version and a "task.updated" event.
func unlinkTasks(ctx context.Context, tx *store.Tx, tenant, column string, id core.ID) error {
	q := tx.Q()
	rows, err := q.Query(ctx, `UPDATE crm_tasks SET `+column+` = NULL, version = version + 1, updated_at = ?
		WHERE tenant_id = ? AND `+column+` = ? RETURNING id`, tx.Runtime().Now(), tenant, id)
	if err != nil {
		return err
	}
	ids, err := store.ScanIDs(rows)
	if err != nil {
		return err
	}
	for _, taskID := range ids {
		t, err := getTask(ctx, q, tenant, taskID)
		if err != nil {
			return err
		}
		if err := tx.Emit(ctx, taskEvent(tenant, EventTaskUpdated, t, nil)); err != nil {
			return err
		}
	}
	return nil
}

// unlinkContacts clears the company of the tenant's contacts of company
// id, each with its next version and a "contact.updated" event.
func (s *Companies) unlinkContacts(ctx context.Context, tx *store.Tx, tenant string, id core.ID) error {
	q := tx.Q()
	rows, err := q.Query(ctx, `UPDATE crm_contacts SET company_id = NULL, version = version + 1, updated_at = ?
		WHERE tenant_id = ? AND company_id = ? RETURNING id`, tx.Runtime().Now(), tenant, id)
	if err != nil {
		return err
	}
	ids, err := store.ScanIDs(rows)
	if err != nil {
		return err
	}
	for _, contactID := range ids {
		c, err := s.repo.getContact(ctx, q, tenant, "c.id = ?", contactID)
		if err != nil {
			return err
		}
		if err := tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventContactUpdated, SubjectType: "contact", SubjectID: c.ID,
			OccurredAt: c.UpdatedAt, Data: store.JSON(ContactUpdated{Contact: c, Changed: []string{"company_id"}})}); err != nil {
			return err
		}
	}
	return nil
}
