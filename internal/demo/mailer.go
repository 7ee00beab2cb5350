package demo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/crmkit/crmkit/campaigns"
)

// Recorder is a campaigns.Mailer that sends nothing: it keeps the
// messages it is given (their recipients and subjects), and writes each
// to Dir as a .eml file when Dir is set.
type Recorder struct {
	// Dir, when set, receives one file per message.
	Dir string

	mu       sync.Mutex
	messages []Recorded
}

// Recorded is one message a Recorder was given.
type Recorded struct {
	To, Subject string
}

var _ campaigns.Mailer = (*Recorder)(nil)

// Send records m.
func (r *Recorder) Send(_ context.Context, m *campaigns.Message) error {
	if r.Dir != "" {
		if err := os.MkdirAll(r.Dir, 0o755); err != nil {
			return err
		}
		name := strings.NewReplacer("@", "_at_", "/", "_", "\\", "_").Replace(m.MessageID)
		if err := os.WriteFile(filepath.Join(r.Dir, name+".eml"), eml(m), 0o644); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.messages = append(r.messages, Recorded{To: m.To, Subject: m.Subject})
	r.mu.Unlock()
	return nil
}

// Messages returns what was recorded, in the order sent.
func (r *Recorder) Messages() []Recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Recorded(nil), r.messages...)
}

// eml is m as a simple MIME message, for looking at.
func eml(m *campaigns.Message) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %q <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s>\r\n", m.FromName, m.FromAddress, m.To, m.Subject, m.MessageID)
	keys := make([]string, 0, len(m.Headers))
	for k := range m.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\r\n", k, m.Headers[k])
	}
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=demo\r\n\r\n")
	fmt.Fprintf(&b, "--demo\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n", m.Text)
	fmt.Fprintf(&b, "--demo\r\nContent-Type: text/html; charset=utf-8\r\n\r\n%s\r\n--demo--\r\n", m.HTML)
	return []byte(b.String())
}
