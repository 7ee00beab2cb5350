package campaigns

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// Reading campaigns: their rows with their A/B test variants, one by id,
// all of the tenant's.

const campaignColumns = `c.id, c.name, c.kind, c.segment_id, c.template_id, c.template_version, c.purpose_key, c.from_name, c.from_address,
	c.reply_to, c.status, c.started_at, c.finished_at, c.created_at, c.updated_at, c.version, c.ab_share, c.ab_metric, c.ab_wait_seconds, c.winner`

func scanCampaign(row store.Scanner) (*Campaign, error) {
	var c Campaign
	var status, kind string
	var segment uuid.NullUUID
	var started, finished sql.NullTime
	var share, wait int64
	var metric string
	var winner sql.NullInt64
	if err := row.Scan(&c.ID, &c.Name, &kind, &segment, &c.TemplateID, &c.TemplateVersion, &c.Purpose, &c.FromName, &c.FromAddress,
		&c.ReplyTo, &status, &started, &finished, &c.CreatedAt, &c.UpdatedAt, &c.Version, &share, &metric, &wait, &winner); err != nil {
		return nil, err
	}
	if share > 0 {
		c.Test = &ABTest{Share: int(share), Metric: metric, Wait: time.Duration(wait) * time.Second}
	}
	if winner.Valid {
		w := int(winner.Int64)
		c.Winner = &w
	}
	c.Status, c.Kind, c.SegmentID = Status(status), CampaignKind(kind), core.ID(segment.UUID)
	c.StartedAt, c.FinishedAt = timeOrNil(started), timeOrNil(finished)
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return &c, nil
}

func getCampaign(ctx context.Context, q store.Q, tenant string, id core.ID, lock bool) (*Campaign, error) {
	query := `SELECT ` + campaignColumns + ` FROM crm_campaigns c WHERE c.tenant_id = ? AND c.id = ?`
	if lock {
		query += q.D.LockRows()
	}
	c, err := scanCampaign(q.QueryRow(ctx, query, tenant, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.NotFound("campaign", id)
	}
	if err != nil {
		return nil, err
	}
	return c, loadVariants(ctx, q, tenant, []*Campaign{c})
}

// loadVariants reads the variants of campaigns.
func loadVariants(ctx context.Context, q store.Q, tenant string, cs []*Campaign) error {
	byID := map[core.ID]*Campaign{}
	var ids []core.ID
	for _, c := range cs {
		if c.Test != nil {
			byID[c.ID] = c
			ids = append(ids, c.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := q.Query(ctx, `SELECT campaign_id, name, template_id, template_version FROM crm_campaign_variants
		WHERE tenant_id = ? AND `+q.D.InList("campaign_id", "uuid")+` ORDER BY campaign_id, position`, tenant, q.D.IDsArg(ids))
	if err != nil {
		return err
	}
	return store.EachRow(rows, func(r store.Scanner) error {
		var id core.ID
		var v Variant
		if err := r.Scan(&id, &v.Name, &v.TemplateID, &v.TemplateVersion); err != nil {
			return err
		}
		byID[id].Variants = append(byID[id].Variants, v)
		return nil
	})
}

// Get returns the campaign with id.
func (s *Campaigns) Get(ctx context.Context, id core.ID) (_ *Campaign, err error) {
	ctx, span := s.sc.SpanID(ctx, "campaigns.Campaigns.Get", id)
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "campaign", id, access.Read); err != nil {
		return nil, err
	}
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	c, err := getCampaign(ctx, s.sc.Q(), tenant, id, false)
	return c, store.Wrap(err, "get campaign")
}

// List returns the tenant's campaigns, newest first.
func (s *Campaigns) List(ctx context.Context) (_ []*Campaign, err error) {
	ctx, span := s.sc.Span(ctx, "campaigns.Campaigns.List")
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "campaign", core.NilID, access.Read); err != nil {
		return nil, err
	}
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	rows, err := s.sc.Q().Query(ctx, `SELECT `+campaignColumns+` FROM crm_campaigns c WHERE c.tenant_id = ? ORDER BY c.created_at DESC, c.id DESC`, tenant)
	if err != nil {
		return nil, store.Wrap(err, "list campaigns")
	}
	out := []*Campaign{}
	err = store.EachRow(rows, func(r store.Scanner) error {
		c, err := scanCampaign(r)
		out = append(out, c)
		return err
	})
	if err == nil {
		err = loadVariants(ctx, s.sc.Q(), tenant, out)
	}
	return out, store.Wrap(err, "list campaigns")
}
