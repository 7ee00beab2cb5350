package tenantcheck_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/internal/tenantcheck"
)

// scoped is the test's tenant-scoped tables: the crm_ ones (as in
// crmkit's schema) but not crm_migrations.
func scoped(table string) bool {
	return strings.HasPrefix(table, "crm_") && table != "crm_migrations"
}

func TestCheckClean(t *testing.T) {
	for name, sql := range map[string]string{
		"select by param":   `SELECT id FROM crm_contacts WHERE tenant_id = $1 AND id = $2`,
		"select by literal": `SELECT "c"."id" FROM "crm_contacts" AS "c" WHERE ("c"."tenant_id" = 'acme') AND ("c"."deleted_at" IS NULL)`,
		"reversed equality": `SELECT id FROM crm_contacts WHERE $1 = tenant_id`,
		"cast value":        `SELECT id FROM crm_contacts c WHERE c.tenant_id = $1::text`,
		"CAST value":        `SELECT id FROM crm_contacts c WHERE c.tenant_id = CAST($1 AS text)`,
		"qualified table":   `SELECT id FROM public.crm_contacts c WHERE c.tenant_id = $1`,
		"join equated": `SELECT d.id FROM crm_deals d JOIN crm_contacts c ON c.tenant_id = d.tenant_id AND c.id = d.contact_id
			WHERE d.tenant_id = $1`,
		"join bound to same literal": `SELECT d.id FROM crm_deals d, crm_contacts c WHERE d.tenant_id = 'a' AND c.tenant_id = 'a' AND c.id = d.contact_id`,
		"join using":                 `SELECT d.id FROM crm_deals d JOIN crm_contacts c USING (tenant_id) WHERE d.tenant_id = $1`,
		"left join chain": `SELECT 1 FROM crm_deals d LEFT JOIN crm_stages s ON s.tenant_id = d.tenant_id AND s.id = d.stage_id
			LEFT JOIN crm_pipelines p ON p.tenant_id = s.tenant_id WHERE d.tenant_id = $1 AND (d.x = 1 OR d.y = 2)`,
		"correlated exists": `SELECT id FROM crm_contacts c WHERE c.tenant_id = $1 AND NOT EXISTS (
			SELECT 1 FROM crm_deals d WHERE d.tenant_id = c.tenant_id AND d.contact_id = c.id)`,
		"in subquery own param": `SELECT id FROM crm_contacts WHERE tenant_id = $1 AND id IN (SELECT contact_id FROM crm_deals WHERE tenant_id = $1)`,
		"unqualified in subquery": `SELECT id FROM crm_contacts c WHERE c.tenant_id = $1 AND EXISTS (
			SELECT 1 FROM crm_notes WHERE tenant_id = c.tenant_id AND contact_id = c.id)`,
		"cte": `WITH won AS (SELECT tenant_id, contact_id FROM crm_deals WHERE tenant_id = $1 AND status = 'won')
			SELECT c.id FROM crm_contacts c JOIN won w ON w.tenant_id = c.tenant_id AND w.contact_id = c.id`,
		"cte bound outside": `WITH x AS (SELECT tenant_id, id FROM crm_deals) SELECT id FROM x WHERE x.tenant_id = $1`,
		"recursive cte": `WITH RECURSIVE t(tenant_id, id) AS (
				SELECT tenant_id, id FROM crm_teams WHERE tenant_id = $1 AND id = $2
				UNION ALL
				SELECT c.tenant_id, c.id FROM crm_teams c JOIN t ON c.tenant_id = t.tenant_id AND c.parent_id = t.id)
			SELECT id FROM t`,
		"derived tables equated": `SELECT count(*) FROM (SELECT tenant_id, id FROM crm_campaign_recipients WHERE tenant_id = $1) r
			LEFT JOIN (SELECT tenant_id, recipient_id FROM crm_campaign_bounces) b ON b.tenant_id = r.tenant_id AND b.recipient_id = r.id`,
		"derived tables bound to one literal": `SELECT count(*) FROM (SELECT id FROM crm_campaign_recipients WHERE tenant_id = 'a') r
			LEFT JOIN (SELECT recipient_id FROM crm_campaign_bounces WHERE tenant_id = 'a') b ON b.recipient_id = r.id`,
		"semi-join bound to its own parameter": `DELETE FROM crm_activities WHERE tenant_id = $1 AND id IN (SELECT a.id FROM crm_activities a WHERE a.tenant_id = $2 LIMIT 5000)`,
		"derived table": `SELECT s.n FROM (SELECT tenant_id, count(*) AS n FROM crm_deals WHERE tenant_id = $1 GROUP BY tenant_id) s
			JOIN crm_pipelines p ON p.tenant_id = s.tenant_id`,
		"lateral": `SELECT c.id, x.n FROM crm_contacts c, LATERAL (SELECT count(*) AS n FROM crm_deals d
			WHERE d.tenant_id = c.tenant_id AND d.contact_id = c.id) x WHERE c.tenant_id = $1`,
		"scalar subquery in select list": `SELECT c.id, (SELECT count(*) FROM crm_deals d WHERE d.tenant_id = c.tenant_id AND d.contact_id = c.id)
			FROM crm_contacts c WHERE c.tenant_id = $1`,
		"union":           `SELECT id FROM crm_contacts WHERE tenant_id = $1 UNION ALL SELECT id FROM crm_companies WHERE tenant_id = $1 ORDER BY 1 LIMIT 5`,
		"between and in":  `SELECT id FROM crm_events WHERE created_at BETWEEN $1 AND $2 AND tenant_id IN ($3) AND type IN ('a', 'b')`,
		"any":             `SELECT id FROM crm_events WHERE tenant_id = ANY($1) AND id = ANY($2)`,
		"row comparison":  `SELECT id FROM crm_contacts c WHERE (c.tenant_id, c.id) IN (('acme', 'x'), ('acme', 'y'))`,
		"row in subquery": `SELECT id FROM crm_contacts c WHERE (c.tenant_id, c.id) IN (SELECT tenant_id, contact_id FROM crm_deals WHERE tenant_id = $1)`,
		"insert values": `INSERT INTO crm_contacts (tenant_id, id, email) VALUES ($1, $2, $3), ($1, $4, $5)
			ON CONFLICT (tenant_id, email) DO UPDATE SET email = excluded.email RETURNING id`,
		"bun insert": `INSERT INTO "crm_contacts" AS "c" ("id", "tenant_id", "email") VALUES ('x', 'acme', 'a@b') RETURNING "c"."version"`,
		"insert select": `INSERT INTO crm_search (tenant_id, entity, entity_id, title)
			SELECT c.tenant_id, 'contact', c.id, c.email FROM crm_contacts c
			LEFT JOIN crm_companies co ON co.tenant_id = c.tenant_id AND co.id = c.company_id
			WHERE c.tenant_id = $1 AND c.id = $2
			ON CONFLICT (tenant_id, entity, entity_id) DO UPDATE SET title = excluded.title`,
		"insert select param": `INSERT INTO crm_tasks (tenant_id, id, contact_id) SELECT $1, gen_random_uuid(), c.id FROM crm_contacts c WHERE c.tenant_id = $1`,
		"update": `UPDATE crm_deals SET version = version + 1, amount = (SELECT sum(x) FROM crm_line_items li WHERE li.tenant_id = crm_deals.tenant_id AND li.deal_id = crm_deals.id)
			WHERE tenant_id = $1 AND id = $2 AND version = $3 RETURNING version`,
		"update from":  `UPDATE crm_deals d SET stage_id = s.id FROM crm_stages s WHERE d.tenant_id = $1 AND s.tenant_id = d.tenant_id AND s.name = 'won'`,
		"delete using": `DELETE FROM crm_notes n USING crm_contacts c WHERE n.tenant_id = c.tenant_id AND c.tenant_id = $1 AND n.contact_id = c.id`,
		"data-modifying cte": `WITH gone AS (DELETE FROM crm_tasks WHERE tenant_id = $1 AND contact_id = $2 RETURNING tenant_id, id)
			INSERT INTO crm_events (tenant_id, id) SELECT tenant_id, id FROM gone`,
		"copy":        `COPY "crm_contacts" ("tenant_id", "id") FROM STDIN`,
		"not crmkit":  `SELECT * FROM river_job WHERE id = $1`,
		"transaction": `BEGIN`,
		"savepoint":   `SAVEPOINT sp1`,
		"ddl":         `CREATE INDEX crm_x ON crm_contacts (tenant_id, email)`,
		"comments and strings": `/* crm_contacts */ SELECT id FROM crm_contacts -- crm_deals
			WHERE tenant_id = $1 AND note = 'FROM crm_deals WHERE' AND body = $$ crm_notes $$ AND e = E'it\'s'`,
		"function source": `SELECT c.id FROM crm_contacts c, jsonb_array_elements_text(c.tags) AS t(tag) WHERE c.tenant_id = $1`,
		"distinct on":     `SELECT DISTINCT ON (contact_id) contact_id FROM crm_activities WHERE tenant_id = $1 ORDER BY contact_id, at DESC`,
		"for update":      `SELECT version FROM crm_deals WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
		"tenant listing":  `SELECT DISTINCT tenant_id FROM crm_segments ORDER BY tenant_id ` + tenantcheck.ListingMarker,
		"tenant listing union": tenantcheck.ListingMarker + ` SELECT tenant_id FROM crm_rules WHERE enabled
			UNION SELECT tenant_id FROM crm_webhooks WHERE enabled ORDER BY 1`,
	} {
		t.Run(name, func(t *testing.T) {
			problems, err := tenantcheck.Check(sql, scoped)
			require.NoError(t, err)
			require.Empty(t, problems, sql)
		})
	}
}

func TestCheckViolations(t *testing.T) {
	for name, tc := range map[string]struct {
		sql  string
		want []string
	}{
		"no predicate": {
			`SELECT id FROM crm_contacts WHERE email = $1`,
			[]string{"crm_contacts: " + tenantcheck.ReasonNoPredicate}},
		"predicate in an OR": {
			`SELECT id FROM crm_contacts WHERE tenant_id = $1 OR email = $2`,
			[]string{"crm_contacts: " + tenantcheck.ReasonNoPredicate}},
		"predicate on another column": {
			`SELECT id FROM crm_contacts c WHERE c.owner_id = $1`,
			[]string{"crm_contacts: " + tenantcheck.ReasonNoPredicate}},
		"tenant_id compared to a non-value": {
			`SELECT id FROM crm_contacts WHERE tenant_id = lower(email)`,
			[]string{"crm_contacts: " + tenantcheck.ReasonNoPredicate}},
		"join without equality": {
			`SELECT d.id FROM crm_deals d JOIN crm_contacts c ON c.id = d.contact_id WHERE d.tenant_id = $1`,
			[]string{"crm_contacts: " + tenantcheck.ReasonNotEquated}},
		"joined each to its own parameter": {
			`SELECT d.id FROM crm_deals d JOIN crm_contacts c ON c.id = d.contact_id WHERE d.tenant_id = $1 AND c.tenant_id = $2`,
			[]string{"crm_contacts: " + tenantcheck.ReasonTwoTenants + " (crm_deals)"}},
		"derived tables each bound to its own parameter": {
			`SELECT count(*) FROM (SELECT id FROM crm_campaign_recipients WHERE tenant_id = $1) r
				LEFT JOIN (SELECT recipient_id FROM crm_campaign_bounces WHERE tenant_id = $2) b ON b.recipient_id = r.id`,
			[]string{"crm_campaign_bounces: " + tenantcheck.ReasonTwoTenants + " (crm_campaign_recipients)"}},
		"cte joined, bound to its own parameter": {
			`WITH b AS (SELECT recipient_id FROM crm_campaign_bounces WHERE tenant_id = $2)
				SELECT count(*) FROM crm_campaign_recipients r JOIN b ON b.recipient_id = r.id WHERE r.tenant_id = $1`,
			[]string{"crm_campaign_bounces: " + tenantcheck.ReasonTwoTenants + " (crm_campaign_recipients)"}},
		"correlated subquery without equality": {
			`SELECT id FROM crm_contacts c WHERE c.tenant_id = $1 AND EXISTS (SELECT 1 FROM crm_deals d WHERE d.contact_id = c.id)`,
			[]string{"crm_deals: " + tenantcheck.ReasonNotEquated}},
		"in subquery without predicate": {
			`SELECT id FROM crm_contacts WHERE tenant_id = $1 AND id IN (SELECT contact_id FROM crm_deals WHERE status = 'won')`,
			[]string{"crm_deals: " + tenantcheck.ReasonNotEquated}},
		"scalar subquery without predicate": {
			`SELECT c.id, (SELECT count(*) FROM crm_deals d WHERE d.contact_id = c.id) FROM crm_contacts c WHERE c.tenant_id = $1`,
			[]string{"crm_deals: " + tenantcheck.ReasonNotEquated}},
		"cte without predicate": {
			`WITH x AS (SELECT contact_id FROM crm_deals) SELECT c.id FROM crm_contacts c JOIN x ON x.contact_id = c.id WHERE c.tenant_id = $1`,
			[]string{"crm_deals: " + tenantcheck.ReasonNotEquated}},
		"union arm without predicate": {
			`SELECT id FROM crm_contacts WHERE tenant_id = $1 UNION SELECT id FROM crm_companies`,
			[]string{"crm_companies: " + tenantcheck.ReasonNotEquated}},
		"join using other columns": {
			`SELECT 1 FROM crm_deals d JOIN crm_line_items USING (id) WHERE d.tenant_id = $1`,
			[]string{"crm_line_items: " + tenantcheck.ReasonNotEquated}},
		"left join with tenant in where of other table only": {
			`SELECT 1 FROM crm_deals d LEFT JOIN crm_stages s ON s.id = d.stage_id WHERE d.tenant_id = $1 AND s.name = 'won'`,
			[]string{"crm_stages: " + tenantcheck.ReasonNotEquated}},
		"update without predicate": {
			`UPDATE crm_deals SET status = 'lost' WHERE id = $1`,
			[]string{"crm_deals: " + tenantcheck.ReasonNoPredicate}},
		"update from not equated": {
			`UPDATE crm_deals d SET stage_id = s.id FROM crm_stages s WHERE d.tenant_id = $1 AND s.name = 'won'`,
			[]string{"crm_stages: " + tenantcheck.ReasonNotEquated}},
		"delete without predicate": {
			`DELETE FROM crm_sessions_x WHERE expires_at < $1`,
			[]string{"crm_sessions_x: " + tenantcheck.ReasonNoPredicate}},
		"delete using not equated": {
			`DELETE FROM crm_notes n USING crm_contacts c WHERE c.tenant_id = $1 AND n.contact_id = c.id`,
			[]string{"crm_notes: " + tenantcheck.ReasonNotEquated}},
		"insert without tenant_id": {
			`INSERT INTO crm_events (id, type) VALUES ($1, $2)`,
			[]string{"crm_events: " + tenantcheck.ReasonNoColumn}},
		"insert without column list": {
			`INSERT INTO crm_events VALUES ($1, $2)`,
			[]string{"crm_events: " + tenantcheck.ReasonNoColumn}},
		"insert select from unbound rows": {
			`INSERT INTO crm_search (tenant_id, entity_id) SELECT c.tenant_id, c.id FROM crm_contacts c`,
			[]string{"crm_contacts: " + tenantcheck.ReasonNoPredicate, "crm_search: " + tenantcheck.ReasonNoPredicate}},
		"insert select with computed tenant": {
			`INSERT INTO crm_search (tenant_id, entity_id) SELECT lower(c.tenant_id), c.id FROM crm_contacts c WHERE c.tenant_id = $1`,
			[]string{"crm_search: " + tenantcheck.ReasonInsertSource, "crm_search: " + tenantcheck.ReasonNotEquated}},
		"copy without tenant_id": {
			`COPY crm_contacts (id, email) FROM STDIN`,
			[]string{"crm_contacts: " + tenantcheck.ReasonNoColumn}},
		"truncate": {
			`TRUNCATE crm_contacts`,
			[]string{"crm_contacts: " + tenantcheck.ReasonTruncate}},
		"bun count without tenant": {
			`SELECT count(*) FROM "crm_events" AS "e" WHERE ("e"."type" = 'contact.created')`,
			[]string{"crm_events: " + tenantcheck.ReasonNoPredicate}},
		"unmarked tenant listing": {
			`SELECT DISTINCT tenant_id FROM crm_segments`,
			[]string{"crm_segments: " + tenantcheck.ReasonNoPredicate}},
		"listing that returns more than tenant_id": {
			tenantcheck.ListingMarker + ` SELECT tenant_id, email FROM crm_contacts`,
			[]string{"?: " + tenantcheck.ReasonListing}},
		"listing that writes": {
			tenantcheck.ListingMarker + ` DELETE FROM crm_contacts RETURNING tenant_id`,
			[]string{"?: " + tenantcheck.ReasonListing}},
		"listing of one tenant's value": {
			tenantcheck.ListingMarker + ` SELECT $1 AS tenant_id FROM crm_contacts`,
			[]string{"?: " + tenantcheck.ReasonListing}},
		"string that mentions tenant_id": {
			`SELECT id FROM crm_contacts WHERE note = 'tenant_id = 1'`,
			[]string{"crm_contacts: " + tenantcheck.ReasonNoPredicate}},
	} {
		t.Run(name, func(t *testing.T) {
			problems, err := tenantcheck.Check(tc.sql, scoped)
			require.NoError(t, err)
			var got []string
			for _, p := range problems {
				got = append(got, p.String())
			}
			require.ElementsMatch(t, tc.want, got, tc.sql)
		})
	}
}

func TestCheckRefusesBrokenText(t *testing.T) {
	for _, sql := range []string{
		`SELECT 'unterminated FROM crm_contacts`,
		`SELECT "x FROM crm_contacts`,
		`SELECT 1 /* open`,
		`SELECT $$ open`,
	} {
		_, err := tenantcheck.Check(sql, scoped)
		require.Error(t, err, sql)
	}
}
