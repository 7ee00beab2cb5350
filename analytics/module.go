package analytics

import (
	"context"
	"time"

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
// daily refresh of the stored customer scores for every tenant with
// contacts (PeriodicStoreScores; crm.Config.Periodic changes its interval
// or, negative, turns it off).
func (declaration) Declare() module.Module {
	return module.Module{Name: "analytics", Permissions: []string{"analytics"},
		Periodic: []module.Periodic{{Name: PeriodicStoreScores, Every: 24 * time.Hour, Table: "crm_contacts",
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
