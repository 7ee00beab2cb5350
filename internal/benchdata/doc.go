// Package benchdata builds and caches the benchmarks' dataset of contacts,
// so that the benchmarks of several packages (contacts, crmhttp) measure
// the same rows:
//
//	db := benchdata.SQLite(b, benchdata.Size())        // $TMPDIR/crmkit-bench/contacts-<n>.db
//	db, dsn := benchdata.Postgres(b, benchdata.Size()) // the schema crmbench_contacts_<n>
//
// Contact i has id ID(i), email user<i>@example.com, first name
// First<i%97>, last name Name<i%5003>, stage by i%8 (lead when 1), owner
// user-<i%50>, tags by i%3 (newsletter on two in three) and attributes
// plan and seats; it was created at Epoch + i seconds, so the newest is
// Now(n) - 1s. The SQLite file is kept in $TMPDIR/crmkit-bench and the
// PostgreSQL rows in the schema crmbench_contacts_<n> of the test
// database (CRM_TEST_POSTGRES_DSN); both are built on first use (minutes
// at 1M) and reused while their row count matches. The search documents
// are written too.
//
// Cached keeps a package's own dataset the same way, built by a function
// the package gives (the analytics benchmarks' tenant of contacts,
// activities and deals):
//
//	db := benchdata.Cached(b, pg, "analytics_v2_1000000", fill)
package benchdata
