package contacts

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
)

// Service manages contacts of one tenant. Get one from the crm facade
// (c.Contacts); its zero value is not usable.
type Service struct {
	sc   store.Scope
	repo repository
}

// newService returns the service for scope sc. Hosts use crm.CRM.Contacts.
func newService(sc store.Scope) *Service {
	return &Service{sc: sc, repo: sqlRepository{}}
}

// Get returns the contact with id.
func (s *Service) Get(ctx context.Context, id core.ID) (_ *Contact, err error) {
	ctx, span := s.sc.SpanID(ctx, "contacts.Get", id)
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return nil, err
	}
	c, err := s.get(ctx, g, tenant, id)
	return g.mask(c), g.done(ctx, store.Wrap(err, "get contact"))
}

// get reads the contact with id that g's actor may read.
func (s *Service) get(ctx context.Context, g *guard, tenant string, id core.ID) (*Contact, error) {
	if err := g.require("contact", id, access.Read); err != nil {
		return nil, err
	}
	return s.visibleContact(ctx, g, s.sc.Q(), tenant, access.Read, false, "c.id = ?", id)
}

// GetByEmail returns the contact with email (compared normalised).
func (s *Service) GetByEmail(ctx context.Context, email string) (_ *Contact, err error) {
	ctx, span := s.sc.Span(ctx, "contacts.GetByEmail")
	defer span.End(&err)

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
	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return nil, err
	}
	c, err := s.getByEmail(ctx, g, tenant, email)
	return c, g.done(ctx, store.Wrap(err, "get contact by email"))
}

func (s *Service) getByEmail(ctx context.Context, g *guard, tenant, email string) (*Contact, error) {
	if err := g.require("contact", core.NilID, access.Read); err != nil {
		return nil, err
	}
	// A lookup by a personal field would tell who has the address.
	if !g.pd() {
		return nil, g.forbid("contact", core.NilID, access.Read, "look up by a personal field (email)")
	}
	return s.visibleContact(ctx, g, s.sc.Q(), tenant, access.Read, false, "c.email = ? AND c.email <> ''", email)
}

// GetByExternalID returns the contact linked to source's id.
func (s *Service) GetByExternalID(ctx context.Context, source, id string) (_ *Contact, err error) {
	ctx, span := s.sc.Span(ctx, "contacts.GetByExternalID")
	defer span.End(&err)

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
	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return nil, err
	}
	if err := g.require("contact", core.NilID, access.Read); err != nil {
		return nil, g.done(ctx, err)
	}
	c, err := s.visibleContact(ctx, g, s.sc.Q(), tenant, access.Read, false,
		"c.id = (SELECT x.contact_id FROM crm_contact_external_ids x WHERE x.tenant_id = ? AND x.source = ? AND x.external_id = ?)",
		tenant, source, id)
	return g.mask(c), g.done(ctx, store.Wrap(err, "get contact by external id"))
}

// Create stores a new contact and emits "contact.created". An actor needs
// the contacts create permission, may only create contacts they will see
// (with own or team visibility, an owner who is themselves or of their
// teams; an empty owner becomes the actor), and, without personal data,
// may not set email or phone.
func (s *Service) Create(ctx context.Context, in NewContact) (_ *Contact, err error) {
	ctx, span := s.sc.Span(ctx, "contacts.Create")
	defer span.End(&err)

	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return nil, err
	}
	if err := s.checkCreate(g, &in); err != nil {
		return nil, g.done(ctx, err)
	}
	var out *Contact
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		c, err := s.create(ctx, tx, in)
		out = c
		return err
	})
	if err != nil {
		return nil, store.Wrap(err, "create contact")
	}
	return g.mask(out), nil
}

// checkCreate checks that g's actor may create the contact in describes,
// and gives it the actor as owner when it names none and the actor sees
// only their own or their teams' contacts.
func (s *Service) checkCreate(g *guard, in *NewContact) error {
	if g.trusted() {
		return nil
	}
	if err := g.require("contact", core.NilID, access.Create); err != nil {
		return err
	}
	if err := g.checkWrite(core.NilID, access.Create, &in.Email, &in.Phone, in.Attributes); err != nil {
		return err
	}
	return g.checkOwner(core.NilID, access.Create, &in.OwnerID)
}

func (s *Service) create(ctx context.Context, tx *store.Tx, in NewContact) (*Contact, error) {
	tenant, _ := s.sc.Tenant()
	in.normalize()
	now := tx.Runtime().Now()
	q := tx.Q()
	defs, err := fields.Module.Cached(ctx, tx, tenant, EntityContact)
	if err != nil {
		return nil, err
	}
	c, attrs, err := newContact(in, now, defs)
	if err != nil {
		return nil, err
	}
	// External ids are checked first; the email's unique index and the
	// company's foreign key are checked by the insert itself (one round
	// trip fewer for the common create), and a refused email explained.
	if err := s.checkUnique(ctx, q, tenant, &Contact{ID: c.ID, CompanyID: c.CompanyID}, c.ExternalIDs); err != nil {
		return nil, err
	}
	inserted, err := s.repo.insertContact(ctx, q, tenant, c, attrs)
	if err != nil {
		return nil, s.translate(err, c)
	}
	if !inserted {
		if err := s.checkUnique(ctx, q, tenant, c, nil); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: contact %s", errTakenConcurrently, c.ID)
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
func newContact(in NewContact, now time.Time, defs []*fields.Definition) (*Contact, []byte, error) {
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
func (s *Service) Update(ctx context.Context, id core.ID, patch ContactPatch) (_ *Contact, err error) {
	ctx, span := s.sc.SpanID(ctx, "contacts.Update", id)
	defer span.End(&err)

	if err := core.CheckVersion(patch.Version); err != nil {
		return nil, err
	}
	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return nil, err
	}
	var out *Contact
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		cur, err := s.writable(ctx, g, tx.Q(), tenant, id, access.Update)
		if err != nil {
			return err
		}
		if err := g.checkWrite(id, access.Update, patch.Email, patch.Phone, patch.Attributes); err != nil {
			return err
		}
		if patch.OwnerID != nil {
			if err := g.checkOwner(id, access.Update, patch.OwnerID); err != nil {
				return err
			}
		}
		if patch.Version != cur.Version {
			return fmt.Errorf("%w: contact %s is at version %d, not %d; read it again", core.ErrConflict, id, cur.Version, patch.Version)
		}
		next := applyPatch(cur, patch)
		out, err = s.save(ctx, tx, cur, next, nil)
		return err
	})
	if err != nil {
		return nil, g.done(ctx, store.Wrap(err, "update contact"))
	}
	return g.mask(out), nil
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
	defs, err := fields.Module.Cached(ctx, tx, tenant, EntityContact)
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
	// Only what changed can be taken or missing.
	check := &Contact{ID: next.ID}
	if next.Email != cur.Email {
		check.Email = next.Email
	}
	if !sameID(next.CompanyID, cur.CompanyID) {
		check.CompanyID = next.CompanyID
	}
	if err := s.checkUnique(ctx, q, tenant, check, newExt); err != nil {
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
func (s *Service) Delete(ctx context.Context, id core.ID) (err error) {
	ctx, span := s.sc.SpanID(ctx, "contacts.Delete", id)
	defer span.End(&err)

	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return err
	}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		if _, err := s.writableLocked(ctx, g, tx.Q(), tenant, id, access.Delete); err != nil {
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
	return g.done(ctx, store.Wrap(err, "delete contact"))
}

// LinkExternalID links source's id to the contact with id. Linking a pair
// the contact already has does nothing; a pair of another contact is
// ErrConflict.
func (s *Service) LinkExternalID(ctx context.Context, id core.ID, x ExternalID) (_ *Contact, err error) {
	ctx, span := s.sc.SpanID(ctx, "contacts.LinkExternalID", id)
	defer span.End(&err)

	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return nil, err
	}
	var out *Contact
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		cur, err := s.writable(ctx, g, tx.Q(), tenant, id, access.Update)
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
		return nil, g.done(ctx, store.Wrap(err, "link external id"))
	}
	return g.mask(out), nil
}

// Count returns the number of contacts matching f.
func (s *Service) Count(ctx context.Context, f filter.Expr) (_ int64, err error) {
	ctx, span := s.sc.Span(ctx, "contacts.Count")
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return 0, err
	}
	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return 0, err
	}
	if err := g.require("contact", core.NilID, access.Read); err != nil {
		return 0, g.done(ctx, err)
	}
	if err := g.checkQuery(f, ""); err != nil {
		return 0, g.done(ctx, err)
	}
	schema, err := fields.Module.SchemaFor(ctx, s.sc, Schema, EntityContact, "c.attributes", f, "")
	if err != nil {
		return 0, err
	}
	where, err := schema.Compile(f, filter.Dialect(s.sc.Runtime().Dialect.Kind), s.sc.Runtime().Now())
	if err != nil {
		return 0, err
	}
	cond, args := g.contacts("c")
	where.Where, where.Args = and("("+where.Where+")", where.Args, cond, args)
	n, err := s.repo.countContacts(ctx, s.sc.Q(), tenant, where)
	return n, store.Wrap(err, "count contacts")
}

// List returns one page of contacts matching opts.Filter in opts.Sort
// order. Pass the returned page's Next as opts.Cursor (with the same filter
// and sort) for the following page.
//
// With an actor, the page holds only the contacts they see (in SQL, so
// pages and counts agree), its cursor is bound to the actor, and for an
// actor without personal data email and phone are masked and may be
// neither filtered nor sorted on (ErrForbidden).
func (s *Service) List(ctx context.Context, opts ListOptions) (_ core.Page[*Contact], err error) {
	ctx, span := s.sc.Span(ctx, "contacts.List")
	defer span.End(&err)

	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return core.Page[*Contact]{}, err
	}
	if err := g.require("contact", core.NilID, access.Read); err != nil {
		return core.Page[*Contact]{}, g.done(ctx, err)
	}
	page, err := s.list(ctx, g, opts)
	return page, g.done(ctx, err)
}

// list is List for g's actor, who may read.
func (s *Service) list(ctx context.Context, g *guard, opts ListOptions) (core.Page[*Contact], error) {
	if err := g.checkQuery(opts.Filter, opts.Sort); err != nil {
		return core.Page[*Contact]{}, err
	}
	schema, err := fields.Module.SchemaFor(ctx, s.sc, Schema, EntityContact, "c.attributes", opts.Filter, opts.Sort)
	if err != nil {
		return core.Page[*Contact]{}, err
	}
	plan, err := s.sc.PlanList(store.ListRequest{Schema: schema, Filter: opts.Filter, Sort: opts.Sort,
		DefaultSort: "-created_at", Limit: opts.Limit, Cursor: opts.Cursor, Visible: g.visible(g.contacts("c"))})
	if err != nil {
		return core.Page[*Contact]{}, err
	}
	tenant, _ := s.sc.Tenant()
	rows, err := s.repo.listContacts(ctx, s.sc.Q(), tenant, plan)
	if err != nil {
		return core.Page[*Contact]{}, store.Wrap(err, "list contacts")
	}
	page, err := store.PageOf(s.sc, plan, rows, func(c *Contact) (any, core.ID) { return plan.Sort.Field.SortKey(c), c.ID })
	for _, c := range page.Items {
		g.mask(c)
	}
	return page, err
}
