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
// field problem of one call at once and matches ErrInvalid, a
// *NotFoundError names the entity and id ("crm: not found: contact 0190…")
// and matches ErrNotFound. Messages carry ids, never personal values such
// as email addresses. A versioned change takes the version the caller read;
// version 0 is ErrInvalid (CheckVersion), a stale one ErrConflict.
//
// Money is an exact decimal in one currency, with at most MaxMoneyDecimals
// (4) decimals. Amounts are given in whole units (NewMoney("49.90", "EUR"))
// or in the currency's ISO 4217 minor unit (MoneyFromMinor(4990, "EUR"),
// cents; JPY has none, KWD three); Minor gives them back in minor units.
//
// Times: every time a caller passes must lie in years 1 to 9999 UTC
// (MinYear, MaxYear); others are refused with ErrInvalid naming the field
// (ValidationError.CheckTime). Days without a time of day, such as a deal's
// expected close date or the bounds of a forecast, are Dates.
package core
