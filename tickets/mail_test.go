package tickets_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/tickets"
)

// fixture reads testdata/mail/name.eml.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "mail", name+".eml"))
	require.NoError(t, err)
	return b
}

func parse(t *testing.T, name string) *tickets.Mail {
	t.Helper()
	m, err := tickets.ParseMail(bytes.NewReader(fixture(t, name)), tickets.ParseOptions{})
	require.NoError(t, err)
	return m
}

// Each fixture reads as a person's mail or a machine's, with its author,
// thread ids, subject, text (decoded from its charset, HTML made text)
// and files.
func TestParseMail(t *testing.T) {
	t.Parallel()
	t.Run("new request: the plain alternative, QP and an encoded subject", func(t *testing.T) {
		m := parse(t, "new_request")
		require.Empty(t, m.Auto)
		require.Equal(t, tickets.MailAddress{Name: "Ada Lovelace", Email: "ada@example.com"}, m.From)
		require.Equal(t, "CAF7m1q=new-request-0001@mail.example.com", m.MessageID)
		require.Equal(t, "Printer on fire – München office", m.Subject)
		require.Equal(t, "en-GB", m.Language)
		require.False(t, m.FromHTML)
		require.Equal(t, "Hello,\n\nthe printer in the München office is on fire again. Could someone have a look before noon?\n\nThanks,\nAda", m.Text)
		require.Empty(t, m.Attachments)
		require.Equal(t, "2026-03-02T07:59:03Z", m.Date.Format("2006-01-02T15:04:05Z07:00"))
	})
	t.Run("a reply names its thread", func(t *testing.T) {
		m := parse(t, "reply_in_reply_to")
		require.Equal(t, []string{"CAF7m1q=new-request-0001@mail.example.com"}, m.InReplyTo)
		require.Equal(t, []string{"CAF7m1q=new-request-0001@mail.example.com"}, m.References)
		require.True(t, strings.HasPrefix(m.Text, "It is out now"))
	})
	t.Run("Outlook: ISO-8859-1 read as Windows-1252, a reversed display name", func(t *testing.T) {
		m := parse(t, "outlook_reply")
		require.Equal(t, "Lovelace, Ada", m.From.Name)
		require.Equal(t, []string{"reply-1.agent@support.example"}, m.InReplyTo)
		require.Empty(t, m.References)
		require.Equal(t, "de-DE", m.Language)
		require.Contains(t, m.Text, "Danke für die schnelle Antwort! Der Techniker kostet 80 €, richtig?")
		require.Contains(t, m.Text, "Grüße")
	})
	t.Run("Windows-1252 8-bit body and encoded words", func(t *testing.T) {
		m := parse(t, "windows1252")
		require.Equal(t, tickets.MailAddress{Name: "Renée Dupré", Email: "renee@example.fr"}, m.From)
		require.Equal(t, "Facture “urgente”", m.Subject)
		require.Equal(t, "Bonjour,\n\nla facture “F-2026-03” indique 120 € – payée déjà.\n\nRenée", m.Text)
	})
	t.Run("HTML only: made text", func(t *testing.T) {
		m := parse(t, "html_only")
		require.True(t, m.FromHTML)
		require.Contains(t, m.Text, "Our order *#A-778* arrived broken & the box was wet.\nPhotos: here ( https://photos.example.com/a778 ).")
		require.Contains(t, m.Text, "https://photos.example.com/a778")
		require.NotContains(t, m.Text, "<p>")
		require.NotContains(t, m.Text, "color")
	})
	t.Run("attachments: metadata, RFC 2231 names, inline images", func(t *testing.T) {
		m := parse(t, "attachment")
		require.Equal(t, "Please check the attached invoice, the total looks wrong.", m.Text)
		require.Len(t, m.Attachments, 2)
		require.Equal(t, tickets.MailAttachment{Name: "attachment.png", ContentType: "image/png", Size: 67, Part: "1.2"}, m.Attachments[0])
		require.Equal(t, tickets.MailAttachment{Name: "Rechnung März 2026.pdf", ContentType: "application/pdf", Size: 1540, Part: "2"}, m.Attachments[1])
		kept, err := tickets.ParseMail(bytes.NewReader(fixture(t, "attachment")), tickets.ParseOptions{KeepContent: true})
		require.NoError(t, err)
		require.True(t, bytes.HasPrefix(kept.Attachments[1].Content, []byte("%PDF-1.4")))
		require.Len(t, kept.Attachments[1].Content, 1540)
	})
	for name, reason := range map[string]tickets.IgnoreReason{
		"out_of_office": tickets.IgnoreAutoSubmitted,
		"x_autoreply":   tickets.IgnoreAutoReply,
		"dsn_bounce":    tickets.IgnoreBounce,
	} {
		t.Run("automatic: "+name, func(t *testing.T) {
			require.Equal(t, reason, parse(t, name).Auto)
		})
	}
	t.Run("automatic: headers one by one", func(t *testing.T) {
		base := "From: Ada <ada@example.com>\r\nSubject: hi\r\nMessage-ID: <x@example.com>\r\n"
		for hdr, want := range map[string]tickets.IgnoreReason{
			"Auto-Submitted: auto-generated\r\n":                          tickets.IgnoreAutoSubmitted,
			"Auto-Submitted: auto-replied; owner-email=a@example.com\r\n": tickets.IgnoreAutoSubmitted,
			"Auto-Submitted: no\r\n":                                      "",
			"Auto-Submitted: No (a person wrote this)\r\n":                "",
			"X-Autorespond: yes\r\n":                                      tickets.IgnoreAutoReply,
			"Precedence: bulk\r\n":                                        tickets.IgnorePrecedence,
			"Precedence: list\r\n":                                        tickets.IgnorePrecedence,
			"Precedence: auto_reply\r\n":                                  tickets.IgnorePrecedence,
			"Precedence: first-class\r\n":                                 "",
			"Return-Path: <>\r\n":                                         tickets.IgnoreNullSender,
			"Return-Path: <ada@example.com>\r\n":                          "",
			"List-Id: <users.lists.example.com>\r\n":                      "",
			"Content-Type: multipart/report; report-type=disposition-notification; boundary=x\r\n": tickets.IgnoreReport,
		} {
			m, err := tickets.ParseMail(strings.NewReader(base+hdr+"\r\nbody\r\n"), tickets.ParseOptions{})
			require.NoError(t, err, hdr)
			require.Equal(t, want, m.Auto, hdr)
		}
		m, err := tickets.ParseMail(strings.NewReader(base+"List-Id: <users.lists.example.com>\r\n\r\nbody\r\n"), tickets.ParseOptions{IgnoreLists: true})
		require.NoError(t, err)
		require.Equal(t, tickets.IgnoreMailingList, m.Auto)
		m, err = tickets.ParseMail(strings.NewReader("From: postmaster@example.com\r\nSubject: hi\r\n\r\nbody\r\n"), tickets.ParseOptions{})
		require.NoError(t, err)
		require.Equal(t, tickets.IgnoreMailerDaemon, m.Auto)
	})
	t.Run("Reply-To as the author when asked", func(t *testing.T) {
		raw := "From: Shop <no-reply@shop.example>\r\nReply-To: Grace Hopper <grace@example.com>\r\nSubject: Contact form\r\n\r\nHello\r\n"
		m, err := tickets.ParseMail(strings.NewReader(raw), tickets.ParseOptions{})
		require.NoError(t, err)
		require.Equal(t, "no-reply@shop.example", m.From.Email)
		m, err = tickets.ParseMail(strings.NewReader(raw), tickets.ParseOptions{UseReplyTo: true})
		require.NoError(t, err)
		require.Equal(t, tickets.MailAddress{Name: "Grace Hopper", Email: "grace@example.com"}, m.From)
	})
	t.Run("forgiving: a From that is not RFC 5322, no Message-ID", func(t *testing.T) {
		raw := "From: Ada Lovelace (Analytical Engines) ada@example.com, \r\nSubject: hi\r\n\r\nHello\r\n"
		m, err := tickets.ParseMail(strings.NewReader(raw), tickets.ParseOptions{})
		require.NoError(t, err)
		require.Equal(t, "ada@example.com", m.From.Email)
		require.True(t, strings.HasSuffix(m.MessageID, "@crmkit.invalid"), m.MessageID)
		again, err := tickets.ParseMail(strings.NewReader(raw), tickets.ParseOptions{})
		require.NoError(t, err)
		require.Equal(t, m.MessageID, again.MessageID, "a mail without a Message-ID keeps one key across deliveries")
	})
	t.Run("at most MaxAttachments files, the rest counted", func(t *testing.T) {
		var sb strings.Builder
		sb.WriteString("From: ada@example.com\r\nSubject: files\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee files\r\n")
		for i := range tickets.MaxAttachments + 5 {
			fmt.Fprintf(&sb, "--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"f%d.pdf\"\r\n\r\n%%PDF\r\n", i)
		}
		sb.WriteString("--b--\r\n")
		m, err := tickets.ParseMail(strings.NewReader(sb.String()), tickets.ParseOptions{})
		require.NoError(t, err)
		require.Len(t, m.Attachments, tickets.MaxAttachments)
		require.Equal(t, 5, m.Dropped)
		require.Equal(t, "f49.pdf", m.Attachments[49].Name)
		require.Equal(t, "see files", m.Text)
	})
	t.Run("a long body is cut with a note", func(t *testing.T) {
		raw := "From: ada@example.com\r\nSubject: long\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + strings.Repeat("ä", tickets.MaxBodyLen)
		m, err := tickets.ParseMail(strings.NewReader(raw), tickets.ParseOptions{})
		require.NoError(t, err)
		require.LessOrEqual(t, len(m.Text), tickets.MaxBodyLen)
		require.True(t, utf8.ValidString(m.Text))
		require.Contains(t, m.Text, "the rest of this mail was cut")
		// Past what is read of a part, a cut in a character does not turn
		// the text into another charset.
		raw = "From: ada@example.com\r\nSubject: long\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + strings.Repeat("€", 150_000)
		m, err = tickets.ParseMail(strings.NewReader(raw), tickets.ParseOptions{})
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(m.Text, "€€€"), m.Text[:12])
	})
}

// Mail that cannot become a ticket is ErrInvalid, naming the problem and
// not the mail's contents.
func TestParseMailBadInput(t *testing.T) {
	t.Parallel()
	for name, field := range map[string]string{
		"no_from":        "from",
		"garbage_header": "header",
		"broken_mime":    "mime",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := tickets.ParseMail(bytes.NewReader(fixture(t, name)), tickets.ParseOptions{})
			require.Equal(t, []string{field}, fieldsOf(t, err))
			require.NotContains(t, err.Error(), "ada@example.com")
		})
	}
	for name, raw := range map[string]string{
		"multipart without boundary": "From: a@example.com\r\nContent-Type: multipart/mixed\r\n\r\nx\r\n",
		"bad base64":                 "From: a@example.com\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n",
		"nested too deep": "From: a@example.com\r\n" + strings.Repeat("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n", 20) +
			"Content-Type: text/plain\r\n\r\nhi\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := tickets.ParseMail(strings.NewReader(raw), tickets.ParseOptions{})
			require.Equal(t, []string{"mime"}, fieldsOf(t, err))
		})
	}
	t.Run("a From that is no address", func(t *testing.T) {
		_, err := tickets.ParseMail(strings.NewReader("From: Ada Lovelace\r\nSubject: hi\r\n\r\nHello\r\n"), tickets.ParseOptions{})
		require.Equal(t, []string{"from"}, fieldsOf(t, err))
	})
	t.Run("a 50 MB mail: refused after the limit, not read whole", func(t *testing.T) {
		r := &counting{r: &endless{prefix: []byte("From: ada@example.com\r\nSubject: big\r\nContent-Type: application/octet-stream\r\n\r\n"), n: 50 << 20}}
		_, err := tickets.ParseMail(r, tickets.ParseOptions{})
		require.Equal(t, []string{"mail"}, fieldsOf(t, err))
		require.ErrorIs(t, err, core.ErrInvalid)
		require.Equal(t, int64(tickets.DefaultMaxMailSize+1), r.read, "read up to the limit and one byte more")
	})
}

// endless is a mail of n bytes: prefix, then "x".
type endless struct {
	prefix []byte
	n, off int
}

func (e *endless) Read(p []byte) (int, error) {
	if e.off >= e.n {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && e.off < e.n {
		if e.off < len(e.prefix) {
			p[n] = e.prefix[e.off]
		} else {
			p[n] = 'x'
		}
		n++
		e.off++
	}
	return n, nil
}

type counting struct {
	r    io.Reader
	read int64
}

func (c *counting) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += int64(n)
	return n, err
}
