package tickets

import (
	"regexp"
	"strings"
)

// A reply by mail carries the conversation so far below the new text —
// "On …, Ada wrote:" and the quoted mail, Outlook's "From:/Sent:" block —
// and often a signature. The ticket holds that conversation already, as
// messages; replyText keeps what the reply adds. The patterns are those of
// the common mail programs in English and German (Gmail, Apple Mail,
// Thunderbird, Outlook); a reply they miss is kept whole.

var (
	// attribution is the line (or two: clients wrap it) that introduces
	// the quoted mail: "On Mon, 2 Mar 2026 at 08:59, Ada <…> wrote:",
	// "Am 02.03.2026 um 08:59 schrieb Ada <…>:".
	attribution = regexp.MustCompile(`(?m)^[ \t]*(On\s[^\n]{1,300}?(\n[^\n]{1,300}?)?\swrote:|Am\s[^\n]{1,300}?(\n[^\n]{1,300}?)?\sschrieb[^\n]{0,300}:)[ \t]*$`)
	// separator starts a forwarded or Outlook-quoted mail.
	separator = regexp.MustCompile(`(?m)^[ \t]*(-{2,}\s*(Original Message|Ursprüngliche Nachricht|Forwarded message|Weitergeleitete Nachricht)\s*-{2,}|_{20,})[ \t]*$`)
	// outlookHeader is Outlook's header block of the quoted mail, without
	// a separator line: "From: …" then "Sent: …" (or Von/Gesendet).
	outlookHeader = regexp.MustCompile(`(?m)^[ \t]*(From|Von):[^\n]*\n[ \t]*(Sent|Gesendet|Date|Datum):`)
	// signature is the RFC 3676 signature separator "-- ".
	signature = regexp.MustCompile(`(?m)^-- $`)
)

// replyText returns the new part of a reply's text: the text before the
// first separator or Outlook header block, or attribution line followed by
// nothing but quoted lines (an inline reply is kept whole), without a
// trailing block of quoted ("> ") lines or a signature. When nothing would
// remain (a reply that is all quote), it returns text as it is.
func replyText(text string) string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	cut := len(text)
	for _, re := range []*regexp.Regexp{separator, outlookHeader, signature} {
		if loc := re.FindStringIndex(text); loc != nil && loc[0] < cut {
			cut = loc[0]
		}
	}
	// After an attribution line comes the quoted mail; answers written
	// between its quoted lines (an inline reply) keep it all.
	if loc := attribution.FindStringIndex(text); loc != nil && loc[0] < cut && onlyQuoted(text[loc[1]:cut]) {
		cut = loc[0]
	}
	lines := strings.Split(text[:cut], "\n")
	// A quote left at the end (a client without an attribution line).
	end := len(lines)
	for end > 0 {
		l := strings.TrimSpace(lines[end-1])
		if l != "" && !strings.HasPrefix(l, ">") {
			break
		}
		end--
	}
	out := strings.TrimSpace(strings.Join(lines[:end], "\n"))
	if out == "" {
		return strings.TrimSpace(text)
	}
	return out
}

// onlyQuoted reports whether every non-blank line of s is quoted ("> ").
func onlyQuoted(s string) bool {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, ">") {
			return false
		}
	}
	return true
}
