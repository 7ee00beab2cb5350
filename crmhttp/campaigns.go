package crmhttp

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/crmkit/crmkit/campaigns"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
)

// segmentPatch is the body of PATCH /segments/{id}.
type segmentPatch struct {
	Name        *string      `json:"name,omitempty"`
	Description *string      `json:"description,omitempty"`
	Filter      *filter.Expr `json:"filter,omitempty"`
	Tracked     *bool        `json:"tracked,omitempty"`
}

// templatePatch is the body of PATCH /templates/{id}: a new version.
type templatePatch struct {
	Name    *string `json:"name,omitempty"`
	Subject *string `json:"subject,omitempty"`
	HTML    *string `json:"html,omitempty"`
	Text    *string `json:"text,omitempty"`
}

// page of a list that is not paged: every record, at once.
func all[T any](items []T, err error) ([]T, string, error) { return items, "", err }

func registerCampaigns(api huma.API) {
	register(api, resource[*campaigns.Segment, campaigns.NewSegment, segmentPatch]{path: "/segments", singular: "segment", plural: "segments",
		tag: "campaigns",
		list: func(ctx context.Context, c *crm.CRM, _ list) ([]*campaigns.Segment, string, error) {
			return all(c.Segments.List(ctx))
		},
		create: func(ctx context.Context, c *crm.CRM, in campaigns.NewSegment) (*campaigns.Segment, int64, error) {
			return versioned(c.Segments.Create(ctx, in))
		},
		get: func(ctx context.Context, c *crm.CRM, id core.ID) (*campaigns.Segment, int64, error) {
			return versioned(c.Segments.Get(ctx, id))
		},
		update: func(ctx context.Context, c *crm.CRM, id core.ID, v int64, p segmentPatch) (*campaigns.Segment, int64, error) {
			return versioned(c.Segments.Update(ctx, id, campaigns.SegmentPatch{Version: v, Name: p.Name, Description: p.Description,
				Filter: p.Filter, Tracked: p.Tracked}))
		},
		del: func(ctx context.Context, c *crm.CRM, id core.ID) error { return c.Segments.Delete(ctx, id) },
	})
	register(api, resource[*campaigns.Template, campaigns.NewTemplate, templatePatch]{path: "/templates", singular: "template",
		plural: "templates", tag: "campaigns",
		list: func(ctx context.Context, c *crm.CRM, _ list) ([]*campaigns.Template, string, error) {
			return all(c.Templates.List(ctx))
		},
		create: func(ctx context.Context, c *crm.CRM, in campaigns.NewTemplate) (*campaigns.Template, int64, error) {
			return versioned(c.Templates.Create(ctx, in))
		},
		get: func(ctx context.Context, c *crm.CRM, id core.ID) (*campaigns.Template, int64, error) {
			return versioned(c.Templates.Get(ctx, id))
		},
		update: func(ctx context.Context, c *crm.CRM, id core.ID, v int64, p templatePatch) (*campaigns.Template, int64, error) {
			return versioned(c.Templates.Update(ctx, id, campaigns.TemplatePatch{Version: v, Name: p.Name, Subject: p.Subject, HTML: p.HTML, Text: p.Text}))
		},
		del: func(ctx context.Context, c *crm.CRM, id core.ID) error { return c.Templates.Delete(ctx, id) },
	})
	register(api, resource[*campaigns.Campaign, campaigns.NewCampaign, struct{}]{path: "/campaigns", singular: "campaign",
		plural: "campaigns", tag: "campaigns",
		list: func(ctx context.Context, c *crm.CRM, _ list) ([]*campaigns.Campaign, string, error) {
			return all(c.Campaigns.List(ctx))
		},
		create: func(ctx context.Context, c *crm.CRM, in campaigns.NewCampaign) (*campaigns.Campaign, int64, error) {
			return versioned(c.Campaigns.Create(ctx, in))
		},
		get: func(ctx context.Context, c *crm.CRM, id core.ID) (*campaigns.Campaign, int64, error) {
			return versioned(c.Campaigns.Get(ctx, id))
		},
	})
	for _, step := range []struct {
		verb string
		doc  string
		fn   func(c *crm.CRM) func(ctx context.Context, id core.ID, version int64) (*campaigns.Campaign, error)
	}{
		{"start", "Starts sending a draft campaign.", func(c *crm.CRM) func(context.Context, core.ID, int64) (*campaigns.Campaign, error) {
			return c.Campaigns.Start
		}},
		{"pause", "Pauses a sending campaign.", func(c *crm.CRM) func(context.Context, core.ID, int64) (*campaigns.Campaign, error) {
			return c.Campaigns.Pause
		}},
		{"resume", "Resumes a paused campaign.", func(c *crm.CRM) func(context.Context, core.ID, int64) (*campaigns.Campaign, error) {
			return c.Campaigns.Resume
		}},
		{"cancel", "Cancels a campaign that has not finished.", func(c *crm.CRM) func(context.Context, core.ID, int64) (*campaigns.Campaign, error) {
			return c.Campaigns.Cancel
		}},
	} {
		huma.Register(api, common(huma.Operation{OperationID: step.verb + "-campaign", Method: http.MethodPost, Path: "/campaigns/{id}/" + step.verb,
			Tags: []string{"campaigns"}, Summary: step.doc, Description: step.doc + " If-Match names the version read.",
			Errors: []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed,
				http.StatusPreconditionRequired, http.StatusUnprocessableEntity}}),
			func(ctx context.Context, in *struct {
				ID      core.ID `path:"id"`
				IfMatch string  `header:"If-Match"`
			}) (*one[*campaigns.Campaign], error) {
				v, err := versionOf(in.IfMatch)
				if err != nil {
					return nil, err
				}
				x, err := step.fn(crmOf(ctx))(ctx, in.ID, v)
				if err != nil {
					return nil, problem(err, true)
				}
				return &one[*campaigns.Campaign]{ETag: etag(x.Version), Body: x}, nil
			})
	}
	huma.Register(api, common(huma.Operation{OperationID: "campaign-stats", Method: http.MethodGet, Path: "/campaigns/{id}/stats",
		Tags: []string{"campaigns"}, Summary: "A campaign's counts", Errors: []int{http.StatusNotFound}}),
		func(ctx context.Context, in *idInput) (*struct{ Body campaigns.Stats }, error) {
			st, err := crmOf(ctx).Campaigns.Stats(ctx, in.ID)
			if err != nil {
				return nil, problem(err, false)
			}
			return &struct{ Body campaigns.Stats }{Body: st}, nil
		})
}
