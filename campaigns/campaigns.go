package campaigns

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// Options configure sending. The zero value drafts campaigns, segments
// and templates; Start needs Mailer and UnsubscribeURL.
type Options struct {
	// Mailer hands the messages to a mail server (SMTP, or the host's own).
	Mailer Mailer
	// UnsubscribeURL is the public HTTPS address of the host's unsubscribe
	// endpoint: every message links to UnsubscribeURL + "/" + token in its
	// List-Unsubscribe header (RFC 8058 one-click, answered with
	// c.Consent.Unsubscribe(token)).
	UnsubscribeURL string
	// TrackingURL, when set, is the public HTTPS address of the host's
	// tracking endpoints: links of the HTML go through TrackingURL +
	// "/c/" + token (answered with Campaigns.Click, which gives the URL to
	// redirect to) and an image TrackingURL + "/o/" + token counts
	// openings (Campaigns.Open). Empty: messages are not tracked.
	TrackingURL string
	// UnsubscribeMailto, when set, is the address of the mailto:
	// alternative in List-Unsubscribe.
	UnsubscribeMailto string
	// ReturnPath is the envelope sender bounces go to, e.g.
	// "bounces@mail.example.com"; each message's is tagged with its
	// recipient (bounces+<recipient id>@…), so a bounce names the message.
	// Empty: the From address.
	ReturnPath string
	// MessageIDDomain is the right-hand side of the messages' Message-IDs
	// (default: the From address's domain).
	MessageIDDomain string
	// BatchSize is how many recipients one send job takes (default 500).
	BatchSize int
	// Concurrency is how many messages one send job hands to the Mailer
	// at once (default 4; SMTP's pool of Connections serves them).
	Concurrency int
	// TenantRate, when above zero, bounds the messages one tenant's
	// campaigns send per second in each process (SMTP.Rate bounds a mail
	// server's).
	TenantRate float64
	// FrequencyCap, when Max > 0, skips a recipient who was sent Max
	// campaign messages within Per already.
	FrequencyCap FrequencyCap

	// consent are the options of the consent service (token keys), set by
	// crm.
	consent consent.Options
}

// FrequencyCap bounds the campaign messages one contact gets.
type FrequencyCap struct {
	Max int
	Per time.Duration
}

// optionsOf returns the module's options on sc's runtime.
func optionsOf(sc store.Scope) Options {
	o, _ := sc.Runtime().ModuleOptions[moduleName].(Options)
	if o.BatchSize <= 0 {
		o.BatchSize = 500
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	return o
}

// Campaigns are the tenant's campaigns (c.Campaigns).
type Campaigns struct {
	sc    store.Scope
	cache *templateCache
}

func newCampaigns(sc store.Scope, cache *templateCache) *Campaigns {
	return &Campaigns{sc: sc, cache: cache}
}

func (s *Campaigns) consent() *consent.Service {
	return consent.Module.Service(s.sc, optionsOf(s.sc).consent)
}

// Create drafts a campaign and emits "campaign.created". The segment and
// template must be the tenant's, the purpose one of its consent purposes
// that uses email, the addresses plain addresses.
func (s *Campaigns) Create(ctx context.Context, in NewCampaign) (_ *Campaign, err error) {
	ctx, span := s.sc.Span(ctx, "campaigns.Campaigns.Create")
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "campaign", core.NilID, access.Create); err != nil {
		return nil, err
	}
	if in.Kind == "" {
		in.Kind = Broadcast
	}
	c := &Campaign{ID: core.NewID(), Name: strings.TrimSpace(in.Name), Kind: in.Kind, SegmentID: in.SegmentID, TemplateID: in.TemplateID,
		Variants: in.Variants, Test: in.Test,
		Purpose: in.Purpose, FromName: strings.TrimSpace(in.FromName), FromAddress: strings.TrimSpace(in.FromAddress),
		ReplyTo: strings.TrimSpace(in.ReplyTo), Status: StatusDraft, Version: 1}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		if err := newCampaigns(s.sc.WithTx(tx), s.cache).check(ctx, c); err != nil {
			return err
		}
		now := tx.Runtime().Now()
		c.CreatedAt, c.UpdatedAt = now, now
		var segment *core.ID
		if c.Kind == Broadcast {
			segment = &c.SegmentID
		}
		var share, wait int64
		var metric string
		if c.Test != nil {
			share, metric, wait = int64(c.Test.Share), c.Test.Metric, int64(c.Test.Wait/time.Second)
		}
		if _, err := tx.Q().Exec(ctx, `INSERT INTO crm_campaigns (tenant_id, id, name, kind, segment_id, template_id, ab_share, ab_metric,
			ab_wait_seconds, purpose_key, from_name, from_address, reply_to, status, created_at, updated_at, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			tenant, c.ID, c.Name, string(c.Kind), store.NullID(segment), c.TemplateID, share, metric, wait, c.Purpose, c.FromName, c.FromAddress, c.ReplyTo, string(c.Status),
			now, now, c.Version); err != nil {
			return err
		}
		for i, v := range c.Variants {
			if _, err := tx.Q().Exec(ctx, `INSERT INTO crm_campaign_variants (tenant_id, campaign_id, position, name, template_id)
				VALUES (?, ?, ?, ?, ?)`, tenant, c.ID, i+1, v.Name, v.TemplateID); err != nil {
				return err
			}
		}
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventCampaignCreated, SubjectType: "campaign", SubjectID: c.ID,
			OccurredAt: now, Data: store.JSON(c)})
	})
	if err != nil {
		return nil, store.Wrap(err, "create campaign")
	}
	return c, nil
}

// check validates a campaign's fields and references, every problem
// listed.
func (s *Campaigns) check(ctx context.Context, c *Campaign) error {
	tenant, _ := s.sc.Tenant()
	v := &core.ValidationError{}
	if c.Name == "" {
		v.Add("name", "is required")
	}
	v.CheckText("name", c.Name, MaxNameLen)
	v.CheckText("from_name", c.FromName, MaxNameLen)
	if !validAddress(c.FromAddress) {
		v.Add("from_address", "must be one plain email address")
	}
	if c.ReplyTo != "" && !validAddress(c.ReplyTo) {
		v.Add("reply_to", "must be one plain email address")
	}
	q := s.sc.Q()
	switch c.Kind {
	case Broadcast:
		if _, err := getSegment(ctx, q, tenant, c.SegmentID); errors.Is(err, core.ErrNotFound) {
			v.Add("segment_id", "segment %s does not exist", c.SegmentID)
		} else if err != nil {
			return err
		}
	case Automated:
		if c.SegmentID != core.NilID {
			v.Add("segment_id", "an automated campaign sends to the contacts rules name, not to a segment")
		}
	default:
		v.Add("kind", "must be broadcast or automated")
	}
	if _, err := getTemplate(ctx, q, tenant, c.TemplateID); errors.Is(err, core.ErrNotFound) {
		v.Add("template_id", "template %s does not exist", c.TemplateID)
	} else if err != nil {
		return err
	}
	for i, vr := range c.Variants {
		field := fmt.Sprintf("variants[%d]", i)
		if strings.TrimSpace(vr.Name) == "" {
			v.Add(field+".name", "is required")
		}
		v.CheckText(field+".name", vr.Name, MaxNameLen)
		if _, err := getTemplate(ctx, q, tenant, vr.TemplateID); errors.Is(err, core.ErrNotFound) {
			v.Add(field+".template_id", "template %s does not exist", vr.TemplateID)
		} else if err != nil {
			return err
		}
	}
	if len(c.Variants) > maxVariants {
		v.Add("variants", "at most %d", maxVariants)
	}
	if t := c.Test; t != nil {
		if c.Kind != Broadcast {
			v.Add("test", "only a broadcast is tested")
		}
		if len(c.Variants) == 0 {
			v.Add("variants", "an A/B test needs at least one variant besides the template")
		}
		if t.Share < 1 || t.Share > 50 {
			v.Add("test.share", "must be a percentage from 1 to 50")
		}
		if t.Metric != MetricOpens && t.Metric != MetricClicks {
			v.Add("test.metric", "must be opens or clicks")
		}
		if t.Wait < time.Minute || t.Wait > 30*24*time.Hour {
			v.Add("test.wait", "must be from a minute to 30 days")
		}
	} else if len(c.Variants) > 0 {
		v.Add("test", "variants need a test (share, metric, wait)")
	}
	if c.Purpose == "" {
		v.Add("purpose", "is required: the consent purpose the mail serves")
	} else if p, err := s.consent().Purpose(ctx, c.Purpose); errors.Is(err, core.ErrNotFound) {
		v.Add("purpose", "%q is not a consent purpose of this tenant", c.Purpose)
	} else if err != nil {
		return err
	} else if !slices.Contains(p.Channels, consent.Email) {
		v.Add("purpose", "%q does not use the email channel", c.Purpose)
	}
	return v.Err()
}

// maxVariants bounds the variants of an A/B test.
const maxVariants = 5
