// Package core holds the vocabulary every crmkit module shares: ids, errors,
// money, events, the acting user, pagination cursors and the clock.
//
// It imports no crmkit module, so every module can import it. Hosts meet its
// types everywhere in the public API:
//
//	c, _ := crm.Open(ctx, crm.Config{})
//	ctx = core.WithActor(ctx, core.Actor{ID: "user-7", Roles: []string{"sales"}})
//	_, err := c.Contacts.Get(ctx, id)
//	if errors.Is(err, core.ErrNotFound) { ... }
//
// Errors are sentinels checked with errors.Is; a *ValidationError lists every
// field problem of one call at once and matches ErrInvalid.
package core
