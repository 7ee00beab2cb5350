package contacts

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
)

// Service manages contacts of one tenant. Get one from the crm facade
// (c.Contacts); its zero value is not usable.
type Service struct {
	sc          store.Scope
	repo        repository
	suppression Suppression
}

// Suppression tells which addresses are on the suppression list (erased or
// objected people, who must not come back for marketing). The consent
// package implements it; the crm facade wires it into Import.
type Suppression interface {
	// SuppressedAddresses returns the given emails and phones that are
	// suppressed, as given, reading in sc (the import's transaction).
	SuppressedAddresses(ctx context.Context, sc store.Scope, emails, phones []string) (map[string]bool, error)
}

// WithSuppression returns a copy of s whose imports refuse suppressed
// addresses.
func (s *Service) WithSuppression(sup Suppression) *Service {
	c := *s
	c.suppression = sup
	return &c
}

// New returns the service for scope sc. Hosts use crm.CRM.Contacts.
func New(sc store.Scope) *Service {
	return &Service{sc: sc, repo: sqlRepository{}}
}

// Get returns the contact with id.
func (s *Service) Get(ctx context.Context, id core.ID) (*Contact, error) {
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	c, err := s.repo.getContact(ctx, s.sc.Q(), tenant, "c.id = ?", id)
	return c, store.Wrap(err, "get contact")
}

// GetByEmail returns the contact with email (compared normalised).
func (s *Service) GetByEmail(ctx context.Context, email string) (*Contact, error) {
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	if err := checkKey("email", email); err != nil {
		return nil, err
	}
	email = NormalizeEmail(email)
	if email == "" {
		return nil, core.Invalid("email", "is required")
	}
	c, err := s.repo.getContact(ctx, s.sc.Q(), tenant, "c.email = ? AND c.email <> ''", email)
	return c, store.Wrap(err, "get contact by email")
}

// GetByExternalID returns the contact linked to source's id.
func (s *Service) GetByExternalID(ctx context.Context, source, id string) (*Contact, error) {
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	if source == "" || id == "" {
		return nil, core.Invalid("external_id", "source and id are required")
	}
	if err := checkKey("external_id", source+id); err != nil {
		return nil, err
	}
	c, err := s.repo.getContact(ctx, s.sc.Q(), tenant,
		"c.id = (SELECT x.contact_id FROM crm_contact_external_ids x WHERE x.tenant_id = ? AND x.source = ? AND x.external_id = ?)",
		tenant, source, id)
	return c, store.Wrap(err, "get contact by external id")
}

// Create stores a new contact and emits "contact.created".
func (s *Service) Create(ctx context.Context, in NewContact) (*Contact, error) {
	var out *Contact
	err := s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		c, err := s.create(ctx, tx, in)
		out = c
		return err
	})
	if err != nil {
		return nil, store.Wrap(err, "create contact")
	}
	return out, nil
}

func (s *Service) create(ctx context.Context, tx *store.Tx, in NewContact) (*Contact, error) {
	tenant, _ := s.sc.Tenant()
	in.normalize()
	now := tx.Runtime().Now()
	q := tx.Q()
	defs, err := listFields(ctx, q, tenant, EntityContact)
	if err != nil {
		return nil, err
	}
	c, attrs, err := newContact(in, now, defs)
	if err != nil {
		return nil, err
	}
	if err := s.checkUnique(ctx, q, tenant, c, c.ExternalIDs); err != nil {
		return nil, err
	}
	if err := s.repo.insertContact(ctx, q, tenant, c, attrs); err != nil {
		return nil, s.translate(err, c)
	}
	for _, x := range c.ExternalIDs {
		if err := s.repo.insertExternalID(ctx, q, tenant, c.ID, x, now); err != nil {
			return nil, s.translate(err, c)
		}
	}
	if err := indexContact(ctx, q, tenant, c.ID); err != nil {
		return nil, err
	}
	slices.SortFunc(c.ExternalIDs, compareExternalIDs)
	return c, tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventContactCreated, SubjectType: "contact", SubjectID: c.ID, OccurredAt: now, Data: store.JSON(c)})
}

// newContact builds and validates the contact a normalised input describes,
// and returns its attributes as JSON.
func newContact(in NewContact, now time.Time, defs []*FieldDefinition) (*Contact, []byte, error) {
	c := &Contact{
		ID: core.NewID(), Email: in.Email, Phone: in.Phone, FirstName: in.FirstName, LastName: in.LastName,
		CompanyID: in.CompanyID, LifecycleStage: in.LifecycleStage, OwnerID: in.OwnerID,
		Tags: in.Tags, Attributes: maps.Clone(in.Attributes), ExternalIDs: slices.Clone(in.ExternalIDs),
		CreatedAt: now, UpdatedAt: now, Version: 1,
	}
	if c.Attributes == nil {
		c.Attributes = map[string]any{}
	}
	if c.ExternalIDs == nil {
		c.ExternalIDs = []ExternalID{}
	}
	attrs, err := validateContact(c, c.ExternalIDs, defs)
	return c, attrs, err
}

func compareExternalIDs(a, b ExternalID) int {
	if a.Source != b.Source {
		if a.Source < b.Source {
			return -1
		}
		return 1
	}
	switch {
	case a.ID < b.ID:
		return -1
	case a.ID > b.ID:
		return 1
	}
	return 0
}

// checkUnique refuses an email or external id that belongs to another
// contact, and a company that does not exist, with clear errors. The
// database's constraints still decide races (see translate).
func (s *Service) checkUnique(ctx context.Context, q store.Q, tenant string, c *Contact, newExt []ExternalID) error {
	if c.Email != "" {
		owner, err := s.repo.emailOwner(ctx, q, tenant, c.Email)
		if err != nil {
			return err
		}
		if owner != core.NilID && owner != c.ID {
			return fmt.Errorf("%w: email already belongs to contact %s", core.ErrConflict, owner)
		}
	}
	for _, x := range newExt {
		owner, err := s.repo.externalIDOwner(ctx, q, tenant, x)
		if err != nil {
			return err
		}
		if owner != core.NilID && owner != c.ID {
			return fmt.Errorf("%w: an external id of source %s already belongs to contact %s", core.ErrConflict, x.Source, owner)
		}
	}
	if c.CompanyID != nil {
		if _, err := s.repo.getCompany(ctx, q, tenant, "co.id = ?", *c.CompanyID); errors.Is(err, core.ErrNotFound) {
			return core.Invalid("company_id", "company %s does not exist", *c.CompanyID)
		} else if err != nil {
			return err
		}
	}
	return nil
}

// translate maps constraint violations that a concurrent writer caused to
// crmkit errors.
func (s *Service) translate(err error, c *Contact) error {
	switch {
	case dialect.IsUniqueViolation(err):
		return fmt.Errorf("%w: contact %s", errTakenConcurrently, c.ID)
	case dialect.IsForeignKeyViolation(err):
		return core.Invalid("company_id", "company does not exist")
	}
	return err
}

// Update applies patch to the contact with id, if patch.Version is still
// its version, and emits "contact.updated" with the fields that changed.
// A patch that changes nothing returns the contact as it is, without a new
// version or event. A stale version is ErrConflict.
func (s *Service) Update(ctx context.Context, id core.ID, patch ContactPatch) (*Contact, error) {
	if err := core.CheckVersion(patch.Version); err != nil {
		return nil, err
	}
	var out *Contact
	err := s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		cur, err := s.repo.getContact(ctx, tx.Q(), tenant, "c.id = ?", id)
		if err != nil {
			return err
		}
		if patch.Version != cur.Version {
			return fmt.Errorf("%w: contact %s is at version %d, not %d; read it again", core.ErrConflict, id, cur.Version, patch.Version)
		}
		next := applyPatch(cur, patch)
		out, err = s.save(ctx, tx, cur, next, nil)
		return err
	})
	if err != nil {
		return nil, store.Wrap(err, "update contact")
	}
	return out, nil
}

func applyPatch(cur *Contact, p ContactPatch) *Contact {
	n := *cur
	n.Tags = slices.Clone(cur.Tags)
	n.Attributes = maps.Clone(cur.Attributes)
	n.ExternalIDs = slices.Clone(cur.ExternalIDs)
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&n.Email, p.Email)
	set(&n.Phone, p.Phone)
	set(&n.FirstName, p.FirstName)
	set(&n.LastName, p.LastName)
	set(&n.OwnerID, p.OwnerID)
	if p.CompanyID != nil {
		id := *p.CompanyID
		n.CompanyID = &id
	}
	if p.LifecycleStage != nil {
		n.LifecycleStage = *p.LifecycleStage
	}
	if p.Tags != nil {
		n.Tags = *p.Tags
	}
	mergeAttributes(n.Attributes, p.Attributes)
	return &n
}

func mergeAttributes(dst, src map[string]any) {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
		} else {
			dst[k] = v
		}
	}
}

// save validates next and, when it differs from cur, writes it with the
// next version, links newExt, and emits "contact.updated".
func (s *Service) save(ctx context.Context, tx *store.Tx, cur, next *Contact, newExt []ExternalID) (*Contact, error) {
	tenant, _ := s.sc.Tenant()
	in := NewContact{Email: next.Email, Phone: next.Phone, FirstName: next.FirstName, LastName: next.LastName,
		LifecycleStage: next.LifecycleStage, OwnerID: next.OwnerID, Tags: next.Tags}
	in.normalize()
	next.Email, next.Phone, next.FirstName, next.LastName = in.Email, in.Phone, in.FirstName, in.LastName
	next.LifecycleStage, next.OwnerID, next.Tags = in.LifecycleStage, in.OwnerID, in.Tags
	defs, err := listFields(ctx, tx.Q(), tenant, EntityContact)
	if err != nil {
		return nil, err
	}
	attrs, err := validateContact(next, newExt, defs)
	if err != nil {
		return nil, err
	}
	changed := changedFields(cur, next)
	if len(newExt) > 0 {
		changed = append(changed, "external_ids")
	}
	if len(changed) == 0 {
		return cur, nil
	}
	q := tx.Q()
	if err := s.checkUnique(ctx, q, tenant, next, newExt); err != nil {
		return nil, err
	}
	next.UpdatedAt = tx.Runtime().Now()
	next.Version = cur.Version + 1
	if err := s.repo.updateContact(ctx, q, tenant, next, attrs, cur.Version); err != nil {
		return nil, s.translate(err, next)
	}
	for _, x := range newExt {
		if err := s.repo.insertExternalID(ctx, q, tenant, next.ID, x, next.UpdatedAt); err != nil {
			return nil, s.translate(err, next)
		}
		next.ExternalIDs = append(next.ExternalIDs, x)
	}
	if err := indexContact(ctx, q, tenant, next.ID); err != nil {
		return nil, err
	}
	slices.SortFunc(next.ExternalIDs, compareExternalIDs)
	data := store.JSON(ContactUpdated{Contact: next, Changed: changed})
	return next, tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventContactUpdated, SubjectType: "contact", SubjectID: next.ID, OccurredAt: next.UpdatedAt, Data: data})
}

func changedFields(a, b *Contact) []string {
	var out []string
	add := func(name string, differ bool) {
		if differ {
			out = append(out, name)
		}
	}
	add("email", a.Email != b.Email)
	add("phone", a.Phone != b.Phone)
	add("first_name", a.FirstName != b.FirstName)
	add("last_name", a.LastName != b.LastName)
	add("company_id", !sameID(a.CompanyID, b.CompanyID))
	add("lifecycle_stage", a.LifecycleStage != b.LifecycleStage)
	add("owner_id", a.OwnerID != b.OwnerID)
	add("tags", !slices.Equal(a.Tags, b.Tags))
	add("attributes", string(store.JSON(a.Attributes)) != string(store.JSON(b.Attributes)))
	return out
}

func sameID(a, b *core.ID) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// Delete removes the contact with id (and its external ids) and emits
// "contact.deleted". A deletion keeps nothing personal: the hooks on
// "contact.deleted" (the consent module's, wired by the crm facade) run
// every module's eraser first, so the contact's event payloads are
// emptied, its search document goes (and, on SQLite, its words from the
// full-text index), and the tasks and deals that outlive it are unlinked
// and scrubbed of its name and addresses. Event types and times stay.
// Unlike consent's Erase it writes no receipt and suppresses nothing.
func (s *Service) Delete(ctx context.Context, id core.ID) error {
	err := s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		if _, err := s.repo.getContact(ctx, tx.Q(), tenant, "c.id = ?"+tx.Q().D.LockRows(), id); err != nil {
			return err
		}
		// The event comes first: before hooks detach other modules' rows
		// (deals) while the contact still exists.
		if err := tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventContactDeleted, SubjectType: "contact", SubjectID: id,
			Data: store.JSON(ContactDeleted{ID: id})}); err != nil {
			return err
		}
		ok, err := s.repo.deleteContact(ctx, tx.Q(), tenant, id)
		if err != nil {
			return err
		}
		if !ok {
			return core.NotFound("contact", id)
		}
		return unindex(ctx, tx.Q(), tenant, EntityContact, id)
	})
	return store.Wrap(err, "delete contact")
}

// LinkExternalID links source's id to the contact with id. Linking a pair
// the contact already has does nothing; a pair of another contact is
// ErrConflict.
func (s *Service) LinkExternalID(ctx context.Context, id core.ID, x ExternalID) (*Contact, error) {
	var out *Contact
	err := s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		cur, err := s.repo.getContact(ctx, tx.Q(), tenant, "c.id = ?", id)
		if err != nil {
			return err
		}
		if slices.Contains(cur.ExternalIDs, x) {
			out = cur
			return nil
		}
		next := applyPatch(cur, ContactPatch{})
		out, err = s.save(ctx, tx, cur, next, []ExternalID{x})
		return err
	})
	if err != nil {
		return nil, store.Wrap(err, "link external id")
	}
	return out, nil
}

// Upsert creates or updates a contact from in: it finds the contact by the
// first of in.ExternalIDs that is linked, else by in.Email. A found contact
// takes every non-empty field of in, gains its tags and external ids, and
// has its attributes merged; nothing given is cleared. created reports
// whether a contact was created. Upsert is idempotent: repeated with the same
// input it changes nothing and emits nothing.
func (s *Service) Upsert(ctx context.Context, in NewContact) (c *Contact, created bool, err error) {
	// Callers upserting the same person at once: a found contact is locked,
	// so updates queue; of concurrent inserts of a new person one wins, the
	// others hit the unique index and are retried, then find and update it.
	for attempt := 0; attempt < 3; attempt++ {
		err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
			var o outcome
			c, o, err = s.upsert(ctx, tx, in)
			created = o == outcomeCreated
			return err
		})
		if !errors.Is(err, errRace) {
			break
		}
	}
	if err != nil {
		return nil, false, store.Wrap(err, "upsert contact")
	}
	return c, created, nil
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

func (s *Service) upsert(ctx context.Context, tx *store.Tx, in NewContact) (*Contact, outcome, error) {
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

// Count returns the number of contacts matching f.
func (s *Service) Count(ctx context.Context, f filter.Expr) (int64, error) {
	tenant, err := s.sc.Tenant()
	if err != nil {
		return 0, err
	}
	schema, err := schemaFor(ctx, s.sc, Schema, EntityContact, "c.attributes", f, "")
	if err != nil {
		return 0, err
	}
	where, err := schema.Compile(f, s.sc.Runtime().Dialect, s.sc.Runtime().Now())
	if err != nil {
		return 0, err
	}
	n, err := s.repo.countContacts(ctx, s.sc.Q(), tenant, where)
	return n, store.Wrap(err, "count contacts")
}

// List returns one page of contacts matching opts.Filter in opts.Sort
// order. Pass the returned page's Next as opts.Cursor (with the same filter
// and sort) for the following page.
func (s *Service) List(ctx context.Context, opts ListOptions) (core.Page[*Contact], error) {
	schema, err := schemaFor(ctx, s.sc, Schema, EntityContact, "c.attributes", opts.Filter, opts.Sort)
	if err != nil {
		return core.Page[*Contact]{}, err
	}
	plan, err := s.sc.PlanList(store.ListRequest{Schema: schema, Filter: opts.Filter, Sort: opts.Sort,
		DefaultSort: "-created_at", Limit: opts.Limit, Cursor: opts.Cursor})
	if err != nil {
		return core.Page[*Contact]{}, err
	}
	tenant, _ := s.sc.Tenant()
	rows, err := s.repo.listContacts(ctx, s.sc.Q(), tenant, plan)
	if err != nil {
		return core.Page[*Contact]{}, store.Wrap(err, "list contacts")
	}
	return store.PageOf(s.sc, plan, rows, func(c *Contact) (any, core.ID) { return plan.Sort.Field.SortKey(c), c.ID })
}

// Restrict restricts the processing of the contact's data (GDPR Art. 18):
// the contact stays, but marketing (consent.Allowed), scoring and lead
// models leave it out until LiftRestriction. reason is a short code kept
// in the event (and so in the audit log). Emits "contact.restricted";
// restricting a restricted contact changes nothing.
func (s *Service) Restrict(ctx context.Context, id core.ID, reason string) error {
	return s.setRestricted(ctx, id, true, reason)
}

// LiftRestriction ends a restriction and emits "contact.restriction_lifted".
func (s *Service) LiftRestriction(ctx context.Context, id core.ID, reason string) error {
	return s.setRestricted(ctx, id, false, reason)
}

func (s *Service) setRestricted(ctx context.Context, id core.ID, on bool, reason string) error {
	if !core.ValidCode(reason) {
		return core.Invalid("reason", "must be a short code of lower-case letters, digits and _")
	}
	err := s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		c, err := s.repo.getContact(ctx, tx.Q(), tenant, "c.id = ?"+tx.Q().D.LockRows(), id)
		if err != nil {
			return err
		}
		if c.Restricted == on {
			return nil
		}
		if _, err := tx.Q().Exec(ctx, `UPDATE crm_contacts SET restricted = ? WHERE tenant_id = ? AND id = ?`, on, tenant, id); err != nil {
			return err
		}
		typ := EventContactRestricted
		if !on {
			typ = EventContactRestrictionLifted
		}
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: typ, SubjectType: "contact", SubjectID: id,
			Data: store.JSON(RestrictionChanged{Reason: reason})})
	})
	return store.Wrap(err, "restrict contact")
}

// InactiveLeads returns up to limit ids, after the id after (keyset), of
// the subscribers and leads whose latest activity — or, without any, whose
// creation — is before cutoff, leaving restricted contacts out: the
// candidates of a retention policy.
func (s *Service) InactiveLeads(ctx context.Context, cutoff time.Time, after core.ID, limit int) ([]core.ID, error) {
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	v := &core.ValidationError{}
	v.CheckTime("cutoff", cutoff)
	if limit < 1 || limit > store.MaxLimit {
		v.Add("limit", "must be between 1 and %d", store.MaxLimit)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	rows, err := s.sc.Q().PlanPerCall().Query(ctx, `SELECT c.id FROM crm_contacts c WHERE c.tenant_id = ? AND c.id > ?
		AND c.lifecycle_stage IN ('subscriber', 'lead') AND NOT c.restricted
		AND COALESCE(c.last_activity_at, c.created_at) < ? ORDER BY c.id LIMIT ?`, tenant, after, cutoff, limit)
	if err != nil {
		return nil, store.Wrap(err, "inactive leads")
	}
	out := []core.ID{}
	err = store.EachRow(rows, func(r store.Scanner) error {
		var id core.ID
		err := r.Scan(&id)
		out = append(out, id)
		return err
	})
	return out, store.Wrap(err, "inactive leads")
}

// DeleteActivities deletes the activities of kind that occurred before
// cutoff, in transactions of 5,000, and returns how many (a retention
// policy's work). Contacts keep their facts.
func (s *Service) DeleteActivities(ctx context.Context, kind ActivityKind, cutoff time.Time) (int64, error) {
	v := &core.ValidationError{}
	if !slices.Contains(ActivityKinds, kind) {
		v.Add("kind", "%q is not an activity kind", kind)
	}
	v.CheckTime("cutoff", cutoff)
	if err := v.Err(); err != nil {
		return 0, err
	}
	var total int64
	for {
		var n int64
		err := s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
			tenant, _ := s.sc.Tenant()
			res, err := tx.Q().Exec(ctx, `DELETE FROM crm_activities WHERE tenant_id = ? AND id IN
				(SELECT a.id FROM crm_activities a WHERE a.tenant_id = ? AND a.kind = ? AND a.occurred_at < ? LIMIT 5000)`,
				tenant, tenant, string(kind), cutoff)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, store.Wrap(err, "delete activities")
		}
		total += n
		if n < 5000 {
			return total, nil
		}
	}
}
