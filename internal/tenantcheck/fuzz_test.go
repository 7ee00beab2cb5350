package tenantcheck_test

import (
	"testing"

	"github.com/crmkit/crmkit/internal/tenantcheck"
)

// Check never panics, whatever the text: a statement it cannot read is
// an error.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		`SELECT d.id FROM crm_deals d JOIN crm_contacts c ON c.tenant_id = d.tenant_id WHERE d.tenant_id = $1`,
		`WITH RECURSIVE t(tenant_id, id) AS (SELECT tenant_id, id FROM crm_teams WHERE tenant_id = $1 UNION ALL SELECT c.tenant_id, c.id FROM crm_teams c JOIN t USING (tenant_id)) SELECT id FROM t`,
		`INSERT INTO crm_x (tenant_id, a) SELECT $1, b FROM crm_y y LEFT JOIN LATERAL (SELECT 1) z ON true WHERE y.tenant_id = $1 ON CONFLICT (tenant_id) DO UPDATE SET a = excluded.a RETURNING *`,
		`UPDATE crm_x AS x SET a = (SELECT 1 FROM crm_y WHERE tenant_id = x.tenant_id) FROM (VALUES (1)) v(n) WHERE (x.tenant_id, x.id) IN (($1, $2)) RETURNING x.tenant_id`,
		`DELETE FROM crm_x USING crm_y WHERE crm_x.tenant_id = crm_y.tenant_id AND crm_y.tenant_id = ANY($1::text[])`,
		`SELECT DISTINCT tenant_id FROM crm_x /* crm:tenant-listing */`,
		`COPY "crm_x" ("tenant_id") FROM STDIN`,
		`SELECT (((`,
		`INSERT INTO crm_x (tenant_id) OVERRIDING`,
		`SELECT E'\'' || $$x$$ FROM crm_x WHERE tenant_id = CAST($1 AS text)`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		_, _ = tenantcheck.Check(sql, scoped)
	})
}
