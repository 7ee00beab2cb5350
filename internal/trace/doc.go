// Package trace makes the OpenTelemetry spans of crmkit's public
// operations.
//
// Every public method of a module service that does I/O starts a span
// named "<module>.<Method>" ("contacts.Create"), or
// "<module>.<Type>.<Method>" for the module's other services
// ("pipeline.Deals.Update", "access.Users.Create"), and ends it when it
// returns:
//
//	func (s *Service) Update(ctx context.Context, id core.ID, …) (_ *Contact, err error) {
//		ctx, span := s.sc.SpanID(ctx, "contacts.Update", id)
//		defer span.End(&err)
//		…
//	}
//
// Scope.Span and Scope.SpanID (internal/store) call Start with the tracer
// of the runtime — the provider of crm.Config.TracerProvider, else the
// global one — and the scope's tenant. Spans are children of the span in
// the caller's context, so a host's request span holds crmkit's
// operations, and an operation that calls another public one holds its
// span.
//
// # Design notes
//
//   - Attributes are crm.tenant and, where the method takes the record's id,
//     crm.id: ids and tenant ids only, never people's data (names, emails,
//     filter values). They are set only on a recording span.
//   - Any error ends the span with status Error and a recorded exception,
//     following OpenTelemetry's conventions: a not-found, a refused input
//     or a stale version is an operation that did not do what was asked.
//     error.type tells the kinds apart (not_found, invalid, conflict,
//     forbidden, no_consent, not_migrated, canceled, deadline_exceeded,
//     _OTHER), so a host can leave expected outcomes out of its alerts.
//     Error messages are crmkit's own, which carry ids, never personal
//     data.
//   - Without a provider installed, the global provider's tracer is
//     OpenTelemetry's no-op: Start and End then cost a context value and
//     no attribute is built. Span is a value, so `defer span.End(&err)`
//     allocates nothing more.
//   - Each SQL statement is not a span: hosts that want one per
//     statement make it in crm.Config.QueryHook, which sees every
//     statement's text, timing and outcome with the operation's context.
package trace
