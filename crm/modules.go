package crm

import (
	"github.com/crmkit/crmkit/automation"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/internal/module"
	"github.com/crmkit/crmkit/pipeline"
)

// modules lists crmkit's modules in the order they are wired. Adding a
// module is its package (which declares a module.Module: its tables,
// events, personal data, hooks, periodic work and custom-field entities)
// and one line here; a service hosts call also gets a field on CRM, bound
// in bind.
func modules() []module.Module {
	return []module.Module{
		fields.Module.Declare(),
		contacts.Module.Declare(),
		consent.Module.Declare(),
		pipeline.Module.Declare(),
		automation.Module.Declare(),
	}
}

// EventTypes returns the catalogue of every event type crmkit emits, with
// the fields of each payload (EventType.Fields): what rules, webhooks and
// subscribers may name.
func (c *CRM) EventTypes() []core.EventType { return c.shared.rt.Events.Types() }
