package crm

import (
	"github.com/crmkit/crmkit/core"
)

// EventTypes returns the catalogue of every event type crmkit emits, with
// the fields of each payload (EventType.Fields): what rules, webhooks and
// subscribers may name.
func (c *CRM) EventTypes() []core.EventType { return c.shared.rt.Events.Types() }
