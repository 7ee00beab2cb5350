package crmhttp

import (
	"context"
	"net/http"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/pipeline"
)

// companyPatch is the body of PATCH /companies/{id}.
type companyPatch struct {
	Name       *string        `json:"name,omitempty"`
	Domain     *string        `json:"domain,omitempty"`
	Attributes map[string]any `json:"attributes,omitempty" doc:"Merged: each key given is set; a key given as null is removed."`
}

// newTask is the body of POST /tasks.
type newTask struct {
	Title       string            `json:"title"`
	Description string            `json:"description,omitempty"`
	DueAt       *time.Time        `json:"due_at,omitempty"`
	AssigneeID  string            `json:"assignee_id,omitempty"`
	ContactID   *core.ID          `json:"contact_id,omitempty"`
	CompanyID   *core.ID          `json:"company_id,omitempty"`
	DealID      *core.ID          `json:"deal_id,omitempty"`
	Priority    contacts.Priority `json:"priority,omitempty" enum:"low,normal,high,urgent"`
}

// taskPatch is the body of PATCH /tasks/{id}.
type taskPatch struct {
	Title       *string            `json:"title,omitempty"`
	Description *string            `json:"description,omitempty"`
	DueAt       *time.Time         `json:"due_at,omitempty"`
	ClearDueAt  bool               `json:"clear_due_at,omitempty" doc:"Removes the due date."`
	Priority    *contacts.Priority `json:"priority,omitempty" enum:"low,normal,high,urgent"`
}

// newNote is the body of POST /notes.
type newNote struct {
	ContactID core.ID `json:"contact_id"`
	Body      string  `json:"body"`
	Pinned    bool    `json:"pinned,omitempty"`
}

// notePatch is the body of PATCH /notes/{id}.
type notePatch struct {
	Body   *string `json:"body,omitempty"`
	Pinned *bool   `json:"pinned,omitempty"`
}

// dealPatch is the body of PATCH /deals/{id}; stages change with the
// stage, win and lose routes.
type dealPatch struct {
	Title         *string        `json:"title,omitempty"`
	Amount        *core.Money    `json:"amount,omitempty"`
	ContactID     *core.ID       `json:"contact_id,omitempty" doc:"The nil UUID removes the link."`
	CompanyID     *core.ID       `json:"company_id,omitempty" doc:"The nil UUID removes the link."`
	OwnerID       *string        `json:"owner_id,omitempty"`
	ExpectedClose *core.Date     `json:"expected_close,omitempty"`
	Source        *string        `json:"source,omitempty"`
	Commit        *bool          `json:"commit,omitempty"`
	Attributes    map[string]any `json:"attributes,omitempty"`
}

func registerRecords(api huma.API) {
	register(api, resource[*contacts.Company, contacts.NewCompany, companyPatch]{path: "/companies", singular: "company", plural: "companies",
		tag: "companies",
		list: func(ctx context.Context, c *crm.CRM, q list) ([]*contacts.Company, string, error) {
			p, err := c.Companies.List(ctx, contacts.CompanyListOptions{Filter: q.Filter, Sort: q.Sort, Limit: q.Limit, Cursor: q.Cursor})
			return p.Items, p.Next, err
		},
		create: func(ctx context.Context, c *crm.CRM, in contacts.NewCompany) (*contacts.Company, int64, error) {
			return versioned(c.Companies.Create(ctx, in))
		},
		get: func(ctx context.Context, c *crm.CRM, id core.ID) (*contacts.Company, int64, error) {
			return versioned(c.Companies.Get(ctx, id))
		},
		update: func(ctx context.Context, c *crm.CRM, id core.ID, v int64, p companyPatch) (*contacts.Company, int64, error) {
			return versioned(c.Companies.Update(ctx, id, contacts.CompanyPatch{Version: v, Name: p.Name, Domain: p.Domain, Attributes: p.Attributes}))
		},
		del: func(ctx context.Context, c *crm.CRM, id core.ID) error { return c.Companies.Delete(ctx, id) },
	})
	register(api, resource[*contacts.Task, newTask, taskPatch]{path: "/tasks", singular: "task", plural: "tasks", tag: "tasks",
		list: func(ctx context.Context, c *crm.CRM, q list) ([]*contacts.Task, string, error) {
			p, err := c.Tasks.List(ctx, contacts.TaskListOptions{Filter: q.Filter, Sort: q.Sort, Limit: q.Limit, Cursor: q.Cursor})
			return p.Items, p.Next, err
		},
		create: func(ctx context.Context, c *crm.CRM, in newTask) (*contacts.Task, int64, error) {
			return versioned(c.Tasks.Create(ctx, contacts.NewTask{Title: in.Title, Description: in.Description, DueAt: in.DueAt,
				AssigneeID: in.AssigneeID, ContactID: in.ContactID, CompanyID: in.CompanyID, DealID: in.DealID, Priority: in.Priority}))
		},
		get: func(ctx context.Context, c *crm.CRM, id core.ID) (*contacts.Task, int64, error) {
			return versioned(c.Tasks.Get(ctx, id))
		},
		update: func(ctx context.Context, c *crm.CRM, id core.ID, v int64, p taskPatch) (*contacts.Task, int64, error) {
			return versioned(c.Tasks.Update(ctx, id, contacts.TaskPatch{Version: v, Title: p.Title, Description: p.Description, DueAt: p.DueAt,
				ClearDueAt: p.ClearDueAt, Priority: p.Priority}))
		},
		del: func(ctx context.Context, c *crm.CRM, id core.ID) error { return c.Tasks.Delete(ctx, id) },
	})
	register(api, resource[*contacts.Note, newNote, notePatch]{path: "/notes", singular: "note", plural: "notes", tag: "notes",
		list: func(ctx context.Context, c *crm.CRM, q list) ([]*contacts.Note, string, error) {
			p, err := c.Notes.List(ctx, contacts.NoteListOptions{Filter: q.Filter, Sort: q.Sort, Limit: q.Limit, Cursor: q.Cursor})
			return p.Items, p.Next, err
		},
		create: func(ctx context.Context, c *crm.CRM, in newNote) (*contacts.Note, int64, error) {
			return versioned(c.Notes.Create(ctx, contacts.NewNote{ContactID: in.ContactID, Body: in.Body, Pinned: in.Pinned}))
		},
		get: func(ctx context.Context, c *crm.CRM, id core.ID) (*contacts.Note, int64, error) {
			return versioned(c.Notes.Get(ctx, id))
		},
		update: func(ctx context.Context, c *crm.CRM, id core.ID, v int64, p notePatch) (*contacts.Note, int64, error) {
			return versioned(c.Notes.Update(ctx, id, contacts.NotePatch{Version: v, Body: p.Body, Pinned: p.Pinned}))
		},
		del: func(ctx context.Context, c *crm.CRM, id core.ID) error { return c.Notes.Delete(ctx, id) },
	})
	register(api, resource[*pipeline.Deal, pipeline.NewDeal, dealPatch]{path: "/deals", singular: "deal", plural: "deals", tag: "deals",
		list: func(ctx context.Context, c *crm.CRM, q list) ([]*pipeline.Deal, string, error) {
			p, err := c.Deals.List(ctx, pipeline.DealListOptions{Filter: q.Filter, Sort: q.Sort, Limit: q.Limit, Cursor: q.Cursor})
			return p.Items, p.Next, err
		},
		create: func(ctx context.Context, c *crm.CRM, in pipeline.NewDeal) (*pipeline.Deal, int64, error) {
			return versioned(c.Deals.Create(ctx, in))
		},
		get: func(ctx context.Context, c *crm.CRM, id core.ID) (*pipeline.Deal, int64, error) {
			return versioned(c.Deals.Get(ctx, id))
		},
		update: func(ctx context.Context, c *crm.CRM, id core.ID, v int64, p dealPatch) (*pipeline.Deal, int64, error) {
			return versioned(c.Deals.Update(ctx, id, pipeline.DealPatch{Version: v, Title: p.Title, Amount: p.Amount, ContactID: p.ContactID,
				CompanyID: p.CompanyID, OwnerID: p.OwnerID, ExpectedClose: p.ExpectedClose, Source: p.Source, Commit: p.Commit,
				Attributes: p.Attributes}))
		},
		del: func(ctx context.Context, c *crm.CRM, id core.ID) error { return c.Deals.Delete(ctx, id) },
	})
	huma.Register(api, common(huma.Operation{OperationID: "list-pipelines", Method: http.MethodGet, Path: "/pipelines", Tags: []string{"deals"},
		Summary: "List pipelines", Description: "The tenant's pipelines with their stages, in order."}),
		func(ctx context.Context, _ *struct{}) (*struct{ Body []*pipeline.Pipeline }, error) {
			ps, err := crmOf(ctx).Pipelines.List(ctx)
			if err != nil {
				return nil, problem(err, false)
			}
			if ps == nil {
				ps = []*pipeline.Pipeline{}
			}
			return &struct{ Body []*pipeline.Pipeline }{Body: ps}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "move-deal", Method: http.MethodPost, Path: "/deals/{id}/stage", Tags: []string{"deals"},
		Summary: "Move a deal", Description: "Moves the deal to a stage of its pipeline (won and lost stages win and lose it), if If-Match still names its version.",
		Errors: []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed, http.StatusPreconditionRequired,
			http.StatusUnprocessableEntity}}),
		func(ctx context.Context, in *struct {
			ID      core.ID `path:"id"`
			IfMatch string  `header:"If-Match"`
			Body    struct {
				StageID core.ID `json:"stage_id"`
			}
		}) (*one[*pipeline.Deal], error) {
			v, err := versionOf(in.IfMatch)
			if err != nil {
				return nil, err
			}
			d, err := crmOf(ctx).Deals.MoveStage(ctx, in.ID, v, in.Body.StageID)
			if err != nil {
				return nil, problem(err, true)
			}
			return &one[*pipeline.Deal]{ETag: etag(d.Version), Body: d}, nil
		})
}

// versioned adds a record's version (its Version field: every record a
// resource serves is a pointer to a struct with one) to its service's
// answer.
func versioned[T any](x T, err error) (T, int64, error) {
	if err != nil {
		var zero T
		return zero, 0, err
	}
	return x, reflect.ValueOf(x).Elem().FieldByName("Version").Int(), nil
}
