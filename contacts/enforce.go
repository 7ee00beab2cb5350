package contacts

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/store"
)

// permModule is the name roles grant permissions on for everything this
// package keeps: contacts, companies, activities, notes and tasks
// (access.Modules).
const permModule = "contacts"

// AuditDenied is the action of the audit entries that record an attempt
// the module's record access refused (store.Runtime.Audit). The entry's
// detail is "<module>:<action>", e.g. "contacts:update".
const AuditDenied = "access.denied"

// personalFields are the contact fields masked for actors who do not see
// the module's personal data, and which they may neither filter nor sort
// on; the contact's custom fields marked personal (fields.Definition
// Personal) are too, as "attributes.<key>".
var personalFields = []string{"email", "phone"}

// guard is the record access of one call: the actor's effective
// permissions in the scope's tenant (everything for the host's own code).
type guard struct {
	sc  store.Scope
	eff *access.Effective
	// personal are the keys of the contact's custom fields marked
	// personal, read only for an actor who does not see personal data.
	personal []string
	// companyPersonal are the keys of the companies' custom fields marked
	// personal, read by the calls on companies (checkCompany) for an actor
	// who does not see personal data.
	companyPersonal []string
}

// guardOf resolves the actor in ctx. No actor is the host's own trusted
// code, which may do everything. For an actor who does not see personal
// data it reads which custom fields of contacts are personal.
func guardOf(ctx context.Context, sc store.Scope) (*guard, error) {
	eff, err := access.Module.Service(sc).ForContext(ctx)
	if err != nil {
		return nil, err
	}
	g := &guard{sc: sc, eff: eff}
	if !g.pd() {
		tenant, _ := sc.Tenant()
		defs, err := fields.Module.List(ctx, sc.Q(), tenant, EntityContact)
		if err != nil {
			return nil, store.Wrap(err, "read field definitions")
		}
		for _, d := range defs {
			if d.Personal {
				g.personal = append(g.personal, d.Key)
			}
		}
	}
	return g, nil
}

// personalNames are the filter and sort names g's actor may not use: the
// personal fields and the personal custom fields (nil when they see
// personal data).
func (g *guard) personalNames() []string {
	if g.pd() {
		return nil
	}
	out := slices.Clone(personalFields)
	for _, k := range g.personal {
		out = append(out, filter.AttributePrefix+k)
	}
	return out
}

// names reports whether field (a filter or sort field) is name or one of
// its parts ("attributes.budget.amount" of "attributes.budget").
func names(field, name string) bool {
	return field == name || strings.HasPrefix(field, name+".")
}

// trusted reports whether the call is the host's own code.
func (g *guard) trusted() bool { return g.eff.Trusted() }

// pd reports whether the actor sees personal data.
func (g *guard) pd() bool { return g.eff.SeesPersonalData(permModule) }

// all reports whether the actor sees every record of the module.
func (g *guard) all() bool {
	v, _ := g.eff.Visibility(permModule)
	return v == access.VisibilityAll
}

// denial is a refused attempt on its way out of a call: the error the
// caller gets and what the audit log records. Calls build it inside their
// transactions and record it after them (done), so that the entry is not
// rolled back with the refused change, nor written while the change's
// transaction holds SQLite's one writer.
type denial struct {
	err    error
	kind   string
	id     core.ID
	action access.Action
}

func (d *denial) Error() string { return d.err.Error() }
func (d *denial) Unwrap() error { return d.err }

// require returns nil when the actor may do every one of actions, and
// otherwise ErrForbidden, to be recorded (done) on kind's record id
// (NilID for none).
func (g *guard) require(kind string, id core.ID, actions ...access.Action) error {
	for _, a := range actions {
		if err := g.eff.Require(permModule, a); err != nil {
			return &denial{err: err, kind: kind, id: id, action: a}
		}
	}
	return nil
}

// forbid returns ErrForbidden with why (which names no personal data), to
// be recorded.
func (g *guard) forbid(kind string, id core.ID, action access.Action, why string) error {
	err := fmt.Errorf("%w: user %s may not %s in %s: %s", core.ErrForbidden, g.eff.Actor(), action, permModule, why)
	return &denial{err: err, kind: kind, id: id, action: action}
}

// hide is err, marked to be recorded when it is the ErrNotFound of a
// record that exists but that the actor may not see (exists tells, with
// the record's id; it is asked only then).
func (g *guard) hide(err error, kind string, action access.Action, exists func() (core.ID, bool)) error {
	if err == nil || g.trusted() || g.all() || !errors.Is(err, core.ErrNotFound) {
		return err
	}
	if id, ok := exists(); ok {
		return &denial{err: err, kind: kind, id: id, action: action}
	}
	return err
}

// done records the refused attempt err carries, if any, in the audit log
// (who, which action, which record id: no personal data), and returns the
// error the caller gets. The audit log is the consent module's
// (store.Runtime.Audit); without it nothing is recorded, and a failure to
// record is logged, not returned, so the caller gets the refusal.
func (g *guard) done(ctx context.Context, err error) error {
	var d *denial
	if !errors.As(err, &d) {
		return err
	}
	if audit := g.sc.Runtime().Audit; audit != nil && !g.trusted() {
		e := store.AuditEntry{Action: AuditDenied, SubjectType: d.kind, SubjectID: d.id, Detail: permModule + ":" + string(d.action)}
		if aerr := audit(ctx, g.sc, e); aerr != nil {
			g.sc.Runtime().Logger.WarnContext(ctx, "crm: audit of a denied attempt failed",
				"subject_type", d.kind, "subject_id", d.id, "error", aerr)
		}
	}
	return d.err
}

// contacts is the SQL condition (with its arguments) that narrows a query
// over crm_contacts aliased alias to the contacts the actor sees: those
// whose owner is the actor (own) or a member of one of their teams (team),
// or all.
func (g *guard) contacts(alias string) (string, []any) {
	return g.eff.Condition(permModule, alias+".owner_id")
}

// byContact is the condition for records that belong to a contact (notes,
// activities): visible when their contact is; col is their contact_id
// column and alias their table's alias.
func (g *guard) byContact(alias, col string) (string, []any) {
	if g.all() {
		return "1 = 1", nil
	}
	cond, args := g.contacts("vc")
	return `EXISTS (SELECT 1 FROM crm_contacts vc WHERE vc.tenant_id = ` + alias + `.tenant_id AND vc.id = ` + col + ` AND ` + cond + `)`, args
}

// tasks is the condition for tasks: visible when their assignee is the
// actor or a member of their teams.
func (g *guard) tasks(alias string) (string, []any) {
	return g.eff.Condition(permModule, alias+".assignee_id")
}

// otherSubjects are the subject types, besides "contact", whose events
// about a contact the actor sees on its timeline: any (true) for the
// host's own code; for an actor, those of the modules (by subjects, the
// runtime's SubjectModules) whose records they may read all of — the
// event does not say whose record it is about, so an actor who sees only
// their own or their team's deals sees no deal's events there.
func (g *guard) otherSubjects(subjects map[string]string) (types []string, all bool) {
	if g.trusted() {
		return nil, true
	}
	for subject, module := range subjects {
		if subject == "contact" || subject == "activity" || subject == "note" || !g.eff.Can(module, access.Read) {
			continue
		}
		if v, _ := g.eff.Visibility(module); v == access.VisibilityAll {
			types = append(types, subject)
		}
	}
	slices.Sort(types)
	return types, false
}

// visible is cond as a list's Visible, keyed by the actor and what they
// see so that cursors are bound to both. The host's own code adds nothing.
func (g *guard) visible(cond string, args []any) store.Visible {
	if g.trusted() {
		return store.Visible{}
	}
	vis, ids := g.eff.Visibility(permModule)
	key := g.eff.Actor() + "\x00" + string(vis) + "\x00" + strings.Join(ids, "\x00")
	if cond == "1 = 1" {
		cond = ""
	}
	return store.Visible{Key: key, Where: cond, Args: args}
}

// and appends cond to where, with args to wargs.
func and(where string, wargs []any, cond string, args []any) (string, []any) {
	if cond == "1 = 1" {
		return where, wargs
	}
	return where + " AND " + cond, append(append([]any(nil), wargs...), args...)
}

// checkQuery refuses, for an actor who does not see personal data, a
// filter or a sort that names a personal field: they could learn the
// masked values by filtering. It is ErrForbidden, recorded.
func (g *guard) checkQuery(f filter.Expr, sort string) error {
	if g.pd() {
		return nil
	}
	sortField := strings.TrimPrefix(sort, "-")
	personal := g.personalNames()
	for _, p := range personal {
		if names(sortField, p) {
			return g.forbid("contact", core.NilID, access.Read, "sort on personal field "+p)
		}
	}
	if bad := personalIn(f, personal); bad != "" {
		return g.forbid("contact", core.NilID, access.Read, "filter on personal field "+bad)
	}
	return nil
}

// checkWrite refuses, for an actor who does not see personal data, a
// write that sets a personal field: they may not change what they cannot
// read (nor learn, from a conflict, whose address it is).
func (g *guard) checkWrite(id core.ID, action access.Action, email, phone *string, attrs map[string]any) error {
	if g.pd() {
		return nil
	}
	if (email != nil && *email != "") || (phone != nil && *phone != "") {
		return g.forbid("contact", id, action, "write personal fields (email, phone)")
	}
	for _, k := range g.personal {
		if _, ok := attrs[k]; ok {
			return g.forbid("contact", id, action, "write personal custom field "+k)
		}
	}
	return nil
}

// mask blanks c's personal fields (email, phone: the empty string) and
// leaves out its personal custom fields (their keys are absent from
// Attributes) for an actor who does not see personal data, and returns c.
func (g *guard) mask(c *Contact) *Contact {
	if c != nil && !g.pd() {
		c.Email, c.Phone = "", ""
		for _, k := range g.personal {
			delete(c.Attributes, k)
		}
	}
	return c
}

// personalIn returns the first of personal (field names) f names, or "".
func personalIn(f filter.Expr, personal []string) string {
	for cond := range f.Conditions() {
		for _, p := range personal {
			if names(cond.Field, p) {
				return p
			}
		}
	}
	return ""
}

// visibleContact reads the contact where holds (with args) among those
// the actor sees, locking its row when lock is set. A contact that exists
// but is hidden from the actor is ErrNotFound, as a missing one, and is
// recorded as a refused attempt of action.
func (s *Service) visibleContact(ctx context.Context, g *guard, q store.Q, tenant string, action access.Action, lock bool,
	where string, args ...any) (*Contact, error) {
	cond, cargs := g.contacts("c")
	w, a := and(where, args, cond, cargs)
	suffix := ""
	if lock {
		suffix = q.D.LockRows()
	}
	c, err := s.repo.getContact(ctx, q, tenant, w+suffix, a...)
	if err != nil {
		return nil, g.hide(err, "contact", action, func() (core.ID, bool) {
			found, ferr := s.repo.getContact(ctx, q, tenant, where, args...)
			if ferr != nil {
				return core.NilID, false
			}
			return found.ID, true
		})
	}
	return c, nil
}

// writable reads the contact with id for a change by g's actor (action):
// hidden from them it is ErrNotFound, visible but not theirs to change
// ErrForbidden.
func (s *Service) writable(ctx context.Context, g *guard, q store.Q, tenant string, id core.ID, action access.Action) (*Contact, error) {
	return s.writableIn(ctx, g, q, tenant, id, action, false)
}

// writableLocked is writable, locking the contact's row.
func (s *Service) writableLocked(ctx context.Context, g *guard, q store.Q, tenant string, id core.ID, action access.Action) (*Contact, error) {
	return s.writableIn(ctx, g, q, tenant, id, action, true)
}

func (s *Service) writableIn(ctx context.Context, g *guard, q store.Q, tenant string, id core.ID, action access.Action, lock bool) (*Contact, error) {
	if !g.eff.Can(permModule, access.Read) {
		// Nothing of the module is visible to them: nothing to hide.
		return nil, g.require("contact", id, action, access.Read)
	}
	c, err := s.visibleContact(ctx, g, q, tenant, action, lock, "c.id = ?", id)
	if err != nil {
		return nil, err
	}
	if err := g.require("contact", id, action); err != nil {
		return nil, err
	}
	return c, nil
}

// checkOwner checks the owner a write by g's actor gives a contact: with
// own or team visibility it must be an owner whose contacts they see (the
// contact would vanish from their view otherwise); an empty owner on
// create becomes the actor.
func (g *guard) checkOwner(id core.ID, action access.Action, owner *string) error {
	vis, ids := g.eff.Visibility(permModule)
	if vis == access.VisibilityAll || g.trusted() {
		return nil
	}
	o := strings.TrimSpace(*owner)
	if o == "" && id == core.NilID {
		*owner = g.eff.Actor()
		return nil
	}
	if !slices.Contains(ids, o) {
		return g.forbid("contact", id, action, "give the contact an owner outside the actor's visibility")
	}
	return nil
}

// check resolves the actor in ctx and requires actions of them, recording
// a refusal (on kind's record id) and returning it.
func check(ctx context.Context, sc store.Scope, kind string, id core.ID, actions ...access.Action) (*guard, error) {
	g, err := guardOf(ctx, sc)
	if err != nil {
		return nil, err
	}
	if err := g.require(kind, id, actions...); err != nil {
		return nil, g.done(ctx, err)
	}
	return g, nil
}

// fetch reads the record kind with id for action by g's actor through get,
// which appends extra (" AND " and a condition, or "") to its WHERE with
// args: the record must satisfy cond (the actor's visibility of kind) and
// is ErrNotFound otherwise, as a missing one; visible but not the actor's
// to change (action other than read) it is ErrForbidden.
func fetch[T any](g *guard, kind string, id core.ID, action access.Action, cond string, cargs []any,
	get func(extra string, args []any) (T, error)) (T, error) {
	var zero T
	if !g.eff.Can(permModule, access.Read) {
		return zero, g.require(kind, id, action, access.Read)
	}
	extra := ""
	if cond != "1 = 1" {
		extra = " AND " + cond
	}
	v, err := get(extra, cargs)
	if err != nil {
		return zero, g.hide(err, kind, action, func() (core.ID, bool) {
			_, e := get("", nil)
			return id, e == nil
		})
	}
	if err := g.require(kind, id, action); err != nil {
		return zero, err
	}
	return v, nil
}

// checkAssignee checks the assignee a write by g's actor gives a task, as
// checkOwner checks a contact's owner: with own or team visibility, one
// whose tasks they see; an empty assignee on create becomes the actor.
func (g *guard) checkAssignee(id core.ID, action access.Action, assignee *string) error {
	vis, ids := g.eff.Visibility(permModule)
	if vis == access.VisibilityAll || g.trusted() {
		return nil
	}
	a := strings.TrimSpace(*assignee)
	if a == "" && id == core.NilID {
		*assignee = g.eff.Actor()
		return nil
	}
	if !slices.Contains(ids, a) {
		return g.forbid("task", id, action, "assign the task outside the actor's visibility")
	}
	return nil
}

// checkCompany is check for a call on companies: it requires actions of
// the actor and, for one who does not see personal data, reads which
// custom fields of companies are personal (companyPersonal).
func checkCompany(ctx context.Context, sc store.Scope, id core.ID, actions ...access.Action) (*guard, error) {
	eff, err := access.Module.Service(sc).ForContext(ctx)
	if err != nil {
		return nil, err
	}
	g := &guard{sc: sc, eff: eff}
	if err := g.require("company", id, actions...); err != nil {
		return nil, g.done(ctx, err)
	}
	if !g.pd() {
		tenant, _ := sc.Tenant()
		defs, err := fields.Module.List(ctx, sc.Q(), tenant, EntityCompany)
		if err != nil {
			return nil, store.Wrap(err, "read field definitions")
		}
		g.companyPersonal = []string{}
		for _, d := range defs {
			if d.Personal {
				g.companyPersonal = append(g.companyPersonal, d.Key)
			}
		}
	}
	return g, nil
}

// checkCompanyQuery refuses, for an actor who does not see personal data,
// a filter or a sort of companies that names a personal custom field
// ("attributes.<key>" or one of its parts), as checkQuery does for
// contacts. It is ErrForbidden, to be recorded.
func (g *guard) checkCompanyQuery(f filter.Expr, sort string) error {
	if g.pd() {
		return nil
	}
	personal := make([]string, len(g.companyPersonal))
	for i, k := range g.companyPersonal {
		personal[i] = filter.AttributePrefix + k
	}
	sortField := strings.TrimPrefix(sort, "-")
	for _, p := range personal {
		if names(sortField, p) {
			return g.forbid("company", core.NilID, access.Read, "sort on personal field "+p)
		}
	}
	if bad := personalIn(f, personal); bad != "" {
		return g.forbid("company", core.NilID, access.Read, "filter on personal field "+bad)
	}
	return nil
}

// checkCompanyWrite refuses, for an actor who does not see personal data,
// a write that sets or removes a personal custom field of a company.
func (g *guard) checkCompanyWrite(id core.ID, action access.Action, attrs map[string]any) error {
	if g.pd() {
		return nil
	}
	for _, k := range g.companyPersonal {
		if _, ok := attrs[k]; ok {
			return g.forbid("company", id, action, "write personal custom field "+k)
		}
	}
	return nil
}

// maskCompany leaves c's personal custom fields out of its Attributes for
// an actor who does not see personal data, and returns c.
func (g *guard) maskCompany(c *Company) *Company {
	if c != nil && !g.pd() {
		for _, k := range g.companyPersonal {
			delete(c.Attributes, k)
		}
	}
	return c
}
