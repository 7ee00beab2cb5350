package automation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/store"
)

// Rule is "when an event of these types happens and the condition holds,
// do these actions in order". Rules are stored per tenant as JSON (see the
// package documentation for the format) and versioned: every save makes a
// new version, and a run finishes with the version it started with.
type Rule struct {
	ID      core.ID `json:"id"`
	Name    string  `json:"name"`
	Enabled bool    `json:"enabled"`
	// Triggers are event types ("activity.tracked") or prefix patterns
	// ("deal.*").
	Triggers  []string  `json:"triggers"`
	Condition Condition `json:"condition,omitzero"`
	Actions   []Action  `json:"actions"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Version counts saves; pass it back to Update.
	Version int64 `json:"version"`
}

// Condition decides whether a rule runs for an event. Both parts must
// hold; an empty part holds always.
type Condition struct {
	// Event is a filter over the event: "type", "subject_type",
	// "actor_id", and the event's data by path, "data.name" or
	// "data.deal.stage_id". It is decided in the transaction of the
	// change, so an event it rejects costs no job.
	Event filter.Expr `json:"event,omitzero"`
	// Contact is a filter over the contact the event is about (the
	// contacts' filter language, custom fields included). It is decided
	// by the worker, on the contact as it is then. An event about no
	// contact fails a non-empty Contact condition.
	Contact filter.Expr `json:"contact,omitzero"`
}

// IsZero reports whether the condition always holds.
func (c Condition) IsZero() bool { return c.Event.IsZero() && c.Contact.IsZero() }

// Action is one step of a rule. Type selects it, and only the fields of
// that type may be set:
//
//   - "create_task": Title (required; "{{contact.first_name}}",
//     "{{contact.last_name}}", "{{contact.email}}" and "{{event.type}}"
//     are filled in), Description, DueIn, Priority, Assignee (default: the
//     contact's owner).
//   - "set_field": Field ("first_name", "last_name", "phone", "owner_id",
//     "lifecycle_stage" or "attributes.<key>", checked against the custom
//     field definitions) and Value (null removes an attribute).
//   - "add_tag", "remove_tag": Tag.
//   - "set_stage": Stage, a lifecycle stage.
//   - "adjust_score": Points (may be negative).
//   - "wait": For (a duration: "90m", "48h", "2d") or Until (a time). The
//     run sleeps in a River job scheduled for then; it survives restarts.
//   - "branch": If, and the actions of Then and/or Else.
//   - "webhook": WebhookID, a webhook of the tenant: the event is
//     delivered to it (signed, retried; see Webhooks).
//   - an action a module declares (module.Module.Actions), such as the
//     pipeline module's "create_deal": Params, checked by the module when
//     the rule is saved.
//   - any name registered with crm.CRM.RegisterAction: Params, passed to
//     the host's function.
type Action struct {
	Type string `json:"type"`

	Title       string    `json:"title,omitempty"`
	Description string    `json:"description,omitempty"`
	DueIn       string    `json:"due_in,omitempty"`
	Priority    string    `json:"priority,omitempty"`
	Assignee    *Assignee `json:"assignee,omitempty"`

	Field string `json:"field,omitempty"`
	Value any    `json:"value,omitempty"`

	Tag    string `json:"tag,omitempty"`
	Stage  string `json:"stage,omitempty"`
	Points int64  `json:"points,omitempty"`

	For   string     `json:"for,omitempty"`
	Until *time.Time `json:"until,omitempty"`

	If   *Condition `json:"if,omitempty"`
	Then []Action   `json:"then,omitempty"`
	Else []Action   `json:"else,omitempty"`

	WebhookID core.ID `json:"webhook_id,omitzero"`

	Params json.RawMessage `json:"params,omitempty"`
}

// Assignee chooses who gets a task; set exactly one of Owner, User,
// RoundRobin, LeastLoaded and Team (Team with its Strategy):
//
//	{"owner": true}
//	{"user": "anna"}
//	{"round_robin": ["anna", "ben"]}
//	{"least_loaded": ["anna", "ben"]}
//	{"team": "sales-emea", "strategy": "round_robin"}
//	{"team": "sales-emea", "strategy": "least_loaded"}
type Assignee struct {
	// Owner assigns the contact's owner.
	Owner bool `json:"owner,omitempty"`
	// User assigns one host user.
	User string `json:"user,omitempty"`
	// RoundRobin takes turns over these users (the turn is kept per rule
	// step, in the database, so processes share it).
	RoundRobin []string `json:"round_robin,omitempty"`
	// LeastLoaded picks the user with the fewest open tasks (ties: the
	// first listed).
	LeastLoaded []string `json:"least_loaded,omitempty"`
	// Team assigns a member of the tenant's team of this name (package
	// access): one of its members who are available when the step runs
	// (active, not out of office), chosen by Strategy. The team must
	// exist when the rule is saved; a step that finds no member
	// available (or, least loaded, every one at capacity) fails the run.
	Team string `json:"team,omitempty"`
	// Strategy is how Team's member is chosen: StrategyRoundRobin (turns
	// in user id order, kept per rule step as for RoundRobin) or
	// StrategyLeastLoaded (the fewest open tasks, passing over members
	// whose open tasks reach their capacity; ties: the lowest user id).
	// Required with Team, and only with it.
	Strategy string `json:"strategy,omitempty"`
}

// Strategies of Assignee.Team.
const (
	StrategyRoundRobin  = "round_robin"
	StrategyLeastLoaded = "least_loaded"
)

// Built-in action types.
const (
	ActionCreateTask  = "create_task"
	ActionSetField    = "set_field"
	ActionAddTag      = "add_tag"
	ActionRemoveTag   = "remove_tag"
	ActionSetStage    = "set_stage"
	ActionAdjustScore = "adjust_score"
	ActionWait        = "wait"
	ActionBranch      = "branch"
	ActionWebhook     = "webhook"
)

var builtinActions = []string{ActionCreateTask, ActionSetField, ActionAddTag, ActionRemoveTag, ActionSetStage,
	ActionAdjustScore, ActionWait, ActionBranch, ActionWebhook}

// Limits of rules.
const (
	MaxRuleName    = 200
	MaxTriggers    = 20
	MaxActions     = 50 // in all, nested branches included
	MaxBranchDepth = 5
	MaxTeam        = 100
)

var eventTypePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?$`)

// eventSchema is what Condition.Event filters: the event's own fields and
// its data by path.
var eventSchema = filter.NewSchema("event", "e.data",
	filter.Field{Name: "type", Column: "e.type", Type: filter.String},
	filter.Field{Name: "subject_type", Column: "e.subject_type", Type: filter.String},
	filter.Field{Name: "actor_id", Column: "e.actor_id", Type: filter.String},
).WithJSONPaths("data.")

// checker validates rules against what the tenant and the engine know.
type checker struct {
	v          *core.ValidationError
	contacts   *filter.Schema
	events     *core.EventCatalogue // nil: event types are not checked
	registered func(name string) (actionFunc, bool)
	ctx        context.Context // for the actions' Validate, in
	sc         store.Scope     // the rule's tenant
	webhookOK  func(id core.ID) (bool, error)
	teamOK     func(name string) (bool, error) // nil: teams are not checked
	count      int
	err        error // a failure to check (database), not a rule problem
}

func (c *checker) rule(r *Rule) {
	if strings.TrimSpace(r.Name) == "" {
		c.v.Add("name", "is required")
	}
	c.v.CheckText("name", r.Name, MaxRuleName)
	if len(r.Triggers) == 0 {
		c.v.Add("triggers", "at least one event type is required")
	}
	if len(r.Triggers) > MaxTriggers {
		c.v.Add("triggers", "at most %d", MaxTriggers)
	}
	for i, t := range r.Triggers {
		if !eventTypePattern.MatchString(t) || len(t) > 100 {
			c.v.Add(fmt.Sprintf("triggers[%d]", i), "%q is not an event type (\"contact.created\") or pattern (\"deal.*\")", t)
		} else if c.events != nil && !c.events.Known(t) {
			c.v.Add(fmt.Sprintf("triggers[%d]", i), "%q is not an event type (see the event catalogue)", t)
		}
	}
	c.condition("condition", r.Condition)
	c.dataPaths("condition.event", r.Triggers, r.Condition.Event)
	if len(r.Actions) == 0 {
		c.v.Add("actions", "at least one action is required")
	}
	c.actions("actions", r.Actions, 0)
	if c.count > MaxActions {
		c.v.Add("actions", "at most %d actions in all (%d given)", MaxActions, c.count)
	}
}

func (c *checker) condition(path string, cond Condition) {
	if err := eventSchema.Check(cond.Event); err != nil {
		c.addAll(path+".event", err)
	}
	if err := c.contacts.Check(cond.Contact); err != nil {
		c.addAll(path+".contact", err)
	} else if _, err := c.contacts.Matcher(cond.Contact, time.Time{}); err != nil {
		// Related conditions are SQL's; a rule matches in memory.
		c.addAll(path+".contact", err)
	}
}

// dataPaths adds a problem for every "data.<path>" the event condition e
// names that no event type the triggers select has in its payload (a
// misspelt "data.knd" would otherwise never match).
func (c *checker) dataPaths(path string, triggers []string, e filter.Expr) {
	if c.events == nil {
		return
	}
	var types []core.EventType
	for _, t := range triggers {
		types = append(types, c.events.Matching(t)...)
	}
	if len(types) == 0 {
		return // the triggers are reported already
	}
	for cond := range e.Conditions() {
		if p, ok := strings.CutPrefix(cond.Field, "data."); ok && !core.HasField(types, p) {
			c.v.Add(path, "%q is not a field of the payload of %s", cond.Field, strings.Join(triggers, ", "))
		}
	}
}

// addAll copies the problems of a filter's ValidationError under path.
func (c *checker) addAll(path string, err error) {
	var ve *core.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Fields {
			c.v.Add(path+strings.TrimPrefix(p.Field, "filter"), "%s", p.Message)
		}
		return
	}
	c.v.Add(path, "%s", err.Error())
}

func (c *checker) actions(path string, list []Action, depth int) {
	if depth > MaxBranchDepth {
		c.v.Add(path, "branches nest at most %d deep", MaxBranchDepth)
		return
	}
	for i := range list {
		c.count++
		c.action(fmt.Sprintf("%s[%d]", path, i), &list[i], depth)
	}
}

func (c *checker) action(path string, a *Action, depth int) {
	// set lists the fields given, to refuse those the type does not use.
	set := map[string]bool{
		"title": a.Title != "", "description": a.Description != "", "due_in": a.DueIn != "", "priority": a.Priority != "",
		"assignee": a.Assignee != nil, "field": a.Field != "", "value": a.Value != nil, "tag": a.Tag != "", "stage": a.Stage != "",
		"points": a.Points != 0, "for": a.For != "", "until": a.Until != nil, "if": a.If != nil, "then": a.Then != nil,
		"else": a.Else != nil, "webhook_id": a.WebhookID != core.NilID, "params": len(a.Params) > 0,
	}
	allowed := func(names ...string) {
		for name, given := range set {
			if given && !slices.Contains(names, name) {
				c.v.Add(path+"."+name, "is not an option of a %s action", a.Type)
			}
		}
	}
	switch a.Type {
	case ActionCreateTask:
		allowed("title", "description", "due_in", "priority", "assignee")
		if strings.TrimSpace(a.Title) == "" {
			c.v.Add(path+".title", "is required")
		}
		c.v.CheckText(path+".title", a.Title, contacts.MaxTaskTitle)
		c.v.CheckText(path+".description", a.Description, contacts.MaxTaskDescription)
		if a.DueIn != "" {
			if _, err := filter.ParseDuration(a.DueIn); err != nil {
				c.v.Add(path+".due_in", "%v", err)
			}
		}
		if a.Priority != "" && !slices.Contains(contacts.Priorities, contacts.Priority(a.Priority)) {
			c.v.Add(path+".priority", "must be one of %v", contacts.Priorities)
		}
		if a.Assignee != nil {
			c.assignee(path+".assignee", a.Assignee)
		}
	case ActionSetField:
		allowed("field", "value")
		c.setField(path, a)
	case ActionAddTag, ActionRemoveTag:
		allowed("tag")
		if strings.TrimSpace(a.Tag) == "" {
			c.v.Add(path+".tag", "is required")
		}
		c.v.CheckText(path+".tag", a.Tag, 100)
	case ActionSetStage:
		allowed("stage")
		if !slices.Contains(contacts.Stages, contacts.Stage(a.Stage)) {
			c.v.Add(path+".stage", "must be one of %v", contacts.Stages)
		}
	case ActionAdjustScore:
		allowed("points")
		if a.Points == 0 || a.Points > contacts.MaxScoreAdjustment || a.Points < -contacts.MaxScoreAdjustment {
			c.v.Add(path+".points", "must be between -%d and %d and not 0", contacts.MaxScoreAdjustment, contacts.MaxScoreAdjustment)
		}
	case ActionWait:
		allowed("for", "until")
		switch {
		case (a.For == "") == (a.Until == nil):
			c.v.Add(path, "set exactly one of for and until")
		case a.For != "":
			if _, err := filter.ParseDuration(a.For); err != nil {
				c.v.Add(path+".for", "%v", err)
			}
		default:
			c.v.CheckTime(path+".until", *a.Until)
		}
	case ActionBranch:
		allowed("if", "then", "else")
		if a.If == nil {
			c.v.Add(path+".if", "is required")
		} else {
			c.condition(path+".if", *a.If)
		}
		if len(a.Then) == 0 && len(a.Else) == 0 {
			c.v.Add(path, "needs actions in then or else")
		}
		c.actions(path+".then", a.Then, depth+1)
		c.actions(path+".else", a.Else, depth+1)
	case ActionWebhook:
		allowed("webhook_id")
		if a.WebhookID == core.NilID {
			c.v.Add(path+".webhook_id", "is required")
		} else if ok, err := c.webhookOK(a.WebhookID); err != nil {
			c.err = err
		} else if !ok {
			c.v.Add(path+".webhook_id", "webhook %s does not exist", a.WebhookID)
		}
	case "":
		c.v.Add(path+".type", "is required")
	default:
		fn, ok := c.registered(a.Type)
		if !ok {
			c.v.Add(path+".type", "unknown action %q (built in: %s; or register one with RegisterAction)", a.Type, strings.Join(builtinActions, ", "))
			return
		}
		allowed("params")
		if len(a.Params) > 0 && !json.Valid(a.Params) {
			c.v.Add(path+".params", "is not valid JSON")
		} else if fn.Validate != nil {
			c.validateParams(path+".params", fn, a.Params)
		}
	}
}

// validateParams runs the Validate of a host's or a module's action. A
// host's error is a problem of the rule; a module's is when it wraps
// ErrInvalid (its field problems listed under path), else a failure to
// check.
func (c *checker) validateParams(path string, fn actionFunc, params json.RawMessage) {
	err := fn.Validate(c.ctx, c.sc, params)
	var ve *core.ValidationError
	switch {
	case err == nil:
	case !fn.declared:
		c.v.Add(path, "%v", err)
	case errors.As(err, &ve):
		for _, f := range ve.Fields {
			field := path
			if f.Field != "" {
				field += "." + f.Field
			}
			c.v.Add(field, "%s", f.Message)
		}
	case errors.Is(err, core.ErrInvalid):
		c.v.Add(path, "%v", err)
	default:
		c.err = err
	}
}

func (c *checker) assignee(path string, a *Assignee) {
	n := 0
	if a.Owner {
		n++
	}
	if a.User != "" {
		n++
		c.v.CheckText(path+".user", a.User, 200)
	}
	for name, team := range map[string][]string{"round_robin": a.RoundRobin, "least_loaded": a.LeastLoaded} {
		if team == nil {
			continue
		}
		n++
		if len(team) == 0 || len(team) > MaxTeam {
			c.v.Add(path+"."+name, "needs 1 to %d users", MaxTeam)
		}
		for i, u := range team {
			if strings.TrimSpace(u) == "" {
				c.v.Add(fmt.Sprintf("%s.%s[%d]", path, name, i), "is empty")
			}
			c.v.CheckText(fmt.Sprintf("%s.%s[%d]", path, name, i), u, 200)
		}
	}
	if a.Team != "" {
		n++
		c.v.CheckText(path+".team", a.Team, access.MaxTeamNameLen)
		switch {
		case a.Strategy != StrategyRoundRobin && a.Strategy != StrategyLeastLoaded:
			c.v.Add(path+".strategy", "must be %s or %s with a team", StrategyRoundRobin, StrategyLeastLoaded)
		case c.teamOK != nil && core.StorableText(a.Team):
			if ok, err := c.teamOK(a.Team); err != nil {
				c.err = err
			} else if !ok {
				c.v.Add(path+".team", "the tenant has no team of this name")
			}
		}
	} else if a.Strategy != "" {
		c.v.Add(path+".strategy", "is only for a team")
	}
	if n != 1 {
		c.v.Add(path, "set exactly one of owner, user, round_robin, least_loaded and team")
	}
}

// settable are the contact fields a set_field action may change.
var settable = []string{"first_name", "last_name", "phone", "owner_id", "lifecycle_stage"}

func (c *checker) setField(path string, a *Action) {
	if key, ok := strings.CutPrefix(a.Field, filter.AttributePrefix); ok {
		if !filter.ValidAttributeKey(key) {
			c.v.Add(path+".field", "%q is not a valid attribute key", key)
		}
		return // the value is checked against the definitions at run time and here by the caller
	}
	if !slices.Contains(settable, a.Field) {
		c.v.Add(path+".field", "must be one of %s or attributes.<key>", strings.Join(settable, ", "))
		return
	}
	s, ok := a.Value.(string)
	if !ok {
		c.v.Add(path+".value", "must be a string for %s", a.Field)
		return
	}
	if a.Field == "lifecycle_stage" && !slices.Contains(contacts.Stages, contacts.Stage(s)) {
		c.v.Add(path+".value", "must be one of %v", contacts.Stages)
	}
	c.v.CheckText(path+".value", s, 500)
}
