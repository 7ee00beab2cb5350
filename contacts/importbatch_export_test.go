package contacts

import "github.com/crmkit/crmkit/internal/dialect"

// ExternalIDLookup is the SQL by which an import finds a batch's external
// ids on a database of kind k, with its placeholders ($n on PostgreSQL).
func ExternalIDLookup(k dialect.Kind) string {
	d := dialect.ForKind(k)
	return d.Rebind(externalIDLookup(d))
}
