package tickets

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// SurveyKind is what a satisfaction survey asks.
type SurveyKind string

// Survey kinds.
const (
	// SurveyCSAT asks how satisfied the customer was with the ticket's
	// handling: 1 (very unsatisfied) to 5 (very satisfied).
	SurveyCSAT SurveyKind = "csat"
	// SurveyNPS asks how likely the customer is to recommend the company:
	// 0 to 10.
	SurveyNPS SurveyKind = "nps"
)

// ScoreRange returns the lowest and highest score of k; ok is false for
// a kind that is neither SurveyCSAT nor SurveyNPS.
func (k SurveyKind) ScoreRange() (lo, hi int, ok bool) {
	switch k {
	case SurveyCSAT:
		return 1, 5, true
	case SurveyNPS:
		return 0, 10, true
	}
	return 0, 0, false
}

// DefaultSurveyTTL is how long a survey link can be answered when Options
// set no SurveyTTL.
const DefaultSurveyTTL = 14 * 24 * time.Hour

// MaxSurveyToken bounds the length of a survey token.
const MaxSurveyToken = 1024

// ErrSurveyInvalid is the error of a survey token that does not verify
// (altered, forged, another tenant's, or not a token at all), that was
// answered already, or that expired.
var ErrSurveyInvalid = fmt.Errorf("%w: the survey link is not valid", core.ErrInvalid)

// Options are the tickets module's options (crm wires them from its
// Config).
type Options struct {
	// Keys sign survey links: the first signs, every one verifies (rotate
	// by putting a new key first). crm gives its Config.TokenKeys.
	Keys [][]byte
	// SurveyTTL is how long a survey link can be answered; defaults to
	// DefaultSurveyTTL.
	SurveyTTL time.Duration

	// models caches the tenants' classifier models (set by Configure).
	models *modelCache
}

const moduleName = "tickets"

// Configure gives the module its options on rt, before the runtime is
// used.
func (declaration) Configure(rt *store.Runtime, o Options) {
	if rt.ModuleOptions == nil {
		rt.ModuleOptions = map[string]any{}
	}
	if o.models == nil {
		o.models = newModelCache()
	}
	rt.ModuleOptions[moduleName] = o
}

func optionsOf(sc store.Scope) Options {
	o, _ := sc.Runtime().ModuleOptions[moduleName].(Options)
	if o.SurveyTTL <= 0 {
		o.SurveyTTL = DefaultSurveyTTL
	}
	return o
}

// SurveyLink is a survey of a ticket on its way to the customer: the
// host puts Token in a link of its own (its handler calls AnswerSurvey).
type SurveyLink struct {
	ID        core.ID    `json:"id"`
	TicketID  core.ID    `json:"ticket_id"`
	Kind      SurveyKind `json:"kind"`
	Token     string     `json:"token"`
	ExpiresAt time.Time  `json:"expires_at"`
}

// Rated is the payload of "ticket.rated": a customer answered a survey of
// the ticket.
type Rated struct {
	TicketID core.ID    `json:"ticket_id"`
	Number   int64      `json:"number"`
	SurveyID core.ID    `json:"survey_id"`
	Kind     SurveyKind `json:"kind"`
	Score    int        `json:"score"`
	// CommentID is the message that holds the customer's comment, when
	// they left one (SubmitSurvey).
	CommentID *core.ID `json:"comment_id,omitempty"`
}

// MaxSurveyComment bounds the comment of a survey answer, in bytes.
const MaxSurveyComment = 5000

// SurveyAnswer is a customer's answer to a survey link (SubmitSurvey).
type SurveyAnswer struct {
	// Score is the kind's: CSAT 1 to 5, NPS 0 to 10.
	Score int `json:"score"`
	// Comment is the customer's optional words (at most MaxSurveyComment
	// bytes). It is kept as a public customer message of the ticket —
	// personal data exported and erased with the ticket's messages — that,
	// unlike AddMessage's, neither reopens the ticket nor moves its SLA
	// clocks, on a closed ticket too.
	Comment string `json:"comment,omitempty"`
}

// surveyClaims are a survey token's contents.
type surveyClaims struct {
	Tenant  string     `json:"t"`
	Survey  core.ID    `json:"s"`
	Kind    SurveyKind `json:"k"`
	Expires int64      `json:"e"`
}

// surveyKey derives the key of survey links from a token key, so that a
// survey link, a tracking link and a consent token never verify as each
// other.
func surveyKey(key []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("crmkit tickets survey links v1"))
	return m.Sum(nil)
}

func signSurvey(key []byte, c surveyClaims) (string, error) {
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, surveyKey(key))
	m.Write(payload)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(m.Sum(nil)), nil
}

// ParseSurveyToken verifies a survey token against keys and returns its
// tenant, survey id and kind (not whether it was answered or expired:
// AnswerSurvey knows). Exported for fuzzing and for the HTTP layer, which
// learns the tenant from it before calling AnswerSurvey.
func ParseSurveyToken(keys [][]byte, token string) (tenant string, survey core.ID, kind SurveyKind, err error) {
	c, err := parseSurvey(keys, token)
	return c.Tenant, c.Survey, c.Kind, err
}

func parseSurvey(keys [][]byte, token string) (surveyClaims, error) {
	var c surveyClaims
	if len(token) > MaxSurveyToken {
		return c, ErrSurveyInvalid
	}
	p, s, ok := strings.Cut(token, ".")
	if !ok {
		return c, ErrSurveyInvalid
	}
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(p)
	sum, err2 := enc.DecodeString(s)
	if err1 != nil || err2 != nil {
		return c, ErrSurveyInvalid
	}
	valid := false
	for _, k := range keys {
		m := hmac.New(sha256.New, surveyKey(k))
		m.Write(payload)
		valid = valid || hmac.Equal(m.Sum(nil), sum)
	}
	if !valid {
		return c, ErrSurveyInvalid
	}
	if err := json.Unmarshal(payload, &c); err != nil || c.Tenant == "" || c.Survey == core.NilID || c.Expires <= 0 {
		return surveyClaims{}, ErrSurveyInvalid
	}
	if _, _, ok := c.Kind.ScoreRange(); !ok {
		return surveyClaims{}, ErrSurveyInvalid
	}
	return c, nil
}

// Survey issues a signed, single-use link asking the customer of a solved
// (or closed) ticket for a score of kind, valid for Options.SurveyTTL: the
// host sends it. A new link of a kind replaces the ticket's unanswered
// ones of that kind. It needs "tickets" update and a ticket the actor
// sees; a ticket not solved or closed, or an unknown kind, is ErrInvalid.
func (s *Tickets) Survey(ctx context.Context, ticketID core.ID, kind SurveyKind) (_ *SurveyLink, err error) {
	ctx, span := s.sc.SpanID(ctx, "tickets.Tickets.Survey", ticketID)
	defer span.End(&err)

	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return nil, err
	}
	opts := optionsOf(s.sc)
	if len(opts.Keys) == 0 || len(opts.Keys[0]) < 32 {
		return nil, fmt.Errorf("crm: survey links need a signing key of at least 32 bytes (tickets.Options.Keys)")
	}
	var out *SurveyLink
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		q := tx.Q()
		now := tx.Runtime().Now()
		t, err := g.ticket(ctx, q, tenant, ticketID, access.Update, true)
		if err != nil {
			return err
		}
		v := &core.ValidationError{}
		if _, _, ok := kind.ScoreRange(); !ok {
			v.Add("kind", "%q is not one of csat, nps", kind)
		}
		if !t.Status.done() {
			v.Add("ticket_id", "ticket %s is %s: a survey follows a solved ticket", t.ID, t.Status)
		}
		if err := v.Err(); err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `DELETE FROM crm_ticket_surveys WHERE tenant_id = ? AND ticket_id = ? AND kind = ? AND answered_at IS NULL`,
			tenant, t.ID, string(kind)); err != nil {
			return err
		}
		link := &SurveyLink{ID: core.NewID(), TicketID: t.ID, Kind: kind, ExpiresAt: now.Add(opts.SurveyTTL)}
		if link.Token, err = signSurvey(opts.Keys[0], surveyClaims{Tenant: tenant, Survey: link.ID, Kind: kind, Expires: link.ExpiresAt.Unix()}); err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `INSERT INTO crm_ticket_surveys (tenant_id, id, ticket_id, kind, issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
			tenant, link.ID, t.ID, string(kind), now, link.ExpiresAt); err != nil {
			return err
		}
		out = link
		return nil
	})
	if err != nil {
		return nil, store.Wrap(g.done(ctx, err), "issue ticket survey")
	}
	return out, nil
}

// SurveyTenant returns the tenant a survey token of this CRM's keys was
// made for: what a public endpoint binds to before it calls AnswerSurvey
// there. A token that does not verify is ErrSurveyInvalid.
func (s *Tickets) SurveyTenant(token string) (string, error) {
	c, err := parseSurvey(optionsOf(s.sc).Keys, token)
	return c.Tenant, err
}

// AnswerSurvey records the customer's score from a survey token (for the
// host's public handler of the link; it needs no permission: the token is
// the authority, and an actor in ctx changes nothing). The score becomes
// the ticket's CSAT or NPS (a new version) and "ticket.rated" is emitted.
// A token that does not verify, of another tenant, answered already or
// expired is ErrSurveyInvalid; a score out of the kind's range
// ErrInvalid. Nothing is written then.
func (s *Tickets) AnswerSurvey(ctx context.Context, token string, score int) (_ *Ticket, err error) {
	ctx, span := s.sc.Span(ctx, "tickets.Tickets.AnswerSurvey")
	defer span.End(&err)

	return s.SubmitSurvey(ctx, token, SurveyAnswer{Score: score})
}

// openSurvey verifies token for the scope's tenant and finds its survey
// still answerable: it returns the claims and the survey's ticket.
func (s *Tickets) openSurvey(ctx context.Context, token, doing string) (surveyClaims, core.ID, error) {
	tenant, err := s.sc.Tenant()
	if err != nil {
		return surveyClaims{}, core.NilID, err
	}
	c, err := parseSurvey(optionsOf(s.sc).Keys, token)
	if err != nil || c.Tenant != tenant {
		return surveyClaims{}, core.NilID, ErrSurveyInvalid
	}
	var ticketID core.ID
	var answered sql.NullTime
	var expires time.Time
	err = s.sc.Q().QueryRow(ctx, `SELECT ticket_id, answered_at, expires_at FROM crm_ticket_surveys WHERE tenant_id = ? AND id = ?`,
		tenant, c.Survey).Scan(&ticketID, &answered, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return c, core.NilID, fmt.Errorf("%w: it was replaced by a newer link or its ticket is gone", ErrSurveyInvalid)
	}
	if err != nil {
		return c, core.NilID, store.Wrap(err, doing)
	}
	// The token's own expiry and the row's are one; the token's is checked
	// too, so a row's clock cannot outlive what was signed.
	if answered.Valid {
		return c, core.NilID, fmt.Errorf("%w: it was answered already", ErrSurveyInvalid)
	}
	now := s.sc.Runtime().Now()
	if !now.Before(expires) || now.Unix() >= c.Expires {
		return c, core.NilID, fmt.Errorf("%w: it expired", ErrSurveyInvalid)
	}
	return c, ticketID, nil
}

// SurveyQuestion tells what a survey link asks (CSAT or NPS), for the page
// that shows the question before SubmitSurvey: a link that does not
// verify, of another tenant, answered already, replaced or expired is
// ErrSurveyInvalid, as SubmitSurvey would answer. It writes nothing and
// needs no permission (the token is the authority).
func (s *Tickets) SurveyQuestion(ctx context.Context, token string) (_ SurveyKind, err error) {
	ctx, span := s.sc.Span(ctx, "tickets.Tickets.SurveyQuestion")
	defer span.End(&err)

	c, _, err := s.openSurvey(ctx, token, "read ticket survey")
	if err != nil {
		return "", err
	}
	return c.Kind, nil
}

// SubmitSurvey is AnswerSurvey with the customer's comment (see
// SurveyAnswer): the score, and the comment's message when there is one,
// are written in one transaction ("ticket.rated" names the message, and
// "ticket.message_added" is emitted for it). A score out of the kind's
// range and a comment too long or not storable text are ErrInvalid (a
// *core.ValidationError listing both), and nothing is written.
func (s *Tickets) SubmitSurvey(ctx context.Context, token string, a SurveyAnswer) (_ *Ticket, err error) {
	ctx, span := s.sc.Span(ctx, "tickets.Tickets.SubmitSurvey")
	defer span.End(&err)

	c, ticketID, err := s.openSurvey(ctx, token, "answer ticket survey")
	if err != nil && c.Survey == core.NilID {
		return nil, err // not a token of this tenant: nothing more to say
	}
	v := &core.ValidationError{}
	if lo, hi, _ := c.Kind.ScoreRange(); a.Score < lo || a.Score > hi {
		v.Add("score", "a %s score is %d to %d", c.Kind, lo, hi)
	}
	comment := strings.TrimSpace(a.Comment)
	if !core.StorableText(comment) {
		v.Add("comment", "is not storable text (valid UTF-8 without NUL)")
	} else if len(comment) > MaxSurveyComment {
		v.Add("comment", "is longer than %d bytes", MaxSurveyComment)
	}
	if verr := v.Err(); verr != nil {
		return nil, verr
	}
	if err != nil {
		return nil, err
	}
	tenant, _ := s.sc.Tenant()
	score := a.Score
	trusted, err := guardOf(context.Background(), s.sc)
	if err != nil {
		return nil, err
	}
	return s.changeAs(ctx, trusted, ticketID, anyVersion, "answer ticket survey", false,
		func(ctx context.Context, tx *store.Tx, _ *guard, t *Ticket, now time.Time) ([]func(*Ticket) (string, any), error) {
			// Single use: only the first answer finds the row unanswered,
			// however many arrive at once.
			res, err := tx.Q().Exec(ctx, `UPDATE crm_ticket_surveys SET answered_at = ?, score = ?
				WHERE tenant_id = ? AND id = ? AND answered_at IS NULL AND expires_at > ?`, now, score, tenant, c.Survey, now)
			if err != nil {
				return nil, err
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				return nil, fmt.Errorf("%w: it was answered already", ErrSurveyInvalid)
			}
			sc := score
			if c.Kind == SurveyCSAT {
				t.CSAT = &sc
			} else {
				t.NPS = &sc
			}
			rated := Rated{SurveyID: c.Survey, Kind: c.Kind, Score: score}
			var events []func(*Ticket) (string, any)
			if comment != "" {
				// The customer's words, without the effects of their
				// message: the survey follows a solved ticket and does
				// not reopen it.
				msg := &Message{ID: core.NewID(), TicketID: t.ID, Public: true, AuthorKind: AuthorCustomer, Body: comment,
					Attachments: []Attachment{}, CreatedAt: now}
				if err := insertMessage(ctx, tx.Q(), tenant, msg); err != nil {
					return nil, err
				}
				rated.CommentID = &msg.ID
				events = append(events, func(t *Ticket) (string, any) {
					return EventTicketMessageAdded, MessageAdded{TicketID: t.ID, Number: t.Number, Message: msg}
				})
			}
			return append(events, func(t *Ticket) (string, any) {
				rated.TicketID, rated.Number = t.ID, t.Number
				return EventTicketRated, rated
			}), nil
		})
}
