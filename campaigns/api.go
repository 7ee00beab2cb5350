package campaigns

import (
	"context"
	"io"

	"github.com/crmkit/crmkit/core"
)

// SegmentsAPI is what *Segments (c.Segments) does, as an interface, for
// hosts that substitute it: a fake in their tests, a wrapper that adds
// caching or metrics. See *Segments for each method.
type SegmentsAPI interface {
	Count(ctx context.Context, id core.ID) (int64, error)
	Create(ctx context.Context, in NewSegment) (*Segment, error)
	Delete(ctx context.Context, id core.ID) error
	Get(ctx context.Context, id core.ID) (*Segment, error)
	List(ctx context.Context) ([]*Segment, error)
	Members(ctx context.Context, id core.ID, after core.ID, limit int) ([]Member, error)
	Recompute(ctx context.Context, id core.ID) (entered, left int64, err error)
	Update(ctx context.Context, id core.ID, patch SegmentPatch) (*Segment, error)
}

// TemplatesAPI is what *Templates (c.Templates) does, as an interface, for
// hosts that substitute it: a fake in their tests, a wrapper that adds
// caching or metrics. See *Templates for each method.
type TemplatesAPI interface {
	Create(ctx context.Context, in NewTemplate) (*Template, error)
	Delete(ctx context.Context, id core.ID) error
	Get(ctx context.Context, id core.ID) (*Template, error)
	List(ctx context.Context) ([]*Template, error)
	Preview(ctx context.Context, id core.ID, contactID core.ID) (Rendered, error)
	Update(ctx context.Context, id core.ID, patch TemplatePatch) (*Template, error)
	Version(ctx context.Context, id core.ID, version int64) (*Template, error)
}

// CampaignsAPI is what *Campaigns (c.Campaigns) does, as an interface, for
// hosts that substitute it: a fake in their tests, a wrapper that adds
// caching or metrics. See *Campaigns for each method.
type CampaignsAPI interface {
	Cancel(ctx context.Context, id core.ID, version int64) (*Campaign, error)
	Click(ctx context.Context, token string, v Visit) (string, error)
	Create(ctx context.Context, in NewCampaign) (*Campaign, error)
	Get(ctx context.Context, id core.ID) (*Campaign, error)
	Inbound(ctx context.Context, raw io.Reader, envelopeTo string) (*InboundResult, error)
	InboundReports(ctx context.Context, limit int) ([]InboundReport, error)
	LinkTenant(token string) (string, error)
	List(ctx context.Context) ([]*Campaign, error)
	Open(ctx context.Context, token string, v Visit) error
	Pause(ctx context.Context, id core.ID, version int64) (*Campaign, error)
	Recipients(ctx context.Context, id core.ID, state RecipientState, after core.ID, limit int) ([]*Recipient, error)
	Record(ctx context.Context, b Bounce) error
	Resume(ctx context.Context, id core.ID, version int64) (*Campaign, error)
	Start(ctx context.Context, id core.ID, version int64) (*Campaign, error)
	Stats(ctx context.Context, id core.ID) (Stats, error)
}

// The services satisfy their interfaces.
var (
	_ SegmentsAPI  = (*Segments)(nil)
	_ TemplatesAPI = (*Templates)(nil)
	_ CampaignsAPI = (*Campaigns)(nil)
)
