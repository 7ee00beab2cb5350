package fields

import (
	"context"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/internal/store"
)

// permModule is the name roles grant permissions on for the custom field
// definitions (access.Modules).
const permModule = "fields"

// AuditDenied is the action of the audit entries that record an attempt
// the facility refused (store.Runtime.Audit). The entry's detail is
// "fields:manage".
const AuditDenied = "access.denied"

// check resolves the actor in ctx and requires "fields" manage of them
// (to define or remove a definition of entity's key). No actor is the
// host's own code, which may do everything. A refusal is ErrForbidden,
// recorded in the audit log on the definition's subject id (ids only).
func check(ctx context.Context, sc store.Scope, entity, key string) error {
	eff, err := access.Module.Service(sc).ForContext(ctx)
	if err != nil {
		return err
	}
	err = eff.Require(permModule, access.Manage)
	if err == nil || eff.Trusted() {
		return err
	}
	if audit := sc.Runtime().Audit; audit != nil {
		id := fieldSubject(sc.TenantName(), entity, key)
		e := store.AuditEntry{Action: AuditDenied, SubjectType: "field", SubjectID: id, Detail: permModule + ":" + string(access.Manage)}
		if aerr := audit(ctx, sc, e); aerr != nil {
			sc.Runtime().Logger.WarnContext(ctx, "crm: audit of a denied attempt failed", "subject_type", "field", "subject_id", id, "error", aerr)
		}
	}
	return err
}
