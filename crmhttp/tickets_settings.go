package crmhttp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/tickets"
)

// setting is the routes of one kind of the service desk's settings
// (SLA policies, calendars, macros): T the record, N the body that
// creates or replaces one. Each is read whole (a list without pages:
// a tenant has few) and replaced whole; a replace and a delete need
// If-Match. Reading needs "tickets" read, changing "tickets" manage, as
// the Go API says.
type setting[T, N any] struct {
	path     string // "/sla-policies"
	singular string // "SLA policy", for summaries
	id       string // "sla-policy", for operation ids
	ids      string // "sla-policies", for the list's operation id
	plural   string
	tag      string
	doc      string // what the records are, for the list's description
	delDoc   string // more of the delete's description
	list     func(ctx context.Context, c *crm.CRM) ([]T, error)
	create   func(ctx context.Context, c *crm.CRM, in N) (T, error)
	get      func(ctx context.Context, c *crm.CRM, id core.ID) (T, error)
	replace  func(ctx context.Context, c *crm.CRM, id core.ID, version int64, in N) (T, error)
	del      func(ctx context.Context, c *crm.CRM, id core.ID, version int64) error
}

// versionedID is a path id with If-Match.
type versionedID struct {
	ID      core.ID `path:"id" doc:"The record's id."`
	IfMatch string  `header:"If-Match" doc:"The version read (the ETag of GET)."`
}

// answer is problem for an error that may be an HTTP error already.
func answer(err error, ifMatch bool) error {
	var se huma.StatusError
	if errors.As(err, &se) {
		return err
	}
	return problem(err, ifMatch)
}

func registerSetting[T, N any](api huma.API, s setting[T, N]) {
	tags := []string{s.tag}
	item := s.path + "/{id}"
	huma.Register(api, common(huma.Operation{OperationID: "list-" + s.ids, Method: http.MethodGet, Path: s.path, Tags: tags,
		Summary: "List " + s.plural, Description: s.doc}),
		func(ctx context.Context, _ *struct{}) (*listPage[T], error) {
			items, err := s.list(ctx, crmOf(ctx))
			if err != nil {
				return nil, problem(err, false)
			}
			out := &listPage[T]{}
			out.Body.Items = items
			if out.Body.Items == nil {
				out.Body.Items = []T{}
			}
			return out, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "create-" + s.id, Method: http.MethodPost, Path: s.path, Tags: tags,
		Summary: "Create " + article(s.singular), DefaultStatus: http.StatusCreated,
		Errors: []int{http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity}}),
		func(ctx context.Context, in *struct {
			IdempotencyKey string `header:"Idempotency-Key" maxLength:"200" doc:"Sent again with the same key and body, the create answers as the first time (kept 24 hours)."`
			Body           N
		}) (*one[T], error) {
			return versionedAnswer(s.create(ctx, crmOf(ctx), in.Body))
		})
	huma.Register(api, common(huma.Operation{OperationID: "get-" + s.id, Method: http.MethodGet, Path: item, Tags: tags,
		Summary: "Get " + article(s.singular), Description: "The record, with its version as ETag.", Errors: []int{http.StatusNotFound}}),
		func(ctx context.Context, in *idInput) (*one[T], error) {
			return versionedAnswer(s.get(ctx, crmOf(ctx), in.ID))
		})
	huma.Register(api, common(huma.Operation{OperationID: "replace-" + s.id, Method: http.MethodPut, Path: item, Tags: tags,
		Summary:     "Replace " + article(s.singular),
		Description: "Replaces every field, if If-Match still names the record's version (else 412).", Errors: changeErrors}),
		func(ctx context.Context, in *struct {
			ID      core.ID `path:"id" doc:"The record's id."`
			IfMatch string  `header:"If-Match" doc:"The version read (the ETag of GET)."`
			Body    N
		}) (*one[T], error) {
			v, err := versionOf(in.IfMatch)
			if err != nil {
				return nil, err
			}
			x, err := s.replace(ctx, crmOf(ctx), in.ID, v, in.Body)
			if err != nil {
				return nil, answer(err, true)
			}
			return versionedAnswer(x, nil)
		})
	huma.Register(api, common(huma.Operation{OperationID: "delete-" + s.id, Method: http.MethodDelete, Path: item, Tags: tags,
		Summary: "Delete " + article(s.singular), Description: "Deletes the record, if If-Match still names its version (else 412)." + s.delDoc,
		DefaultStatus: http.StatusNoContent, Errors: changeErrors}),
		func(ctx context.Context, in *versionedID) (*struct{}, error) {
			v, err := versionOf(in.IfMatch)
			if err != nil {
				return nil, err
			}
			return nil, answer(s.del(ctx, crmOf(ctx), in.ID, v), true)
		})
}

// inQuery is problem for a call whose input came in the query: the field
// problems of the fields params names (the Go API's field → the query
// parameter) are located there.
func inQuery(err error, params map[string]string) error {
	out := problem(err, false)
	var m *huma.ErrorModel
	if errors.As(out, &m) {
		for _, d := range m.Errors {
			if p, ok := params[strings.TrimPrefix(d.Location, "body.")]; ok {
				d.Location = "query." + p
			}
		}
	}
	return out
}

// article is "a " or "an " and noun.
func article(noun string) string {
	if strings.ContainsRune("aeiouAEIOU", rune(noun[0])) || strings.HasPrefix(noun, "SLA") {
		return "an " + noun
	}
	return "a " + noun
}

// versionedAnswer is a record with its version as ETag, or the problem of
// err.
func versionedAnswer[T any](x T, err error) (*one[T], error) {
	x, v, err := versioned(x, err)
	if err != nil {
		return nil, problem(err, false)
	}
	return &one[T]{ETag: etag(v), Body: x}, nil
}

// settingsVersionOf reads the If-Match of a tenant's settings record
// (routing, the classifier's): as versionOf, but "0" names the settings
// never set.
func settingsVersionOf(ifMatch string) (int64, error) {
	s := strings.Trim(strings.TrimPrefix(strings.TrimSpace(ifMatch), "W/"), `"`)
	if ifMatch != "" && s == "0" {
		return 0, nil
	}
	return versionOf(ifMatch)
}

// policyBody creates or replaces an SLA policy.
type policyBody struct {
	Name                 string      `json:"name"`
	Position             int64       `json:"position,omitempty" doc:"Orders the policies: the lowest whose condition matches a ticket applies."`
	Condition            filter.Expr `json:"condition,omitzero" doc:"Selects the tickets, in the filter language's JSON form over the ticket's fields; none matches every ticket."`
	CalendarID           core.ID     `json:"calendar_id" doc:"The business-hours calendar the targets count in."`
	FirstResponseMinutes int64       `json:"first_response_minutes,omitempty" doc:"Business minutes to the first public reply; 0: no such target."`
	NextResponseMinutes  int64       `json:"next_response_minutes,omitempty" doc:"Business minutes from a customer's message to the next public reply; 0: no such target."`
	ResolutionMinutes    int64       `json:"resolution_minutes,omitempty" doc:"Business minutes to solved; 0: no such target."`
	WarningMinutes       int64       `json:"warning_minutes,omitempty" doc:"Warns (ticket.sla_warning) that many minutes before each due time; 0: no warning."`
}

func (b policyBody) input() tickets.NewPolicy {
	return tickets.NewPolicy{Name: b.Name, Position: b.Position, Condition: b.Condition, CalendarID: b.CalendarID,
		FirstResponseMinutes: b.FirstResponseMinutes, NextResponseMinutes: b.NextResponseMinutes, ResolutionMinutes: b.ResolutionMinutes,
		WarningMinutes: b.WarningMinutes}
}

// calendarBody creates or replaces a business-hours calendar.
type calendarBody struct {
	Name     string            `json:"name"`
	TimeZone string            `json:"time_zone" doc:"An IANA time zone, e.g. Europe/Berlin."`
	Country  string            `json:"country,omitempty" doc:"An ISO 3166-1 country code whose national public holidays are added."`
	Windows  []tickets.Window  `json:"windows,omitempty" doc:"Working windows by weekday (0 is Sunday), start and end HH:MM in local time; an end not after its start runs past midnight."`
	Holidays []core.Date       `json:"holidays,omitempty" doc:"Dates (YYYY-MM-DD) without working time."`
	Closures []tickets.Closure `json:"closures,omitempty" doc:"One-off stretches without working time, from included, to not."`
}

func (b calendarBody) input() tickets.NewCalendar {
	return tickets.NewCalendar{Name: b.Name, TimeZone: b.TimeZone, Country: b.Country, Windows: b.Windows, Holidays: b.Holidays,
		Closures: b.Closures}
}

// routingRuleBody is a routing rule in the API.
type routingRuleBody struct {
	Name      string           `json:"name"`
	Condition filter.Expr      `json:"condition,omitzero" doc:"Selects tickets, in the filter language's JSON form; none matches every ticket."`
	Team      string           `json:"team" doc:"The name of a team of the tenant."`
	Priority  tickets.Priority `json:"priority,omitempty" doc:"Replaces the ticket's priority when set."`
	Category  string           `json:"category,omitempty" doc:"Replaces the ticket's category when set."`
}

// routingBody replaces the tenant's ticket routing.
type routingBody struct {
	Rules []routingRuleBody             `json:"rules" doc:"Tried in order: the first whose condition matches sends the ticket to its team."`
	Teams map[string]tickets.AssignMode `json:"teams,omitempty" doc:"Assignment modes by team name (manual, round_robin, least_loaded); a team not named is manual."`
}

func (b routingBody) input() tickets.RoutingInput {
	in := tickets.RoutingInput{Rules: make([]tickets.RoutingRule, len(b.Rules)), Teams: b.Teams}
	for i, r := range b.Rules {
		in.Rules[i] = tickets.RoutingRule{Name: r.Name, Condition: r.Condition, Team: r.Team, Priority: r.Priority, Category: r.Category}
	}
	return in
}

// registerTicketSettings registers the service desk's settings: SLA
// policies, business-hours calendars and the ticket routing.
func registerTicketSettings(api huma.API) {
	registerSetting(api, setting[*tickets.Policy, policyBody]{path: "/sla-policies", singular: "SLA policy", id: "sla-policy", ids: "sla-policies",
		plural: "SLA policies", tag: "service levels",
		doc:  "The tenant's SLA policies in the order they are tried: the first whose condition matches a ticket gives it its targets.",
		list: func(ctx context.Context, c *crm.CRM) ([]*tickets.Policy, error) { return c.SLAPolicies.List(ctx) },
		create: func(ctx context.Context, c *crm.CRM, in policyBody) (*tickets.Policy, error) {
			return c.SLAPolicies.Create(ctx, in.input())
		},
		get: func(ctx context.Context, c *crm.CRM, id core.ID) (*tickets.Policy, error) {
			return c.SLAPolicies.Get(ctx, id)
		},
		replace: func(ctx context.Context, c *crm.CRM, id core.ID, v int64, in policyBody) (*tickets.Policy, error) {
			return c.SLAPolicies.Update(ctx, id, v, in.input())
		},
		del: func(ctx context.Context, c *crm.CRM, id core.ID, v int64) error {
			return c.SLAPolicies.Delete(ctx, id, v)
		},
	})
	registerSetting(api, setting[*tickets.Calendar, calendarBody]{path: "/sla-calendars", singular: "business-hours calendar",
		id: "sla-calendar", ids: "sla-calendars", plural: "business-hours calendars", tag: "service levels",
		doc:    "The tenant's business-hours calendars, by name: the working time SLA policies count in.",
		delDoc: " A calendar an SLA policy uses is 409: change the policy first.",
		list:   func(ctx context.Context, c *crm.CRM) ([]*tickets.Calendar, error) { return c.Calendars.List(ctx) },
		create: func(ctx context.Context, c *crm.CRM, in calendarBody) (*tickets.Calendar, error) {
			return c.Calendars.Create(ctx, in.input())
		},
		get: func(ctx context.Context, c *crm.CRM, id core.ID) (*tickets.Calendar, error) {
			return c.Calendars.Get(ctx, id)
		},
		replace: func(ctx context.Context, c *crm.CRM, id core.ID, v int64, in calendarBody) (*tickets.Calendar, error) {
			return c.Calendars.Update(ctx, id, v, in.input())
		},
		del: func(ctx context.Context, c *crm.CRM, id core.ID, v int64) error {
			// A stale version is 412; a calendar a policy still uses 409.
			cur, err := c.Calendars.Get(ctx, id)
			if err != nil {
				return err
			}
			if cur.Version != v {
				return problem(fmt.Errorf("%w: calendar %s is at version %d, not %d; read it again", core.ErrConflict, id, cur.Version, v), true)
			}
			return problem(c.Calendars.Delete(ctx, id, v), false)
		},
	})
	tags := []string{"routing"}
	huma.Register(api, common(huma.Operation{OperationID: "get-ticket-routing", Method: http.MethodGet, Path: "/ticket-routing", Tags: tags,
		Summary:     "Get the ticket routing",
		Description: "The routing rules, tried in order, and each team's assignment mode, with their version as ETag (\"0\" before they are first set)."}),
		func(ctx context.Context, _ *struct{}) (*one[*tickets.RoutingSettings], error) {
			r, err := crmOf(ctx).Routing.Get(ctx)
			if err != nil {
				return nil, problem(err, false)
			}
			return &one[*tickets.RoutingSettings]{ETag: etag(r.Version), Body: r}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "set-ticket-routing", Method: http.MethodPut, Path: "/ticket-routing", Tags: tags,
		Summary: "Replace the ticket routing",
		Description: "Replaces the rules and the teams' assignment modes, if If-Match still names their version (\"0\" before they are " +
			"first set; else 412). They apply to the next ticket routed.",
		Errors: changeErrors}),
		func(ctx context.Context, in *struct {
			IfMatch string `header:"If-Match" doc:"The version read (the ETag of GET)."`
			Body    routingBody
		}) (*one[*tickets.RoutingSettings], error) {
			v, err := settingsVersionOf(in.IfMatch)
			if err != nil {
				return nil, err
			}
			r, err := crmOf(ctx).Routing.Set(ctx, v, in.Body.input())
			if err != nil {
				return nil, problem(err, true)
			}
			return &one[*tickets.RoutingSettings]{ETag: etag(r.Version), Body: r}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "drain-ticket-queues", Method: http.MethodPost, Path: "/ticket-routing/drain", Tags: tags,
		Summary: "Serve the teams' queues",
		Description: "Assigns the tickets waiting in the queues of the teams with an assignment mode, oldest first, to members who can " +
			"take them now (the module does this every minute too). Needs tickets update."}),
		func(ctx context.Context, _ *struct{}) (*struct {
			Body struct {
				Assigned int `json:"assigned" doc:"The number of tickets assigned."`
			}
		}, error) {
			n, err := crmOf(ctx).Routing.Drain(ctx)
			if err != nil {
				return nil, problem(err, false)
			}
			out := &struct {
				Body struct {
					Assigned int `json:"assigned" doc:"The number of tickets assigned."`
				}
			}{}
			out.Body.Assigned = n
			return out, nil
		})
}
