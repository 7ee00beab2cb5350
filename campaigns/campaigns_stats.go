package campaigns

import (
	"context"
	"database/sql"
	"errors"

	"github.com/google/uuid"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// What a campaign did: its recipients counted by state, and a page of
// them.

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
