package contacts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/store"
)

// Priority orders tasks by importance.
type Priority string

// Task priorities.
const (
	PriorityLow    Priority = "low"
	PriorityNormal Priority = "normal"
	PriorityHigh   Priority = "high"
	PriorityUrgent Priority = "urgent"
)

// Priorities lists every priority.
var Priorities = []Priority{PriorityLow, PriorityNormal, PriorityHigh, PriorityUrgent}

// TaskStatus is where a task stands.
type TaskStatus string

// Task statuses.
const (
	TaskOpen      TaskStatus = "open"
	TaskDone      TaskStatus = "done"
	TaskCancelled TaskStatus = "cancelled"
)

// Task is something a user of the host has to do, usually about a contact,
// company or deal.
type Task struct {
	ID          core.ID    `json:"id"`
	Title       string     `json:"title"`
	Description string     `json:"description,omitempty"`
	DueAt       *time.Time `json:"due_at,omitempty"`
	// AssigneeID is the host's id of the user who should do it; "" when
	// nobody is assigned.
	AssigneeID  string     `json:"assignee_id,omitempty"`
	ContactID   *core.ID   `json:"contact_id,omitempty"`
	CompanyID   *core.ID   `json:"company_id,omitempty"`
	DealID      *core.ID   `json:"deal_id,omitempty"`
	Priority    Priority   `json:"priority"`
	Status      TaskStatus `json:"status"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	CreatedBy   string     `json:"created_by,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	Version     int64      `json:"version"`
}

// NewTask is the input of Tasks.Create.
type NewTask struct {
	Title       string
	Description string
	// DueAt is optional; it must lie in years 1 to 9999 UTC.
	DueAt      *time.Time
	AssigneeID string
	ContactID  *core.ID
	CompanyID  *core.ID
	DealID     *core.ID
	// Priority defaults to PriorityNormal.
	Priority Priority
}

// TaskPatch is the input of Tasks.Update: nil fields stay as they are.
type TaskPatch struct {
	Version     int64
	Title       *string
	Description *string
	DueAt       *time.Time
	// ClearDueAt removes the due date.
	ClearDueAt bool
	Priority   *Priority
}

// Task input limits.
const (
	MaxTaskTitle       = 500
	MaxTaskDescription = 20_000
)

// noDue is the due_key of tasks without a due date: after every real one.
var noDue = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// TaskSchema is the filter allowlist of tasks. "due_at" sorts undated
// tasks last.
var TaskSchema = filter.NewSchema("task", "",
	filter.Field{Name: "title", Column: "t.title", Type: filter.String},
	filter.Field{Name: "status", Column: "t.status", Type: filter.Enum, Values: []string{"open", "done", "cancelled"}},
	filter.Field{Name: "priority", Column: "t.priority", Type: filter.Enum, Values: []string{"low", "normal", "high", "urgent"}},
	filter.Field{Name: "assignee_id", Column: "t.assignee_id", Type: filter.String},
	filter.Field{Name: "contact_id", Column: "t.contact_id", Type: filter.ID},
	filter.Field{Name: "company_id", Column: "t.company_id", Type: filter.ID},
	filter.Field{Name: "deal_id", Column: "t.deal_id", Type: filter.ID},
	filter.Field{Name: "due_at", Column: "t.due_at", Type: filter.Time},
	filter.Field{Name: "due", Column: "t.due_key", Type: filter.Time, Sortable: true},
	filter.Field{Name: "completed_at", Column: "t.completed_at", Type: filter.Time},
	filter.Field{Name: "created_at", Column: "t.created_at", Type: filter.Time, Sortable: true},
	filter.Field{Name: "updated_at", Column: "t.updated_at", Type: filter.Time, Sortable: true},
)

// FilterValue implements filter.Record.
func (t *Task) FilterValue(field string) any {
	id := func(p *core.ID) any {
		if p == nil {
			return core.NilID
		}
		return *p
	}
	switch field {
	case "title":
		return t.Title
	case "status":
		return string(t.Status)
	case "priority":
		return string(t.Priority)
	case "assignee_id":
		return t.AssigneeID
	case "contact_id":
		return id(t.ContactID)
	case "company_id":
		return id(t.CompanyID)
	case "deal_id":
		return id(t.DealID)
	case "due_at":
		return timeOrZero(t.DueAt)
	case "due":
		if t.DueAt == nil {
			return noDue
		}
		return *t.DueAt
	case "completed_at":
		return timeOrZero(t.CompletedAt)
	case "created_at":
		return t.CreatedAt
	case "updated_at":
		return t.UpdatedAt
	}
	return nil
}

// Tasks manages tasks (c.Tasks).
type Tasks struct {
	sc   store.Scope
	repo repository
}

// newTasks returns the service for scope sc. Hosts use crm.CRM.Tasks.
func newTasks(sc store.Scope) *Tasks { return &Tasks{sc: sc, repo: sqlRepository{}} }

const taskColumns = `t.id, t.title, t.description, t.due_at, t.assignee_id, t.contact_id, t.company_id, t.deal_id,
	t.priority, t.status, t.completed_at, t.created_by, t.created_at, t.updated_at, t.version`

func scanTask(row scanner) (*Task, error) {
	var (
		t                      Task
		due, completed         sql.NullTime
		contact, company, deal uuid.NullUUID
		priority, status       string
	)
	if err := row.Scan(&t.ID, &t.Title, &t.Description, &due, &t.AssigneeID, &contact, &company, &deal,
		&priority, &status, &completed, &t.CreatedBy, &t.CreatedAt, &t.UpdatedAt, &t.Version); err != nil {
		return nil, err
	}
	t.DueAt, t.CompletedAt = nullTime(due), nullTime(completed)
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	t.Priority, t.Status = Priority(priority), TaskStatus(status)
	for _, p := range []struct {
		src uuid.NullUUID
		dst **core.ID
	}{{contact, &t.ContactID}, {company, &t.CompanyID}, {deal, &t.DealID}} {
		if p.src.Valid {
			id := p.src.UUID
			*p.dst = &id
		}
	}
	return &t, nil
}

func getTask(ctx context.Context, q store.Q, tenant string, id core.ID) (*Task, error) {
	return getTaskWhere(ctx, q, tenant, id, "", nil)
}

// visibleTask reads the task with id for action by g's actor: a task is
// visible when its assignee is the actor (own) or of their teams (team).
func visibleTask(ctx context.Context, g *guard, q store.Q, tenant string, id core.ID, action access.Action) (*Task, error) {
	cond, args := g.tasks("t")
	return fetch(g, "task", id, action, cond, args, func(extra string, args []any) (*Task, error) {
		return getTaskWhere(ctx, q, tenant, id, extra, args)
	})
}

// getTaskWhere reads the task with id where extra (" AND …", with args)
// holds too.
func getTaskWhere(ctx context.Context, q store.Q, tenant string, id core.ID, extra string, args []any) (*Task, error) {
	t, err := scanTask(q.QueryRow(ctx, `SELECT `+taskColumns+` FROM crm_tasks t WHERE t.tenant_id = ? AND t.id = ?`+extra,
		append([]any{tenant, id}, args...)...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.NotFound("task", id)
	}
	return t, err
}

func dueKey(t *Task) time.Time {
	if t.DueAt == nil {
		return noDue
	}
	return *t.DueAt
}

func nullTimeArg(t *time.Time) any {
	if t == nil {
		return nil
	}
	return *t
}

// validate checks t and, in the same pass, that its references exist in
// the tenant.
func (s *Tasks) validate(ctx context.Context, q store.Q, tenant string, t *Task) error {
	v := &core.ValidationError{}
	if strings.TrimSpace(t.Title) == "" {
		v.Add("title", "is required")
	}
	v.CheckText("title", t.Title, MaxTaskTitle)
	if !core.StorableText(t.Description) || len([]rune(t.Description)) > MaxTaskDescription {
		v.Add("description", "must be at most %d characters of valid text", MaxTaskDescription)
	}
	v.CheckText("assignee_id", t.AssigneeID, MaxOwnerLen)
	if !slices.Contains(Priorities, t.Priority) {
		v.Add("priority", "%q is not one of low, normal, high, urgent", t.Priority)
	}
	v.CheckTimePtr("due_at", t.DueAt)
	if t.DueAt != nil && !v.Has("due_at") && !t.DueAt.Before(noDue) {
		v.Add("due_at", "is out of range")
	}
	if err := v.Err(); err != nil {
		return err
	}
	if err := store.CheckRefs(ctx, q, tenant, v,
		store.Ref{Field: "contact_id", Table: "crm_contacts", What: "contact", ID: t.ContactID},
		store.Ref{Field: "company_id", Table: "crm_companies", What: "company", ID: t.CompanyID},
		// Deals are pipeline's; the reference is checked like the database
		// checks it, by (tenant_id, id).
		store.Ref{Field: "deal_id", Table: "crm_deals", What: "deal", ID: t.DealID}); err != nil {
		return err
	}
	return v.Err()
}

func taskEvent(tenant, typ string, t *Task, extra map[string]any) core.Event {
	data := map[string]any{"task": t}
	for k, v := range extra {
		data[k] = v
	}
	return core.Event{TenantID: tenant, Type: typ, SubjectType: "task", SubjectID: t.ID, ContactID: t.ContactID,
		OccurredAt: t.UpdatedAt, Data: store.JSON(data)}
}

// Create stores a new open task and emits "task.created". The creator is
// the Actor in the context.
func (s *Tasks) Create(ctx context.Context, in NewTask) (_ *Task, err error) {
	ctx, span := s.sc.Span(ctx, "contacts.Tasks.Create")
	defer span.End(&err)

	g, err := check(ctx, s.sc, "task", core.NilID, access.Create)
	if err != nil {
		return nil, err
	}
	if err := g.checkAssignee(core.NilID, access.Create, &in.AssigneeID); err != nil {
		return nil, g.done(ctx, err)
	}
	var out *Task
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		now := tx.Runtime().Now()
		t := &Task{ID: core.NewID(), Title: strings.TrimSpace(in.Title), Description: in.Description,
			AssigneeID: strings.TrimSpace(in.AssigneeID), ContactID: in.ContactID, CompanyID: in.CompanyID, DealID: in.DealID,
			Priority: in.Priority, Status: TaskOpen, CreatedAt: now, UpdatedAt: now, Version: 1}
		if in.DueAt != nil {
			d := core.NormalizeTime(*in.DueAt)
			t.DueAt = &d
		}
		if t.Priority == "" {
			t.Priority = PriorityNormal
		}
		if a, ok := core.ActorFrom(ctx); ok {
			t.CreatedBy = a.ID
		}
		if err := s.validate(ctx, tx.Q(), tenant, t); err != nil {
			return err
		}
		if t.ContactID != nil && !g.trusted() {
			// A contact the actor does not see is one that does not exist.
			cond, cargs := g.contacts("c")
			if _, err := (sqlRepository{}).getContact(ctx, tx.Q(), tenant, "c.id = ? AND "+cond, append([]any{*t.ContactID}, cargs...)...); errors.Is(err, core.ErrNotFound) {
				return core.Invalid("contact_id", "contact %s does not exist", *t.ContactID)
			} else if err != nil {
				return err
			}
		}
		if _, err := tx.Q().Exec(ctx, `INSERT INTO crm_tasks (tenant_id, id, title, description, due_at, due_key, assignee_id,
			contact_id, company_id, deal_id, priority, status, completed_at, created_by, created_at, updated_at, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?)`,
			tenant, t.ID, t.Title, t.Description, nullTimeArg(t.DueAt), dueKey(t), t.AssigneeID,
			store.NullID(t.ContactID), store.NullID(t.CompanyID), store.NullID(t.DealID), string(t.Priority), string(t.Status),
			t.CreatedBy, t.CreatedAt, t.UpdatedAt, t.Version); err != nil {
			return err
		}
		out = t
		return tx.Emit(ctx, taskEvent(tenant, EventTaskCreated, t, nil))
	})
	if err != nil {
		return nil, store.Wrap(err, "create task")
	}
	return out, nil
}

// Get returns the task with id.
func (s *Tasks) Get(ctx context.Context, id core.ID) (_ *Task, err error) {
	ctx, span := s.sc.SpanID(ctx, "contacts.Tasks.Get", id)
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return nil, err
	}
	t, err := visibleTask(ctx, g, s.sc.Q(), tenant, id, access.Read)
	return t, g.done(ctx, store.Wrap(err, "get task"))
}

// change loads the task, checks version, applies fn, validates, writes the
// result with the next version and emits event (with fn's extra data).
// When fn changes nothing, the task is returned as it is.
func (s *Tasks) change(ctx context.Context, id core.ID, version int64, doing, event string,
	fn func(t *Task, now time.Time) (map[string]any, error)) (*Task, error) {
	if err := core.CheckVersion(version); err != nil {
		return nil, err
	}
	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return nil, err
	}
	var out *Task
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		cur, err := visibleTask(ctx, g, tx.Q(), tenant, id, access.Update)
		if err != nil {
			return err
		}
		if cur.Version != version {
			return fmt.Errorf("%w: task %s is at version %d, not %d; read it again", core.ErrConflict, id, cur.Version, version)
		}
		next := *cur
		now := tx.Runtime().Now()
		extra, err := fn(&next, now)
		if err != nil {
			return err
		}
		if next.AssigneeID != cur.AssigneeID {
			if err := g.checkAssignee(id, access.Update, &next.AssigneeID); err != nil {
				return err
			}
		}
		if sameTask(cur, &next) {
			out = cur
			return nil
		}
		if err := s.validate(ctx, tx.Q(), tenant, &next); err != nil {
			return err
		}
		next.UpdatedAt = now
		next.Version = cur.Version + 1
		res, err := tx.Q().Exec(ctx, `UPDATE crm_tasks SET title = ?, description = ?, due_at = ?, due_key = ?, assignee_id = ?,
			priority = ?, status = ?, completed_at = ?, updated_at = ?, version = ?
			WHERE tenant_id = ? AND id = ? AND version = ?`,
			next.Title, next.Description, nullTimeArg(next.DueAt), dueKey(&next), next.AssigneeID, string(next.Priority),
			string(next.Status), nullTimeArg(next.CompletedAt), next.UpdatedAt, next.Version, tenant, id, cur.Version)
		if err != nil {
			return err
		}
		if err := staleIfNone(res, "task", id); err != nil {
			return err
		}
		out = &next
		return tx.Emit(ctx, taskEvent(tenant, event, out, extra))
	})
	if err != nil {
		return nil, g.done(ctx, store.Wrap(err, doing))
	}
	return out, nil
}

func sameTask(a, b *Task) bool {
	eqTime := func(x, y *time.Time) bool { return (x == nil && y == nil) || (x != nil && y != nil && x.Equal(*y)) }
	return a.Title == b.Title && a.Description == b.Description && eqTime(a.DueAt, b.DueAt) && a.AssigneeID == b.AssigneeID &&
		a.Priority == b.Priority && a.Status == b.Status && eqTime(a.CompletedAt, b.CompletedAt)
}

// Update edits title, description, due date and priority, if
// patch.Version is still the task's version; emits "task.updated".
func (s *Tasks) Update(ctx context.Context, id core.ID, patch TaskPatch) (_ *Task, err error) {
	ctx, span := s.sc.SpanID(ctx, "contacts.Tasks.Update", id)
	defer span.End(&err)

	return s.change(ctx, id, patch.Version, "update task", EventTaskUpdated, func(t *Task, _ time.Time) (map[string]any, error) {
		if patch.Title != nil {
			t.Title = strings.TrimSpace(*patch.Title)
		}
		if patch.Description != nil {
			t.Description = *patch.Description
		}
		if patch.ClearDueAt {
			t.DueAt = nil
		} else if patch.DueAt != nil {
			d := core.NormalizeTime(*patch.DueAt)
			t.DueAt = &d
		}
		if patch.Priority != nil {
			t.Priority = *patch.Priority
		}
		return nil, nil
	})
}

// Complete marks an open task done and emits "task.completed". Completing
// a done task changes nothing; a cancelled one is ErrInvalid.
func (s *Tasks) Complete(ctx context.Context, id core.ID, version int64) (_ *Task, err error) {
	ctx, span := s.sc.SpanID(ctx, "contacts.Tasks.Complete", id)
	defer span.End(&err)

	return s.change(ctx, id, version, "complete task", EventTaskCompleted, func(t *Task, now time.Time) (map[string]any, error) {
		switch t.Status {
		case TaskCancelled:
			return nil, core.Invalid("status", "a cancelled task cannot be completed; reopen it first")
		case TaskOpen:
			t.Status, t.CompletedAt = TaskDone, &now
		}
		return nil, nil
	})
}

// Cancel marks an open task cancelled and emits "task.cancelled".
func (s *Tasks) Cancel(ctx context.Context, id core.ID, version int64) (_ *Task, err error) {
	ctx, span := s.sc.SpanID(ctx, "contacts.Tasks.Cancel", id)
	defer span.End(&err)

	return s.change(ctx, id, version, "cancel task", EventTaskCancelled, func(t *Task, _ time.Time) (map[string]any, error) {
		if t.Status == TaskDone {
			return nil, core.Invalid("status", "a done task cannot be cancelled; reopen it first")
		}
		t.Status = TaskCancelled
		return nil, nil
	})
}

// Reopen makes a done or cancelled task open again and emits
// "task.reopened".
func (s *Tasks) Reopen(ctx context.Context, id core.ID, version int64) (_ *Task, err error) {
	ctx, span := s.sc.SpanID(ctx, "contacts.Tasks.Reopen", id)
	defer span.End(&err)

	return s.change(ctx, id, version, "reopen task", EventTaskReopened, func(t *Task, _ time.Time) (map[string]any, error) {
		t.Status, t.CompletedAt = TaskOpen, nil
		return nil, nil
	})
}

// Reassign gives the task to assignee ("" unassigns) and emits
// "task.reassigned" with the previous assignee.
func (s *Tasks) Reassign(ctx context.Context, id core.ID, version int64, assignee string) (_ *Task, err error) {
	ctx, span := s.sc.SpanID(ctx, "contacts.Tasks.Reassign", id)
	defer span.End(&err)

	return s.change(ctx, id, version, "reassign task", EventTaskReassigned, func(t *Task, _ time.Time) (map[string]any, error) {
		prev := t.AssigneeID
		t.AssigneeID = strings.TrimSpace(assignee)
		return map[string]any{"previous_assignee_id": prev}, nil
	})
}

// Delete removes a task and emits "task.deleted".
func (s *Tasks) Delete(ctx context.Context, id core.ID) (err error) {
	ctx, span := s.sc.SpanID(ctx, "contacts.Tasks.Delete", id)
	defer span.End(&err)

	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return err
	}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		t, err := visibleTask(ctx, g, tx.Q(), tenant, id, access.Delete)
		if err != nil {
			return err
		}
		if _, err := tx.Q().Exec(ctx, `DELETE FROM crm_tasks WHERE tenant_id = ? AND id = ?`, tenant, id); err != nil {
			return err
		}
		t.UpdatedAt = tx.Runtime().Now()
		return tx.Emit(ctx, taskEvent(tenant, EventTaskDeleted, t, nil))
	})
	return g.done(ctx, store.Wrap(err, "delete task"))
}

// TaskListOptions select, order and page tasks.
type TaskListOptions struct {
	Filter filter.Expr
	// Sort is "due" (default: soonest first, undated last), "created_at" or
	// "updated_at", with "-" for descending.
	Sort   string
	Limit  int
	Cursor string
}

// List returns one page of tasks matching opts.Filter.
func (s *Tasks) List(ctx context.Context, opts TaskListOptions) (_ core.Page[*Task], err error) {
	ctx, span := s.sc.Span(ctx, "contacts.Tasks.List")
	defer span.End(&err)

	g, err := check(ctx, s.sc, "task", core.NilID, access.Read)
	if err != nil {
		return core.Page[*Task]{}, err
	}
	plan, err := s.sc.PlanList(store.ListRequest{Schema: TaskSchema, Filter: opts.Filter, Sort: opts.Sort,
		DefaultSort: "due", Limit: opts.Limit, Cursor: opts.Cursor, Visible: g.visible(g.tasks("t"))})
	if err != nil {
		return core.Page[*Task]{}, err
	}
	tenant, _ := s.sc.Tenant()
	tasks, err := store.ListPage(ctx, s.sc.Q(), tenant, `SELECT `+taskColumns+` FROM crm_tasks t `, "t", plan, scanTask)
	if err != nil {
		return core.Page[*Task]{}, store.Wrap(err, "list tasks")
	}
	return store.PageOf(s.sc, plan, tasks, func(t *Task) (any, core.ID) { return plan.Sort.Field.SortKey(t), t.ID })
}

// Open lists assignee's open tasks, soonest due first ("my open tasks").
func (s *Tasks) Open(ctx context.Context, assignee string, page TaskListOptions) (_ core.Page[*Task], err error) {
	ctx, span := s.sc.Span(ctx, "contacts.Tasks.Open")
	defer span.End(&err)

	page.Filter = filter.And(filter.Eq("status", "open"), filter.Eq("assignee_id", assignee), page.Filter)
	return s.List(ctx, page)
}

// Overdue lists open tasks whose due time has passed, oldest first.
func (s *Tasks) Overdue(ctx context.Context, page TaskListOptions) (_ core.Page[*Task], err error) {
	ctx, span := s.sc.Span(ctx, "contacts.Tasks.Overdue")
	defer span.End(&err)

	page.Filter = filter.And(filter.Eq("status", "open"), filter.Lt("due_at", "now"), page.Filter)
	return s.List(ctx, page)
}

// DueWithin lists open tasks due from now to now+d, soonest first.
func (s *Tasks) DueWithin(ctx context.Context, d time.Duration, page TaskListOptions) (_ core.Page[*Task], err error) {
	ctx, span := s.sc.Span(ctx, "contacts.Tasks.DueWithin")
	defer span.End(&err)

	if d <= 0 {
		return core.Page[*Task]{}, core.Invalid("within", "must be a positive duration")
	}
	page.Filter = filter.And(filter.Eq("status", "open"), filter.Gte("due_at", "now"),
		filter.Lte("due_at", "now+"+filter.FormatDuration(d)), page.Filter)
	return s.List(ctx, page)
}
