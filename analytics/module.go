package analytics

import (
	"github.com/crmkit/crmkit/internal/module"
	"github.com/crmkit/crmkit/internal/store"
)

// Module declares the analytics module to package crm, which wires it (see
// internal/module); hosts use the service crm binds (c.Analytics).
// Analytics owns no tables and emits no events: it reads the other
// modules' tables, never writes them.
var Module declaration

type declaration struct{}

// Declare returns the module's contract.
func (declaration) Declare() module.Module {
	return module.Module{Name: "analytics", Permissions: []string{"analytics"}}
}

// Service returns the reports for sc.
func (declaration) Service(sc store.Scope) *Service { return &Service{sc: sc} }

// Service computes the reports of one tenant. Each method runs its
// aggregation in SQL (one query, or a few: ServiceLevels runs four) and
// returns a typed result that also writes itself as CSV.
type Service struct {
	sc store.Scope
}
