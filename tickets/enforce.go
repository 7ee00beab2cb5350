package tickets

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// permModule is the name roles grant permissions on for everything this
// package keeps: tickets, their messages, calendars and SLA policies
// (access.Modules).
const permModule = "tickets"

// AuditDenied is the action of the audit entries that record an attempt
// the module's record access refused (store.Runtime.Audit). The entry's
// detail is "<module>:<action>", e.g. "tickets:update".
const AuditDenied = "access.denied"

// guard is the record access of one call: the actor's effective
// permissions in the scope's tenant (everything for the host's own code)
// and, for team visibility, the names of the actor's teams.
type guard struct {
	sc    store.Scope
	eff   *access.Effective
	teams []string
	// route is the tenant's routing, locked, in a change that routes (nil
	// when the tenant has none).
	route *router
}

// guardOf resolves the actor in ctx. No actor is the host's own trusted
// code, which may do everything.
func guardOf(ctx context.Context, sc store.Scope) (*guard, error) {
	eff, err := access.Module.Service(sc).ForContext(ctx)
	if err != nil {
		return nil, err
	}
	return guardWith(ctx, sc, eff)
}

// guardWith is the guard of eff, the actor in ctx's effective permissions
// in sc's tenant.
func guardWith(ctx context.Context, sc store.Scope, eff *access.Effective) (*guard, error) {
	g := &guard{sc: sc, eff: eff}
	var err error
	if vis, _ := eff.Visibility(permModule); vis == access.VisibilityTeam {
		actor, _ := core.ActorFrom(ctx)
		if g.teams, err = teamsOf(ctx, sc, actor, eff.Stored()); err != nil {
			return nil, store.Wrap(err, "resolve the actor's teams")
		}
	}
	return g, nil
}

// teamsOf returns the names of the teams of actor in sc's tenant: a stored
// user's memberships, else the tenant's teams the Actor's Teams name (by
// name or id), as access resolves them.
func teamsOf(ctx context.Context, sc store.Scope, actor core.Actor, stored bool) ([]string, error) {
	tenant, err := sc.Tenant()
	if err != nil {
		return nil, err
	}
	q := sc.Q()
	var rows *sql.Rows
	if stored {
		rows, err = q.Query(ctx, `SELECT t.name FROM crm_teams t
			JOIN crm_team_members m ON m.tenant_id = t.tenant_id AND m.team_id = t.id
			WHERE t.tenant_id = ? AND m.user_id = ? ORDER BY t.name`, tenant, actor.ID)
	} else {
		if len(actor.Teams) == 0 {
			return []string{}, nil
		}
		rows, err = q.Query(ctx, `SELECT t.name FROM crm_teams t WHERE t.tenant_id = ? AND (`+q.D.InList("t.name", "text")+
			` OR `+q.D.InList("CAST(t.id AS TEXT)", "text")+`) ORDER BY t.name`, tenant, q.D.ListArg(actor.Teams), q.D.ListArg(actor.Teams))
	}
	if err != nil {
		return nil, err
	}
	out := []string{}
	err = store.EachRow(rows, func(r store.Scanner) error {
		var name string
		err := r.Scan(&name)
		out = append(out, name)
		return err
	})
	return out, err
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

// tickets is the SQL condition (with its arguments) that narrows a query
// over crm_tickets aliased alias to the tickets the actor sees: those
// assigned to the actor (own); those of one of the actor's teams (the team
// column) or assigned to a member of them (team); or all. "1 = 1" when
// they see all, "1 = 0" when none.
func (g *guard) tickets(alias string) (string, []any) {
	cond, args := g.eff.Condition(permModule, alias+".assignee_id")
	if vis, _ := g.eff.Visibility(permModule); vis != access.VisibilityTeam || len(g.teams) == 0 {
		return cond, args
	}
	d := g.sc.Q().D
	return "(" + cond + " OR " + d.InList(alias+".team", "text") + ")", append(args, d.ListArg(g.teams))
}

// Narrow returns the SQL condition, with its arguments, that narrows a
// query over crm_tickets aliased alias (trusted SQL of the caller's) to
// the tickets of sc's tenant that eff's actor (the actor in ctx, as
// access resolved them) sees in this module: the condition the module's
// own lists and counts apply — assigned to the actor (own); filed under
// one of the actor's teams (the team column) or assigned to a member of
// them (team); all ("1 = 1"); none without "tickets" read ("1 = 0"). For
// modules that report on tickets (analytics): the module that owns
// crm_tickets writes the condition, so that a report counts the tickets
// the actor's ticket list shows.
func (declaration) Narrow(ctx context.Context, sc store.Scope, eff *access.Effective, alias string) (string, []any, error) {
	g, err := guardWith(ctx, sc, eff)
	if err != nil {
		return "", nil, err
	}
	cond, args := g.tickets(alias)
	return cond, args, nil
}

// where is " AND " and the tickets condition for alias, or "" when the
// actor sees every ticket, with its arguments.
func (g *guard) where(alias string) (string, []any) {
	cond, args := g.tickets(alias)
	if cond == "1 = 1" {
		return "", nil
	}
	return " AND " + cond, args
}

// visible is the tickets condition as a list's Visible, keyed by the actor
// and what they see so that cursors are bound to both. The host's own
// code adds nothing.
func (g *guard) visible(alias string) store.Visible {
	if g.trusted() {
		return store.Visible{}
	}
	vis, ids := g.eff.Visibility(permModule)
	key := g.eff.Actor() + "\x00" + string(vis) + "\x00" + strings.Join(ids, "\x00") + "\x00\x00" + strings.Join(g.teams, "\x00")
	cond, args := g.tickets(alias)
	if cond == "1 = 1" {
		cond = ""
	}
	return store.Visible{Key: key, Where: cond, Args: args}
}

// sees reports whether the actor sees a ticket with assignee and team,
// in memory, as tickets holds it in SQL.
func (g *guard) sees(assignee, team string) bool {
	vis, ids := g.eff.Visibility(permModule)
	switch vis {
	case access.VisibilityAll:
		return true
	case access.VisibilityNone:
		return false
	}
	if assignee != "" && slices.Contains(ids, assignee) {
		return true
	}
	return vis == access.VisibilityTeam && team != "" && slices.Contains(g.teams, team)
}

// ticket reads the ticket with id for action by g's actor (locked when
// lock is set) through the actor's visibility: a ticket they may not see
// is ErrNotFound, as a missing one (recorded as a refused attempt when it
// exists); one they see but may not do action on is ErrForbidden.
func (g *guard) ticket(ctx context.Context, q store.Q, tenant string, id core.ID, action access.Action, lock bool) (*Ticket, error) {
	if !g.eff.Can(permModule, access.Read) {
		// Nothing of the module is visible to them: nothing to hide.
		return nil, g.require("ticket", id, action, access.Read)
	}
	extra, args := g.where("t")
	t, err := getTicketWhere(ctx, q, tenant, id, lock, extra, args)
	if err != nil {
		if g.trusted() || extra == "" || !errors.Is(err, core.ErrNotFound) {
			return nil, err
		}
		if _, ferr := getTicket(ctx, q, tenant, id, false); ferr == nil {
			return nil, &denial{err: err, kind: "ticket", id: id, action: action}
		}
		return nil, err
	}
	if err := g.require("ticket", id, action); err != nil {
		return nil, err
	}
	return t, nil
}

// checkAssignment checks the assignee and team a write by g's actor gives
// a ticket: with own or team visibility the ticket must stay visible to
// them (assigned to someone whose tickets they see, or, with team
// visibility, in one of their teams), else the write is ErrForbidden.
// Neither (a creation left to routing) is fine.
func (g *guard) checkAssignment(id core.ID, action access.Action, assignee, team string) error {
	if g.trusted() {
		return nil
	}
	if vis, _ := g.eff.Visibility(permModule); vis == access.VisibilityAll {
		return nil
	}
	a, tm := strings.TrimSpace(assignee), strings.TrimSpace(team)
	if a == "" && tm == "" && id == core.NilID {
		return nil
	}
	if !g.sees(a, tm) {
		return g.forbid("ticket", id, action, "give the ticket an assignee or team outside the actor's visibility")
	}
	return nil
}

// claim assigns t, which g's actor creates and routing left without team
// and assignee, to the actor when they see less than every ticket: it
// would vanish from their view otherwise.
func (g *guard) claim(t *Ticket) {
	if g.trusted() || t.AssigneeID != "" || t.Team != "" {
		return
	}
	if vis, _ := g.eff.Visibility(permModule); vis != access.VisibilityAll {
		t.AssigneeID = g.eff.Actor()
	}
}
