package analytics

import (
	"context"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
	"github.com/crmkit/crmkit/tickets"
)

// permModule is the name roles grant permissions on for the reports
// (access.Modules).
const permModule = "analytics"

// AuditDenied is the action of the audit entries that record a report the
// module's record access refused (store.Runtime.Audit). The entry's
// detail is "analytics:read", its subject type "report".
const AuditDenied = "access.denied"

// guard is the record access of one report: the actor's effective
// permissions in the scope's tenant (everything for the host's own code),
// which narrow each query to the records the actor sees in the module
// that owns them.
type guard struct {
	eff *access.Effective
}

// guard resolves the actor in ctx and requires "analytics" read of them;
// a refusal is recorded in the audit log and returned (ErrForbidden). No
// actor is the host's own trusted code, which sees everything.
func (s *Service) guard(ctx context.Context) (*guard, error) {
	eff, err := access.Module.Service(s.sc).ForContext(ctx)
	if err != nil {
		return nil, err
	}
	if err := eff.Require(permModule, access.Read); err != nil {
		if audit := s.sc.Runtime().Audit; audit != nil {
			e := store.AuditEntry{Action: AuditDenied, SubjectType: "report", SubjectID: core.NilID, Detail: permModule + ":" + string(access.Read)}
			if aerr := audit(ctx, s.sc, e); aerr != nil {
				s.sc.Runtime().Logger.WarnContext(ctx, "crm: audit of a denied attempt failed", "subject_type", "report", "error", aerr)
			}
		}
		return nil, err
	}
	return &guard{eff: eff}, nil
}

// and is " AND " and cond, or "" when cond holds for every row.
func and(cond string, args []any) (string, []any) {
	if cond == "1 = 1" {
		return "", nil
	}
	return " AND " + cond, args
}

// deals narrows a query over crm_deals aliased alias to the deals the
// actor sees in the pipeline module: by owner (own, team) or all; none
// without "pipeline" read. It is " AND …" with its arguments, or "".
func (g *guard) deals(alias string) (string, []any) {
	return and(g.eff.Condition("pipeline", alias+".owner_id"))
}

// readsPipeline reports whether the actor reads the pipeline module (its
// pipelines and stages have no owner: a reader sees them all).
func (g *guard) readsPipeline() bool { return g.eff.Can("pipeline", access.Read) }

// contacts narrows a query over crm_contacts aliased alias to the
// contacts the actor sees in the contacts module, by owner.
func (g *guard) contacts(alias string) (string, []any) {
	return and(g.eff.Condition("contacts", alias+".owner_id"))
}

// dealOf narrows rows that belong to a deal (col, in a table aliased
// alias) to those whose deal the actor sees.
func (g *guard) dealOf(alias, col string) (string, []any) {
	cond, args := g.eff.Condition("pipeline", "vd.owner_id")
	if cond == "1 = 1" {
		return "", nil
	}
	return ` AND EXISTS (SELECT 1 FROM crm_deals vd WHERE vd.tenant_id = ` + alias + `.tenant_id AND vd.id = ` + col + ` AND ` + cond + `)`, args
}

// contactOf narrows rows that belong to a contact (col, in a table
// aliased alias: activities) to those whose contact the actor sees.
func (g *guard) contactOf(alias, col string) (string, []any) {
	cond, args := g.eff.Condition("contacts", "vc.owner_id")
	if cond == "1 = 1" {
		return "", nil
	}
	return ` AND EXISTS (SELECT 1 FROM crm_contacts vc WHERE vc.tenant_id = ` + alias + `.tenant_id AND vc.id = ` + col + ` AND ` + cond + `)`, args
}

// campaigns is "" when the actor reads the campaigns module (whose
// campaigns have no owner: a reader sees them all), and a condition that
// holds for no row otherwise.
func (g *guard) campaigns() string {
	if g.eff.Can("campaigns", access.Read) {
		return ""
	}
	return " AND 1 = 0"
}

// ticketsSeen narrows a query over crm_tickets aliased alias to the
// tickets the actor sees, by the tickets module's own condition
// (tickets.Module.Narrow): assigned to the actor (own); assigned to a
// member of one of the actor's teams, or filed under one of those teams
// by name (team); all; none without "tickets" read. It is " AND …" with
// its arguments, or "".
func (s *Service) ticketsSeen(ctx context.Context, g *guard, alias string) (string, []any, error) {
	cond, args, err := tickets.Module.Narrow(ctx, s.sc, g.eff, alias)
	if err != nil {
		return "", nil, err
	}
	cond, args = and(cond, args)
	return cond, args, nil
}
