// Package filter is crmkit's one filter language: list filters, segments and
// automation conditions are all an Expr.
//
// An Expr is a tree of conditions combined with and, or and not:
//
//	f := filter.And(
//		filter.Eq("lifecycle_stage", "lead"),
//		filter.Contains("tags", "newsletter"),
//		filter.WithinLast("created_at", 90*24*time.Hour),
//	)
//
// Its JSON form is what stored segments, rules and the HTTP API use:
//
//	{"and": [
//	  {"field": "lifecycle_stage", "op": "eq", "value": "lead"},
//	  {"field": "tags", "op": "contains", "value": "newsletter"},
//	  {"field": "created_at", "op": "within_last", "value": "90d"},
//	  {"not": {"field": "attributes.plan", "op": "in", "value": ["free", "trial"]}}
//	]}
//
// Times compare with RFC 3339 values or with times relative to the moment
// the filter runs: "now", "now-7d", "now+48h" ({"field": "due_at", "op":
// "lt", "value": "now"} selects what is overdue). A stored filter keeps
// meaning "the last 7 days" however long it is kept.
//
// Field names come from a per-entity Schema (an allowlist); custom
// attributes are addressed as "attributes.<key>". Compile turns an Expr into
// SQL for SQLite or PostgreSQL with every value a bound parameter, so
// injection is impossible by construction; Match evaluates the same Expr in
// memory with the same answers.
//
// # Semantics
//
// A condition on a missing value (an attribute that is absent or of another
// JSON type than the compared value, a NULL time) is false, and its negation
// is true — in SQL and in Match alike. String comparisons are case-sensitive
// and compare bytes (code points); "contains" and "prefix" are
// case-sensitive. Emails are stored lower-case.
//
// # Related conditions
//
// A condition may name a relation of the schema instead of a field —
// {"related": "purchases", "params": {"within": "90d"}, "op": "gte",
// "value": 2} — a count or sum over related records, or whether a related
// record exists. The module that owns those records declares the relation
// (Relation) with its SQL; relations are evaluated in SQL only, and Match
// and Matcher refuse them.
package filter
