package tickets

import (
	"context"
	"io"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
)

// TicketsAPI is what *Tickets (c.Tickets) does, as an interface, for hosts
// that substitute it: a fake in their tests, a wrapper that adds caching or
// metrics. See *Tickets for each method.
type TicketsAPI interface {
	AddMessage(ctx context.Context, ticketID core.ID, in NewMessage) (*Message, error)
	AnswerSurvey(ctx context.Context, token string, score int) (*Ticket, error)
	ApplyMacro(ctx context.Context, ticketID, macroID core.ID, version int64) (*Ticket, error)
	Assign(ctx context.Context, id core.ID, a Assignment) (*Ticket, error)
	CheckSLA(ctx context.Context, id core.ID) error
	Count(ctx context.Context, f filter.Expr) (int64, error)
	Create(ctx context.Context, in NewTicket) (*Ticket, error)
	Get(ctx context.Context, id core.ID) (*Ticket, error)
	GetByNumber(ctx context.Context, n int64) (*Ticket, error)
	Inbound(ctx context.Context, raw io.Reader, opts InboundOptions) (*InboundResult, error)
	Links(ctx context.Context, ticketID core.ID) ([]TicketLink, error)
	List(ctx context.Context, opts ListOptions) (core.Page[*Ticket], error)
	Macros() *Macros
	MailSent(ctx context.Context, ticketID, messageID core.ID, mailMessageID string) error
	Merge(ctx context.Context, sourceID core.ID, sourceVersion int64, targetID core.ID) (*Ticket, error)
	Messages(ctx context.Context, ticketID core.ID) ([]*Message, error)
	SetStatus(ctx context.Context, id core.ID, ch StatusChange) (*Ticket, error)
	SubmitSurvey(ctx context.Context, token string, a SurveyAnswer) (*Ticket, error)
	Survey(ctx context.Context, ticketID core.ID, kind SurveyKind) (*SurveyLink, error)
	SurveyQuestion(ctx context.Context, token string) (SurveyKind, error)
	SurveyTenant(token string) (string, error)
	Update(ctx context.Context, id core.ID, patch TicketPatch) (*Ticket, error)
}

// CalendarsAPI is what *Calendars (c.Calendars) does, as an interface, for
// hosts that substitute it: a fake in their tests, a wrapper that adds
// caching or metrics. See *Calendars for each method.
type CalendarsAPI interface {
	Create(ctx context.Context, in NewCalendar) (*Calendar, error)
	Delete(ctx context.Context, id core.ID, version int64) error
	Get(ctx context.Context, id core.ID) (*Calendar, error)
	List(ctx context.Context) ([]*Calendar, error)
	Update(ctx context.Context, id core.ID, version int64, in NewCalendar) (*Calendar, error)
}

// PoliciesAPI is what *Policies (c.SLAPolicies) does, as an interface, for
// hosts that substitute it: a fake in their tests, a wrapper that adds
// caching or metrics. See *Policies for each method.
type PoliciesAPI interface {
	Create(ctx context.Context, in NewPolicy) (*Policy, error)
	Delete(ctx context.Context, id core.ID, version int64) error
	Get(ctx context.Context, id core.ID) (*Policy, error)
	List(ctx context.Context) ([]*Policy, error)
	Update(ctx context.Context, id core.ID, version int64, in NewPolicy) (*Policy, error)
}

// RoutingAPI is what *Routing (c.Routing) does, as an interface, for hosts
// that substitute it: a fake in their tests, a wrapper that adds caching or
// metrics. See *Routing for each method.
type RoutingAPI interface {
	Drain(ctx context.Context) (int, error)
	Get(ctx context.Context) (*RoutingSettings, error)
	Set(ctx context.Context, version int64, in RoutingInput) (*RoutingSettings, error)
}

// MacrosAPI is what *Macros (c.Tickets.Macros()) does, as an interface,
// for hosts that substitute it: a fake in their tests, a wrapper that adds
// caching or metrics. See *Macros for each method.
type MacrosAPI interface {
	Create(ctx context.Context, in NewMacro) (*Macro, error)
	Delete(ctx context.Context, id core.ID, version int64) error
	Get(ctx context.Context, id core.ID) (*Macro, error)
	List(ctx context.Context) ([]*Macro, error)
	Update(ctx context.Context, id core.ID, version int64, in NewMacro) (*Macro, error)
}

// ClassifierAPI is what *Classifier (c.Classifier) does, as an interface,
// for hosts that substitute it: a fake in their tests, a wrapper that adds
// caching or metrics. See *Classifier for each method.
type ClassifierAPI interface {
	Models(ctx context.Context) ([]*ClassifierModel, error)
	SetSettings(ctx context.Context, version int64, in ClassifierSettingsInput) (*ClassifierSettings, error)
	Settings(ctx context.Context) (*ClassifierSettings, error)
	Suggest(ctx context.Context, subject, body string) (*Suggestion, error)
	Train(ctx context.Context, opts TrainOptions) (*TrainReport, error)
}

// KnowledgeBaseAPI is what *KnowledgeBase (c.KnowledgeBase) does, as an
// interface, for hosts that substitute it: a fake in their tests, a
// wrapper that adds caching or metrics. See *KnowledgeBase for each method.
type KnowledgeBaseAPI interface {
	Create(ctx context.Context, in NewArticle) (*Article, error)
	Delete(ctx context.Context, id core.ID, version int64) error
	Get(ctx context.Context, id core.ID) (*Article, error)
	List(ctx context.Context, opts ArticleListOptions) (core.Page[*Article], error)
	Publish(ctx context.Context, id core.ID, version int64) (*Article, error)
	Search(ctx context.Context, query, locale string) ([]ArticleHit, error)
	SuggestArticles(ctx context.Context, subject, body string, n int) ([]ArticleHit, error)
	Unpublish(ctx context.Context, id core.ID, version int64) (*Article, error)
	Update(ctx context.Context, id core.ID, patch ArticlePatch) (*Article, error)
}

// The services satisfy their interfaces.
var (
	_ ClassifierAPI    = (*Classifier)(nil)
	_ KnowledgeBaseAPI = (*KnowledgeBase)(nil)
	_ TicketsAPI       = (*Tickets)(nil)
	_ CalendarsAPI     = (*Calendars)(nil)
	_ PoliciesAPI      = (*Policies)(nil)
	_ RoutingAPI       = (*Routing)(nil)
	_ MacrosAPI        = (*Macros)(nil)
)
