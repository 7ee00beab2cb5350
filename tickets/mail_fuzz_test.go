package tickets_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/tickets"
)

// FuzzInbound feeds the mail parser of Inbound (the part that needs no
// database) arbitrary bytes, seeded with the test mails: it never
// panics, refuses with ErrInvalid only, and what it returns can be stored
// as a ticket (valid text within the limits, an author, a key).
//
//	go test -run XXX -fuzz FuzzInbound -fuzztime 5m ./tickets
func FuzzInbound(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "mail", "*.eml"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("From: a@example.com\r\nContent-Type: multipart/alternative; boundary=x\r\n\r\n--x\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n--x--\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := tickets.ParseMail(bytes.NewReader(data), tickets.ParseOptions{MaxSize: 1 << 20, KeepContent: true})
		if err != nil {
			if !errors.Is(err, core.ErrInvalid) {
				t.Fatalf("not ErrInvalid: %v", err)
			}
			return
		}
		if m.Auto != "" {
			return
		}
		if m.From.Email == "" || !utf8.ValidString(m.From.Email) {
			t.Fatalf("no author: %q", m.From.Email)
		}
		if m.MessageID == "" || len(m.MessageID) > tickets.MaxMessageIDLen+100 || !core.StorableText(m.MessageID) {
			t.Fatalf("bad key %q", m.MessageID)
		}
		for _, id := range append(m.InReplyTo, m.References...) {
			if id == "" || len(id) > tickets.MaxMessageIDLen || !core.StorableText(id) || strings.ContainsAny(id, " \t\r\n<>") {
				t.Fatalf("bad thread id %q", id)
			}
		}
		if !core.StorableText(m.Subject) || utf8.RuneCountInString(m.Subject) > tickets.MaxSubjectLen || strings.ContainsAny(m.Subject, "\r\n") {
			t.Fatalf("bad subject %q", m.Subject)
		}
		if !core.StorableText(m.Text) || len(m.Text) > tickets.MaxBodyLen {
			t.Fatalf("bad text (%d bytes)", len(m.Text))
		}
		if len(m.Attachments) > tickets.MaxAttachments {
			t.Fatalf("%d attachments", len(m.Attachments))
		}
		for _, a := range m.Attachments {
			if a.Name == "" || !core.StorableText(a.Name) || utf8.RuneCountInString(a.Name) > tickets.MaxNameLen ||
				!core.StorableText(a.ContentType) || a.Size != int64(len(a.Content)) {
				t.Fatalf("bad attachment %+v", a)
			}
		}
	})
}
