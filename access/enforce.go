package access

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// permModule is the name roles grant permissions on for the facility's
// own records: users, teams and roles (Modules).
const permModule = "access"

// AuditDenied is the action of the audit entries that record an attempt
// the facility refused (store.Runtime.Audit). The entry's detail is
// "<module>:<action>", e.g. "access:manage".
const AuditDenied = "access.denied"

// guard is the access check of one call on users, teams or roles: the
// actor in the context, resolved (everything for the host's own code).
type guard struct {
	sc    store.Scope
	eff   *Effective
	actor core.Actor
}

// denial is a refused attempt on its way out of a call: the error the
// caller gets and what the audit log records, after the call's
// transaction (done), so that it is not rolled back with the change.
type denial struct {
	err    error
	kind   string
	id     core.ID
	action Action
}

func (d *denial) Error() string { return d.err.Error() }
func (d *denial) Unwrap() error { return d.err }

// check resolves the actor in ctx and requires action on the facility of
// them; a refusal is recorded on kind's record id (NilID for none) and
// returned.
func check(ctx context.Context, sc store.Scope, kind string, id core.ID, action Action) (*guard, error) {
	eff, err := newService(sc).ForContext(ctx)
	if err != nil {
		return nil, err
	}
	actor, _ := core.ActorFrom(ctx)
	g := &guard{sc: sc, eff: eff, actor: actor}
	if err := eff.Require(permModule, action); err != nil {
		return nil, g.done(ctx, &denial{err: err, kind: kind, id: id, action: action})
	}
	return g, nil
}

// forbid returns ErrForbidden with why (ids and names of roles only), to
// be recorded.
func (g *guard) forbid(kind string, id core.ID, why string) error {
	err := fmt.Errorf("%w: user %s may not %s in %s: %s", core.ErrForbidden, g.eff.Actor(), Manage, permModule, why)
	return &denial{err: err, kind: kind, id: id, action: Manage}
}

// done records the refused attempt err carries, if any, in the audit log
// (who, which action, which record id) and returns the error the caller
// gets. Without an audit log nothing is recorded; a failure to record is
// logged, not returned.
func (g *guard) done(ctx context.Context, err error) error {
	var d *denial
	if !errors.As(err, &d) {
		return err
	}
	if audit := g.sc.Runtime().Audit; audit != nil && !g.eff.Trusted() {
		e := store.AuditEntry{Action: AuditDenied, SubjectType: d.kind, SubjectID: d.id, Detail: permModule + ":" + string(d.action)}
		if aerr := audit(ctx, g.sc, e); aerr != nil {
			g.sc.Runtime().Logger.WarnContext(ctx, "crm: audit of a denied attempt failed",
				"subject_type", d.kind, "subject_id", d.id, "error", aerr)
		}
	}
	return d.err
}

// within reports whether p grants nothing beyond the actor's own
// permissions: per module, no action they lack, no wider visibility, and
// personal data only where they see it.
func (g *guard) within(p Permissions) bool {
	if g.eff.Trusted() {
		return true
	}
	for m, want := range p {
		have := g.eff.grants[m]
		for _, a := range want.Actions {
			if !have.Allows(a) {
				return false
			}
		}
		if len(want.Actions) > 0 && want.Visibility.rank() > have.Visibility.rank() {
			return false
		}
		if want.PersonalData && !have.PersonalData {
			return false
		}
	}
	return true
}

// rolesWithin returns the first of the named roles of tenant (read
// through q) that grants more than the actor has, or "".
func (g *guard) rolesWithin(ctx context.Context, q store.Q, tenant string, names []string) (string, error) {
	if g.eff.Trusted() || len(names) == 0 {
		return "", nil
	}
	roles, err := rolesWhere(ctx, q, tenant, q.D.InList("name", "text"), q.D.ListArg(names))
	if err != nil {
		return "", err
	}
	for _, r := range roles {
		if !g.within(r.Permissions) {
			return r.Name, nil
		}
	}
	return "", nil
}

// noWider is the last step of every change by an actor, in its
// transaction (sc is bound to it): the actor, resolved again, may see
// and do nothing they could not before. A change that would widen their
// own permissions — a role of theirs extended, a team of theirs joined
// by others or by them, a team renamed to one their Actor names — is
// refused, and rolls back.
func (g *guard) noWider(ctx context.Context, sc store.Scope, kind string, id core.ID) error {
	if g.eff.Trusted() {
		return nil
	}
	after, err := resolve(ctx, sc, g.actor)
	if err != nil {
		return err
	}
	if !g.eff.covers(after) {
		return g.forbid(kind, id, "the change would widen the actor's own permissions")
	}
	return nil
}

// covers reports whether e may do and see everything n may: every action
// in every module, personal data, and every record (n's visible owners a
// subset of e's).
func (e *Effective) covers(n *Effective) bool {
	if e.trusted {
		return true
	}
	if n.trusted {
		return false
	}
	for _, m := range modules {
		for _, a := range Actions {
			if n.Can(m, a) && !e.Can(m, a) {
				return false
			}
		}
		if n.SeesPersonalData(m) && !e.SeesPersonalData(m) {
			return false
		}
		ev, eids := e.Visibility(m)
		nv, nids := n.Visibility(m)
		switch {
		case nv == VisibilityNone || ev == VisibilityAll:
		case nv == VisibilityAll || ev == VisibilityNone:
			return false
		default:
			for _, id := range nids {
				if !slices.Contains(eids, id) {
					return false
				}
			}
		}
	}
	return true
}
