package tickets

import (
	"github.com/crmkit/crmkit/core"
)

// Event types of the tickets module, with their payloads. Every ticket
// event is about the ticket's contact (core.Event.ContactID), so tickets
// appear on the contact's timeline.
const (
	EventTicketCreated       = "ticket.created"            // Ticket
	EventTicketUpdated       = "ticket.updated"            // TicketUpdated
	EventTicketStatusChanged = "ticket.status_changed"     // StatusChanged
	EventTicketAssigned      = "ticket.assigned"           // Assigned
	EventTicketQueued        = "ticket.queued"             // Queued
	EventTicketMessageAdded  = "ticket.message_added"      // MessageAdded
	EventTicketRated         = "ticket.rated"              // Rated
	EventTicketMerged        = "ticket.merged"             // Merged
	EventTicketSLAWarning    = "ticket.sla_warning"        // SLAAlert
	EventTicketSLABreached   = "ticket.sla_breached"       // SLAAlert
	EventCalendarCreated     = "sla_calendar.created"      // Calendar
	EventCalendarUpdated     = "sla_calendar.updated"      // Calendar
	EventCalendarDeleted     = "sla_calendar.deleted"      // Deleted
	EventPolicyCreated       = "sla_policy.created"        // Policy
	EventPolicyUpdated       = "sla_policy.updated"        // Policy
	EventPolicyDeleted       = "sla_policy.deleted"        // Deleted
	EventRoutingUpdated      = "ticket_routing.updated"    // RoutingSettings
	EventClassifierTrained   = "ticket_classifier.trained" // ClassifierModel
	EventClassifierUpdated   = "ticket_classifier.updated" // ClassifierSettings
	EventArticleCreated      = "kb.article_created"        // Article
	EventArticleUpdated      = "kb.article_updated"        // ArticleUpdated
	EventArticlePublished    = "kb.article_published"      // Article
	EventArticleUnpublished  = "kb.article_unpublished"    // Article
	EventArticleDeleted      = "kb.article_deleted"        // Deleted
	EventMacroCreated        = "ticket_macro.created"      // Macro
	EventMacroUpdated        = "ticket_macro.updated"      // Macro
	EventMacroDeleted        = "ticket_macro.deleted"      // Deleted
)

// Deleted is the payload of deletions: the record's id.
type Deleted struct {
	ID core.ID `json:"id"`
}

// TicketUpdated is the payload of "ticket.updated": the ticket after the
// change and the fields that changed.
type TicketUpdated struct {
	Ticket  *Ticket  `json:"ticket"`
	Changed []string `json:"changed"`
}

// StatusChanged is the payload of "ticket.status_changed".
type StatusChanged struct {
	Ticket *Ticket `json:"ticket"`
	From   Status  `json:"from"`
	To     Status  `json:"to"`
}

// Assigned is the payload of "ticket.assigned": the ticket with its new
// assignee and team, and the ones before.
type Assigned struct {
	Ticket       *Ticket `json:"ticket"`
	FromAssignee string  `json:"from_assignee,omitempty"`
	FromTeam     string  `json:"from_team,omitempty"`
	// Mode is set when routing chose the assignee (round_robin or
	// least_loaded).
	Mode AssignMode `json:"mode,omitempty"`
}

// Queued is the payload of "ticket.queued": the ticket waits in its
// team's queue (Ticket.QueuedAt) until a member can take it.
type Queued struct {
	Ticket *Ticket `json:"ticket"`
}

// MessageAdded is the payload of "ticket.message_added".
type MessageAdded struct {
	TicketID core.ID  `json:"ticket_id"`
	Number   int64    `json:"number"`
	Message  *Message `json:"message"`
}

// Merged is the payload of "ticket.merged": the source ticket, closed,
// was merged into the target, which took its messages.
type Merged struct {
	SourceID core.ID `json:"source_id"`
	TargetID core.ID `json:"target_id"`
	Messages int64   `json:"messages"`
}

// EventTypes is the tickets module's event catalogue.
func EventTypes() []core.EventType {
	return []core.EventType{
		{Type: EventTicketCreated, Subject: "ticket", Payload: Ticket{}, Doc: "a ticket was opened"},
		{Type: EventTicketUpdated, Subject: "ticket", Payload: TicketUpdated{}, Doc: "a ticket's subject, contact, priority, category, tags or custom fields changed"},
		{Type: EventTicketStatusChanged, Subject: "ticket", Payload: StatusChanged{}, Doc: "a ticket's status changed"},
		{Type: EventTicketAssigned, Subject: "ticket", Payload: Assigned{}, Doc: "a ticket's assignee or team changed"},
		{Type: EventTicketQueued, Subject: "ticket", Payload: Queued{}, Doc: "a ticket waits in its team's queue: no member can take it now"},
		{Type: EventTicketMessageAdded, Subject: "ticket", Payload: MessageAdded{}, Doc: "a message (public or internal) was added to a ticket"},
		{Type: EventTicketRated, Subject: "ticket", Payload: Rated{}, Doc: "the customer answered a satisfaction survey (CSAT or NPS) of a ticket"},
		{Type: EventTicketMerged, Subject: "ticket", Payload: Merged{}, Doc: "a duplicate ticket was merged into another and closed"},
		{Type: EventTicketSLAWarning, Subject: "ticket", Payload: SLAAlert{}, Doc: "an SLA target of a ticket falls due soon (the policy's warning_minutes before)"},
		{Type: EventTicketSLABreached, Subject: "ticket", Payload: SLAAlert{}, Doc: "an SLA target of a ticket fell due unmet"},
		{Type: EventCalendarCreated, Subject: "sla_calendar", Payload: Calendar{}, Doc: "a business-hours calendar was saved"},
		{Type: EventCalendarUpdated, Subject: "sla_calendar", Payload: Calendar{}, Doc: "a business-hours calendar changed"},
		{Type: EventCalendarDeleted, Subject: "sla_calendar", Payload: Deleted{}, Doc: "a business-hours calendar was deleted"},
		{Type: EventPolicyCreated, Subject: "sla_policy", Payload: Policy{}, Doc: "an SLA policy was saved"},
		{Type: EventPolicyUpdated, Subject: "sla_policy", Payload: Policy{}, Doc: "an SLA policy changed"},
		{Type: EventPolicyDeleted, Subject: "sla_policy", Payload: Deleted{}, Doc: "an SLA policy was deleted"},
		{Type: EventRoutingUpdated, Subject: "ticket_routing", Payload: RoutingSettings{}, Doc: "the tenant's ticket routing rules or team assignment modes changed"},
		{Type: EventClassifierTrained, Subject: "ticket_classifier", Payload: ClassifierModel{}, Doc: "a ticket classifier model (category or team) was trained and replaced the active one"},
		{Type: EventClassifierUpdated, Subject: "ticket_classifier", Payload: ClassifierSettings{}, Doc: "the tenant's ticket classifier settings (auto-routing threshold) changed"},
		{Type: EventArticleCreated, Subject: "kb_article", Payload: Article{}, Doc: "a knowledge base article was created (a draft)"},
		{Type: EventArticleUpdated, Subject: "kb_article", Payload: ArticleUpdated{}, Doc: "a knowledge base article's title, body, category or locale changed"},
		{Type: EventArticlePublished, Subject: "kb_article", Payload: Article{}, Doc: "a knowledge base article was published: readers and search find it"},
		{Type: EventArticleUnpublished, Subject: "kb_article", Payload: Article{}, Doc: "a published knowledge base article went back to draft"},
		{Type: EventArticleDeleted, Subject: "kb_article", Payload: Deleted{}, Doc: "a knowledge base article was deleted"},
		{Type: EventMacroCreated, Subject: "ticket_macro", Payload: Macro{}, Doc: "a macro (canned reply) was saved"},
		{Type: EventMacroUpdated, Subject: "ticket_macro", Payload: Macro{}, Doc: "a macro (canned reply) changed"},
		{Type: EventMacroDeleted, Subject: "ticket_macro", Payload: Deleted{}, Doc: "a macro (canned reply) was deleted"},
	}
}
