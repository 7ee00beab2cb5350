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
package dbtest
