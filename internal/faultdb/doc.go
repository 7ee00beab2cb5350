// Package faultdb wraps a database/sql connector so that a test can make
// the n-th statement, or the next commit, fail: the fault-injection tests
// use it to show that every public write of crmkit leaves nothing
// half-written when the database fails under it, and that the next call
// succeeds.
//
//	in := &faultdb.Injector{}
//	db, _ := opendb.OpenSQLite(ctx, dsn, opendb.Options{Wrap: in.Wrap})
//	in.Arm(3) // the third statement from now fails with ErrInjected
//
// Statements are counted on every connection of the wrapped pool, so the
// test arms the injector around one call with nothing else running on the
// pool. It is test plumbing: no host should import it.
package faultdb
