package campaigns

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/crmkit/crmkit/access"

	"github.com/google/uuid"

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

const campaignColumns = `c.id, c.name, c.kind, c.segment_id, c.template_id, c.template_version, c.purpose_key, c.from_name, c.from_address,
	c.reply_to, c.status, c.started_at, c.finished_at, c.created_at, c.updated_at, c.version, c.ab_share, c.ab_metric, c.ab_wait_seconds, c.winner`

// maxVariants bounds the variants of an A/B test.
const maxVariants = 5

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

// transition moves the campaign from one of the statuses from to status
// to in one transaction, with the version check, then runs then (when
// set) in the same transaction and emits event. The caller has checked
// that the actor may update the campaign.
func (s *Campaigns) transition(ctx context.Context, id core.ID, version int64, doing string, from []Status, to Status, event string,
	then func(ctx context.Context, tx *store.Tx, c *Campaign) error) (*Campaign, error) {
	if err := core.CheckVersion(version); err != nil {
		return nil, err
	}
	var out *Campaign
	err := s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		c, err := getCampaign(ctx, tx.Q(), tenant, id, true)
		if err != nil {
			return err
		}
		if c.Version != version {
			return fmt.Errorf("%w: campaign %s is at version %d, not %d", core.ErrConflict, id, c.Version, version)
		}
		ok := false
		for _, st := range from {
			ok = ok || c.Status == st
		}
		if !ok {
			return core.Invalid("status", "campaign %s is %s: it cannot be %s", id, c.Status, doing)
		}
		now := tx.Runtime().Now()
		c.Status, c.UpdatedAt = to, now
		c.Version++
		if then != nil {
			if err := then(ctx, tx, c); err != nil {
				return err
			}
		}
		if _, err := tx.Q().Exec(ctx, `UPDATE crm_campaigns SET status = ?, template_version = ?, started_at = ?, updated_at = ?,
			version = ? WHERE tenant_id = ? AND id = ?`, string(c.Status), c.TemplateVersion, c.StartedAt, now, c.Version, tenant, id); err != nil {
			return err
		}
		out = c
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: event, SubjectType: "campaign", SubjectID: id, OccurredAt: now,
			Data: store.JSON(c)})
	})
	if err != nil {
		return nil, store.Wrap(err, doing+" campaign")
	}
	return out, nil
}

// Start sends a draft campaign: it takes the template's latest version,
// emits "campaign.started", and queues the job that snapshots the
// segment's members and queues their batches. An automated campaign then
// sends to the contacts rules name (the "send_email" action) until it is
// paused or cancelled. It needs Options.Mailer
// and Options.UnsubscribeURL. version is the campaign's version the
// caller read.
func (s *Campaigns) Start(ctx context.Context, id core.ID, version int64) (_ *Campaign, err error) {
	ctx, span := s.sc.SpanID(ctx, "campaigns.Campaigns.Start", id)
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "campaign", id, access.Update); err != nil {
		return nil, err
	}
	o := optionsOf(s.sc)
	v := &core.ValidationError{}
	if o.Mailer == nil {
		v.Add("mailer", "no mailer is configured (crm.Config.Campaigns.Mailer)")
	}
	if u, err := url.Parse(o.UnsubscribeURL); err != nil || u.Scheme != "https" || u.Host == "" {
		v.Add("unsubscribe_url", "crm.Config.Campaigns.UnsubscribeURL must be an https URL (RFC 8058)")
	}
	if u, err := url.Parse(o.TrackingURL); o.TrackingURL != "" && (err != nil || u.Scheme != "https" || u.Host == "") {
		v.Add("tracking_url", "crm.Config.Campaigns.TrackingURL must be an https URL")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return s.transition(ctx, id, version, "started", []Status{StatusDraft}, StatusSending, EventCampaignStarted,
		func(ctx context.Context, tx *store.Tx, c *Campaign) error {
			tenant, _ := s.sc.Tenant()
			if err := newCampaigns(s.sc.WithTx(tx), s.cache).check(ctx, c); err != nil {
				return err
			}
			t, err := getTemplate(ctx, tx.Q(), tenant, c.TemplateID)
			if err != nil {
				return err
			}
			if _, err := s.cache.get(tenant, t); err != nil {
				return err
			}
			c.TemplateVersion = t.Version
			for i := range c.Variants {
				vt, err := getTemplate(ctx, tx.Q(), tenant, c.Variants[i].TemplateID)
				if err != nil {
					return err
				}
				if _, err := s.cache.get(tenant, vt); err != nil {
					return err
				}
				c.Variants[i].TemplateVersion = vt.Version
				if _, err := tx.Q().Exec(ctx, `UPDATE crm_campaign_variants SET template_version = ? WHERE tenant_id = ? AND campaign_id = ? AND position = ?`,
					vt.Version, tenant, c.ID, i+1); err != nil {
					return err
				}
			}
			now := tx.Runtime().Now()
			c.StartedAt = &now
			if c.Kind == Automated {
				return nil // rules' send_email actions name the recipients
			}
			return tx.Enqueue(ctx, store.NewJob{Kind: jobPrepare, Tenant: tenant, Args: jobArgs{Campaign: c.ID},
				UniqueKey: c.ID.String()})
		})
}

// Pause stops a sending campaign after the messages in flight; Resume
// goes on where it stopped.
func (s *Campaigns) Pause(ctx context.Context, id core.ID, version int64) (_ *Campaign, err error) {
	ctx, span := s.sc.SpanID(ctx, "campaigns.Campaigns.Pause", id)
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "campaign", id, access.Update); err != nil {
		return nil, err
	}
	return s.transition(ctx, id, version, "paused", []Status{StatusSending}, StatusPaused, EventCampaignPaused, nil)
}

// Resume goes on with a paused campaign: its remaining batches are
// queued again.
func (s *Campaigns) Resume(ctx context.Context, id core.ID, version int64) (_ *Campaign, err error) {
	ctx, span := s.sc.SpanID(ctx, "campaigns.Campaigns.Resume", id)
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "campaign", id, access.Update); err != nil {
		return nil, err
	}
	return s.transition(ctx, id, version, "resumed", []Status{StatusPaused}, StatusSending, EventCampaignResumed,
		func(ctx context.Context, tx *store.Tx, c *Campaign) error {
			tenant, _ := s.sc.Tenant()
			if c.Kind == Automated {
				return enqueueWaiting(ctx, tx, tenant, c.ID)
			}
			if c.Test != nil && c.Winner == nil && c.StartedAt != nil {
				if err := enqueueDecide(ctx, tx, tenant, c); err != nil {
					return err
				}
			}
			// The snapshot goes on where it stopped (a no-op when done), and
			// every batch with recipients left is queued.
			if err := tx.Enqueue(ctx, store.NewJob{Kind: jobPrepare, Tenant: tenant, Args: jobArgs{Campaign: c.ID},
				UniqueKey: c.ID.String()}); err != nil {
				return err
			}
			rows, err := tx.Q().Query(ctx, `SELECT DISTINCT batch FROM crm_campaign_recipients WHERE tenant_id = ? AND campaign_id = ?
				AND state IN ('queued', 'sending') ORDER BY batch`, tenant, c.ID)
			if err != nil {
				return err
			}
			var batches []int64
			if err := store.EachRow(rows, func(r store.Scanner) error {
				var b int64
				err := r.Scan(&b)
				batches = append(batches, b)
				return err
			}); err != nil {
				return err
			}
			for _, b := range batches {
				if err := enqueueBatch(ctx, tx, tenant, c.ID, b); err != nil {
					return err
				}
			}
			return nil
		})
}

// Cancel ends a campaign that has not finished: recipients not yet sent
// are skipped ("cancelled"); messages in flight may still go.
func (s *Campaigns) Cancel(ctx context.Context, id core.ID, version int64) (_ *Campaign, err error) {
	ctx, span := s.sc.SpanID(ctx, "campaigns.Campaigns.Cancel", id)
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "campaign", id, access.Update); err != nil {
		return nil, err
	}
	return s.transition(ctx, id, version, "cancelled", []Status{StatusDraft, StatusSending, StatusPaused}, StatusCancelled,
		EventCampaignCancelled, func(ctx context.Context, tx *store.Tx, c *Campaign) error {
			tenant, _ := s.sc.Tenant()
			_, err := tx.Q().Exec(ctx, `UPDATE crm_campaign_recipients SET state = 'skipped', reason = 'cancelled', updated_at = ?
				WHERE tenant_id = ? AND campaign_id = ? AND state IN ('queued', 'held')`, c.UpdatedAt, tenant, c.ID)
			return err
		})
}

// Stats counts the campaign's recipients by state.
func (s *Campaigns) Stats(ctx context.Context, id core.ID) (_ Stats, err error) {
	ctx, span := s.sc.SpanID(ctx, "campaigns.Campaigns.Stats", id)
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "campaign", id, access.Read); err != nil {
		return Stats{}, err
	}
	tenant, err := s.sc.Tenant()
	if err != nil {
		return Stats{}, err
	}
	if _, err := getCampaign(ctx, s.sc.Q(), tenant, id, false); err != nil {
		return Stats{}, store.Wrap(err, "campaign stats")
	}
	st, err := stats(ctx, s.sc.Q(), tenant, id)
	return st, store.Wrap(err, "campaign stats")
}

func stats(ctx context.Context, q store.Q, tenant string, id core.ID) (Stats, error) {
	var st Stats
	rows, err := q.Query(ctx, `SELECT state, count(*) FROM crm_campaign_recipients WHERE tenant_id = ? AND campaign_id = ? GROUP BY state`, tenant, id)
	if err != nil {
		return st, err
	}
	err = store.EachRow(rows, func(r store.Scanner) error {
		var state string
		var n int64
		if err := r.Scan(&state, &n); err != nil {
			return err
		}
		st.Recipients += n
		switch RecipientState(state) {
		case RecipientQueued:
			st.Queued = n
		case RecipientHeld:
			st.Held = n
		case RecipientSending:
			st.Sending = n
		case RecipientSent:
			st.Sent = n
		case RecipientFailed:
			st.Failed = n
		case RecipientSkipped:
			st.Skipped = n
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	err = q.QueryRow(ctx, `SELECT count(DISTINCT recipient_id),
		count(DISTINCT CASE WHEN kind = 'click' THEN recipient_id END)
		FROM crm_campaign_interactions WHERE tenant_id = ? AND campaign_id = ? AND machine = ''`, tenant, id).Scan(&st.Opened, &st.Clicked)
	if err != nil {
		return st, err
	}
	if c, err := getCampaign(ctx, q, tenant, id, false); err != nil {
		return st, err
	} else if c.Test != nil {
		if st.Variants, err = variantStats(ctx, q, tenant, c); err != nil {
			return st, err
		}
	}
	err = q.QueryRow(ctx, `SELECT count(DISTINCT CASE WHEN kind <> 'complaint' THEN recipient_id END),
		count(DISTINCT CASE WHEN kind = 'complaint' THEN recipient_id END)
		FROM crm_campaign_bounces WHERE tenant_id = ? AND campaign_id = ?`, tenant, id).Scan(&st.Bounced, &st.Complained)
	return st, err
}

const recipientColumns = `r.id, r.campaign_id, r.contact_id, r.email, r.state, r.variant, r.reason, r.message_id, r.attempts, r.sent_at, r.updated_at`

func scanRecipient(row store.Scanner) (*Recipient, error) {
	var r Recipient
	var contact uuid.NullUUID
	var state string
	var sent sql.NullTime
	if err := row.Scan(&r.ID, &r.CampaignID, &contact, &r.Email, &state, &r.Variant, &r.Reason, &r.MessageID, &r.Attempts, &sent, &r.UpdatedAt); err != nil {
		return nil, err
	}
	if contact.Valid {
		id := core.ID(contact.UUID)
		r.ContactID = &id
	}
	r.State = RecipientState(state)
	r.SentAt = timeOrNil(sent)
	r.UpdatedAt = r.UpdatedAt.UTC()
	return &r, nil
}

// Recipients returns a page of the campaign's recipients in id order,
// after the recipient id after, at most limit (1 to 1000; 0 means 100);
// state, when set, selects one state. An actor is shown only the
// recipients whose contact they see in the contacts module, without
// their addresses when they do not see its personal data.
func (s *Campaigns) Recipients(ctx context.Context, id core.ID, state RecipientState, after core.ID, limit int) (_ []*Recipient, err error) {
	ctx, span := s.sc.SpanID(ctx, "campaigns.Campaigns.Recipients", id)
	defer span.End(&err)

	g, err := check(ctx, s.sc, "campaign", id, access.Read)
	if err != nil {
		return nil, err
	}
	switch {
	case limit == 0:
		limit = 100
	case limit < 0 || limit > 1000:
		return nil, core.Invalid("limit", "must be between 1 and 1000")
	}
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	if !g.pd() {
		// Who a segment with a filter on a personal field chose tells the
		// value: refused as the segment's members are (the segment's
		// filter as it is now).
		camp, err := getCampaign(ctx, s.sc.Q(), tenant, id, false)
		if err != nil {
			return nil, store.Wrap(err, "campaign recipients")
		}
		if camp.SegmentID != core.NilID {
			seg, err := getSegment(ctx, s.sc.Q(), tenant, camp.SegmentID)
			if err != nil && !errors.Is(err, core.ErrNotFound) {
				return nil, store.Wrap(err, "campaign recipients")
			}
			if seg != nil {
				if err := g.checkFilter(ctx, camp.SegmentID, access.Read, seg.Filter); err != nil {
					return nil, g.done(ctx, err)
				}
			}
		}
	}
	where, args := "", []any{tenant, id, after}
	if state != "" {
		where = " AND r.state = ?"
		args = append(args, string(state))
	}
	vis, vargs, err := g.people("r.contact_id")
	if err != nil {
		return nil, err
	}
	where, args = where+vis, append(args, vargs...)
	rows, err := s.sc.Q().Query(ctx, `SELECT `+recipientColumns+` FROM crm_campaign_recipients r
		WHERE r.tenant_id = ? AND r.campaign_id = ? AND r.id > ?`+where+` ORDER BY r.id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, store.Wrap(err, "campaign recipients")
	}
	out := []*Recipient{}
	err = store.EachRow(rows, func(r store.Scanner) error {
		x, err := scanRecipient(r)
		if err == nil && !g.pd() {
			x.Email = ""
		}
		out = append(out, x)
		return err
	})
	return out, store.Wrap(err, "campaign recipients")
}
