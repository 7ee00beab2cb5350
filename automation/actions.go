package automation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/module"
	"github.com/crmkit/crmkit/internal/store"
)

// actionFunc is an action a host (or a later module) adds under a name;
// rules then use it as {"type": name, "params": {...}}.
type actionFunc struct {
	// Run does the action. sc is bound to the step's transaction and the
	// rule's tenant: what it writes through sc commits with the step's
	// record, so it happens exactly once. For effects outside the
	// database, pass call.IdempotencyKey on. An error fails the run (it is
	// logged in the run's steps); an error wrapping ErrRetryLater makes
	// River retry the job later instead. The result, if any, is stored
	// with the step (JSON).
	Run func(ctx context.Context, sc store.Scope, call Call) (result any, err error)
	// Validate, when set, checks the params of a rule at save time, in
	// the rule's tenant (sc).
	Validate func(ctx context.Context, sc store.Scope, params json.RawMessage) error
	// declared marks an action a module declared (module.Module.Actions):
	// its errors are treated as the built-ins' are.
	declared bool
}

// declareActions adds the modules' actions to e, before any host action.
func (e *Engine) declareActions(actions []module.Action) error {
	for _, a := range actions {
		if !core.ValidCode(a.Name) || slices.Contains(builtinActions, a.Name) {
			return fmt.Errorf("crm: a module declares the rule action %q: it must be a code and not a built-in action", a.Name)
		}
		if _, dup := e.actions[a.Name]; dup {
			return fmt.Errorf("crm: two modules declare the rule action %q", a.Name)
		}
		if a.Run == nil {
			return fmt.Errorf("crm: the rule action %q has no Run", a.Name)
		}
		fn := actionFunc{declared: true, Run: func(ctx context.Context, sc store.Scope, call Call) (any, error) {
			return a.Run(ctx, sc, module.ActionCall(call))
		}}
		if a.Validate != nil {
			fn.Validate = a.Validate
		}
		e.actions[a.Name] = fn
	}
	return nil
}

// Call is one execution of a host action.
type Call struct {
	Tenant string
	RuleID core.ID
	RunID  core.ID
	// Step is the action's place in the rule: "0", "2.then.1".
	Step string
	// Event is the event that started the run.
	Event core.Event
	// ContactID is the contact the event is about, if any.
	ContactID *core.ID
	Params    json.RawMessage
	// IdempotencyKey is the same for every attempt of this step of this
	// run, and differs from every other: hand it to services that dedupe
	// (a mail provider), so a retried job does not act twice.
	IdempotencyKey string
}

// registerAction adds an action under name (lower-case letters, digits
// and _; not a built-in's name). Register actions before Start, in every
// process that runs workers; registering a name again replaces it.
func (e *Engine) registerAction(name string, fn actionFunc) error {
	if !core.ValidCode(name) || slices.Contains(builtinActions, name) {
		return core.Invalid("name", "%q must be a code (lower-case letters, digits, _) and not a built-in action", name)
	}
	if fn.Run == nil {
		return core.Invalid("fn.Run", "is required")
	}
	e.actionsMu.Lock()
	defer e.actionsMu.Unlock()
	if e.actions[name].declared {
		return core.Invalid("name", "%q is an action of a crmkit module", name)
	}
	e.actions[name] = fn
	return nil
}

func (e *Engine) action(name string) (actionFunc, bool) {
	e.actionsMu.RLock()
	defer e.actionsMu.RUnlock()
	fn, ok := e.actions[name]
	return fn, ok
}

// errNoContact fails an action that needs a contact when the event is
// about none (or it was deleted).
var errNoContact = errors.New("crm: the event is about no (existing) contact")

// do performs one action in x.sc's transaction; a wait returns when the
// run is to go on.
func (x *execution) do(ctx context.Context, path string, a *Action) (result any, until *time.Time, err error) {
	switch a.Type {
	case ActionCreateTask:
		result, err = x.createTask(ctx, path, a)
	case ActionSetField, ActionAddTag, ActionRemoveTag, ActionSetStage:
		result, err = x.patchContact(ctx, a)
	case ActionAdjustScore:
		var c *contacts.Contact
		if c, err = x.loadContact(ctx); err == nil && c == nil {
			err = errNoContact
		}
		if err == nil {
			c, err = contacts.Module.Scoring(x.sc).Adjust(ctx, c.ID, a.Points, "rule "+x.rule.Name)
		}
		if err == nil {
			result = map[string]any{"score": c.Facts.Score}
		}
	case ActionWait:
		t := x.e.now()
		if a.Until != nil {
			t = a.Until.UTC()
		} else {
			d, perr := filter.ParseDuration(a.For)
			if perr != nil {
				return nil, nil, fmt.Errorf("%w: wait: %v", core.ErrInvalid, perr)
			}
			t = t.Add(d)
		}
		result = map[string]any{"until": t}
		if t.After(x.e.now()) {
			until = &t
		}
	case ActionWebhook:
		var id core.ID
		id, err = x.e.enqueueDelivery(ctx, x.sc.Tx(), x.tenant, a.WebhookID, x.ev.ID, "run:"+x.run.ID.String()+":"+path)
		result = map[string]any{"delivery_id": id}
	default:
		fn, ok := x.e.action(a.Type)
		if !ok {
			return nil, nil, fmt.Errorf("%w: action %q is not registered in this process", core.ErrInvalid, a.Type)
		}
		result, err = fn.Run(ctx, x.sc, Call{Tenant: x.tenant, RuleID: x.rule.ID, RunID: x.run.ID, Step: path, Event: x.ev,
			ContactID: x.run.ContactID, Params: a.Params, IdempotencyKey: x.run.ID.String() + ":" + path})
		if err != nil && !fn.declared && !errors.Is(err, ErrRetryLater) {
			err = &hostError{err}
		}
	}
	return result, until, err
}

func (x *execution) createTask(ctx context.Context, path string, a *Action) (any, error) {
	c, err := x.loadContact(ctx)
	if err != nil {
		return nil, err
	}
	assignee, err := x.assign(ctx, path, a.Assignee, c)
	if err != nil {
		return nil, err
	}
	in := contacts.NewTask{Title: x.render(a.Title, c), Description: x.render(a.Description, c), AssigneeID: assignee,
		Priority: contacts.Priority(a.Priority)}
	if c != nil {
		in.ContactID = &c.ID
	}
	if a.DueIn != "" {
		d, err := filter.ParseDuration(a.DueIn)
		if err != nil {
			return nil, fmt.Errorf("%w: due_in: %v", core.ErrInvalid, err)
		}
		due := x.e.now().Add(d)
		in.DueAt = &due
	}
	t, err := contacts.Module.Tasks(x.sc).Create(ctx, in)
	if err != nil {
		return nil, err
	}
	return map[string]any{"task_id": t.ID, "assignee": assignee}, nil
}

// assign picks the task's assignee (default: the contact's owner).
func (x *execution) assign(ctx context.Context, path string, as *Assignee, c *contacts.Contact) (string, error) {
	switch {
	case as == nil || as.Owner:
		if c == nil {
			return "", errNoContact
		}
		if c.OwnerID == "" {
			return "", fmt.Errorf("%w: contact %s has no owner to assign the task to", core.ErrInvalid, c.ID)
		}
		return c.OwnerID, nil
	case as.User != "":
		return as.User, nil
	case as.Team != "":
		return x.assignTeam(ctx, path, as)
	case len(as.RoundRobin) > 0:
		n, err := x.nextTurn(ctx, path)
		if err != nil {
			return "", err
		}
		return as.RoundRobin[(n-1)%int64(len(as.RoundRobin))], nil
	default:
		team := as.LeastLoaded
		load, err := x.openTasks(ctx, team)
		if err != nil {
			return "", err
		}
		best := team[0]
		for _, u := range team[1:] {
			if load[u] < load[best] {
				best = u
			}
		}
		return best, nil
	}
}

// nextTurn counts the turns of a round-robin rule step: 1, 2, 3 … The
// counter is per rule step; the UPDATE serialises processes.
func (x *execution) nextTurn(ctx context.Context, path string) (int64, error) {
	key := x.rule.ID.String() + ":" + path
	var n int64
	err := x.sc.Q().QueryRow(ctx, `INSERT INTO crm_assignment_counters (tenant_id, key, next) VALUES (?, ?, 1)
		ON CONFLICT (tenant_id, key) DO UPDATE SET next = crm_assignment_counters.next + 1 RETURNING next`, x.tenant, key).Scan(&n)
	return n, err
}

// openTasks counts the open tasks of each of users.
func (x *execution) openTasks(ctx context.Context, users []string) (map[string]int64, error) {
	d := x.sc.Runtime().Dialect
	rows, err := x.sc.Q().Query(ctx, `SELECT assignee_id, count(*) FROM crm_tasks WHERE tenant_id = ? AND status = 'open' AND `+
		d.InList("assignee_id", "text")+` GROUP BY assignee_id`, x.tenant, d.ListArg(users))
	if err != nil {
		return nil, err
	}
	load := map[string]int64{}
	err = store.EachRow(rows, func(s store.Scanner) error {
		var u string
		var n int64
		err := s.Scan(&u, &n)
		load[u] = n
		return err
	})
	return load, err
}

// assignTeam picks a member of as.Team available now (active, not out of
// office) by as.Strategy: in turn, or the least loaded below capacity.
func (x *execution) assignTeam(ctx context.Context, path string, as *Assignee) (string, error) {
	members, err := access.Module.AvailableMembers(ctx, x.sc.Q(), x.tenant, as.Team, x.e.now())
	if errors.Is(err, core.ErrNotFound) {
		return "", fmt.Errorf("%w: the tenant has no team of the assignee's name", core.ErrInvalid)
	}
	if err != nil {
		return "", err
	}
	if len(members) == 0 {
		return "", fmt.Errorf("%w: no member of the assignee team is available (active and not out of office)", core.ErrInvalid)
	}
	if as.Strategy == StrategyRoundRobin {
		n, err := x.nextTurn(ctx, path)
		if err != nil {
			return "", err
		}
		return members[(n-1)%int64(len(members))].UserID, nil
	}
	ids := make([]string, len(members))
	for i, m := range members {
		ids[i] = m.UserID
	}
	load, err := x.openTasks(ctx, ids)
	if err != nil {
		return "", err
	}
	best := ""
	for _, m := range members { // by user id: ties go to the first
		if m.Capacity > 0 && load[m.UserID] >= int64(m.Capacity) {
			continue
		}
		if best == "" || load[m.UserID] < load[best] {
			best = m.UserID
		}
	}
	if best == "" {
		return "", fmt.Errorf("%w: every available member of the assignee team is at capacity", core.ErrInvalid)
	}
	return best, nil
}

// render fills the placeholders of a task text.
func (x *execution) render(s string, c *contacts.Contact) string {
	if !strings.Contains(s, "{{") {
		return s
	}
	var first, last, email string
	if c != nil {
		first, last, email = c.FirstName, c.LastName, c.Email
	}
	return strings.NewReplacer("{{contact.first_name}}", first, "{{contact.last_name}}", last, "{{contact.email}}", email,
		"{{event.type}}", x.ev.Type).Replace(s)
}

// patchContact applies a set_field, tag or stage action to the run's
// contact, re-reading it when a concurrent writer got there first.
func (x *execution) patchContact(ctx context.Context, a *Action) (any, error) {
	if x.run.ContactID == nil {
		return nil, errNoContact
	}
	svc := contacts.Module.Contacts(x.sc)
	for attempt := 0; ; attempt++ {
		c, err := svc.Get(ctx, *x.run.ContactID)
		if errors.Is(err, core.ErrNotFound) {
			return nil, errNoContact
		}
		if err != nil {
			return nil, err
		}
		patch, changed := contactPatch(c, a)
		if !changed {
			return map[string]any{"changed": false}, nil
		}
		out, err := svc.Update(ctx, c.ID, patch)
		if errors.Is(err, core.ErrConflict) && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, err
		}
		x.contact = out
		return map[string]any{"changed": true, "version": out.Version}, nil
	}
}

// contactPatch is the patch action a makes to c, and whether it changes
// anything.
func contactPatch(c *contacts.Contact, a *Action) (contacts.ContactPatch, bool) {
	p := contacts.ContactPatch{Version: c.Version}
	switch a.Type {
	case ActionAddTag:
		if slices.Contains(c.Tags, a.Tag) {
			return p, false
		}
		tags := append(slices.Clone(c.Tags), a.Tag)
		p.Tags = &tags
	case ActionRemoveTag:
		if !slices.Contains(c.Tags, a.Tag) {
			return p, false
		}
		tags := slices.DeleteFunc(slices.Clone(c.Tags), func(t string) bool { return t == a.Tag })
		p.Tags = &tags
	case ActionSetStage:
		st := contacts.Stage(a.Stage)
		if c.LifecycleStage == st {
			return p, false
		}
		p.LifecycleStage = &st
	case ActionSetField:
		if key, ok := strings.CutPrefix(a.Field, filter.AttributePrefix); ok {
			p.Attributes = map[string]any{key: a.Value}
			return p, true
		}
		s, _ := a.Value.(string)
		switch a.Field {
		case "first_name":
			p.FirstName = &s
		case "last_name":
			p.LastName = &s
		case "phone":
			p.Phone = &s
		case "owner_id":
			p.OwnerID = &s
		case "lifecycle_stage":
			st := contacts.Stage(s)
			p.LifecycleStage = &st
		}
	}
	return p, true
}
