package tickets

import (
	"slices"
	"time"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
)

// EntityTicket is the entity name of tickets for custom fields
// (fields.Definition{Entity: "ticket"}) and filter schemas.
const EntityTicket = "ticket"

// Limits of free text.
const (
	MaxSubjectLen    = 500
	MaxBodyLen       = 100_000
	MaxNameLen       = 200
	MaxTags          = 50
	MaxTagLen        = 100
	MaxAttachments   = 50
	MaxUserIDLen     = 200
	MaxStorageKeyLen = 1000
)

// Channel is where a ticket came in.
type Channel string

// Channels.
const (
	ChannelEmail Channel = "email"
	ChannelWeb   Channel = "web"
	ChannelPhone Channel = "phone"
	ChannelChat  Channel = "chat"
	ChannelAPI   Channel = "api"
)

// Channels lists the channels.
var Channels = []Channel{ChannelEmail, ChannelWeb, ChannelPhone, ChannelChat, ChannelAPI}

// Status is where a ticket stands.
type Status string

// Statuses. Pending waits for the customer until a reminder time; pending
// and on hold stop the SLA clock.
const (
	StatusNew     Status = "new"
	StatusOpen    Status = "open"
	StatusPending Status = "pending"
	StatusOnHold  Status = "on_hold"
	StatusSolved  Status = "solved"
	StatusClosed  Status = "closed"
)

// Statuses lists the statuses.
var Statuses = []Status{StatusNew, StatusOpen, StatusPending, StatusOnHold, StatusSolved, StatusClosed}

// Transitions is the table of allowed status changes: from → the statuses
// it may change to. Nothing goes back to new; a solved ticket is reopened
// (open) or closed; a closed ticket can only be reopened (open). A
// pending ticket may be set pending again with another reminder time.
var Transitions = map[Status][]Status{
	StatusNew:     {StatusOpen, StatusPending, StatusOnHold, StatusSolved, StatusClosed},
	StatusOpen:    {StatusPending, StatusOnHold, StatusSolved, StatusClosed},
	StatusPending: {StatusOpen, StatusPending, StatusOnHold, StatusSolved, StatusClosed},
	StatusOnHold:  {StatusOpen, StatusPending, StatusSolved, StatusClosed},
	StatusSolved:  {StatusOpen, StatusClosed},
	StatusClosed:  {StatusOpen},
}

// CanTransition reports whether a ticket may change from status from to
// status to (Transitions).
func CanTransition(from, to Status) bool { return slices.Contains(Transitions[from], to) }

// paused reports whether the SLA clock stands still in status s.
func (s Status) paused() bool { return s == StatusPending || s == StatusOnHold }

// done reports whether the ticket is resolved in status s.
func (s Status) done() bool { return s == StatusSolved || s == StatusClosed }

// Priority is a ticket's urgency.
type Priority string

// Priorities.
const (
	PriorityLow    Priority = "low"
	PriorityNormal Priority = "normal"
	PriorityHigh   Priority = "high"
	PriorityUrgent Priority = "urgent"
)

// Priorities lists the priorities, lowest first.
var Priorities = []Priority{PriorityLow, PriorityNormal, PriorityHigh, PriorityUrgent}

// Ticket is one case of the service desk.
type Ticket struct {
	ID core.ID `json:"id"`
	// Number is the tenant's human number (#1042): unique in the tenant,
	// given in order of creation (a failed creation may leave a gap).
	Number    int64    `json:"number"`
	Subject   string   `json:"subject"`
	ContactID *core.ID `json:"contact_id"` // nil only once the contact was deleted
	CompanyID *core.ID `json:"company_id,omitempty"`
	Channel   Channel  `json:"channel"`
	Status    Status   `json:"status"`
	// PendingUntil is the reminder time of a pending ticket.
	PendingUntil *time.Time `json:"pending_until,omitempty"`
	Priority     Priority   `json:"priority"`
	// Category is a code ("billing").
	Category string   `json:"category,omitempty"`
	Tags     []string `json:"tags"`
	// AssigneeID is the host's user the ticket is assigned to.
	AssigneeID string `json:"assignee_id,omitempty"`
	// Team is the name of an access team of the tenant (given by name or
	// id, kept by name).
	Team string `json:"team,omitempty"`
	// Language is the customer's language, a BCP 47 tag in canonical form
	// ("de-CH"), and ProductLine the host's code of the product the ticket
	// is about ("pro"): routing gives the ticket to a team member whose
	// skills (access.Skills) cover them.
	Language    string `json:"language,omitempty"`
	ProductLine string `json:"product_line,omitempty"`
	// QueuedAt is set while the ticket waits in its team's queue for a
	// member with capacity (see Routing); the queue is served oldest
	// first.
	QueuedAt *time.Time `json:"queued_at,omitempty"`
	// CSAT (1–5) and NPS (0–10) are the customer's latest answers to the
	// ticket's satisfaction surveys (Tickets.Survey).
	CSAT       *int           `json:"csat,omitempty"`
	NPS        *int           `json:"nps,omitempty"`
	Attributes map[string]any `json:"attributes"`
	// MergedInto is the ticket this one was merged into (it is closed).
	MergedInto *core.ID `json:"merged_into,omitempty"`
	// Suggestion is what the tenant's classifier suggested when the
	// ticket was created (see Classifier); nil without models.
	Suggestion *Suggestion `json:"suggestion,omitempty"`
	// SLA is the ticket's service level: due times, remaining business
	// time and breaches, as of when the ticket was read. Nil when no
	// policy applies.
	SLA       *SLA      `json:"sla,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Version   int64     `json:"version"`

	clock slaClock
}

// slaClock is the stored state of a ticket's SLA clock.
type slaClock struct {
	policyID           *core.ID
	pausedSeconds      int64
	pausedSince        *time.Time
	firstResponseAt    *time.Time
	firstResponseDue   *time.Time
	nextResponseFrom   *time.Time
	nextResponsePaused int64
	nextResponseDue    *time.Time
	resolutionDue      *time.Time
	solvedAt           *time.Time
	slaDue             *time.Time
	// alerts are the warnings and breaches emitted: "first_response.breached"
	// → its cycle (see alert).
	alerts map[string]string
}

// SLA is a ticket's service level against its policy.
type SLA struct {
	PolicyID core.ID `json:"policy_id"`
	// Paused is set while the ticket is pending or on hold: the clock
	// stands still.
	Paused bool `json:"paused"`
	// FirstResponse is measured from creation to the first public reply
	// of an agent; NextResponse from the oldest customer message not yet
	// answered (after the first response) to the next public agent reply;
	// Resolution from creation to solved. Nil: the policy sets no such
	// target, or (NextResponse) nothing awaits an answer.
	FirstResponse *Target `json:"first_response,omitempty"`
	NextResponse  *Target `json:"next_response,omitempty"`
	Resolution    *Target `json:"resolution,omitempty"`
}

// Breached reports whether any target of s is breached.
func (s *SLA) Breached() bool {
	for _, t := range []*Target{s.FirstResponse, s.NextResponse, s.Resolution} {
		if t != nil && t.Breached {
			return true
		}
	}
	return false
}

// Target is one SLA target of a ticket.
type Target struct {
	// Due is when the target falls due (business time of the policy's
	// calendar, pauses added).
	Due time.Time `json:"due"`
	// MetAt is when the target was met, if it was.
	MetAt *time.Time `json:"met_at,omitempty"`
	// RemainingMinutes is the business time left until Due, in whole
	// minutes (negative: overdue by that much); for a met target, what
	// was left when it was met. While paused it stands still.
	RemainingMinutes int64 `json:"remaining_minutes"`
	// Breached is set when the target was missed (met late, or not met
	// and due).
	Breached bool `json:"breached"`
}

// NewTicket is the input of Create.
type NewTicket struct {
	Subject string
	// ContactID is required: a contact of the tenant.
	ContactID core.ID
	CompanyID *core.ID
	// Channel defaults to api.
	Channel Channel
	// Status defaults to new; a ticket may also start open, pending (with
	// PendingUntil) or on hold.
	Status       Status
	PendingUntil *time.Time
	// Priority defaults to normal.
	Priority Priority
	Category string
	Tags     []string
	// AssigneeID and Team, when neither is given, come from the tenant's
	// routing (see Routing).
	AssigneeID string
	Team       string
	// Language (a BCP 47 tag) and ProductLine (a code) are what routing
	// matches against the skills of team members.
	Language    string
	ProductLine string
	Attributes  map[string]any
	// Message, when set, is the ticket's first message (the customer's
	// request, or an agent's note of a phone call).
	Message *NewMessage
}

// TicketPatch changes the fields that are set. Version is the version the
// caller read. Status changes go through SetStatus, assignment through
// Assign.
type TicketPatch struct {
	Version   int64
	Subject   *string
	ContactID *core.ID
	// CompanyID: NilID unlinks the company.
	CompanyID *core.ID
	Channel   *Channel
	Priority  *Priority
	Category  *string
	Tags      *[]string
	// Language and ProductLine: "" clears them.
	Language    *string
	ProductLine *string
	// Attributes are merged into the ticket's; a nil value removes a key.
	Attributes map[string]any
}

// StatusChange is the input of SetStatus.
type StatusChange struct {
	Version int64
	Status  Status
	// PendingUntil is the reminder time, required for pending.
	PendingUntil *time.Time
}

// Assignment is the input of Assign: the agent and the team (empty: none).
type Assignment struct {
	Version    int64
	AssigneeID string
	Team       string
}

// AuthorKind says who wrote a message.
type AuthorKind string

// Author kinds.
const (
	AuthorCustomer AuthorKind = "customer"
	AuthorAgent    AuthorKind = "agent"
)

// Message is one message of a ticket.
type Message struct {
	ID       core.ID `json:"id"`
	TicketID core.ID `json:"ticket_id"`
	// Public messages are seen by the customer; internal ones are agents'
	// notes.
	Public     bool       `json:"public"`
	AuthorKind AuthorKind `json:"author_kind"`
	// AuthorID is the agent's user id; for a customer, "" (the ticket's
	// contact), or the id of the contact who wrote it when that is
	// someone else (a reply by mail from another address in the thread,
	// see Tickets.Inbound).
	AuthorID    string       `json:"author_id,omitempty"`
	Body        string       `json:"body"`
	Attachments []Attachment `json:"attachments"`
	CreatedAt   time.Time    `json:"created_at"`
}

// Attachment is the metadata of a message's file; the bytes are the
// host's, under StorageKey.
type Attachment struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	// StorageKey is the host's opaque key of the bytes.
	StorageKey string `json:"storage_key"`
}

// NewMessage is the input of AddMessage.
type NewMessage struct {
	Public      bool
	AuthorKind  AuthorKind
	AuthorID    string
	Body        string
	Attachments []Attachment
}

// noDue is the stored sla_due of a ticket whose SLA clock does not run:
// later than every due time, so an agent queue ordered by sla_due lists
// such tickets last and its keyset never meets a NULL.
var noDue = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// TicketSchema is the filter allowlist of tickets: list filters and SLA
// policy conditions. Custom fields are "attributes.<key>".
var TicketSchema = filter.NewSchema(EntityTicket, "t.attributes",
	filter.Field{Name: "number", Column: "t.number", Type: filter.Number, Sortable: true},
	filter.Field{Name: "subject", Column: "t.subject", Type: filter.String, Sortable: true},
	filter.Field{Name: "contact_id", Column: "t.contact_id", Type: filter.ID},
	filter.Field{Name: "company_id", Column: "t.company_id", Type: filter.ID},
	filter.Field{Name: "channel", Column: "t.channel", Type: filter.Enum, Values: enumValues(Channels)},
	filter.Field{Name: "status", Column: "t.status", Type: filter.Enum, Values: enumValues(Statuses)},
	filter.Field{Name: "priority", Column: "t.priority", Type: filter.Enum, Values: enumValues(Priorities)},
	filter.Field{Name: "category", Column: "t.category", Type: filter.String},
	filter.Field{Name: "tags", Column: "t.tags", Type: filter.Tags},
	filter.Field{Name: "assignee_id", Column: "t.assignee_id", Type: filter.String},
	filter.Field{Name: "team", Column: "t.team", Type: filter.String},
	filter.Field{Name: "language", Column: "t.language", Type: filter.String},
	filter.Field{Name: "product_line", Column: "t.product_line", Type: filter.String},
	// queued_at is set while the ticket waits in its team's queue.
	filter.Field{Name: "queued_at", Column: "t.queued_at", Type: filter.Time, Sortable: true},
	// csat and nps are the customer's latest survey scores.
	filter.Field{Name: "csat", Column: "t.csat", Type: filter.Number},
	filter.Field{Name: "nps", Column: "t.nps", Type: filter.Number},
	// sla_due is the earliest due time of the ticket's running SLA
	// targets; 9999-12-31 when none runs (paused, resolved, no policy).
	filter.Field{Name: "sla_due", Column: "t.sla_due", Type: filter.Time, Sortable: true},
	filter.Field{Name: "pending_until", Column: "t.pending_until", Type: filter.Time},
	filter.Field{Name: "created_at", Column: "t.created_at", Type: filter.Time, Sortable: true},
	filter.Field{Name: "updated_at", Column: "t.updated_at", Type: filter.Time, Sortable: true},
)

func enumValues[T ~string](vals []T) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = string(v)
	}
	return out
}

// FilterValue implements filter.Record.
func (t *Ticket) FilterValue(field string) any {
	switch field {
	case "number":
		return float64(t.Number)
	case "subject":
		return t.Subject
	case "contact_id":
		if t.ContactID == nil {
			return nil
		}
		return *t.ContactID
	case "company_id":
		if t.CompanyID == nil {
			return nil
		}
		return *t.CompanyID
	case "channel":
		return string(t.Channel)
	case "status":
		return string(t.Status)
	case "priority":
		return string(t.Priority)
	case "category":
		return t.Category
	case "tags":
		return t.Tags
	case "assignee_id":
		return t.AssigneeID
	case "team":
		return t.Team
	case "language":
		return t.Language
	case "product_line":
		return t.ProductLine
	case "csat", "nps":
		p := t.CSAT
		if field == "nps" {
			p = t.NPS
		}
		if p == nil {
			return nil
		}
		return float64(*p)
	case "queued_at":
		if t.QueuedAt == nil {
			return nil
		}
		return *t.QueuedAt
	case "sla_due":
		if t.clock.slaDue == nil {
			return noDue
		}
		return *t.clock.slaDue
	case "pending_until":
		if t.PendingUntil == nil {
			return nil
		}
		return *t.PendingUntil
	case "created_at":
		return t.CreatedAt
	case "updated_at":
		return t.UpdatedAt
	}
	if len(field) > len("attributes.") && field[:len("attributes.")] == "attributes." {
		return t.Attributes[field[len("attributes."):]]
	}
	return nil
}

// Calendar is a business-hours calendar of SLA policies.
type Calendar struct {
	ID   core.ID `json:"id"`
	Name string  `json:"name"`
	// TimeZone is an IANA time zone ("Europe/Berlin").
	TimeZone string `json:"time_zone"`
	// Country, when set, adds that country's national public holidays
	// (ISO 3166-1 code; see Countries).
	Country string `json:"country,omitempty"`
	// Windows are the working windows of each weekday, several per day
	// allowed (a lunch break), none overlapping; one whose end is not
	// after its start runs past midnight (a night shift).
	Windows []Window `json:"windows"`
	// Holidays are fixed dates without working time (the windows that
	// start on them are closed).
	Holidays []core.Date `json:"holidays"`
	// Closures are one-off stretches without working time.
	Closures  []Closure `json:"closures"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Version   int64     `json:"version"`
}

// Window is a working window of a weekday, in the calendar's local time.
type Window struct {
	Weekday time.Weekday `json:"weekday"`
	// Start and End are "HH:MM"; End may be "24:00". An End not after
	// Start ends the next day.
	Start string `json:"start"`
	End   string `json:"end"`
}

// Closure is a one-off stretch of time without working time (a company
// event), From included, To not.
type Closure struct {
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Reason string    `json:"reason,omitempty"`
}

// Policy is an SLA policy: the first policy (by Position) whose Condition
// matches a ticket applies to it.
type Policy struct {
	ID   core.ID `json:"id"`
	Name string  `json:"name"`
	// Position orders the policies: the lowest matching one applies.
	Position int64 `json:"position"`
	// Condition selects the tickets (TicketSchema with custom fields);
	// empty matches every ticket.
	Condition  filter.Expr `json:"condition"`
	CalendarID core.ID     `json:"calendar_id"`
	// Targets in business minutes of the calendar; 0: no such target.
	FirstResponseMinutes int64 `json:"first_response_minutes"`
	NextResponseMinutes  int64 `json:"next_response_minutes"`
	ResolutionMinutes    int64 `json:"resolution_minutes"`
	// WarningMinutes, when above 0, emits "ticket.sla_warning" that many
	// minutes (of the wall clock) before each due time.
	WarningMinutes int64     `json:"warning_minutes"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	Version        int64     `json:"version"`
}
