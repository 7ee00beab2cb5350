package tickets

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
)

// Macros are the tenant's canned replies (c.Tickets.Macros()): a reply
// body rendered for a ticket and field changes, applied together by
// Tickets.ApplyMacro. They are settings: reading needs "tickets" read,
// changing "tickets" manage.
type Macros struct {
	sc store.Scope
}

func newMacros(sc store.Scope) *Macros { return &Macros{sc: sc} }

// Macros returns the tenant's macros.
func (s *Tickets) Macros() *Macros { return newMacros(s.sc) }

// MacroAgent, as MacroChanges.AssigneeID, assigns the ticket to the agent
// who applies the macro ("take it").
const MacroAgent = "@agent"

// maxPendingMinutes bounds a macro's pending reminder: a year.
const maxPendingMinutes = 366 * 24 * 60

// Macro is a canned reply: a body rendered for a ticket (text/template
// over MacroData) added as the applying agent's message, public or
// internal, and field changes, applied in one change of the ticket.
type Macro struct {
	ID   core.ID `json:"id"`
	Name string  `json:"name"`
	// Body is the reply, a text/template over MacroData; "" adds no
	// message (a macro of field changes only).
	Body string `json:"body"`
	// Public replies go to the customer; others are internal notes.
	Public    bool         `json:"public"`
	Changes   MacroChanges `json:"changes"`
	CreatedAt time.Time    `json:"created_at"`
	UpdatedAt time.Time    `json:"updated_at"`
	Version   int64        `json:"version"`
}

// MacroChanges are the ticket fields a macro sets; zero values leave a
// field as it is.
type MacroChanges struct {
	// Status moves the ticket along Transitions (not to new); a change
	// Transitions does not allow is ErrInvalid when applied.
	Status Status `json:"status,omitempty"`
	// PendingMinutes is, with Status pending (and only then, required),
	// when to remind: that many minutes after the macro is applied.
	PendingMinutes int64    `json:"pending_minutes,omitempty"`
	Priority       Priority `json:"priority,omitempty"`
	// Category sets the category; "" clears it.
	Category *string `json:"category,omitempty"`
	// AddTags are added to the ticket's tags, RemoveTags removed.
	AddTags    []string `json:"add_tags,omitempty"`
	RemoveTags []string `json:"remove_tags,omitempty"`
	// Team and AssigneeID assign the ticket ("" clears); AssigneeID
	// MacroAgent is the agent who applies the macro. A team without an
	// agent is routed within the team, as Tickets.Assign does.
	Team       *string `json:"team,omitempty"`
	AssigneeID *string `json:"assignee_id,omitempty"`
}

// empty reports whether c changes nothing.
func (c MacroChanges) empty() bool {
	return c.Status == "" && c.Priority == "" && c.Category == nil && len(c.AddTags) == 0 && len(c.RemoveTags) == 0 &&
		c.Team == nil && c.AssigneeID == nil
}

// NewMacro is the input of Macros.Create and Update.
type NewMacro struct {
	Name    string
	Body    string
	Public  bool
	Changes MacroChanges
}

// MacroData is what a macro's body sees:
//
//	Hello {{.Contact.FirstName | default "there"}},
//	your ticket #{{.Ticket.Number}} ({{.Ticket.Subject}}) is {{.Ticket.Status}}.
//	{{if .Ticket.Tags}}Tags: {{join .Ticket.Tags ", "}}{{end}}
//	— {{.Agent.Name}}
//
// The ticket is as the macro leaves it (its changes applied, and a new
// ticket opened by a public reply). Functions: default (a fallback for
// an empty value) and join (strings.Join). A field or custom field that
// does not exist is an error.
type MacroData struct {
	Ticket  MacroTicket
	Contact MacroContact
	Agent   MacroUser
}

// MacroTicket is the ticket as a macro sees it. Attributes holds every
// custom field of tickets the tenant defines ("" when the ticket has no
// value).
type MacroTicket struct {
	Number      int64
	Subject     string
	Status      string
	Priority    string
	Category    string
	Channel     string
	Tags        []string
	Team        string
	AssigneeID  string
	Language    string
	ProductLine string
	CreatedAt   time.Time
	Attributes  map[string]any
}

// MacroContact is the ticket's contact as a macro sees it: the names, not
// the address or phone. Empty when the ticket has no contact.
type MacroContact struct {
	FirstName string
	LastName  string
	// Name is the full name ("" when neither part is known).
	Name string
}

// MacroUser is the agent who applies the macro: the actor's id and, for a
// stored user, their display name (else the id).
type MacroUser struct {
	ID   string
	Name string
}

// macroFuncs are the functions macro bodies may call.
var macroFuncs = template.FuncMap{
	// default returns def when v is empty (nil, "", 0, false, no items).
	"default": func(def, v any) any {
		if v == nil {
			return def
		}
		rv := reflect.ValueOf(v)
		if rv.IsZero() || ((rv.Kind() == reflect.Slice || rv.Kind() == reflect.Map) && rv.Len() == 0) {
			return def
		}
		return v
	},
	"join": strings.Join,
}

// parseMacro parses a macro body.
func parseMacro(body string) (*template.Template, error) {
	return template.New("body").Option("missingkey=error").Funcs(macroFuncs).Parse(body)
}

// errTooLong: a rendered body passed MaxBodyLen.
var errTooLong = fmt.Errorf("the reply is longer than %d bytes", MaxBodyLen)

// capped is a writer that takes at most MaxBodyLen bytes.
type capped struct{ b strings.Builder }

func (w *capped) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > MaxBodyLen {
		return 0, errTooLong
	}
	return w.b.Write(p)
}

// render executes body for d.
func render(tmpl *template.Template, d *MacroData) (string, error) {
	var w capped
	if err := tmpl.Execute(&w, d); err != nil {
		if errors.Is(err, errTooLong) {
			return "", errTooLong
		}
		return "", errors.New(strings.TrimPrefix(err.Error(), "template: "))
	}
	return w.b.String(), nil
}

// dataDependent reports whether an execution error depends on the ticket
// (an index past a list's end), not on the template alone: such a
// template is saved, and fails for the tickets it does not fit.
func dataDependent(err error) bool {
	s := err.Error()
	return strings.Contains(s, "error calling index") || strings.Contains(s, "error calling slice")
}

const macroColumns = `k.id, k.name, k.body, k.public, k.changes, k.created_at, k.updated_at, k.version`

func scanMacro(r store.Scanner) (*Macro, error) {
	var m Macro
	var changes []byte
	if err := r.Scan(&m.ID, &m.Name, &m.Body, &m.Public, &changes, &m.CreatedAt, &m.UpdatedAt, &m.Version); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(changes, &m.Changes); err != nil {
		return nil, fmt.Errorf("decode changes of macro %s: %w", m.ID, err)
	}
	m.CreatedAt, m.UpdatedAt = m.CreatedAt.UTC(), m.UpdatedAt.UTC()
	return &m, nil
}

func getMacro(ctx context.Context, q store.Q, tenant string, id core.ID) (*Macro, error) {
	m, err := scanMacro(q.QueryRow(ctx, `SELECT `+macroColumns+` FROM crm_ticket_macros k WHERE k.tenant_id = ? AND k.id = ?`, tenant, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.NotFound("macro", id)
	}
	return m, err
}

// check validates in into m, every problem listed: the name, the body (it
// must parse, and run on a ticket with the tenant's custom fields) and
// the changes.
func (in NewMacro) check(ctx context.Context, q store.Q, tenant string, m *Macro) error {
	m.Name, m.Body, m.Public, m.Changes = strings.TrimSpace(in.Name), in.Body, in.Public, in.Changes
	c := &m.Changes
	v := &core.ValidationError{}
	if m.Name == "" {
		v.Add("name", "is required")
	}
	v.CheckText("name", m.Name, MaxNameLen)
	switch {
	case !core.StorableText(m.Body):
		v.Add("body", "is not storable text (valid UTF-8 without NUL)")
	case len(m.Body) > MaxBodyLen:
		v.Add("body", "is longer than %d bytes", MaxBodyLen)
	case strings.TrimSpace(m.Body) != "":
		tmpl, err := parseMacro(m.Body)
		if err != nil {
			v.Add("body", "%s", strings.TrimPrefix(err.Error(), "template: "))
			break
		}
		defs, err := fields.Module.List(ctx, q, tenant, EntityTicket)
		if err != nil {
			return err
		}
		sample := &MacroData{Ticket: MacroTicket{Tags: []string{}, Attributes: map[string]any{}}}
		for _, d := range defs {
			sample.Ticket.Attributes[d.Key] = ""
		}
		if _, err := render(tmpl, sample); err != nil && !dataDependent(err) && !errors.Is(err, errTooLong) {
			v.Add("body", "%s", err.Error())
		}
	default:
		m.Body = ""
	}
	if c.Status != "" {
		switch {
		case !slices.Contains(Statuses, c.Status):
			v.Add("changes.status", "%q is not one of %s", c.Status, strings.Join(enumValues(Statuses), ", "))
		case c.Status == StatusNew:
			v.Add("changes.status", "nothing goes back to new")
		}
	}
	switch {
	case c.Status == StatusPending && (c.PendingMinutes <= 0 || c.PendingMinutes > maxPendingMinutes):
		v.Add("changes.pending_minutes", "is required for pending: 1 to %d minutes until the reminder", maxPendingMinutes)
	case c.Status != StatusPending && c.PendingMinutes != 0:
		v.Add("changes.pending_minutes", "is only for status pending")
	}
	if c.Priority != "" && !slices.Contains(Priorities, c.Priority) {
		v.Add("changes.priority", "%q is not one of %s", c.Priority, strings.Join(enumValues(Priorities), ", "))
	}
	if c.Category != nil {
		cat := strings.TrimSpace(*c.Category)
		c.Category = &cat
		if cat != "" && !core.ValidCode(cat) {
			v.Add("changes.category", "%q is not a code (lower-case letters, digits and _)", cat)
		}
	}
	c.AddTags, c.RemoveTags = normalizeTags(c.AddTags), normalizeTags(c.RemoveTags)
	checkTags(v, c.AddTags)
	checkTags(v, c.RemoveTags)
	if len(c.AddTags) == 0 {
		c.AddTags = nil
	}
	if len(c.RemoveTags) == 0 {
		c.RemoveTags = nil
	}
	if c.AssigneeID != nil {
		a := strings.TrimSpace(*c.AssigneeID)
		c.AssigneeID = &a
		v.CheckText("changes.assignee_id", a, MaxUserIDLen)
	}
	if c.Team != nil {
		team := strings.TrimSpace(*c.Team)
		c.Team = &team
		v.CheckText("changes.team", team, MaxNameLen)
		if team != "" && !v.Has("changes.team") {
			ok, err := access.Module.TeamExists(ctx, q, tenant, team)
			if err != nil {
				return err
			}
			if !ok {
				v.Add("changes.team", "%q is not a team of this tenant", team)
			}
		}
	}
	if m.Body == "" && c.empty() {
		v.Add("body", "is required for a macro that changes no field")
	}
	return v.Err()
}

// Create stores a macro and emits "ticket_macro.created". A body that
// does not parse, or names a field or custom field that does not exist,
// is ErrInvalid on "body". It needs "tickets" manage.
func (s *Macros) Create(ctx context.Context, in NewMacro) (_ *Macro, err error) {
	ctx, span := s.sc.Span(ctx, "tickets.Macros.Create")
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "ticket_macro", core.NilID, access.Manage); err != nil {
		return nil, err
	}
	m := &Macro{ID: core.NewID(), Version: 1}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		if err := in.check(ctx, tx.Q(), tenant, m); err != nil {
			return err
		}
		now := tx.Runtime().Now()
		m.CreatedAt, m.UpdatedAt = now, now
		if _, err := tx.Q().Exec(ctx, `INSERT INTO crm_ticket_macros (tenant_id, id, name, body, public, changes, created_at, updated_at, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, tenant, m.ID, m.Name, m.Body, m.Public, string(store.JSON(m.Changes)), now, now, m.Version); err != nil {
			if dialect.IsUniqueViolation(err) {
				return core.Invalid("name", "a macro named %q exists", m.Name)
			}
			return err
		}
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventMacroCreated, SubjectType: "ticket_macro", SubjectID: m.ID,
			OccurredAt: now, Data: store.JSON(m)})
	})
	if err != nil {
		return nil, store.Wrap(err, "create macro")
	}
	return m, nil
}

// Get returns the macro with id. It needs "tickets" read.
func (s *Macros) Get(ctx context.Context, id core.ID) (_ *Macro, err error) {
	ctx, span := s.sc.SpanID(ctx, "tickets.Macros.Get", id)
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "ticket_macro", id, access.Read); err != nil {
		return nil, err
	}
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	m, err := getMacro(ctx, s.sc.Q(), tenant, id)
	return m, store.Wrap(err, "get macro")
}

// List returns the tenant's macros by name. It needs "tickets" read.
func (s *Macros) List(ctx context.Context) (_ []*Macro, err error) {
	ctx, span := s.sc.Span(ctx, "tickets.Macros.List")
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "ticket_macro", core.NilID, access.Read); err != nil {
		return nil, err
	}
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	rows, err := s.sc.Q().Query(ctx, `SELECT `+macroColumns+` FROM crm_ticket_macros k WHERE k.tenant_id = ? ORDER BY k.name, k.id`, tenant)
	if err != nil {
		return nil, store.Wrap(err, "list macros")
	}
	out := []*Macro{}
	err = store.EachRow(rows, func(r store.Scanner) error {
		m, err := scanMacro(r)
		out = append(out, m)
		return err
	})
	return out, store.Wrap(err, "list macros")
}

// Update replaces the macro if version is still its version (stale:
// ErrConflict) and emits "ticket_macro.updated". It needs "tickets"
// manage.
func (s *Macros) Update(ctx context.Context, id core.ID, version int64, in NewMacro) (_ *Macro, err error) {
	ctx, span := s.sc.SpanID(ctx, "tickets.Macros.Update", id)
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "ticket_macro", id, access.Manage); err != nil {
		return nil, err
	}
	if err := core.CheckVersion(version); err != nil {
		return nil, err
	}
	var out *Macro
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		cur, err := getMacro(ctx, tx.Q(), tenant, id)
		if err != nil {
			return err
		}
		if cur.Version != version {
			return fmt.Errorf("%w: macro %s is at version %d, not %d; read it again", core.ErrConflict, id, cur.Version, version)
		}
		next := *cur
		if err := in.check(ctx, tx.Q(), tenant, &next); err != nil {
			return err
		}
		next.UpdatedAt, next.Version = tx.Runtime().Now(), version+1
		res, err := tx.Q().Exec(ctx, `UPDATE crm_ticket_macros SET name = ?, body = ?, public = ?, changes = ?, updated_at = ?, version = ?
			WHERE tenant_id = ? AND id = ? AND version = ?`, next.Name, next.Body, next.Public, string(store.JSON(next.Changes)),
			next.UpdatedAt, next.Version, tenant, id, version)
		if err != nil {
			if dialect.IsUniqueViolation(err) {
				return core.Invalid("name", "a macro named %q exists", next.Name)
			}
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return fmt.Errorf("%w: macro %s was changed by someone else; read it again", core.ErrConflict, id)
		}
		out = &next
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventMacroUpdated, SubjectType: "ticket_macro", SubjectID: id,
			OccurredAt: next.UpdatedAt, Data: store.JSON(out)})
	})
	if err != nil {
		return nil, store.Wrap(err, "update macro")
	}
	return out, nil
}

// Delete removes the macro if version is still its version (stale:
// ErrConflict) and emits "ticket_macro.deleted". It needs "tickets"
// manage.
func (s *Macros) Delete(ctx context.Context, id core.ID, version int64) (err error) {
	ctx, span := s.sc.SpanID(ctx, "tickets.Macros.Delete", id)
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "ticket_macro", id, access.Manage); err != nil {
		return err
	}
	if err := core.CheckVersion(version); err != nil {
		return err
	}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		cur, err := getMacro(ctx, tx.Q(), tenant, id)
		if err != nil {
			return err
		}
		res, err := tx.Q().Exec(ctx, `DELETE FROM crm_ticket_macros WHERE tenant_id = ? AND id = ? AND version = ?`, tenant, id, version)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return fmt.Errorf("%w: macro %s is at version %d, not %d; read it again", core.ErrConflict, id, cur.Version, version)
		}
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventMacroDeleted, SubjectType: "ticket_macro", SubjectID: id,
			Data: store.JSON(Deleted{ID: id})})
	})
	return store.Wrap(err, "delete macro")
}

// ApplyMacro applies a macro to the ticket at version (the ticket's
// version the agent read; stale is ErrConflict): it sets the macro's
// fields, renders its body for the ticket as the macro leaves it
// (MacroData) and adds it as the agent's message, public or internal,
// all in one change with its events ("ticket.updated",
// "ticket.status_changed", "ticket.assigned", "ticket.message_added").
// The agent is the actor in ctx (core.WithActor), required: the reply is
// theirs. A status change Transitions does not allow, a body that fails
// to render (or renders empty or too long), a closed ticket the macro
// does not reopen but replies to, or fields the ticket refuses are
// ErrInvalid, and nothing is written. It needs "tickets" update and a
// ticket the actor sees; a team or assignee the macro sets must keep the
// ticket visible to them (as Assign).
func (s *Tickets) ApplyMacro(ctx context.Context, ticketID, macroID core.ID, version int64) (_ *Ticket, err error) {
	ctx, span := s.sc.SpanID(ctx, "tickets.Tickets.ApplyMacro", ticketID)
	defer span.End(&err)

	actor, ok := core.ActorFrom(ctx)
	if !ok || strings.TrimSpace(actor.ID) == "" {
		return nil, core.Invalid("actor", "applying a macro needs the agent in the context (core.WithActor): the reply is theirs")
	}
	return s.change(ctx, ticketID, version, "apply macro", true, func(ctx context.Context, tx *store.Tx, g *guard, t *Ticket, now time.Time) ([]func(*Ticket) (string, any), error) {
		tenant, _ := s.sc.Tenant()
		q := tx.Q()
		mac, err := getMacro(ctx, q, tenant, macroID)
		if err != nil {
			return nil, err
		}
		before := t.clone()
		from, fromAssignee, fromTeam := t.Status, t.AssigneeID, t.Team
		c := mac.Changes
		v := &core.ValidationError{}
		if c.Status != "" {
			var until *time.Time
			if c.Status == StatusPending {
				u := now.Add(time.Duration(c.PendingMinutes) * time.Minute)
				until = &u
			}
			if c.Status != t.Status || c.Status == StatusPending {
				switch {
				case !CanTransition(t.Status, c.Status):
					v.Add("status", "macro %s makes a %s ticket %s, which is not allowed (allowed: %s)", mac.ID, t.Status, c.Status,
						strings.Join(enumValues(Transitions[t.Status]), ", "))
				case t.MergedInto != nil:
					v.Add("status", "ticket %s was merged into %s", t.ID, *t.MergedInto)
				}
				t.Status, t.PendingUntil = c.Status, until
				if t.Status.done() {
					t.QueuedAt = nil
				}
			}
		}
		if c.Priority != "" {
			t.Priority = c.Priority
		}
		if c.Category != nil {
			t.Category = *c.Category
		}
		if len(c.AddTags) > 0 || len(c.RemoveTags) > 0 {
			tags := slices.DeleteFunc(slices.Clone(t.Tags), func(tag string) bool { return slices.Contains(c.RemoveTags, tag) })
			for _, tag := range c.AddTags {
				if !slices.Contains(tags, tag) {
					tags = append(tags, tag)
				}
			}
			t.Tags = tags
		}
		if c.Team != nil {
			t.Team = *c.Team
		}
		if c.AssigneeID != nil {
			t.AssigneeID = *c.AssigneeID
			if t.AssigneeID == MacroAgent {
				t.AssigneeID = actor.ID
			}
		}
		if mac.Body != "" && t.Status == StatusClosed {
			v.Add("ticket_id", "ticket %s is closed: a macro that replies must reopen it", t.ID)
		}
		if _, err := s.check(ctx, tx, v, t, now); err != nil {
			return nil, err
		}
		if err := v.Err(); err != nil {
			return nil, err
		}
		assigned := t.AssigneeID != fromAssignee || t.Team != fromTeam
		if assigned {
			if err := g.checkAssignment(t.ID, access.Update, t.AssigneeID, t.Team); err != nil {
				return nil, err
			}
		}
		var events []func(*Ticket) (string, any)
		// The reply: its effect on the ticket first (an agent's public
		// reply is the first response and opens a new ticket), so that the
		// body sees the ticket as the macro leaves it.
		var msg *Message
		if mac.Body != "" {
			msg = &Message{AuthorKind: AuthorAgent, Public: mac.Public}
			applyMessage(t, msg, now)
		}
		// Routing, as Assign and SetStatus route: a team without an agent
		// is given to a member or queued; a reopened ticket without one
		// too.
		var picked AssignMode
		var queued bool
		reopened := from.done() && !t.Status.done()
		if g.route != nil && !t.Status.done() && ((assigned && t.AssigneeID == "") || (reopened && t.AssigneeID == "")) {
			if picked, queued, err = g.route.route(ctx, t); err != nil {
				return nil, err
			}
		} else if t.AssigneeID != "" || t.Team == "" {
			t.QueuedAt = nil
		}
		if mac.Body != "" {
			data, err := s.macroData(ctx, tx, t, actor.ID)
			if err != nil {
				return nil, err
			}
			tmpl, err := parseMacro(mac.Body)
			if err != nil {
				return nil, core.Invalid("body", "macro %s: %s", mac.ID, strings.TrimPrefix(err.Error(), "template: "))
			}
			body, err := render(tmpl, data)
			if err != nil {
				return nil, core.Invalid("body", "macro %s: %s", mac.ID, err.Error())
			}
			msg = checkMessage(v, "body.", t.ID, NewMessage{Public: mac.Public, AuthorKind: AuthorAgent, AuthorID: actor.ID, Body: body}, now)
			if err := v.Err(); err != nil {
				return nil, err
			}
			if err := insertMessage(ctx, q, tenant, msg); err != nil {
				return nil, err
			}
			events = append(events, func(t *Ticket) (string, any) {
				return EventTicketMessageAdded, MessageAdded{TicketID: t.ID, Number: t.Number, Message: msg}
			})
		}
		if changed := changedFields(before, t); len(changed) > 0 {
			events = append(events, func(t *Ticket) (string, any) {
				return EventTicketUpdated, TicketUpdated{Ticket: t, Changed: changed}
			})
		}
		if t.Status != from || (t.Status == StatusPending && !sameTime(before.PendingUntil, t.PendingUntil)) {
			events = append(events, func(t *Ticket) (string, any) {
				return EventTicketStatusChanged, StatusChanged{Ticket: t, From: from, To: t.Status}
			})
		}
		if t.AssigneeID != fromAssignee || t.Team != fromTeam {
			events = append(events, func(t *Ticket) (string, any) {
				return EventTicketAssigned, Assigned{Ticket: t, FromAssignee: fromAssignee, FromTeam: fromTeam, Mode: picked}
			})
		}
		if queued {
			events = append(events, func(t *Ticket) (string, any) { return EventTicketQueued, Queued{Ticket: t} })
		}
		return events, nil
	})
}

// macroData is what a macro's body sees of t, its contact and the agent.
func (s *Tickets) macroData(ctx context.Context, tx *store.Tx, t *Ticket, agent string) (*MacroData, error) {
	sc := s.sc.WithTx(tx)
	tenant, _ := sc.Tenant()
	defs, err := fields.Module.List(ctx, tx.Q(), tenant, EntityTicket)
	if err != nil {
		return nil, err
	}
	attrs := map[string]any{}
	for _, d := range defs {
		attrs[d.Key] = ""
	}
	for k, val := range t.Attributes {
		if _, ok := attrs[k]; ok && val != nil {
			attrs[k] = val
		}
	}
	d := &MacroData{Ticket: MacroTicket{Number: t.Number, Subject: t.Subject, Status: string(t.Status), Priority: string(t.Priority),
		Category: t.Category, Channel: string(t.Channel), Tags: slices.Clone(t.Tags), Team: t.Team, AssigneeID: t.AssigneeID,
		Language: t.Language, ProductLine: t.ProductLine, CreatedAt: t.CreatedAt, Attributes: attrs},
		Agent: MacroUser{ID: agent, Name: agent}}
	if t.ContactID != nil {
		found, err := contacts.Module.GetMany(ctx, sc, []core.ID{*t.ContactID})
		if err != nil {
			return nil, err
		}
		if c := found[*t.ContactID]; c != nil {
			d.Contact = MacroContact{FirstName: c.FirstName, LastName: c.LastName, Name: c.Name()}
		}
	}
	// The agent's display name, whatever the agent may read of users.
	u, err := access.Module.Service(sc).Users.Get(hostContext{ctx}, agent)
	switch {
	case err == nil:
		if u.DisplayName != "" {
			d.Agent.Name = u.DisplayName
		}
	case !errors.Is(err, core.ErrNotFound) && !errors.Is(err, core.ErrInvalid):
		return nil, err
	}
	return d, nil
}

// hostContext is ctx without its values (the actor among them): a call
// made as the host's own code, cancelled with ctx.
type hostContext struct{ context.Context }

// Value implements context.Context: no values.
func (hostContext) Value(any) any { return nil }
