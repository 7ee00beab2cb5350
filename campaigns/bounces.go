package campaigns

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/crmkit/crmkit/access"

	"github.com/google/uuid"

	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// Bounce is a delivery failure or a complaint about a campaign message:
// what Inbound reads from a report mail, or what a mail provider's
// webhook tells the host (Record).
type Bounce struct {
	// RecipientID names the message: the id in its return path
	// (bounces+<id>@…) or its Message-ID (<id>@…).
	RecipientID core.ID
	Kind        BounceKind
	// Status is the enhanced status code (5.1.1), if known.
	Status     string
	Diagnostic string
}

// InboundResult says what Inbound did with a mail.
type InboundResult struct {
	// Bounce is what was recorded; nil when nothing was.
	Bounce *Bounce
	// Kept is set when the mail could not be used and was kept for
	// inspection (InboundReports), with the problem.
	Kept    bool
	Problem string
}

// Inbound reads a mail that came back to the return path: a delivery
// status notification (RFC 3464) or a feedback report (ARF, RFC 5965).
// envelopeTo, when the host knows it, is the address it came to
// (bounces+<recipient id>@…); otherwise the recipient is found by the
// returned Message-ID. A mail that is no report, does not parse or names
// no message of the tenant is kept for 30 days for inspection and
// reported in the result, never an error; errors are the database's.
func (s *Campaigns) Inbound(ctx context.Context, raw io.Reader, envelopeTo string) (_ *InboundResult, err error) {
	ctx, span := s.sc.Span(ctx, "campaigns.Campaigns.Inbound")
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "campaign", core.NilID, access.Update); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(raw, MaxReportSize+1))
	if err != nil {
		return nil, fmt.Errorf("crm: read inbound mail: %w", err)
	}
	keep := func(problem string) (*InboundResult, error) {
		err := s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
			tenant, _ := s.sc.Tenant()
			body := data
			if len(body) > MaxReportSize {
				body = body[:MaxReportSize]
			}
			_, err := tx.Q().Exec(ctx, `INSERT INTO crm_inbound_reports (tenant_id, id, received_at, problem, raw) VALUES (?, ?, ?, ?, ?)`,
				tenant, core.NewID(), tx.Runtime().Now(), problem, strings.ToValidUTF8(strings.ReplaceAll(string(body), "\x00", ""), "\uFFFD"))
			return err
		})
		if err != nil {
			return nil, store.Wrap(err, "keep inbound mail")
		}
		return &InboundResult{Kept: true, Problem: problem}, nil
	}
	rep, err := ParseReport(bytes.NewReader(data))
	if err != nil {
		return keep(err.Error())
	}
	id, ok := recipientOf(envelopeTo)
	if !ok {
		id, ok = recipientOf(rep.MessageID)
	}
	if !ok {
		return keep("the report names no message crmkit sent (no tagged return path or Message-ID)")
	}
	b := &Bounce{RecipientID: id, Kind: rep.Kind, Status: rep.Status, Diagnostic: rep.Diagnostic}
	switch err := s.Record(ctx, *b); {
	case errors.Is(err, core.ErrNotFound):
		return keep("the report names no message of this tenant")
	case err != nil:
		return nil, err
	}
	return &InboundResult{Bounce: b}, nil
}

// recipientOf finds the recipient id in a tagged return path
// (local+<id>@domain) or a Message-ID (<id>@domain).
func recipientOf(addr string) (core.ID, bool) {
	local, _, ok := strings.Cut(strings.Trim(strings.TrimSpace(addr), "<>"), "@")
	if !ok {
		return core.NilID, false
	}
	if _, tag, tagged := strings.Cut(local, "+"); tagged {
		local = tag
	}
	u, err := uuid.Parse(local)
	if err != nil || len(local) != 36 {
		return core.NilID, false
	}
	return core.ID(u), true
}

// softInARow is how many soft bounces of a contact's latest messages in a
// row suppress the address.
const softInARow = 3

// Record records a bounce or complaint about a message and acts on it: a
// hard bounce suppresses the address; a soft bounce does when the
// contact's last three messages all bounced softly; a complaint withdraws
// the consent to the campaign's purpose over email and suppresses the
// address. It emits "email.bounced" or "email.complained". A hard bounce
// or complaint recorded before for the message is not recorded again.
// An unknown recipient is ErrNotFound.
func (s *Campaigns) Record(ctx context.Context, b Bounce) (err error) {
	ctx, span := s.sc.Span(ctx, "campaigns.Campaigns.Record")
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "recipient", b.RecipientID, access.Update); err != nil {
		return err
	}
	v := &core.ValidationError{}
	switch b.Kind {
	case BounceHard, BounceSoft, Complaint:
	default:
		v.Add("kind", "must be hard, soft or complaint")
	}
	if b.Status != "" && !statusCode.MatchString(b.Status) {
		v.Add("status", "is not an enhanced status code (5.1.1)")
	}
	if !utf8.ValidString(b.Diagnostic) {
		v.Add("diagnostic", "is not valid UTF-8")
	}
	if err := v.Err(); err != nil {
		return err
	}
	b.Diagnostic = truncate(strings.ReplaceAll(b.Diagnostic, "\x00", ""), 500)
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		q := tx.Q()
		r, err := scanRecipient(q.QueryRow(ctx, `SELECT `+recipientColumns+` FROM crm_campaign_recipients r WHERE r.tenant_id = ? AND r.id = ?`,
			tenant, b.RecipientID))
		if errors.Is(err, sql.ErrNoRows) {
			return core.NotFound("campaign message", b.RecipientID)
		}
		if err != nil {
			return err
		}
		if b.Kind != BounceSoft {
			var n int
			if err := q.QueryRow(ctx, `SELECT count(*) FROM crm_campaign_bounces WHERE tenant_id = ? AND recipient_id = ? AND kind = ?`,
				tenant, r.ID, string(b.Kind)).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
		}
		now := tx.Runtime().Now()
		if _, err := q.Exec(ctx, `INSERT INTO crm_campaign_bounces (tenant_id, id, campaign_id, recipient_id, kind, status, diagnostic, at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, tenant, core.NewID(), r.CampaignID, r.ID, string(b.Kind), b.Status, b.Diagnostic, now); err != nil {
			return err
		}
		c, err := getCampaign(ctx, q, tenant, r.CampaignID, false)
		if err != nil {
			return err
		}
		cs := consent.Module.Service(s.sc.WithTx(tx), optionsOf(s.sc).consent)
		suppress := func(reason string) error {
			if r.Email == "" {
				return nil // the person was erased or deleted
			}
			return cs.Suppress(ctx, r.Email, "", reason)
		}
		switch b.Kind {
		case BounceHard:
			err = suppress("hard_bounce")
		case BounceSoft:
			if r.ContactID != nil {
				var soft, latest int
				err = q.QueryRow(ctx, `SELECT count(b.recipient_id), count(*) FROM (SELECT r.tenant_id, r.id FROM crm_campaign_recipients r
					WHERE r.tenant_id = ? AND r.contact_id = ? AND r.state = 'sent' ORDER BY r.sent_at DESC, r.id DESC LIMIT ?) last
					LEFT JOIN (SELECT DISTINCT tenant_id, recipient_id FROM crm_campaign_bounces WHERE tenant_id = ? AND kind = 'soft') b
					ON b.tenant_id = last.tenant_id AND b.recipient_id = last.id`, tenant, *r.ContactID, softInARow, tenant).Scan(&soft, &latest)
				if err == nil && latest == softInARow && soft == softInARow {
					err = suppress("soft_bounces")
				}
			}
		case Complaint:
			if r.ContactID != nil {
				_, err = cs.Withdraw(ctx, *r.ContactID, c.Purpose, consent.Email, consent.Proof{Source: "complaint"})
				if errors.Is(err, core.ErrNoConsent) || errors.Is(err, core.ErrInvalid) {
					err = nil // nothing to withdraw
				}
			}
			if err == nil {
				err = suppress("complaint")
			}
		}
		if err != nil {
			return err
		}
		if r.ContactID == nil {
			return nil
		}
		typ := EventEmailBounced
		if b.Kind == Complaint {
			typ = EventEmailComplained
		}
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: typ, SubjectType: "contact", SubjectID: *r.ContactID, OccurredAt: now,
			Data: store.JSON(EmailBounced{CampaignID: r.CampaignID, RecipientID: r.ID, Kind: b.Kind, Status: b.Status})})
	})
	return store.Wrap(err, "record bounce")
}

// InboundReport is an inbound mail that could not be used.
type InboundReport struct {
	ID         core.ID   `json:"id"`
	ReceivedAt time.Time `json:"received_at"`
	Problem    string    `json:"problem"`
	Raw        string    `json:"raw"`
}

// InboundReports returns the kept inbound mails, newest first, at most
// limit (1 to 1000; 0 means 100).
func (s *Campaigns) InboundReports(ctx context.Context, limit int) (_ []InboundReport, err error) {
	ctx, span := s.sc.Span(ctx, "campaigns.Campaigns.InboundReports")
	defer span.End(&err)

	g, err := check(ctx, s.sc, "inbound_report", core.NilID, access.Read)
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
	rows, err := s.sc.Q().Query(ctx, `SELECT id, received_at, problem, raw FROM crm_inbound_reports WHERE tenant_id = ?
		ORDER BY received_at DESC, id DESC LIMIT ?`, tenant, limit)
	if err != nil {
		return nil, store.Wrap(err, "inbound reports")
	}
	out := []InboundReport{}
	err = store.EachRow(rows, func(r store.Scanner) error {
		var x InboundReport
		err := r.Scan(&x.ID, &x.ReceivedAt, &x.Problem, &x.Raw)
		if !g.pd() {
			x.Raw = "" // it holds addresses
		}
		x.ReceivedAt = x.ReceivedAt.UTC()
		out = append(out, x)
		return err
	})
	return out, store.Wrap(err, "inbound reports")
}

// inboundReportsKept is how long unusable inbound mail is kept.
const inboundReportsKept = 30 * 24 * time.Hour

// purgeInboundReports deletes the tenant's kept inbound mail older than
// inboundReportsKept (periodic work).
func purgeInboundReports(ctx context.Context, sc store.Scope) error {
	return sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := sc.Tenant()
		_, err := tx.Q().Exec(ctx, `DELETE FROM crm_inbound_reports WHERE tenant_id = ? AND received_at < ?`,
			tenant, tx.Runtime().Now().Add(-inboundReportsKept))
		return err
	})
}
