package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// permModule is the name roles grant permissions on for everything this
// package keeps: pipelines, stages, deals, line items, products and the
// lead model (access.Modules).
const permModule = "pipeline"

// AuditDenied is the action of the audit entries that record an attempt
// the module's record access refused (store.Runtime.Audit). The entry's
// detail is "<module>:<action>", e.g. "pipeline:update".
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

// all reports whether the actor sees every deal.
func (g *guard) all() bool {
	v, _ := g.eff.Visibility(permModule)
	return v == access.VisibilityAll
}

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

// deals is the SQL condition (with its arguments) that narrows a query
// over crm_deals aliased alias to the deals the actor sees: those whose
// owner is the actor (own) or a member of one of their teams (team), or
// all. "1 = 1" when they see all.
func (g *guard) deals(alias string) (string, []any) {
	return g.eff.Condition(permModule, alias+".owner_id")
}

// where is " AND " and the deals condition for alias, or "" when the actor
// sees every deal, with its arguments.
func (g *guard) where(alias string) (string, []any) {
	cond, args := g.deals(alias)
	if cond == "1 = 1" {
		return "", nil
	}
	return " AND " + cond, args
}

// visible is the deals condition as a list's Visible, keyed by the actor
// and what they see so that cursors are bound to both. The host's own
// code adds nothing.
func (g *guard) visible(alias string) store.Visible {
	if g.trusted() {
		return store.Visible{}
	}
	vis, ids := g.eff.Visibility(permModule)
	key := g.eff.Actor() + "\x00" + string(vis) + "\x00" + strings.Join(ids, "\x00")
	cond, args := g.deals(alias)
	if cond == "1 = 1" {
		cond = ""
	}
	return store.Visible{Key: key, Where: cond, Args: args}
}

// deal reads the deal with id for action by g's actor (locked when lock
// is set) through the actor's visibility: a deal they may not see is
// ErrNotFound, as a missing one (recorded as a refused attempt when it
// exists); one they see but may not do action on is ErrForbidden.
func (g *guard) deal(ctx context.Context, q store.Q, tenant string, id core.ID, action access.Action, lock bool) (*Deal, error) {
	if !g.eff.Can(permModule, access.Read) {
		// Nothing of the module is visible to them: nothing to hide.
		return nil, g.require("deal", id, action, access.Read)
	}
	extra, args := g.where("d")
	d, err := getDealWhere(ctx, q, tenant, id, lock, extra, args)
	if err != nil {
		if g.trusted() || extra == "" || !errors.Is(err, core.ErrNotFound) {
			return nil, err
		}
		if _, ferr := getDeal(ctx, q, tenant, id, false); ferr == nil {
			return nil, &denial{err: err, kind: "deal", id: id, action: action}
		}
		return nil, err
	}
	if err := g.require("deal", id, action); err != nil {
		return nil, err
	}
	return d, nil
}

// lockDeal reads the deal for action by g's actor, locked, if version is
// still its version; a stale version is ErrConflict.
func (g *guard) lockDeal(ctx context.Context, q store.Q, tenant string, id core.ID, version int64, action access.Action) (*Deal, error) {
	d, err := g.deal(ctx, q, tenant, id, action, true)
	if err != nil {
		return nil, err
	}
	if d.Version != version {
		return nil, fmt.Errorf("%w: deal %s is at version %d, not %d; read it again", core.ErrConflict, id, d.Version, version)
	}
	return d, nil
}

// checkOwner checks the owner a write by g's actor gives a deal: with own
// or team visibility it must be an owner whose deals they see (the deal
// would vanish from their view otherwise); an empty owner on create
// becomes the actor.
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
		return g.forbid("deal", id, action, "give the deal an owner outside the actor's visibility")
	}
	return nil
}
