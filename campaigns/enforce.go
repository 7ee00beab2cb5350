package campaigns

import (
	"context"
	"errors"
	"fmt"

	"github.com/crmkit/crmkit/contacts"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/store"
)

// permModule is the name roles grant permissions on for everything this
// package keeps: segments, templates, campaigns, their recipients,
// tracking and bounces (access.Modules).
const permModule = "campaigns"

// contactsModule is the module whose visibility and personal data decide
// which people (segment members, campaign recipients) an actor is shown.
const contactsModule = "contacts"

// AuditDenied is the action of the audit entries that record an attempt
// the module's record access refused (store.Runtime.Audit). The entry's
// detail is "<module>:<action>", e.g. "campaigns:update".
const AuditDenied = "access.denied"

// guard is the record access of one call: the actor's effective
// permissions in the scope's tenant (everything for the host's own code).
type guard struct {
	sc  store.Scope
	eff *access.Effective
}

// guardOf resolves the actor in ctx. No actor is the host's own trusted
// code, which may do everything.
func guardOf(ctx context.Context, sc store.Scope) (*guard, error) {
	eff, err := access.Module.Service(sc).ForContext(ctx)
	if err != nil {
		return nil, err
	}
	return &guard{sc: sc, eff: eff}, nil
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

// trusted reports whether the call is the host's own code.
func (g *guard) trusted() bool { return g.eff.Trusted() }

// pd reports whether the actor sees people's personal data (the contacts
// module's grant).
func (g *guard) pd() bool { return g.eff.SeesPersonalData(contactsModule) }

// denial is a refused attempt on its way out of a call: the error the
// caller gets and what the audit log records. Calls build it inside their
// transactions and record it after them (done), so that the entry is not
// rolled back with the refused change.
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

// people is " AND " and the SQL condition (with its arguments) that
// keeps the rows whose contact, in the column col, the actor sees in the
// contacts module (which writes the condition): its owner is the actor
// (own visibility) or a member of one of their teams (team). A row
// without a contact is kept only for actors who see every contact. ""
// when the actor sees every contact.
func (g *guard) people(col string) (string, []any, error) {
	cond, args, err := contacts.Module.Visible(g.sc, g.eff, col)
	if err != nil || cond == "1 = 1" {
		return "", nil, err
	}
	return " AND " + cond, args, nil
}

// checkFilter refuses, for an actor who does not see the contacts'
// personal data, a segment filter that names a personal field: email,
// phone or a custom field of contacts marked personal (or one of its
// parts), which the contacts module names (contacts.Module.PersonalFields)
// and refuses in its own filters. The actor could otherwise learn the
// masked values from a segment's counts and members. It is ErrForbidden,
// to be recorded (done).
func (g *guard) checkFilter(ctx context.Context, id core.ID, action access.Action, f filter.Expr) error {
	if g.pd() {
		return nil
	}
	personal, err := contacts.Module.PersonalFields(ctx, g.sc)
	if err != nil {
		return err
	}
	if p := contacts.Module.NamesPersonal(f, personal); p != "" {
		return g.forbid("segment", id, action, "filter on personal field "+p)
	}
	return nil
}
