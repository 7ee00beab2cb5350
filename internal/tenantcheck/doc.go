// Package tenantcheck checks that crmkit's SQL can be distributed by
// tenant: every statement that touches a tenant-scoped table (a crm_
// table with a tenant_id column) is bound to one tenant, so that a
// PostgreSQL cluster that shards the tables by tenant_id (Citus) can send
// it to the one node holding that tenant's rows.
//
// A statement passes when every tenant-scoped table it reads or writes has
// its tenant_id equal to a bound value ($1, a literal), directly or through
// a chain of equalities with other tables' tenant_id — so a join, a
// correlated subquery or an INSERT … SELECT between two tables equates
// their tenant_id — and when an INSERT or COPY names tenant_id among its
// columns. Tables joined in one FROM list that are each bound, but to
// different values ($1 and $2), fail too: nothing says they are the same
// tenant.
//
//	problems, err := tenantcheck.Check(
//		`SELECT d.id FROM crm_deals d JOIN crm_contacts c ON c.id = d.contact_id WHERE d.tenant_id = $1`,
//		func(table string) bool { return strings.HasPrefix(table, "crm_") })
//	// problems: crm_contacts: joined without equating tenant_id
//
// A subquery in WHERE (IN, EXISTS) or in the select list that is bound to
// a parameter of its own passes: it reads one tenant, and Citus routes the
// statement to one node when the values are equal; the check cannot prove
// that they are, only that each table is bound.
//
// A tenant listing — a query that finds the tenants with rows in a table,
// for periodic work that then goes tenant by tenant — is the one statement
// that may read every tenant: it carries ListingMarker
// (/* crm:tenant-listing */) and must return nothing but tenant_id.
//
// Check reads PostgreSQL's syntax through a tokenizer, not a full parser
// (no pure-Go PostgreSQL parser is available, and libpg_query needs cgo).
// It understands WITH (also RECURSIVE and data-modifying), subqueries in
// any clause, derived tables and LATERAL, joins with ON and USING, aliases,
// UNION/INTERSECT/EXCEPT, INSERT … VALUES/SELECT with ON CONFLICT,
// UPDATE … FROM, DELETE … USING, RETURNING, row comparisons
// ((tenant_id, id) IN ((…), (…))), = ANY(…), casts and CAST(… AS …).
// Its limits: only top-level conjuncts of a WHERE or ON bind (a tenant_id
// predicate inside an OR or NOT is ignored, which errs towards a report);
// an unqualified tenant_id is taken for the first table of its query block
// that has one; a derived table or CTE passes on tenant_id only through an
// output column of that name (or *); equalities through a function or an
// expression (coalesce(a.tenant_id, …)) are not followed.
//
// The statements of the test suite are recorded by internal/opendb when
// CRM_TEST_SQL_LOG names a directory; TestSuiteStatements checks them when
// CRM_TEST_SQL_CHECK names that directory (.ci/run does both).
package tenantcheck
