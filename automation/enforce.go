package automation

import (
	"context"
	"slices"
	"strings"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
	"github.com/crmkit/crmkit/pipeline"
	"github.com/crmkit/crmkit/tickets"
)

// permModule is the name roles grant permissions on for everything this
// package keeps: rules, their runs and webhooks (access.Modules).
const permModule = "automation"

// AuditDenied is the action of the audit entries that record an attempt
// the module refused (store.Runtime.Audit). The entry's detail is
// "<module>:<action>", e.g. "automation:manage".
const AuditDenied = "access.denied"

// check resolves the actor in ctx and requires action in the module of
// them. No actor is the host's own code, which may do everything. A
// refusal is ErrForbidden, recorded in the audit log on kind's record id
// (NilID for none) — ids only — and returned. Rules and webhooks are the
// module's settings: they are not narrowed by visibility, an actor who may
// read the module reads all of them. Runs are (runsVisible).
func check(ctx context.Context, sc store.Scope, kind string, id core.ID, action access.Action) error {
	_, err := checkEff(ctx, sc, kind, id, action)
	return err
}

// checkEff is check, returning the actor's effective permissions.
func checkEff(ctx context.Context, sc store.Scope, kind string, id core.ID, action access.Action) (*access.Effective, error) {
	eff, err := access.Module.Service(sc).ForContext(ctx)
	if err != nil {
		return nil, err
	}
	err = eff.Require(permModule, action)
	if err == nil || eff.Trusted() {
		return eff, err
	}
	deny(ctx, sc, kind, id, action)
	return nil, err
}

// deny records a refused attempt of action on kind's record id in the
// audit log; a failure to record is logged, not returned.
func deny(ctx context.Context, sc store.Scope, kind string, id core.ID, action access.Action) {
	if audit := sc.Runtime().Audit; audit != nil {
		e := store.AuditEntry{Action: AuditDenied, SubjectType: kind, SubjectID: id, Detail: permModule + ":" + string(action)}
		if aerr := audit(ctx, sc, e); aerr != nil {
			sc.Runtime().Logger.WarnContext(ctx, "crm: audit of a denied attempt failed",
				"subject_type", kind, "subject_id", id, "error", aerr)
		}
	}
}

// runSubjects are the subject types of events whose records the modules
// narrow per record, with the condition each module writes on a record
// id column: a run about such a record is shown to an actor who sees the
// record.
var runSubjects = []struct {
	subject string
	visible func(ctx context.Context, sc store.Scope, eff *access.Effective, col string) (string, []any, error)
}{
	{"contact", func(_ context.Context, sc store.Scope, eff *access.Effective, col string) (string, []any, error) {
		return contacts.Module.Visible(sc, eff, col)
	}},
	{"task", func(_ context.Context, sc store.Scope, eff *access.Effective, col string) (string, []any, error) {
		return contacts.Module.VisibleTask(sc, eff, col)
	}},
	{"deal", func(_ context.Context, sc store.Scope, eff *access.Effective, col string) (string, []any, error) {
		return pipeline.Module.Visible(sc, eff, col)
	}},
	{"ticket", tickets.Module.Visible},
}

// runsVisible is the SQL condition (with its arguments) on crm_rule_runs
// aliased r that holds for the runs eff's actor sees: those whose contact
// (r.contact_id, when the run has one) they see in the contacts module,
// and whose event's subject they see in its module — a contact, a task, a
// deal or a ticket by that module's record visibility (the condition it
// writes), a record of any other kind when they may read its module
// (store.Runtime.SubjectModules; subject types no module declares are
// not narrowed). A run whose event or record is gone is shown only to
// actors who see every record of its kind. "" when the actor sees every
// run (the host's own code; an actor who sees every record of every
// module).
func runsVisible(ctx context.Context, sc store.Scope, eff *access.Effective) (string, []any, error) {
	if eff.Trusted() {
		return "", nil, nil
	}
	var parts []string
	var args []any
	cc, ca, err := contacts.Module.Visible(sc, eff, "r.contact_id")
	if err != nil {
		return "", nil, err
	}
	if cc != "1 = 1" {
		parts, args = append(parts, "(r.contact_id IS NULL OR "+cc+")"), append(args, ca...)
	}

	// The event's subject, by its type.
	var subject []string
	var sargs []any
	narrowed := make([]string, 0, len(runSubjects))
	perRecord := false // some subject is narrowed per record
	for _, s := range runSubjects {
		narrowed = append(narrowed, s.subject)
		cond, cargs, err := s.visible(ctx, sc, eff, "e.subject_id")
		if err != nil {
			return "", nil, err
		}
		if cond == "1 = 1" {
			cond = "e.subject_type = ?"
		} else {
			cond, perRecord = "(e.subject_type = ? AND "+cond+")", true
		}
		subject, sargs = append(subject, cond), append(append(sargs, s.subject), cargs...)
	}
	hidden := []string{}
	for st, module := range sc.Runtime().SubjectModules {
		if !slices.Contains(narrowed, st) && !eff.Can(module, access.Read) {
			hidden = append(hidden, st)
		}
	}
	slices.Sort(hidden)
	if len(parts) == 0 && len(hidden) == 0 && !perRecord {
		return "", nil, nil // every subject seen
	}
	d := sc.Q().D
	others := "NOT " + d.InList("e.subject_type", "text")
	sargs = append(sargs, d.ListArg(narrowed))
	if len(hidden) > 0 {
		others += " AND NOT " + d.InList("e.subject_type", "text")
		sargs = append(sargs, d.ListArg(hidden))
	}
	subject = append(subject, "("+others+")")
	parts = append(parts, `EXISTS (SELECT 1 FROM crm_events e WHERE e.tenant_id = r.tenant_id AND e.id = r.event_id AND (`+
		strings.Join(subject, " OR ")+`))`)
	return strings.Join(parts, " AND "), append(args, sargs...), nil
}
