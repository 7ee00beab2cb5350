package campaigns

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	gomail "github.com/wneessen/go-mail"
	"golang.org/x/time/rate"
)

// Message is one mail to one recipient.
type Message struct {
	FromName    string
	FromAddress string
	ReplyTo     string
	To          string
	Subject     string
	HTML        string
	Text        string
	// MessageID is the Message-ID header, without angle brackets.
	MessageID string
	// ReturnPath is the envelope sender (MAIL FROM): where bounces go.
	ReturnPath string
	// Headers are further headers: List-Unsubscribe,
	// List-Unsubscribe-Post, the campaign's feedback id.
	Headers map[string]string
}

// Mailer hands messages to a mail server. Send returns nil when the
// server accepted the message, a *SendError when it refused it, and
// another error when the message's fate is unknown (the connection broke
// before the server's answer).
type Mailer interface {
	Send(ctx context.Context, m *Message) error
}

// MailerFunc adapts a function to Mailer.
type MailerFunc func(ctx context.Context, m *Message) error

// Send calls f.
func (f MailerFunc) Send(ctx context.Context, m *Message) error { return f(ctx, m) }

// SendError is a mail server's refusal: Permanent for a 5xx reply (the
// address or the message is refused; sending again will not help), else
// temporary (4xx: try later).
type SendError struct {
	Permanent bool
	// Code is the SMTP reply code (550, 451, …), 0 when unknown.
	Code int
	Err  error
}

func (e *SendError) Error() string {
	kind := "temporary"
	if e.Permanent {
		kind = "permanent"
	}
	return fmt.Sprintf("crm: mail server refused the message (%s, %d): %v", kind, e.Code, e.Err)
}

func (e *SendError) Unwrap() error { return e.Err }

// SMTP is a Mailer over SMTP (github.com/wneessen/go-mail), with a pool
// of up to Connections open connections that are reused between messages.
type SMTP struct {
	// Host and Port of the server (Port defaults to 587).
	Host string
	Port int
	// Username and Password, when set, authenticate (PLAIN, or the best
	// mechanism the server offers when AuthAuto is set).
	Username string
	Password string
	// TLS is the TLS policy: "mandatory" (the default: STARTTLS or fail),
	// "opportunistic", or "none" (a local relay or a test server only).
	TLS string
	// TLSConfig, when set, configures TLS (e.g. RootCAs for a private CA).
	TLSConfig *tls.Config
	// Connections is the size of the pool (default 4).
	Connections int
	// Timeout bounds each connect and each SMTP command (default 30s).
	Timeout time.Duration
	// HELO is the name given in HELO/EHLO (default: go-mail's).
	HELO string
	// Rate, when above zero, bounds the messages this mailer hands to the
	// server per second (in this process: each process that sends keeps
	// its own count), bursts of up to Connections.
	Rate float64
	// DKIM, when set, signs every message (RFC 6376, relaxed/relaxed,
	// github.com/emersion/go-msgauth), covering From, To, Subject, Date,
	// Message-ID, Reply-To, the MIME headers and both List-Unsubscribe
	// headers (RFC 8058 asks for them to be signed).
	DKIM *DKIM

	once    sync.Once
	pool    chan *gomail.Client
	limiter *rate.Limiter
	err     error
}

// DKIM is a signing key of a domain: its public half is published as the
// TXT record <Selector>._domainkey.<Domain>.
type DKIM struct {
	Domain   string
	Selector string
	// Key signs: an *rsa.PrivateKey (2048 bits or more) or an
	// ed25519.PrivateKey.
	Key crypto.Signer
}

// dkimHeaders are the header fields a signature covers.
var dkimHeaders = []string{"From", "To", "Subject", "Date", "Message-Id", "Reply-To", "Mime-Version", "Content-Type",
	"List-Unsubscribe", "List-Unsubscribe-Post"}

// sign adds the DKIM-Signature of msg, as it will be written.
func (d *DKIM) sign(msg *gomail.Msg) error {
	msg.SetBoundary(fmt.Sprintf("crmkit-%x", rand.Uint64())) // the same on both writes
	var b bytes.Buffer
	if _, err := msg.WriteTo(&b); err != nil {
		return err
	}
	signer, err := dkim.NewSigner(&dkim.SignOptions{Domain: d.Domain, Selector: d.Selector, Signer: d.Key,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
		HeaderKeys: dkimHeaders})
	if err != nil {
		return err
	}
	if _, err := io.Copy(signer, &b); err != nil {
		return err
	}
	if err := signer.Close(); err != nil {
		return err
	}
	field := strings.TrimSpace(signer.Signature())
	value, ok := strings.CutPrefix(field, "DKIM-Signature:")
	if !ok {
		return fmt.Errorf("dkim: unexpected signature field")
	}
	msg.SetGenHeaderPreformatted("DKIM-Signature", strings.TrimSpace(value))
	return nil
}

// Check validates the configuration.
func (s *SMTP) Check() error {
	var problems []string
	if s.Host == "" {
		problems = append(problems, "Host is required")
	}
	if s.Port < 0 || s.Port > 65535 {
		problems = append(problems, "Port is not a port")
	}
	switch s.TLS {
	case "", "mandatory", "opportunistic", "none":
	default:
		problems = append(problems, fmt.Sprintf("TLS %q is not mandatory, opportunistic or none", s.TLS))
	}
	if (s.Username == "") != (s.Password == "") {
		problems = append(problems, "Username and Password go together")
	}
	if s.Rate < 0 {
		problems = append(problems, "Rate must not be negative")
	}
	if d := s.DKIM; d != nil && (d.Domain == "" || d.Selector == "" || d.Key == nil) {
		problems = append(problems, "DKIM needs Domain, Selector and Key")
	}
	if len(problems) > 0 {
		return fmt.Errorf("crm: SMTP mailer: %s", strings.Join(problems, "; "))
	}
	return nil
}

func (s *SMTP) init() {
	s.err = s.Check()
	n := s.Connections
	if n <= 0 {
		n = 4
	}
	if s.Rate > 0 {
		s.limiter = rate.NewLimiter(rate.Limit(s.Rate), n)
	}
	s.pool = make(chan *gomail.Client, n)
	for range n {
		s.pool <- nil // a free slot; connected on first use
	}
}

func (s *SMTP) newClient() (*gomail.Client, error) {
	port := s.Port
	if port == 0 {
		port = 587
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	policy := gomail.TLSMandatory
	switch s.TLS {
	case "opportunistic":
		policy = gomail.TLSOpportunistic
	case "none":
		policy = gomail.NoTLS
	}
	opts := []gomail.Option{gomail.WithPort(port), gomail.WithTimeout(timeout), gomail.WithTLSPolicy(policy)}
	if s.TLSConfig != nil {
		opts = append(opts, gomail.WithTLSConfig(s.TLSConfig))
	}
	if s.HELO != "" {
		opts = append(opts, gomail.WithHELO(s.HELO))
	}
	if s.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(s.Username), gomail.WithPassword(s.Password))
	}
	return gomail.NewClient(s.Host, opts...)
}

// Send hands m to the server over a pooled connection (connecting it
// first when needed).
func (s *SMTP) Send(ctx context.Context, m *Message) error {
	s.once.Do(s.init)
	if s.err != nil {
		return s.err
	}
	msg, err := buildMessage(m)
	if err != nil {
		return &SendError{Permanent: true, Err: err}
	}
	if s.limiter != nil {
		if err := s.limiter.Wait(ctx); err != nil {
			return err
		}
	}
	if s.DKIM != nil {
		if err := s.DKIM.sign(msg); err != nil {
			return &SendError{Permanent: true, Err: fmt.Errorf("dkim: %w", err)}
		}
	}
	var c *gomail.Client
	select {
	case c = <-s.pool:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { s.pool <- c }()
	if c == nil {
		if c, err = s.newClient(); err != nil {
			return err
		}
		if err := c.DialWithContext(ctx); err != nil {
			c = nil
			return classify(err)
		}
	}
	if err := c.Send(msg); err != nil {
		var se *gomail.SendError
		if !errors.As(err, &se) || se.ErrorCode() < 400 {
			// No reply from the server: the connection is gone or in an
			// unknown state. Drop it; the next Send connects anew.
			_ = c.Close()
			c = nil
		} else {
			_ = c.Reset()
		}
		return classify(err)
	}
	return nil
}

// Close closes the pool's connections.
func (s *SMTP) Close() error {
	s.once.Do(s.init)
	var errs []error
	for range cap(s.pool) {
		if c := <-s.pool; c != nil {
			errs = append(errs, c.Close())
		}
		defer func() { s.pool <- nil }()
	}
	return errors.Join(errs...)
}

// classify turns go-mail's errors into SendError where the server
// answered.
func classify(err error) error {
	var se *gomail.SendError
	if errors.As(err, &se) && se.ErrorCode() >= 400 {
		return &SendError{Permanent: se.ErrorCode() >= 500, Code: se.ErrorCode(), Err: err}
	}
	return err
}

// buildMessage makes the go-mail message of m.
func buildMessage(m *Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	var err error
	if m.FromName != "" {
		err = msg.FromFormat(m.FromName, m.FromAddress)
	} else {
		err = msg.From(m.FromAddress)
	}
	if err != nil {
		return nil, fmt.Errorf("from: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("to: %w", err)
	}
	if m.ReplyTo != "" {
		if err := msg.ReplyTo(m.ReplyTo); err != nil {
			return nil, fmt.Errorf("reply-to: %w", err)
		}
	}
	if m.ReturnPath != "" {
		if err := msg.EnvelopeFrom(m.ReturnPath); err != nil {
			return nil, fmt.Errorf("return path: %w", err)
		}
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	if m.MessageID != "" {
		msg.SetMessageIDWithValue(m.MessageID)
	}
	for k, v := range m.Headers {
		msg.SetGenHeader(gomail.Header(k), v)
	}
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	return msg, nil
}

// validAddress reports whether s is one plain address (no display name).
func validAddress(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == "" && len(s) <= MaxAddressLen
}
