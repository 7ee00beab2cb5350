package contacts

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// MaxMergeLosers bounds how many contacts one Merge folds into a winner.
const MaxMergeLosers = 50

// Merged is the data of the "contact.merged" event.
type Merged struct {
	WinnerID core.ID   `json:"winner_id"`
	LoserIDs []core.ID `json:"loser_ids"`
	// Losers are the merged contacts as they were.
	Losers []*Contact `json:"losers"`
}

// Merge folds losers into winner in one transaction:
//
//   - fields: the winner's non-empty values stay; an empty one takes the
//     first non-empty value among the losers (in the order given); tags are
//     united; attributes are merged with the winner's keys winning; the
//     lifecycle stage is the most advanced of all;
//   - every external id, activity, note and task of a loser moves to the
//     winner, and the winner's facts are recomputed from its activities;
//   - the losers are deleted; each is recorded with a snapshot (MergedInto
//     finds the winner from a loser's id) and gets "contact.deleted" with
//     "merged_into";
//   - "contact.merged" is emitted about the winner; the modules' OnContactMerge hooks run in the
//     transaction.
//
// Merging a contact with itself, the same loser twice, or a contact that does
// not exist in the tenant is refused. Purchases in different currencies
// cannot be merged (ErrInvalid).
func (s *Service) Merge(ctx context.Context, winner core.ID, losers ...core.ID) (_ *Contact, err error) {
	ctx, span := s.sc.SpanID(ctx, "contacts.Merge", winner)
	defer span.End(&err)

	v := &core.ValidationError{}
	switch {
	case len(losers) == 0:
		v.Add("losers", "name at least one contact to merge into the winner")
	case len(losers) > MaxMergeLosers:
		v.Add("losers", "are more than %d", MaxMergeLosers)
	}
	for i, id := range losers {
		if id == winner {
			v.Add("losers", "contain the winner %s: a contact cannot be merged with itself", id)
		}
		if slices.Contains(losers[:i], id) {
			v.Add("losers", "name %s twice", id)
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return nil, err
	}
	var out *Contact
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		// The actor must see every contact and may update the winner and
		// delete the losers.
		tenant, _ := s.sc.Tenant()
		if !g.trusted() {
			if _, err := s.writable(ctx, g, tx.Q(), tenant, winner, access.Update); err != nil {
				return err
			}
			for _, id := range losers {
				if _, err := s.writable(ctx, g, tx.Q(), tenant, id, access.Delete); err != nil {
					return err
				}
			}
		}
		c, err := s.merge(ctx, tx, winner, losers)
		out = c
		return err
	})
	if err != nil {
		return nil, g.done(ctx, store.Wrap(err, "merge contacts"))
	}
	return g.mask(out), nil
}

func (s *Service) merge(ctx context.Context, tx *store.Tx, winnerID core.ID, loserIDs []core.ID) (*Contact, error) {
	tenant, _ := s.sc.Tenant()
	q := tx.Q()
	// Lock all of them (in id order, so concurrent merges cannot deadlock).
	ids := append([]core.ID{winnerID}, loserIDs...)
	sorted := slices.Clone(ids)
	slices.SortFunc(sorted, func(a, b core.ID) int { return compareIDs(a, b) })
	byID := map[core.ID]*Contact{}
	for _, id := range sorted {
		c, err := s.repo.getContact(ctx, q, tenant, "c.id = ?"+q.D.LockRows(), id)
		if errors.Is(err, core.ErrNotFound) {
			return nil, core.NotFound("contact", id)
		}
		if err != nil {
			return nil, err
		}
		byID[id] = c
	}
	winner := byID[winnerID]
	losers := make([]*Contact, len(loserIDs))
	for i, id := range loserIDs {
		losers[i] = byID[id]
	}

	// The merged record.
	next := applyPatch(winner, ContactPatch{})
	fill := func(dst *string, get func(*Contact) string) {
		for _, l := range losers {
			if *dst == "" {
				*dst = get(l)
			}
		}
	}
	fill(&next.Phone, func(c *Contact) string { return c.Phone })
	fill(&next.FirstName, func(c *Contact) string { return c.FirstName })
	fill(&next.LastName, func(c *Contact) string { return c.LastName })
	fill(&next.OwnerID, func(c *Contact) string { return c.OwnerID })
	email := next.Email
	fill(&email, func(c *Contact) string { return c.Email })
	for _, l := range losers {
		if next.CompanyID == nil && l.CompanyID != nil {
			next.CompanyID = l.CompanyID
		}
		if stageRank(l.LifecycleStage) > stageRank(next.LifecycleStage) {
			next.LifecycleStage = l.LifecycleStage
		}
		for _, t := range l.Tags {
			if !slices.Contains(next.Tags, t) {
				next.Tags = append(next.Tags, t)
			}
		}
		for k, v := range l.Attributes {
			if _, ok := next.Attributes[k]; !ok {
				next.Attributes[k] = v
			}
		}
	}

	// Move the losers' rows, then delete them (freeing their email).
	loserArgs := func(prefix ...any) []any {
		out := slices.Clone(prefix)
		for _, l := range loserIDs {
			out = append(out, l)
		}
		return out
	}
	in := "(?" + strings.Repeat(", ?", len(loserIDs)-1) + ")"
	for _, table := range []string{"crm_contact_external_ids", "crm_activities", "crm_notes", "crm_tasks"} {
		if _, err := q.Exec(ctx, `UPDATE `+table+` SET contact_id = ? WHERE tenant_id = ? AND contact_id IN `+in,
			loserArgs(winnerID, tenant)...); err != nil {
			return nil, err
		}
	}
	// Hooks (the modules' OnContactMerge) re-point other modules' rows now, while the losers
	// still exist: their foreign keys would refuse the deletion.
	if err := tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventContactMerged, SubjectType: "contact", SubjectID: winnerID,
		Data: store.JSON(Merged{WinnerID: winnerID, LoserIDs: loserIDs, Losers: losers})}); err != nil {
		return nil, err
	}
	now := tx.Runtime().Now()
	actor := ""
	if a, ok := core.ActorFrom(ctx); ok {
		actor = a.ID
	}
	for _, l := range losers {
		// Contacts merged into a loser earlier now point at the winner
		// (before the loser goes: its merges would go with it).
		if _, err := q.Exec(ctx, `UPDATE crm_contact_merges SET winner_id = ? WHERE tenant_id = ? AND winner_id = ?`, winnerID, tenant, l.ID); err != nil {
			return nil, err
		}
		if _, err := q.Exec(ctx, `DELETE FROM crm_contacts WHERE tenant_id = ? AND id = ?`, tenant, l.ID); err != nil {
			return nil, err
		}
		if err := unindex(ctx, q, tenant, EntityContact, l.ID); err != nil {
			return nil, err
		}
		if _, err := q.Exec(ctx, `INSERT INTO crm_contact_merges (tenant_id, loser_id, winner_id, merged_at, actor_id, snapshot)
			VALUES (?, ?, ?, ?, ?, ?)`, tenant, l.ID, winnerID, now, actor, string(store.JSON(l))); err != nil {
			return nil, err
		}
		if err := tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventContactDeleted, SubjectType: "contact", SubjectID: l.ID,
			Data: store.JSON(ContactDeleted{ID: l.ID, MergedInto: &winnerID})}); err != nil {
			return nil, err
		}
	}
	next.Email = email
	if _, err := s.save(ctx, tx, winner, next, nil); err != nil {
		return nil, err
	}
	if err := recomputeFacts(ctx, q, tenant, winnerID); err != nil {
		return nil, err
	}
	return s.repo.getContact(ctx, q, tenant, "c.id = ?", winnerID)
}

func compareIDs(a, b core.ID) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// stageRank orders lifecycle stages by how far a contact has come; "other"
// ranks lowest.
func stageRank(s Stage) int {
	if s == StageOther {
		return -1
	}
	return slices.Index(Stages, s)
}

// recomputeFacts derives a contact's facts from its activities again.
func recomputeFacts(ctx context.Context, q store.Q, tenant string, id core.ID) error {
	var currencies int
	if err := q.QueryRow(ctx, `SELECT count(DISTINCT currency) FROM crm_activities WHERE tenant_id = ? AND contact_id = ? AND amount IS NOT NULL`,
		tenant, id).Scan(&currencies); err != nil {
		return err
	}
	if currencies > 1 {
		return core.Invalid("losers", "have purchases in other currencies than the winner's; a contact's purchases share one currency")
	}
	_, err := q.Exec(ctx, `UPDATE crm_contacts SET
			last_activity_at = (SELECT max(a.occurred_at) FROM crm_activities a WHERE a.tenant_id = crm_contacts.tenant_id AND a.contact_id = crm_contacts.id),
			purchase_count = (SELECT count(*) FROM crm_activities a WHERE a.tenant_id = crm_contacts.tenant_id AND a.contact_id = crm_contacts.id AND a.amount IS NOT NULL),
			purchase_total = COALESCE((SELECT sum(a.amount) FROM crm_activities a WHERE a.tenant_id = crm_contacts.tenant_id AND a.contact_id = crm_contacts.id), 0),
			purchase_currency = COALESCE((SELECT max(a.currency) FROM crm_activities a WHERE a.tenant_id = crm_contacts.tenant_id AND a.contact_id = crm_contacts.id AND a.amount IS NOT NULL), ''),
			first_purchase_at = (SELECT min(a.occurred_at) FROM crm_activities a WHERE a.tenant_id = crm_contacts.tenant_id AND a.contact_id = crm_contacts.id AND a.amount IS NOT NULL),
			last_purchase_at = (SELECT max(a.occurred_at) FROM crm_activities a WHERE a.tenant_id = crm_contacts.tenant_id AND a.contact_id = crm_contacts.id AND a.amount IS NOT NULL)
		WHERE tenant_id = ? AND id = ?`, tenant, id)
	return err
}

// MergedInto returns the contact a merged contact's id now lives on (after
// merges of merges, the last winner), or ErrNotFound when id was never
// merged.
func (s *Service) MergedInto(ctx context.Context, id core.ID) (_ core.ID, err error) {
	ctx, span := s.sc.SpanID(ctx, "contacts.MergedInto", id)
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return core.NilID, err
	}
	g, err := check(ctx, s.sc, "contact", id, access.Read)
	if err != nil {
		return core.NilID, err
	}
	var winner core.ID
	err = s.sc.Q().QueryRow(ctx, `SELECT winner_id FROM crm_contact_merges WHERE tenant_id = ? AND loser_id = ?`, tenant, id).Scan(&winner)
	if errors.Is(err, sql.ErrNoRows) {
		return core.NilID, core.NotFound("merged contact", id)
	}
	if err == nil && !g.trusted() {
		// A winner the actor does not see: as if id was never merged.
		if _, err := s.visibleContact(ctx, g, s.sc.Q(), tenant, access.Read, false, "c.id = ?", winner); err != nil {
			if errors.Is(err, core.ErrNotFound) {
				return core.NilID, g.done(ctx, &denial{err: core.NotFound("merged contact", id), kind: "contact", id: winner, action: access.Read})
			}
			return core.NilID, err
		}
	}
	return winner, store.Wrap(err, "merged into")
}
