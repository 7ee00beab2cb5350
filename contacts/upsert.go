package contacts

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// Upsert creates or updates a contact from in: it finds the contact by the
// first of in.ExternalIDs that is linked, else by in.Email. A found contact
// takes every non-empty field of in, gains its tags and external ids, and
// has its attributes merged; nothing given is cleared. created reports
// whether a contact was created. Upsert is idempotent: repeated with the same
// input it changes nothing and emits nothing.
func (s *Service) Upsert(ctx context.Context, in NewContact) (c *Contact, created bool, err error) {
	ctx, span := s.sc.Span(ctx, "contacts.Upsert")
	defer span.End(&err)

	// Callers upserting the same person at once: a found contact is locked,
	// so updates queue; of concurrent inserts of a new person one wins, the
	// others hit the unique index and are retried, then find and update it.
	g, err := check(ctx, s.sc, "contact", core.NilID, access.Create, access.Update)
	if err != nil {
		return nil, false, err
	}
	if err := g.checkWrite(core.NilID, access.Update, &in.Email, &in.Phone, in.Attributes); err != nil {
		return nil, false, g.done(ctx, err)
	}
	for attempt := 0; attempt < 3; attempt++ {
		err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
			var o outcome
			c, o, err = s.upsert(ctx, tx, g, in)
			created = o == outcomeCreated
			return err
		})
		if !errors.Is(err, errRace) {
			break
		}
	}
	if err != nil {
		return nil, false, g.done(ctx, store.Wrap(err, "upsert contact"))
	}
	return g.mask(c), created, nil
}

// errTakenConcurrently: a unique index refused a write because a concurrent
// transaction took the email or external id after the pre-checks ran.
var errTakenConcurrently = fmt.Errorf("%w: email or external id was taken concurrently", core.ErrConflict)

var errRace = fmt.Errorf("%w: concurrent upsert", core.ErrConflict)

// outcome is what an upsert did.
type outcome int

const (
	outcomeUnchanged outcome = iota
	outcomeCreated
	outcomeUpdated
)

func (s *Service) upsert(ctx context.Context, tx *store.Tx, g *guard, in NewContact) (*Contact, outcome, error) {
	tenant, _ := s.sc.Tenant()
	stageGiven := in.LifecycleStage != ""
	in.normalize()
	// Validate before looking anything up: the keys must be storable text.
	if _, _, err := newContact(in, time.Time{}, nil); err != nil {
		return nil, outcomeUnchanged, err
	}
	q := tx.Q()
	var cur *Contact
	for _, x := range in.ExternalIDs {
		owner, err := s.repo.externalIDOwner(ctx, q, tenant, x)
		if err != nil {
			return nil, outcomeUnchanged, err
		}
		if owner != core.NilID {
			if cur, err = s.repo.getContact(ctx, q, tenant, "c.id = ?"+q.D.LockRows(), owner); err != nil {
				return nil, outcomeUnchanged, err
			}
			break
		}
	}
	if cur == nil && in.Email != "" {
		var err error
		cur, err = s.repo.getContact(ctx, q, tenant, "c.email = ? AND c.email <> ''"+q.D.LockRows(), in.Email)
		if err != nil && !errors.Is(err, core.ErrNotFound) {
			return nil, outcomeUnchanged, err
		}
	}
	if cur == nil {
		if err := s.checkCreate(g, &in); err != nil {
			return nil, outcomeUnchanged, err
		}
		c, err := s.create(ctx, tx, in)
		// Nothing matched the email or external ids when this transaction
		// looked, so a conflict now means a concurrent writer just added them:
		// retry, and the next attempt finds and updates that contact.
		if errors.Is(err, core.ErrConflict) {
			return nil, outcomeUnchanged, errRace
		}
		if err != nil {
			return nil, outcomeUnchanged, err
		}
		return c, outcomeCreated, nil
	}
	if !g.trusted() {
		// The email or an external id matched a contact the actor does not
		// see: they may not change it (that it exists, Create's conflict
		// tells too).
		cond, cargs := g.contacts("c")
		if _, err := s.repo.getContact(ctx, q, tenant, "c.id = ? AND "+cond, append([]any{cur.ID}, cargs...)...); errors.Is(err, core.ErrNotFound) {
			return nil, outcomeUnchanged, g.forbid("contact", cur.ID, access.Update, "the contact the keys match is not one the actor sees")
		} else if err != nil {
			return nil, outcomeUnchanged, err
		}
		if in.OwnerID != "" {
			if err := g.checkOwner(cur.ID, access.Update, &in.OwnerID); err != nil {
				return nil, outcomeUnchanged, err
			}
		}
	}
	next := applyPatch(cur, ContactPatch{})
	setIf := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	setIf(&next.Email, in.Email)
	setIf(&next.Phone, in.Phone)
	setIf(&next.FirstName, in.FirstName)
	setIf(&next.LastName, in.LastName)
	setIf(&next.OwnerID, in.OwnerID)
	if in.CompanyID != nil {
		next.CompanyID = in.CompanyID
	}
	if stageGiven {
		next.LifecycleStage = in.LifecycleStage
	}
	for _, t := range in.Tags {
		if !slices.Contains(next.Tags, t) {
			next.Tags = append(next.Tags, t)
		}
	}
	mergeAttributes(next.Attributes, in.Attributes)
	var newExt []ExternalID
	for _, x := range in.ExternalIDs {
		if !slices.Contains(cur.ExternalIDs, x) && !slices.Contains(newExt, x) {
			newExt = append(newExt, x)
		}
	}
	out, err := s.save(ctx, tx, cur, next, newExt)
	if err != nil {
		return nil, outcomeUnchanged, err
	}
	if out == cur {
		return out, outcomeUnchanged, nil
	}
	return out, outcomeUpdated, nil
}
