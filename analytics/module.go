package analytics

import (
	"context"

	"github.com/crmkit/crmkit/internal/module"
	"github.com/crmkit/crmkit/internal/store"
)

// Module declares the analytics module to package crm, which wires it (see
// internal/module); hosts use the service crm binds (c.Analytics).
// Analytics owns no tables and emits no events: it reads the other
// modules' tables, never writes them (the scores StoreScores keeps on the
// contacts are written by the contacts module).
var Module declaration

type declaration struct{}

// Declare returns the module's contract: its permission name and the
// refresh of the stored customer scores for every tenant with contacts
// (PeriodicStoreScores), off until crm.Config.Periodic gives it an
// interval: a refresh at 1M contacts on SQLite is not yet fast enough to
// run unasked (see the package doc).
func (declaration) Declare() module.Module {
	return module.Module{Name: "analytics", Permissions: []string{"analytics"},
		Periodic: []module.Periodic{{Name: PeriodicStoreScores, Every: 0, Table: "crm_contacts",
			Run: func(ctx context.Context, sc store.Scope) error {
				_, err := (&Service{sc: sc}).StoreScores(ctx, StoreScoresOptions{})
				return err
			}}}}
}

// Service returns the reports for sc.
func (declaration) Service(sc store.Scope) *Service { return &Service{sc: sc} }

// Service computes the reports of one tenant. Each report runs its
// aggregation in SQL (one query, or a few: ServiceLevels runs four) and
// returns a typed result that also writes itself as CSV; StoreScores
// keeps the customer scores on the contacts.
type Service struct {
	sc store.Scope
}
