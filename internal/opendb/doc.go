// Package opendb opens the databases crmkit runs on, configured as DESIGN.md
// prescribes, and checks that the configuration took effect.
//
// SQLite (modernc.org/sqlite, pure Go): WAL journal, synchronous=NORMAL,
// foreign keys on, a busy timeout, a 64 MiB page cache, and transactions that
// take the write lock at BEGIN (BEGIN IMMEDIATE), so concurrent writers queue
// on the busy timeout instead of failing with SQLITE_BUSY.
//
// PostgreSQL (pgx v5 through database/sql): the connection's default query
// mode is the simple protocol, so queries built by bun (which inlines values)
// take one round trip instead of a prepare per query; crmkit's own queries,
// which bind parameters, ask pgx for cached prepared statements (see
// internal/dialect).
//
// When CRM_TEST_SQL_LOG names a directory (EnvSQLLog), every PostgreSQL
// pool records each distinct statement it sends, with the crmkit functions
// that sent it, through a pgx tracer (queries, COPY, batches): below bun
// and database/sql, so crmkit's own prepared statements are seen as well
// as bun's queries. The test suite runs with it in CI, for
// internal/tenantcheck. Unset, no tracer is installed.
package opendb
