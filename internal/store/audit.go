package store

import "github.com/crmkit/crmkit/core"

// AuditEntry is what a module gives Runtime.Audit: an action on a subject,
// never the data itself (no personal data: ids, names of actions and of
// fields only). The actor comes from the context.
type AuditEntry struct {
	// Action names what happened, e.g. "access.denied".
	Action string
	// SubjectType and SubjectID name the record ("contact" and its id);
	// SubjectID is core.NilID when the attempt named no record (a list).
	SubjectType string
	SubjectID   core.ID
	// Detail says more, without personal data (e.g. "contacts:update").
	Detail string
}
