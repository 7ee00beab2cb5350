package consent

import (
	"embed"
	"github.com/crmkit/crmkit/internal/module"
	"github.com/crmkit/crmkit/internal/store"
)

// migrations are the module's schema migrations (module.Module.Migrations).
//
//go:embed migrations/*.sql
var migrations embed.FS

// Module declares the consent module to package crm, which wires it (see
// internal/module); hosts use the service crm binds (c.Consent).
var Module declaration

type declaration struct{}

// Declare returns the module's contract.
func (declaration) Declare() module.Module {
	return module.Module{
		Name:        "consent",
		Permissions: []string{"consent"},
		Migrations:  module.Files(migrations),
		Tables: []string{"crm_purposes", "crm_purpose_wordings", "crm_consents", "crm_optin_requests", "crm_audit",
			"crm_erasures", "crm_retention_policies", "crm_suppressions", "crm_suppression_keys"},
		Events:          EventTypes(),
		PersonalData:    personalData(),
		Hooks:           registerHooks,
		OnContactMerge:  onContactMerge,
		OnContactDelete: onContactDelete,
	}
}

// Service returns the consent service for sc.
func (declaration) Service(sc store.Scope, opts Options) *Service { return newService(sc, opts) }
