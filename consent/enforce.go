package consent

import (
	"context"
	"errors"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// permModule is the name roles grant permissions on for everything this
// module keeps: purposes, the consent log and its proofs, the suppression
// list, subject access exports, erasures and the audit log
// (access.Modules).
const permModule = "consent"

// contactsModule is the module whose visibility decides which contacts'
// consent records an actor sees.
const contactsModule = "contacts"

// AuditDenied is the action of the audit entries that record an attempt
// the module refused. The entry's detail is "<module>:<action>", e.g.
// "consent:erase".
const AuditDenied = "access.denied"

// guard is the record access of one call: the actor's effective
// permissions in the scope's tenant (everything for the host's own code).
type guard struct {
	sc  store.Scope
	eff *access.Effective
}

// denial is a refused attempt on its way out of a call: the error the
// caller gets and what the audit log records, after the call's
// transaction (done), so that it is not rolled back with the change.
type denial struct {
	err    error
	kind   string
	id     core.ID
	action access.Action
}

func (d *denial) Error() string { return d.err.Error() }
func (d *denial) Unwrap() error { return d.err }

// guardOf resolves the actor in ctx. No actor is the host's own trusted
// code, which may do everything.
func guardOf(ctx context.Context, sc store.Scope) (*guard, error) {
	eff, err := access.Module.Service(sc).ForContext(ctx)
	if err != nil {
		return nil, err
	}
	return &guard{sc: sc, eff: eff}, nil
}

// check resolves the actor in ctx and requires action of them, recording
// a refusal (on kind's record id, NilID for none) and returning it.
func check(ctx context.Context, sc store.Scope, kind string, id core.ID, action access.Action) (*guard, error) {
	g, err := guardOf(ctx, sc)
	if err != nil {
		return nil, err
	}
	if err := g.eff.Require(permModule, action); err != nil {
		return nil, g.done(ctx, &denial{err: err, kind: kind, id: id, action: action})
	}
	return g, nil
}

// done records the refused attempt err carries, if any, in the audit log
// (who, which action, which record id: no personal data), and returns the
// error the caller gets. A failure to record is logged, not returned, so
// the caller gets the refusal.
func (g *guard) done(ctx context.Context, err error) error {
	var d *denial
	if !errors.As(err, &d) {
		return err
	}
	if !g.eff.Trusted() {
		e := store.AuditEntry{Action: AuditDenied, SubjectType: d.kind, SubjectID: d.id, Detail: permModule + ":" + string(d.action)}
		if aerr := auditEntry(ctx, g.sc, e); aerr != nil {
			g.sc.Runtime().Logger.WarnContext(ctx, "crm: audit of a denied attempt failed",
				"subject_type", d.kind, "subject_id", d.id, "error", aerr)
		}
	}
	return d.err
}

// pd reports whether the actor sees the personal data of the consent log:
// a record's network details (IP, user agent) and the suppression list.
func (g *guard) pd() bool { return g.eff.SeesPersonalData(permModule) }

// mask blanks the network details of recs (IP and user agent, personal
// data the proof keeps when Options.RecordNetwork is set) for an actor who
// does not see the consent log's personal data, and returns recs.
func (g *guard) mask(recs ...*Record) []*Record {
	if g.pd() {
		return recs
	}
	for _, r := range recs {
		if r != nil {
			r.IP, r.UserAgent = "", ""
		}
	}
	return recs
}

// everyone reports whether the actor sees every contact's consent: the
// host's own code, or an actor whose "contacts" and "consent" grants both
// see all.
func (g *guard) everyone() bool {
	cond, _ := g.contacts("vc")
	return cond == "1 = 1"
}

// contacts is the SQL condition (with its arguments) on crm_contacts
// aliased alias that holds for the contacts whose consent records the
// actor sees: those they see in the contacts module (its grant's
// visibility by owner), narrowed by the consent grant's own visibility
// when that is not all. "1 = 1" for the host's own code and for an actor
// who sees every contact in both.
func (g *guard) contacts(alias string) (string, []any) {
	c1, a1 := g.eff.Condition(contactsModule, alias+".owner_id")
	c2, a2 := g.eff.Condition(permModule, alias+".owner_id")
	switch {
	case c1 == "1 = 1":
		return c2, a2
	case c2 == "1 = 1":
		return c1, a1
	}
	return "(" + c1 + " AND " + c2 + ")", append(a1, a2...)
}

// byContact is the condition for rows whose contact id is col (of a table
// aliased alias): visible when the actor sees that contact.
func (g *guard) byContact(alias, col string) (string, []any) {
	cond, args := g.contacts("vc")
	if cond == "1 = 1" {
		return cond, nil
	}
	return `EXISTS (SELECT 1 FROM crm_contacts vc WHERE vc.tenant_id = ` + alias + `.tenant_id AND vc.id = ` + col + ` AND ` + cond + `)`, args
}

// contact checks, for an actor, that they see the contact with id (read
// through q): one that does not exist, or that they may not see, is
// ErrNotFound — the latter recorded as a refused attempt of action. The
// host's own code is not checked (the call says what a missing contact
// means).
func (g *guard) contact(ctx context.Context, q store.Q, tenant string, id core.ID, action access.Action) error {
	if g.eff.Trusted() {
		return nil
	}
	cond, args := g.contacts("vc")
	var n int
	if err := q.QueryRow(ctx, `SELECT count(*) FROM crm_contacts vc WHERE vc.tenant_id = ? AND vc.id = ? AND `+cond,
		append([]any{tenant, id}, args...)...).Scan(&n); err != nil {
		return err
	}
	if n == 1 {
		return nil
	}
	notFound := core.NotFound("contact", id)
	if cond == "1 = 1" {
		return notFound
	}
	if err := q.QueryRow(ctx, `SELECT count(*) FROM crm_contacts WHERE tenant_id = ? AND id = ?`, tenant, id).Scan(&n); err != nil {
		return err
	}
	if n == 1 {
		return &denial{err: notFound, kind: "contact", id: id, action: action}
	}
	return notFound
}

// visible returns, of ids, those the actor sees the contact of (all of
// them for the host's own code), read through q.
func (g *guard) visible(ctx context.Context, q store.Q, tenant string, ids []core.ID) (map[core.ID]bool, error) {
	out := make(map[core.ID]bool, len(ids))
	cond, args := g.contacts("vc")
	if g.eff.Trusted() || cond == "1 = 1" {
		for _, id := range ids {
			out[id] = true
		}
		return out, nil
	}
	rows, err := q.Query(ctx, `SELECT vc.id FROM crm_contacts vc WHERE vc.tenant_id = ? AND `+q.D.InList("vc.id", "uuid")+` AND `+cond,
		append([]any{tenant, q.D.IDsArg(ids)}, args...)...)
	if err != nil {
		return nil, err
	}
	err = store.EachRow(rows, func(r store.Scanner) error {
		var id core.ID
		err := r.Scan(&id)
		out[id] = true
		return err
	})
	return out, err
}
