package tickets

import (
	"context"
	"embed"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/module"
	"github.com/crmkit/crmkit/internal/store"
)

// migrations are the module's schema migrations (module.Module.Migrations).
//
//go:embed migrations/*.sql
var migrations embed.FS

// Module declares the tickets module to package crm, which wires it (see
// internal/module); hosts use c.Tickets, c.Calendars, c.SLAPolicies,
// c.Routing, c.Classifier and c.KnowledgeBase.
var Module declaration

type declaration struct{}

// Declare returns the module's contract.
func (declaration) Declare() module.Module {
	return module.Module{
		Name:        "tickets",
		Permissions: []string{"tickets"},
		Migrations:  module.Files(migrations),
		Tables: []string{"crm_sla_calendars", "crm_sla_policies", "crm_ticket_counters", "crm_tickets",
			"crm_ticket_messages", "crm_ticket_routing", "crm_ticket_surveys", "crm_ticket_classifiers", "crm_ticket_classifier_settings",
			"crm_kb_articles", "crm_kb_search", "crm_kb_fts", "crm_ticket_mail", "crm_ticket_links", "crm_ticket_macros"},
		Events:          EventTypes(),
		PersonalData:    append(personalData(), mailPersonalData()),
		OnContactMerge:  onContactMerge,
		OnContactDelete: onContactDelete,
		Hooks:           registerHooks,
		Jobs:            []module.Job{{Kind: jobSLACheck, Work: slaCheck}},
		Periodic:        []module.Periodic{{Name: "ticket_queues", Every: time.Minute, Table: "crm_ticket_routing", Run: drainPeriodic}},
		FieldEntities:   []string{EntityTicket},
		Schemas:         map[string]module.SchemaFunc{EntityTicket: ticketSchema},
	}
}

// Visible returns the SQL condition, with its arguments, that holds where
// col (a ticket id column, trusted SQL of the caller's) names a ticket of
// sc's tenant that eff's actor sees in this module — assigned to the actor
// (own); to a member of their teams or to one of their teams (team); any
// (all) — as the module's own lists narrow them: "1 = 1" when they see
// every ticket; never for a NULL id, nor for a ticket that is gone,
// otherwise. The actor in ctx (whose permissions eff are) names their
// teams. For modules that show an actor records about tickets (a rule's
// runs): the module that owns crm_tickets writes the condition.
func (declaration) Visible(ctx context.Context, sc store.Scope, eff *access.Effective, col string) (string, []any, error) {
	cond, args, err := Module.Narrow(ctx, sc, eff, "vt")
	if err != nil || cond == "1 = 1" {
		return cond, args, err
	}
	tenant, err := sc.Tenant()
	if err != nil {
		return "", nil, err
	}
	return `EXISTS (SELECT 1 FROM crm_tickets vt WHERE vt.tenant_id = ? AND vt.id = ` + col + ` AND ` + cond + `)`,
		append([]any{tenant}, args...), nil
}

// Tickets returns the tickets of sc's tenant.
func (declaration) Tickets(sc store.Scope) *Tickets { return newTickets(sc) }

// Calendars returns the business-hours calendars of sc's tenant.
func (declaration) Calendars(sc store.Scope) *Calendars { return newCalendars(sc) }

// Routing returns the ticket routing of sc's tenant.
func (declaration) Routing(sc store.Scope) *Routing { return newRouting(sc) }

// Policies returns the SLA policies of sc's tenant.
func (declaration) Policies(sc store.Scope) *Policies { return newPolicies(sc) }

// Classifier returns the ticket classifier of sc's tenant.
func (declaration) Classifier(sc store.Scope) *Classifier { return newClassifier(sc) }

// KnowledgeBase returns the knowledge base of sc's tenant.
func (declaration) KnowledgeBase(sc store.Scope) *KnowledgeBase { return newKnowledgeBase(sc) }

// Macros returns the macros (canned replies) of sc's tenant; hosts reach
// them as c.Tickets.Macros().
func (declaration) Macros(sc store.Scope) *Macros { return newMacros(sc) }

// ticketSchema is TicketSchema with sc's tenant's custom fields of
// tickets.
func ticketSchema(ctx context.Context, sc store.Scope) (*filter.Schema, error) {
	custom, err := fields.Module.Service(sc).FilterFields(ctx, EntityTicket, "t.attributes")
	if err != nil {
		return nil, err
	}
	return TicketSchema.With(custom...), nil
}

// onContactMerge moves the losers' tickets to the winner.
func onContactMerge(ctx context.Context, tx *store.Tx, tenant string, m module.ContactMerge) error {
	for _, loser := range m.LoserIDs {
		if err := relink(ctx, tx, tenant, "contact_id", loser, core.About(m.WinnerID)); err != nil {
			return err
		}
	}
	return nil
}

// onContactDelete unlinks a deleted contact's tickets: they stay, without
// the person (erasure scrubbed them before).
func onContactDelete(ctx context.Context, tx *store.Tx, tenant string, contactID core.ID) error {
	return relink(ctx, tx, tenant, "contact_id", contactID, nil)
}

// registerHooks unlinks the tickets of a company that is deleted.
func registerHooks(rt *store.Runtime) (remove func()) {
	return rt.Hooks.Before([]string{contacts.EventCompanyDeleted}, func(ctx context.Context, tx *store.Tx, ev core.Event) error {
		return relink(ctx, tx, ev.TenantID, "company_id", ev.SubjectID, nil)
	})
}

// relink points the tickets whose column (contact_id or company_id) is
// from at to (nil: unlinks them), each a new version with a
// "ticket.updated" event.
func relink(ctx context.Context, tx *store.Tx, tenant, column string, from core.ID, to *core.ID) error {
	q := tx.Q()
	rows, err := q.Query(ctx, `SELECT id FROM crm_tickets WHERE tenant_id = ? AND `+column+` = ? ORDER BY id`+q.D.LockRows(), tenant, from)
	if err != nil {
		return err
	}
	ids, err := store.ScanIDs(rows)
	if err != nil {
		return err
	}
	now := tx.Runtime().Now()
	for _, id := range ids {
		if _, err := q.Exec(ctx, `UPDATE crm_tickets SET `+column+` = ?, updated_at = ?, version = version + 1
			WHERE tenant_id = ? AND id = ?`, store.NullID(to), now, tenant, id); err != nil {
			return err
		}
		t, err := getTicket(ctx, q, tenant, id, false)
		if err != nil {
			return err
		}
		ev := ticketEvent(tenant, EventTicketUpdated, t, now, TicketUpdated{Ticket: t, Changed: []string{column}})
		if column == "contact_id" && ev.ContactID == nil {
			// The event names the person the ticket was about, so their
			// history (and erasure) still finds it.
			ev.ContactID = core.About(from)
		}
		if err := tx.Emit(ctx, ev); err != nil {
			return err
		}
	}
	return nil
}
