package campaigns

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"regexp"
	"strings"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // charsets other than UTF-8 and ASCII in reports
)

// Report is what a delivery status notification (RFC 3464) or a feedback
// report (RFC 5965, ARF) says about one message crmkit sent.
type Report struct {
	// Kind is BounceHard, BounceSoft or Complaint.
	Kind BounceKind
	// Status is the enhanced status code (RFC 3463), "5.1.1"; empty for a
	// complaint.
	Status string
	// Diagnostic is the remote server's reply, or the feedback type.
	Diagnostic string
	// Recipient is the address the report is about (Final-Recipient,
	// Original-Rcpt-To), when it says.
	Recipient string
	// MessageID is the Message-ID of the message reported on, from the
	// returned headers, when they are included.
	MessageID string
}

// BounceKind is the kind of a delivery failure.
type BounceKind string

// Bounce kinds: a permanent failure (5.x.x: the address does not exist),
// a transient one (4.x.x: a full mailbox, a greylisting server), and a
// complaint (the person marked the message as spam).
const (
	BounceHard BounceKind = "hard"
	BounceSoft BounceKind = "soft"
	Complaint  BounceKind = "complaint"
)

// ErrNoReport is returned by ParseReport for mail that is neither a
// delivery status notification nor a feedback report (an auto-reply,
// a message a person wrote).
var ErrNoReport = errors.New("crm: not a delivery status notification or feedback report")

// MaxReportSize bounds the inbound reports ParseReport reads.
const MaxReportSize = 1 << 20

var statusCode = regexp.MustCompile(`^[245]\.\d{1,3}\.\d{1,3}$`)

// ParseReport reads an inbound mail and returns what it reports: a
// multipart/report with report-type delivery-status (a DSN: the first
// recipient whose Action is failed or delayed) or feedback-report (ARF).
// Mail that is no report is ErrNoReport; a report that does not parse is
// another error. It never panics on malformed input (fuzzed).
func ParseReport(r io.Reader) (*Report, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxReportSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxReportSize {
		return nil, fmt.Errorf("crm: report larger than %d bytes", MaxReportSize)
	}
	e, err := message.Read(bytes.NewReader(data))
	if err != nil && !message.IsUnknownCharset(err) {
		return nil, fmt.Errorf("crm: report: %w", err)
	}
	mediaType, params, err := e.Header.ContentType()
	if err != nil || mediaType != "multipart/report" {
		return nil, ErrNoReport
	}
	reportType := strings.ToLower(params["report-type"])
	if reportType != "delivery-status" && reportType != "feedback-report" {
		return nil, ErrNoReport
	}
	mr := e.MultipartReader()
	if mr == nil {
		return nil, fmt.Errorf("crm: report: multipart/report without parts")
	}
	out := &Report{}
	found := false
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !message.IsUnknownCharset(err) {
			return nil, fmt.Errorf("crm: report: %w", err)
		}
		ct, _, _ := p.Header.ContentType()
		body, err := io.ReadAll(io.LimitReader(p.Body, MaxReportSize))
		if err != nil {
			return nil, fmt.Errorf("crm: report: %w", err)
		}
		switch ct {
		case "message/delivery-status", "message/global-delivery-status":
			if found, err = out.deliveryStatus(body); err != nil {
				return nil, err
			}
		case "message/feedback-report":
			if err := out.feedback(body); err != nil {
				return nil, err
			}
			found = true
		case "text/rfc822-headers", "message/rfc822", "message/global-headers", "message/global":
			out.MessageID = messageIDOf(body)
		}
	}
	if !found {
		return nil, fmt.Errorf("crm: report: no failed or delayed recipient, and no feedback")
	}
	return out, nil
}

// fieldBlocks splits an RFC 3464 body into its blocks of header-like
// fields, separated by blank lines.
func fieldBlocks(body []byte) ([]textproto.MIMEHeader, error) {
	text := strings.ReplaceAll(string(body), "\r\n", "\n")
	var out []textproto.MIMEHeader
	for _, block := range strings.Split(text, "\n\n") {
		if strings.TrimSpace(block) == "" {
			continue
		}
		h, err := textproto.NewReader(bufio.NewReader(strings.NewReader(strings.TrimLeft(block, "\n") + "\n\n"))).ReadMIMEHeader()
		if err != nil && !errors.Is(err, io.EOF) {
			return out, fmt.Errorf("crm: report: delivery status fields: %w", err)
		}
		if len(h) > 0 {
			out = append(out, h)
		}
	}
	return out, nil
}

// deliveryStatus reads a message/delivery-status part: the per-message
// block, then a block per recipient; the first failed (else delayed)
// recipient is the report's.
func (out *Report) deliveryStatus(body []byte) (bool, error) {
	blocks, err := fieldBlocks(body)
	if err != nil {
		return false, err
	}
	var delayed textproto.MIMEHeader
	for _, b := range blocks {
		action := strings.ToLower(strings.TrimSpace(b.Get("Action")))
		switch action {
		case "failed":
			return true, out.recipient(b, BounceHard)
		case "delayed":
			if delayed == nil {
				delayed = b
			}
		}
	}
	if delayed != nil {
		return true, out.recipient(delayed, BounceSoft)
	}
	return false, nil
}

// recipient fills out from a per-recipient block; the status code
// decides hard or soft (a "failed" action with a 4.x.x status is soft).
func (out *Report) recipient(b textproto.MIMEHeader, kind BounceKind) error {
	status := strings.TrimSpace(b.Get("Status"))
	if i := strings.IndexAny(status, " \t("); i > 0 {
		status = status[:i]
	}
	if !statusCode.MatchString(status) {
		return fmt.Errorf("crm: report: status %q is not an RFC 3463 code", truncate(status, 20))
	}
	switch status[0] {
	case '5':
		kind = BounceHard
	case '4':
		kind = BounceSoft
	}
	out.Kind, out.Status = kind, status
	out.Diagnostic = truncate(strings.TrimSpace(b.Get("Diagnostic-Code")), 500)
	out.Recipient = addressOf(b.Get("Final-Recipient"))
	if out.Recipient == "" {
		out.Recipient = addressOf(b.Get("Original-Recipient"))
	}
	return nil
}

// feedback reads a message/feedback-report part (ARF).
func (out *Report) feedback(body []byte) error {
	blocks, err := fieldBlocks(body)
	if err != nil {
		return err
	}
	if len(blocks) == 0 {
		return fmt.Errorf("crm: report: empty feedback report")
	}
	b := blocks[0]
	out.Kind = Complaint
	out.Diagnostic = truncate(strings.ToLower(strings.TrimSpace(b.Get("Feedback-Type"))), 100)
	if out.Diagnostic == "" {
		return fmt.Errorf("crm: report: feedback report without Feedback-Type")
	}
	out.Recipient = addressOf(b.Get("Original-Rcpt-To"))
	return nil
}

// addressOf takes the address of an RFC 3464 recipient field
// ("rfc822; ada@example.com").
func addressOf(field string) string {
	_, addr, ok := strings.Cut(field, ";")
	if !ok {
		addr = field
	}
	addr = strings.Trim(strings.TrimSpace(addr), "<>")
	if len(addr) > MaxAddressLen || !strings.Contains(addr, "@") {
		return ""
	}
	return strings.ToLower(addr)
}

// messageIDOf reads the Message-ID of returned headers (or a returned
// message).
func messageIDOf(body []byte) string {
	h, _ := textproto.NewReader(bufio.NewReader(bytes.NewReader(body))).ReadMIMEHeader()
	id := strings.TrimSpace(h.Get("Message-Id"))
	id = strings.TrimSuffix(strings.TrimPrefix(id, "<"), ">")
	if len(id) > 500 {
		return ""
	}
	return id
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
