// Package dbtest runs a test once per supported database.
//
//	func TestX(t *testing.T) {
//		dbtest.Run(t, func(t *testing.T, db *bun.DB) { ... })
//	}
//
// The subtest "sqlite" gets a fresh database file in t.TempDir(). The
// subtest "postgres" gets a fresh schema of the database named by
// CRM_TEST_POSTGRES_DSN, dropped when the test ends, so packages tested in
// parallel never share tables. Without that variable the postgres subtest is
// skipped with a message — unless CRM_TEST_REQUIRE_POSTGRES is set (as CI
// does), when it fails.
//
// Run gives empty databases (for migration tests). Tests that want a
// migrated database use a Template instead: migrated once per test binary
// and copied for each test (an SQLite file copy; a pooled PostgreSQL schema
// emptied between tests), each test still on a database of its own:
//
//	var migrated = &dbtest.Template{Name: "store", Migrate: migrateFunc}
//
//	func TestY(t *testing.T) {
//		t.Parallel()
//		migrated.Run(t, func(t *testing.T, db *bun.DB) { ... })
//	}
package dbtest
