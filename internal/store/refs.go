package store

import (
	"context"
	"strings"

	"github.com/crmkit/crmkit/core"
)

// Ref is a reference a write is about to store: the id in Field points at
// a row of Table, a crm_ table keyed by (tenant_id, id), whose rows are
// called What ("deal"). A nil ID is no reference.
type Ref struct {
	Field, Table, What string
	ID                 *core.ID
}

// CheckRefs adds "no such <What> <id>" to v for each of refs whose row does
// not exist in tenant, with one query for all of them. The composite
// foreign keys refuse such a row too (see internal/migrate Unreferenced);
// checking first names the field, where a refusal by the database names
// none on SQLite, and on PostgreSQL would abort the transaction.
func CheckRefs(ctx context.Context, q Q, tenant string, v *core.ValidationError, refs ...Ref) error {
	var parts []string
	var args []any
	var given []Ref
	for _, r := range refs {
		if r.ID == nil {
			continue
		}
		parts = append(parts, `(SELECT count(*) FROM `+r.Table+` WHERE tenant_id = ? AND id = ?)`)
		args = append(args, tenant, *r.ID)
		given = append(given, r)
	}
	if len(given) == 0 {
		return nil
	}
	found := make([]int64, len(given))
	dest := make([]any, len(given))
	for i := range found {
		dest[i] = &found[i]
	}
	if err := q.QueryRow(ctx, `SELECT `+strings.Join(parts, ", "), args...).Scan(dest...); err != nil {
		return err
	}
	for i, r := range given {
		if found[i] == 0 {
			v.Add(r.Field, "no such %s %s", r.What, *r.ID)
		}
	}
	return nil
}
