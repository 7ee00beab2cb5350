// Package mailtest runs a real SMTP server in the test process
// (github.com/emersion/go-smtp on 127.0.0.1), for tests of what crmkit
// sends: messages arrive over the protocol and are kept for the test to
// parse and assert. A test can have the server refuse recipients (a 5xx
// or 4xx reply) or drop the connection.
package mailtest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-smtp"
)

// Message is one message the server accepted.
type Message struct {
	From string // MAIL FROM (the return path)
	To   string // RCPT TO
	Data []byte
}

// Parsed is a message's headers and parts, read back with go-message.
type Parsed struct {
	Header mail.Header
	Text   string
	HTML   string
}

// Parse reads m's headers and its text and HTML parts.
func (m Message) Parse() (*Parsed, error) {
	r, err := mail.CreateReader(bytes.NewReader(m.Data))
	if err != nil {
		return nil, err
	}
	out := &Parsed{Header: r.Header}
	for {
		p, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		h, ok := p.Header.(*mail.InlineHeader)
		if !ok {
			continue
		}
		ct, _, _ := h.ContentType()
		b, err := io.ReadAll(p.Body)
		if err != nil {
			return nil, err
		}
		switch ct {
		case "text/plain":
			out.Text = string(b)
		case "text/html":
			out.HTML = string(b)
		}
	}
	return out, nil
}

// Server is an SMTP server for one test.
type Server struct {
	// Addr is host:port of the server.
	Addr string
	Host string
	Port int

	mu       sync.Mutex
	messages []Message
	refuse   map[string]*smtp.SMTPError
	// refuseOnce are refusals that apply to one attempt each.
	refuseOnce map[string][]*smtp.SMTPError
	dropAfter  int // drop the connection after this many accepted messages (0: never)
	accepted   int
	sessions   int
	delay      time.Duration
}

// Start starts a server on 127.0.0.1 that stops when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{refuse: map[string]*smtp.SMTPError{}, refuseOnce: map[string][]*smtp.SMTPError{}}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		s.mu.Lock()
		s.sessions++
		s.mu.Unlock()
		return &session{s: s, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.MaxRecipients = 50
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailtest: listen: %v", err)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	s.Addr = l.Addr().String()
	s.Host = "127.0.0.1"
	s.Port = l.Addr().(*net.TCPAddr).Port
	return s
}

// Refuse makes the server refuse RCPT TO addr with code (550: for good,
// 451: try later), every time.
func (s *Server) Refuse(addr string, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse[strings.ToLower(addr)] = &smtp.SMTPError{Code: code, Message: fmt.Sprintf("refused by the test (%d)", code)}
}

// RefuseOnce makes the server refuse RCPT TO addr with code the next
// time only.
func (s *Server) RefuseOnce(addr string, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := strings.ToLower(addr)
	s.refuseOnce[a] = append(s.refuseOnce[a], &smtp.SMTPError{Code: code, Message: fmt.Sprintf("refused once by the test (%d)", code)})
}

// DropAfter makes the server close the connection, without an answer,
// at the DATA of the message after n more accepted ones.
func (s *Server) DropAfter(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropAfter = s.accepted + n + 1
}

// Delay makes the server wait d before answering each DATA.
func (s *Server) Delay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Messages returns the messages accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// To returns the messages accepted for addr.
func (s *Server) To(addr string) []Message {
	var out []Message
	for _, m := range s.Messages() {
		if strings.EqualFold(m.To, addr) {
			out = append(out, m)
		}
	}
	return out
}

// Sessions counts the connections the server took.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

type session struct {
	s    *Server
	conn *smtp.Conn
	from string
	to   []string
}

func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	a := strings.ToLower(to)
	if once := x.s.refuseOnce[a]; len(once) > 0 {
		x.s.refuseOnce[a] = once[1:]
		return once[0]
	}
	if err := x.s.refuse[a]; err != nil {
		return err
	}
	x.to = append(x.to, to)
	return nil
}

// errDrop closes the connection without an answer.
var errDrop = errors.New("mailtest: connection dropped by the test")

func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	delay := x.s.delay
	if x.s.dropAfter > 0 && x.s.accepted+1 == x.s.dropAfter {
		x.s.dropAfter = 0
		x.s.mu.Unlock()
		_ = x.conn.Conn().Close()
		return errDrop
	}
	x.s.mu.Unlock()
	time.Sleep(delay)
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	for _, to := range x.to {
		x.s.messages = append(x.s.messages, Message{From: x.from, To: to, Data: b})
		x.s.accepted++
	}
	return nil
}
