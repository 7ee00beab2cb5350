package tickets

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // the charsets of inbound mail beyond UTF-8 and ASCII
	gomail "github.com/emersion/go-message/mail"
	"github.com/inbucket/html2text"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/language"

	"github.com/crmkit/crmkit/core"
)

// DefaultMaxMailSize is the largest raw mail Inbound and ParseMail read
// when no other limit is given: 32 MiB, room for the 25 MB attachments
// the big mail providers let through, base64 included.
const DefaultMaxMailSize = 32 << 20

// Limits of the mail parser: how deep multiparts nest and how many parts
// a mail may have (more is ErrInvalid), how many References are looked
// at (the last ones, the nearest in the thread), and how long a
// Message-ID may be (longer ones are not used).
const (
	maxMIMEDepth    = 16
	maxMIMEParts    = 500
	maxReferences   = 100
	MaxMessageIDLen = 500
)

// IgnoreReason says why Inbound ignored a mail: it was sent by a machine
// (an auto-reply, a bounce) or is one of crmkit's own, and opening a
// ticket from it would answer a machine, or start a loop.
type IgnoreReason string

// Reasons to ignore a mail.
const (
	// IgnoreAutoSubmitted: an Auto-Submitted header other than "no"
	// (RFC 3834: auto-replied, auto-generated, auto-notified).
	IgnoreAutoSubmitted IgnoreReason = "auto_submitted"
	// IgnoreAutoReply: an X-Autoreply or X-Autorespond header (vacation
	// programs that predate RFC 3834).
	IgnoreAutoReply IgnoreReason = "auto_reply"
	// IgnorePrecedence: Precedence bulk, junk, list or auto_reply.
	IgnorePrecedence IgnoreReason = "precedence"
	// IgnoreBounce: a delivery status notification (multipart/report;
	// report-type=delivery-status, RFC 3464).
	IgnoreBounce IgnoreReason = "bounce"
	// IgnoreReport: another machine report (read receipts, RFC 8098;
	// feedback reports, RFC 5965).
	IgnoreReport IgnoreReason = "report"
	// IgnoreMailerDaemon: sent by MAILER-DAEMON or postmaster.
	IgnoreMailerDaemon IgnoreReason = "mailer_daemon"
	// IgnoreNullSender: an empty return path (Return-Path: <>), which
	// RFC 3834 and RFC 5321 give bounces and auto-replies.
	IgnoreNullSender IgnoreReason = "null_return_path"
	// IgnoreMailingList: a List-Id header, when InboundOptions.IgnoreLists
	// is set.
	IgnoreMailingList IgnoreReason = "mailing_list"
	// IgnoreOwnAddress: sent from one of InboundOptions.OwnAddresses.
	IgnoreOwnAddress IgnoreReason = "own_address"
	// IgnoreOwnMail: the Message-ID of a mail the host sent for a ticket
	// (Tickets.MailSent) came back in.
	IgnoreOwnMail IgnoreReason = "own_mail"
)

// Mail is an inbound mail as ParseMail reads it.
type Mail struct {
	// MessageID is the mail's Message-ID without angle brackets. A mail
	// without a usable one gets a digest of its sender, date, subject and
	// text ("sha256-…@crmkit.invalid"), so that a second delivery is
	// still recognised.
	MessageID string
	// InReplyTo and References are the Message-IDs the mail answers and
	// the thread it is in (References: at most the last 100), without
	// angle brackets; ids that are not usable are left out.
	InReplyTo  []string
	References []string
	// From is the author (the first address of From; with
	// ParseOptions.UseReplyTo the first of Reply-To when there is one).
	From MailAddress
	// Subject is the decoded subject, one line, at most MaxSubjectLen
	// characters.
	Subject string
	// Date is the Date header (zero when missing or unreadable).
	Date time.Time
	// Language is the Content-Language, a BCP 47 tag in canonical form,
	// or "".
	Language string
	// Text is the body as plain text: the text/plain part (of a
	// multipart/alternative, the plain one), else the HTML part made
	// text. Decoded to UTF-8 (declared charsets, and Windows-1252 for
	// undeclared 8-bit text), lines ended by "\n", at most MaxBodyLen
	// bytes (longer text is cut, with a note).
	Text string
	// FromHTML reports that Text was made from HTML.
	FromHTML bool
	// Attachments are the mail's files: parts with a Content-Disposition
	// of attachment, a file name, or a type that is not text/plain or
	// text/html. At most MaxAttachments; the rest are counted in
	// Dropped.
	Attachments []MailAttachment
	Dropped     int
	// Auto says why the mail is a machine's (an auto-reply, a bounce):
	// "" for a mail a person wrote. An automatic mail's body is not read.
	Auto IgnoreReason
}

// MailAddress is a mail's author.
type MailAddress struct {
	Name  string
	Email string
}

// MailAttachment is a file of an inbound mail.
type MailAttachment struct {
	Name        string
	ContentType string
	// Size is the decoded size in bytes.
	Size int64
	// Part is where the file is in the mail: its MIME part path, "1.2"
	// being the second part of the first part.
	Part string
	// Content is the file's bytes, when ParseOptions.KeepContent is set.
	Content []byte
}

// ParseOptions tune ParseMail.
type ParseOptions struct {
	// MaxSize is the largest raw mail read, in bytes; defaults to
	// DefaultMaxMailSize. A larger mail is ErrInvalid.
	MaxSize int64
	// KeepContent keeps the attachments' bytes (MailAttachment.Content).
	KeepContent bool
	// UseReplyTo makes the Reply-To address the author when the mail has
	// one: what web forms that send from a no-reply address need.
	UseReplyTo bool
	// IgnoreLists makes mail of mailing lists (a List-Id header)
	// automatic (IgnoreMailingList).
	IgnoreLists bool
}

// ParseMail reads one raw RFC 5322 mail of at most opts.MaxSize bytes
// (read through an io.LimitReader: a larger mail is never loaded whole).
// A mail too large, whose header does not parse, without a usable From
// (unless it is automatic, see Mail.Auto), or whose MIME structure is
// broken (a multipart without its boundary or its closing boundary, a
// part that does not decode, nesting deeper than 16, more than 500
// parts) is ErrInvalid with the problem named; the message never quotes
// the mail. Errors of r are returned as they are. It never panics
// (fuzzed).
func ParseMail(r io.Reader, opts ParseOptions) (*Mail, error) {
	max := opts.MaxSize
	if max <= 0 {
		max = DefaultMaxMailSize
	}
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("crm: read inbound mail: %w", err)
	}
	if int64(len(data)) > max {
		return nil, core.Invalid("mail", "is larger than %d bytes (InboundOptions.MaxSize)", max)
	}
	return parseMail(data, opts)
}

func parseMail(data []byte, opts ParseOptions) (m *Mail, err error) {
	// The HTML converter and the charset decoders are other people's
	// code: a panic on a hostile mail is a mail that does not parse.
	defer func() {
		if p := recover(); p != nil {
			m, err = nil, core.Invalid("mime", "the mail does not parse")
		}
	}()
	e, err := message.Read(bytes.NewReader(data))
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return nil, core.Invalid("header", "the mail's header does not parse")
	}
	h := gomail.Header{Header: e.Header}
	m = &Mail{}
	mt, params := mediaType(e.Header)
	from := addressOf(h, "From")
	if opts.UseReplyTo {
		if rt := addressOf(h, "Reply-To"); rt.Email != "" {
			from = rt
		}
	}
	m.From = from
	m.Auto = autoReason(e.Header, mt, params, from.Email)
	if m.Auto == "" && opts.IgnoreLists && strings.TrimSpace(h.Get("List-Id")) != "" {
		m.Auto = IgnoreMailingList
	}
	if m.Auto != "" {
		m.MessageID = firstMsgID(h.Get("Message-Id"))
		return m, nil
	}
	v := &core.ValidationError{}
	if from.Email == "" {
		if strings.TrimSpace(h.Get("From")) == "" {
			v.Add("from", "is required: the mail names no author")
		} else {
			v.Add("from", "is not a mail address")
		}
	}
	subject, _ := h.Subject()
	m.Subject = oneLine(decodeText([]byte(subject)), MaxSubjectLen)
	m.Date, _ = h.Date()
	if !m.Date.IsZero() {
		m.Date = m.Date.UTC()
	}
	if lang := strings.TrimSpace(strings.Split(h.Get("Content-Language"), ",")[0]); lang != "" && len(lang) <= 35 {
		if tag, err := language.Parse(lang); err == nil {
			m.Language = tag.String()
		}
	}
	m.InReplyTo = msgIDs(h.Get("In-Reply-To"))
	if refs := msgIDs(h.Get("References")); len(refs) > maxReferences {
		m.References = refs[len(refs)-maxReferences:]
	} else {
		m.References = refs
	}
	w := &walker{keep: opts.KeepContent}
	c, err := w.entity(e, "", 0)
	if err != nil {
		v.Add("mime", "%s", err.Error())
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	m.Text, m.FromHTML = clip(c.text), c.fromHTML
	for _, a := range c.atts {
		if len(m.Attachments) == MaxAttachments {
			m.Dropped++
			continue
		}
		m.Attachments = append(m.Attachments, a)
	}
	if m.MessageID = firstMsgID(h.Get("Message-Id")); m.MessageID == "" {
		m.MessageID = digestID(m)
	}
	return m, nil
}

// mediaType is the entity's media type, lower case, and its parameters;
// text/plain when it has none (RFC 2045), and the type alone when its
// parameters do not parse.
func mediaType(h message.Header) (string, map[string]string) {
	mt, params, err := h.ContentType()
	if err != nil {
		mt, _, _ = strings.Cut(h.Get("Content-Type"), ";")
		mt, params = strings.ToLower(strings.TrimSpace(mt)), map[string]string{}
	}
	if mt == "" {
		mt = "text/plain"
	}
	return mt, params
}

// addressOf is the first address of header field key, forgiving: a list
// that does not parse as RFC 5322 still gives the address in its last
// <…>, or a bare address.
func addressOf(h gomail.Header, key string) MailAddress {
	raw := h.Get(key)
	if strings.TrimSpace(raw) == "" {
		return MailAddress{}
	}
	if list, err := h.AddressList(key); err == nil && len(list) > 0 && list[0].Address != "" {
		return MailAddress{Name: oneLine(list[0].Name, MaxNameLen), Email: list[0].Address}
	}
	cand := ""
	if i := strings.LastIndexByte(raw, '<'); i >= 0 {
		if j := strings.IndexByte(raw[i:], '>'); j > 0 {
			cand = raw[i+1 : i+j]
		}
	} else {
		cand = bareAddress.FindString(raw)
	}
	if a, err := mail.ParseAddress("<" + strings.TrimSpace(cand) + ">"); err == nil && cand != "" {
		return MailAddress{Email: a.Address}
	}
	return MailAddress{}
}

var bareAddress = regexp.MustCompile(`[^\s<>"(),;:]+@[^\s<>"(),;:]+`)

// autoReason says why a mail is automatic, from its header, media type
// and author; "" for a mail a person wrote.
func autoReason(h message.Header, mt string, params map[string]string, from string) IgnoreReason {
	if mt == "multipart/report" {
		if strings.EqualFold(params["report-type"], "delivery-status") {
			return IgnoreBounce
		}
		return IgnoreReport
	}
	local, _, _ := strings.Cut(from, "@")
	if strings.EqualFold(local, "mailer-daemon") || strings.EqualFold(local, "postmaster") {
		return IgnoreMailerDaemon
	}
	if v := keyword(h.Get("Auto-Submitted")); v != "" && v != "no" {
		return IgnoreAutoSubmitted
	}
	for _, k := range []string{"X-Autoreply", "X-Autorespond"} {
		if v := keyword(h.Get(k)); v != "" && v != "no" && v != "false" {
			return IgnoreAutoReply
		}
	}
	switch keyword(h.Get("Precedence")) {
	case "bulk", "junk", "list", "auto_reply", "auto-reply":
		return IgnorePrecedence
	}
	if h.Has("Return-Path") {
		if rp := strings.TrimSpace(h.Get("Return-Path")); rp == "" || strings.ReplaceAll(rp, " ", "") == "<>" {
			return IgnoreNullSender
		}
	}
	return ""
}

// keyword is a header value's first word, lower case, without parameters
// or comments ("auto-replied; owner-email=…" is "auto-replied").
func keyword(v string) string {
	v, _, _ = strings.Cut(v, ";")
	v, _, _ = strings.Cut(v, "(")
	return strings.ToLower(strings.TrimSpace(v))
}

// msgID matches one <id> of a Message-ID, In-Reply-To or References
// field.
var msgID = regexp.MustCompile(`<([^<>\s]+)>`)

// msgIDs returns the usable ids of a field, in order, each once.
func msgIDs(v string) []string {
	var out []string
	seen := map[string]bool{}
	for _, sub := range msgID.FindAllStringSubmatch(v, -1) {
		if id := sub[1]; usableID(id) && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// firstMsgID is the field's first usable id; a Message-ID written without
// angle brackets is taken as it is.
func firstMsgID(v string) string {
	if ids := msgIDs(v); len(ids) > 0 {
		return ids[0]
	}
	if id := strings.TrimSpace(v); usableID(id) && !strings.ContainsAny(id, "<> \t") {
		return id
	}
	return ""
}

// usableID reports whether id can key a mail: printable, valid UTF-8,
// without spaces, at most MaxMessageIDLen bytes.
func usableID(id string) bool {
	if id == "" || len(id) > MaxMessageIDLen || !utf8.ValidString(id) {
		return false
	}
	for _, r := range id {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == unicode.ReplacementChar {
			return false
		}
	}
	return true
}

// digestID is the stand-in Message-ID of a mail without one.
func digestID(m *Mail) string {
	s := sha256.New()
	for _, part := range []string{m.From.Email, m.Date.Format(time.RFC3339), m.Subject, m.Text} {
		s.Write([]byte(part))
		s.Write([]byte{0})
	}
	for _, a := range m.Attachments {
		fmt.Fprintf(s, "%s\x00%d\x00", a.Name, a.Size)
	}
	return "sha256-" + hex.EncodeToString(s.Sum(nil)[:16]) + "@crmkit.invalid"
}

// walker reads a mail's MIME tree.
type walker struct {
	keep  bool
	parts int
}

// content is what a MIME entity holds for a ticket: its text and files.
type content struct {
	text     string
	fromHTML bool
	atts     []MailAttachment
}

var errMIME = errors.New("the mail's MIME structure is broken")

func (w *walker) entity(e *message.Entity, path string, depth int) (content, error) {
	w.parts++
	if depth > maxMIMEDepth {
		return content{}, fmt.Errorf("multiparts nest deeper than %d", maxMIMEDepth)
	}
	if w.parts > maxMIMEParts {
		return content{}, fmt.Errorf("the mail has more than %d parts", maxMIMEParts)
	}
	mt, params := mediaType(e.Header)
	if strings.HasPrefix(mt, "multipart/") {
		return w.multipart(e, mt, params, path, depth)
	}
	disp, dparams, _ := e.Header.ContentDisposition()
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	text := mt == "text/plain" || mt == "text/html"
	if text && !strings.EqualFold(disp, "attachment") && name == "" {
		body, err := io.ReadAll(io.LimitReader(e.Body, maxTextRead))
		if err != nil {
			return content{}, fmt.Errorf("part %s does not decode", partName(path))
		}
		if len(body) == maxTextRead {
			body = trimPartialRune(body)
		}
		// The rest of a very long text is not needed, but it must decode.
		if _, err := io.Copy(io.Discard, e.Body); err != nil {
			return content{}, fmt.Errorf("part %s does not decode", partName(path))
		}
		s := decodeText(body)
		if mt == "text/html" {
			return content{text: htmlText(s), fromHTML: true}, nil
		}
		return content{text: cleanText(s)}, nil
	}
	a := MailAttachment{Name: fileName(name, mt), ContentType: oneLine(mt, MaxNameLen), Part: partName(path)}
	var err error
	if w.keep {
		var b bytes.Buffer
		a.Size, err = io.Copy(&b, e.Body)
		a.Content = b.Bytes()
	} else {
		a.Size, err = io.Copy(io.Discard, e.Body)
	}
	if err != nil {
		return content{}, fmt.Errorf("part %s does not decode", partName(path))
	}
	return content{atts: []MailAttachment{a}}, nil
}

func (w *walker) multipart(e *message.Entity, mt string, params map[string]string, path string, depth int) (content, error) {
	if params["boundary"] == "" {
		return content{}, fmt.Errorf("part %s is a multipart without a boundary", partName(path))
	}
	mr := e.MultipartReader()
	var kids []content
	for i := 1; ; i++ {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
			return content{}, fmt.Errorf("%w: part %s", errMIME, partName(path+"."+strconv.Itoa(i)))
		}
		if p == nil {
			return content{}, fmt.Errorf("%w: part %s", errMIME, partName(path+"."+strconv.Itoa(i)))
		}
		c, err := w.entity(p, path+"."+strconv.Itoa(i), depth+1)
		if err != nil {
			return content{}, err
		}
		kids = append(kids, c)
	}
	if mt == "multipart/alternative" {
		// The plain alternative, else the first with text (HTML made
		// text), with its files (the inline images of an HTML part).
		for _, k := range kids {
			if k.text != "" && !k.fromHTML {
				return k, nil
			}
		}
		for _, k := range kids {
			if k.text != "" {
				return k, nil
			}
		}
		if len(kids) > 0 {
			return kids[0], nil
		}
		return content{}, nil
	}
	var out content
	var texts []string
	size := 0
	for _, k := range kids {
		// Text past what a message holds is not kept (clip cuts it).
		if k.text != "" && size <= MaxBodyLen {
			texts = append(texts, k.text)
			size += len(k.text)
			out.fromHTML = out.fromHTML || k.fromHTML
		}
		out.atts = append(out.atts, k.atts...)
	}
	out.text = strings.Join(texts, "\n\n")
	return out, nil
}

// maxTextRead is how much of a text part is read: more than a ticket
// message holds (MaxBodyLen) once decoded and cleaned.
const maxTextRead = 4 * MaxBodyLen

// trimPartialRune drops a UTF-8 sequence that a cut left incomplete at
// the end of b, so that the text still reads as UTF-8.
func trimPartialRune(b []byte) []byte {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return b[:i]
			}
			break
		}
	}
	return b
}

// partName is a part's path for messages ("1.2"; the whole mail is "1").
func partName(path string) string {
	if path == "" {
		return "1"
	}
	return strings.TrimPrefix(path, ".")
}

// fileName is an attachment's name, one printable line; a part without
// one is named after its type ("attachment.pdf").
func fileName(name, mt string) string {
	name = oneLine(decodeText([]byte(name)), MaxNameLen)
	name = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' {
			return '_'
		}
		return r
	}, name)
	if name != "" {
		return name
	}
	if mt == "message/rfc822" {
		return "message.eml"
	}
	if exts, _ := mime.ExtensionsByType(mt); len(exts) > 0 {
		return "attachment" + exts[0]
	}
	return "attachment"
}

// decodeText makes b valid UTF-8: text a declared charset decoded already
// is kept; bytes that are not UTF-8 (8-bit text without a charset, or one
// go-message does not know) are read as Windows-1252, the superset of
// ISO-8859-1 that mailers put under either label.
func decodeText(b []byte) string {
	if utf8.Valid(b) {
		return c1ToWindows1252(string(b))
	}
	s, err := charmap.Windows1252.NewDecoder().Bytes(b)
	if err != nil {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return string(s)
}

// c1ToWindows1252 replaces the C1 controls U+0080–U+009F, which text
// never holds but ISO-8859-1 decoding makes of Windows-1252's curly
// quotes, dashes and euro sign, by the characters Windows-1252 has there
// (as browsers read ISO-8859-1).
func c1ToWindows1252(s string) string {
	if !strings.ContainsFunc(s, isC1) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isC1(r) {
			if d := charmap.Windows1252.DecodeByte(byte(r)); d != utf8.RuneError {
				return d
			}
		}
		return r
	}, s)
}

func isC1(r rune) bool { return r >= 0x80 && r <= 0x9f }

// cleanText gives text "\n" line ends, no control characters but tabs,
// and no blank lines at either end.
func cleanText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if unicode.IsControl(r) || r == '\uFEFF' {
			return -1
		}
		return r
	}, s)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.Trim(strings.Join(lines, "\n"), "\n")
}

// htmlText is an HTML body as plain text.
func htmlText(s string) string {
	t, err := html2text.FromString(s, html2text.Options{})
	if err != nil {
		t = htmlTag.ReplaceAllString(s, " ")
	}
	return cleanText(t)
}

var htmlTag = regexp.MustCompile(`<[^>]*>`)

// truncatedNote ends a body that was cut at MaxBodyLen.
const truncatedNote = "\n\n[… the rest of this mail was cut: it is longer than the ticket message limit]"

// clip cuts text to MaxBodyLen bytes, at a character boundary, with a
// note.
func clip(s string) string {
	if len(s) <= MaxBodyLen {
		return s
	}
	cut := MaxBodyLen - len(truncatedNote)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + truncatedNote
}

// oneLine is s decoded to valid UTF-8, its whitespace (line breaks too)
// collapsed to single spaces, without control characters, cut to max
// characters.
func oneLine(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return ' '
		}
		if unicode.IsControl(r) || r == '\uFEFF' {
			return -1
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		s = strings.TrimSpace(string(r[:max]))
	}
	return s
}
