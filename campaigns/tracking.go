package campaigns

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/html"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// Tracking: every link of a message's HTML goes through a signed link of
// its recipient (Options.TrackingURL + "/c/" + token), which redirects to
// the original URL, and an invisible image (… + "/o/" + token) counts the
// opening. The token is MAC'd (HMAC-SHA256 with a key derived from the
// token keys): it names the tenant, the recipient and, for a click, the
// URL the message held — so a redirect only ever goes to a URL crmkit put
// in a message (no open redirect), and an altered token is refused. A URL
// that carries personal data (a template that puts the address in a
// link) carries it in its tracking link too: keep such data out of links.

// Interaction kinds.
const (
	KindOpen  = "open"
	KindClick = "click"
)

// ErrLinkInvalid is the error of a tracking token that does not verify
// (altered, forged, another tenant's, or not a token at all).
var ErrLinkInvalid = fmt.Errorf("%w: the link is not valid", core.ErrInvalid)

// linkClaims are a tracking token's contents.
type linkClaims struct {
	Tenant    string  `json:"t"`
	Recipient core.ID `json:"r"`
	Kind      string  `json:"k"`
	URL       string  `json:"u,omitempty"`
}

// linkKey derives the key of tracking links from a token key, so that a
// link and a consent token never verify as each other.
func linkKey(key []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("crmkit campaigns tracking links v1"))
	return m.Sum(nil)
}

func signLink(key []byte, c linkClaims) (string, error) {
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, linkKey(key))
	m.Write(payload)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(m.Sum(nil)), nil
}

// MaxLinkToken bounds the length of a tracking token.
const MaxLinkToken = 4096

// ParseLink verifies a tracking token against keys and returns its
// tenant, recipient, kind and URL. Exported for fuzzing and for the HTTP
// layer, which learns the tenant from it before calling Open or Click.
func ParseLink(keys [][]byte, token string) (tenant string, recipient core.ID, kind, target string, err error) {
	c, err := parseLink(keys, token)
	return c.Tenant, c.Recipient, c.Kind, c.URL, err
}

func parseLink(keys [][]byte, token string) (linkClaims, error) {
	var c linkClaims
	if len(token) > MaxLinkToken {
		return c, ErrLinkInvalid
	}
	p, s, ok := strings.Cut(token, ".")
	if !ok {
		return c, ErrLinkInvalid
	}
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(p)
	sum, err2 := enc.DecodeString(s)
	if err1 != nil || err2 != nil {
		return c, ErrLinkInvalid
	}
	valid := false
	for _, k := range keys {
		m := hmac.New(sha256.New, linkKey(k))
		m.Write(payload)
		valid = valid || hmac.Equal(m.Sum(nil), sum)
	}
	if !valid {
		return c, ErrLinkInvalid
	}
	if err := json.Unmarshal(payload, &c); err != nil || c.Tenant == "" || c.Recipient == core.NilID ||
		(c.Kind != KindOpen && c.Kind != KindClick) || (c.Kind == KindClick) != (c.URL != "") {
		return linkClaims{}, ErrLinkInvalid
	}
	return c, nil
}

// track rewrites a rendered HTML body for its recipient: each http(s)
// link but the unsubscribe link goes through a click token, and the open
// pixel is added at the end of <body>.
func track(body string, base string, key []byte, tenant string, recipient core.ID, unsubscribe string) (string, error) {
	base = strings.TrimSuffix(base, "/")
	z := html.NewTokenizer(strings.NewReader(body))
	var out bytes.Buffer
	pixel := func() error {
		tok, err := signLink(key, linkClaims{Tenant: tenant, Recipient: recipient, Kind: KindOpen})
		if err != nil {
			return err
		}
		fmt.Fprintf(&out, `<img src="%s/o/%s" width="1" height="1" alt="" style="display:block;border:0">`, base, tok)
		return nil
	}
	added := false
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if errors.Is(z.Err(), io.EOF) {
				if !added {
					if err := pixel(); err != nil {
						return "", err
					}
				}
				return out.String(), nil
			}
			return "", z.Err()
		case html.StartTagToken, html.SelfClosingTagToken:
			t := z.Token()
			if t.Data == "a" {
				for i, a := range t.Attr {
					if a.Key != "href" || a.Val == unsubscribe {
						continue
					}
					u, err := url.Parse(a.Val)
					if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
						continue
					}
					tok, err := signLink(key, linkClaims{Tenant: tenant, Recipient: recipient, Kind: KindClick, URL: a.Val})
					if err != nil {
						return "", err
					}
					t.Attr[i].Val = base + "/c/" + tok
				}
			}
			out.WriteString(t.String())
		case html.EndTagToken:
			t := z.Token()
			if t.Data == "body" && !added {
				if err := pixel(); err != nil {
					return "", err
				}
				added = true
			}
			out.Write(z.Raw())
		default:
			out.Write(z.Raw())
		}
	}
}

// Visit is what the host's HTTP handler knows about a request to a
// tracking link.
type Visit struct {
	UserAgent string
	// IP is the client's address, used for the machine heuristics only
	// (never stored).
	IP string
	// Head is true for a HEAD request (scanners check links with HEAD).
	Head bool
}

// scanners are user-agent fragments of link checkers and mail security
// gateways.
var scanners = []string{"bot", "spider", "crawler", "scan", "preview", "barracuda", "proofpoint", "mimecast", "symantec",
	"python-requests", "curl/", "wget/", "go-http-client", "java/", "libwww", "headless"}

// machineReason says why a visit was made by a program, or "".
// Opens from Apple's network (17.0.0.0/8) are Mail Privacy Protection
// fetching images in advance; a click within machineWindow of the send,
// a HEAD request or a scanner's user agent is a link checker.
func machineReason(kind string, v Visit, sentAt *time.Time, now time.Time) string {
	ua := strings.ToLower(v.UserAgent)
	switch {
	case v.Head:
		return "HEAD request"
	case ua == "":
		return "no user agent"
	}
	for _, s := range scanners {
		if strings.Contains(ua, s) {
			return "scanner user agent"
		}
	}
	if ip := net.ParseIP(v.IP); ip != nil && kind == KindOpen {
		if _, apple, _ := net.ParseCIDR("17.0.0.0/8"); apple.Contains(ip) {
			return "mail privacy proxy"
		}
	}
	if kind == KindClick && sentAt != nil && now.Sub(*sentAt) < machineWindow {
		return "clicked within seconds of sending"
	}
	return ""
}

// machineWindow is how soon after sending a click counts as a scanner's.
const machineWindow = 5 * time.Second

// Open records the opening of a message from its open-pixel token (for
// the host's handler of Options.TrackingURL + "/o/{token}"), and emits
// "email.opened" when a person (not a program) opened it. A token of another tenant than this CRM's, or one that
// does not verify, is ErrLinkInvalid.
func (s *Campaigns) Open(ctx context.Context, token string, v Visit) (err error) {
	ctx, span := s.sc.Span(ctx, "campaigns.Campaigns.Open")
	defer span.End(&err)

	_, err = s.visit(ctx, token, KindOpen, v)
	return err
}

// Click records a click from a click token (for the handler of
// Options.TrackingURL + "/c/{token}") and returns the URL to redirect to:
// the one the message held. It emits "email.clicked" for a person's
// click.
func (s *Campaigns) Click(ctx context.Context, token string, v Visit) (_ string, err error) {
	ctx, span := s.sc.Span(ctx, "campaigns.Campaigns.Click")
	defer span.End(&err)

	return s.visit(ctx, token, KindClick, v)
}

func (s *Campaigns) visit(ctx context.Context, token, kind string, v Visit) (string, error) {
	tenant, err := s.sc.Tenant()
	if err != nil {
		return "", err
	}
	c, err := parseLink(optionsOf(s.sc).consent.Keys, token)
	if err != nil || c.Tenant != tenant || c.Kind != kind {
		return "", ErrLinkInvalid
	}
	// Clicks and opens arrive in bursts, one request each: on SQLite those
	// waiting together share a commit (each in its own savepoint).
	err = s.sc.WriteGrouped(ctx, "campaigns.visit", func(ctx context.Context, tx *store.Tx) error {
		q := tx.Q()
		var campaign core.ID
		var contact *core.ID
		var sent sql.NullTime
		r, err := scanRecipient(q.QueryRow(ctx, `SELECT `+recipientColumns+` FROM crm_campaign_recipients r WHERE r.tenant_id = ? AND r.id = ?`,
			tenant, c.Recipient))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrLinkInvalid // the campaign was deleted
		}
		if err != nil {
			return err
		}
		campaign, contact = r.CampaignID, r.ContactID
		if r.SentAt != nil {
			sent = sql.NullTime{Time: *r.SentAt, Valid: true}
		}
		now := tx.Runtime().Now()
		machine := machineReason(kind, v, timeOrNil(sent), now)
		if _, err := q.Exec(ctx, `INSERT INTO crm_campaign_interactions (tenant_id, id, campaign_id, recipient_id, kind, url, machine, at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, tenant, core.NewID(), campaign, c.Recipient, kind, c.URL, machine, now); err != nil {
			return err
		}
		if machine != "" || contact == nil {
			return nil
		}
		typ, payload := EventEmailOpened, any(EmailOpened{CampaignID: campaign, RecipientID: c.Recipient})
		if kind == KindClick {
			typ, payload = EventEmailClicked, EmailClicked{CampaignID: campaign, RecipientID: c.Recipient, URL: c.URL}
		}
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: typ, SubjectType: "contact", SubjectID: *contact, OccurredAt: now,
			Data: store.JSON(payload)})
	})
	if err != nil {
		return "", store.Wrap(err, "track "+kind)
	}
	return c.URL, nil
}

// LinkTenant returns the tenant a tracking token of this CRM's keys was
// made for: what a public endpoint binds to before it calls Open or
// Click there. A token that does not verify is ErrLinkInvalid.
func (s *Campaigns) LinkTenant(token string) (string, error) {
	c, err := parseLink(optionsOf(s.sc).consent.Keys, token)
	return c.Tenant, err
}
