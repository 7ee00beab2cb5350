package crmhttp

import (
	"bytes"
	"context"
	"fmt"
	"mime"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/tickets"
)

// MaxInboundMailBytes is the largest raw mail POST /tickets/inbound
// takes: tickets.DefaultMaxMailSize (32 MiB); a larger body is refused
// (413).
const MaxInboundMailBytes = tickets.DefaultMaxMailSize

type inboundInput struct {
	Team            string   `query:"team" doc:"The team of the tickets the mail opens (a support address per team); none leaves it to routing."`
	Closed          string   `query:"closed" doc:"What a reply to a closed ticket does: follow_up (default) opens a new ticket that continues it, reopen reopens it."`
	TicketHook      string   `query:"ticket_hook" doc:"The hook of the ticket tokens in subjects, [#1042] by default (#)."`
	TokenFromAnyone bool     `query:"token_from_anyone" doc:"Let a ticket token in the subject thread mail from any address, not only from the ticket's contact."`
	IgnoreLists     bool     `query:"ignore_lists" doc:"Ignore mail of mailing lists (a List-Id header)."`
	KeepQuoted      bool     `query:"keep_quoted" doc:"Keep a reply's text whole: by default the quoted conversation below it and its signature are left out."`
	UseReplyTo      bool     `query:"use_reply_to" doc:"Take the Reply-To address as the author (web forms that send from a no-reply address)."`
	OwnAddresses    []string `query:"own_address,explode" doc:"The host's own addresses (repeatable): mail from them is ignored, so that nothing loops."`
	ContentType     string   `header:"Content-Type"`
	RawBody         []byte   `contentType:"message/rfc822"`
}

// inboundResult is what POST /tickets/inbound did with a mail.
type inboundResult struct {
	Outcome tickets.InboundOutcome `json:"outcome" enum:"created,appended,ignored,duplicate" doc:"created: a new ticket; appended: a reply added to its ticket; ignored: a mail a machine sent; duplicate: this Message-ID came in before."`
	Ignored tickets.IgnoreReason   `json:"ignored,omitempty" doc:"Why the mail was ignored (auto_submitted, bounce, own_address, …)."`
	// MessageID is the mail's Message-ID.
	MessageID string   `json:"message_id,omitempty"`
	TicketID  *core.ID `json:"ticket_id,omitempty" doc:"The ticket the mail went to (for a duplicate, the one its first delivery went to)."`
	// Ticket and Message are the ticket after the mail and the message it
	// became (created and appended).
	Ticket     *tickets.Ticket    `json:"ticket,omitempty"`
	Message    *tickets.Message   `json:"message,omitempty"`
	ThreadedBy tickets.ThreadedBy `json:"threaded_by,omitempty" doc:"How the earlier ticket was found: in_reply_to, references or subject_token."`
	LinkedID   *core.ID           `json:"linked_id,omitempty" doc:"The earlier ticket a new ticket continues (follow_up) or refers to (refers_to)."`
	LinkKind   tickets.LinkKind   `json:"link_kind,omitempty"`
	ContactID  *core.ID           `json:"contact_id,omitempty" doc:"The sender's contact."`
	// ContactCreated reports that the mail created the sender's contact.
	ContactCreated bool `json:"contact_created,omitempty"`
	// Reopened reports that the mail reopened its ticket.
	Reopened bool `json:"reopened,omitempty"`
}

func inboundAnswer(r *tickets.InboundResult) inboundResult {
	out := inboundResult{Outcome: r.Outcome, Ignored: r.Ignored, MessageID: r.MessageID, Ticket: r.Ticket, Message: r.Message,
		ThreadedBy: r.ThreadedBy, LinkedID: r.LinkedID, LinkKind: r.LinkKind, ContactCreated: r.ContactCreated, Reopened: r.Reopened}
	if r.TicketID != core.NilID {
		out.TicketID = core.About(r.TicketID)
	}
	if r.ContactID != core.NilID {
		out.ContactID = core.About(r.ContactID)
	}
	return out
}

// registerTicketInbound registers the mail intake.
func registerTicketInbound(api huma.API) {
	huma.Register(api, common(huma.Operation{OperationID: "take-inbound-mail", Method: http.MethodPost, Path: "/tickets/inbound",
		Tags: []string{"tickets"}, Summary: "Take an inbound mail",
		Description: fmt.Sprintf("Takes one raw RFC 5322 mail (message/rfc822, at most %d bytes) into the service desk: a reply is added "+
			"to its ticket (found by In-Reply-To, References or the ticket token in its subject), another mail opens a ticket for "+
			"its sender (a contact found by address, or created), a mail a machine sent is ignored, and a Message-ID that came in "+
			"before adds nothing. All in one transaction: a mail that cannot be read (422) or is too large (413) writes nothing. "+
			"Attachments are kept as metadata whose storage key names the part of the mail (mail:<Message-ID>#<part>). With a user, "+
			"needs tickets create (and update of a ticket replied to).", MaxInboundMailBytes),
		MaxBodyBytes: MaxInboundMailBytes,
		// The body is read here (RawBody): the raw mail.
		SkipValidateBody: true,
		Errors: []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusRequestEntityTooLarge,
			http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity}}),
		func(ctx context.Context, in *inboundInput) (*struct{ Body inboundResult }, error) {
			mt, _, err := mime.ParseMediaType(in.ContentType)
			if err != nil || mt != "message/rfc822" {
				return nil, huma.NewError(http.StatusUnsupportedMediaType, "the body must be a raw mail (message/rfc822)")
			}
			r, err := crmOf(ctx).Tickets.Inbound(ctx, bytes.NewReader(in.RawBody), tickets.InboundOptions{MaxSize: MaxInboundMailBytes,
				TicketHook: in.TicketHook, Closed: tickets.ClosedReply(in.Closed), TokenFromAnyone: in.TokenFromAnyone,
				IgnoreLists: in.IgnoreLists, KeepQuoted: in.KeepQuoted, UseReplyTo: in.UseReplyTo, OwnAddresses: in.OwnAddresses, Team: in.Team})
			if err != nil {
				return nil, inQuery(err, map[string]string{"ticket_hook": "ticket_hook", "closed": "closed"})
			}
			return &struct{ Body inboundResult }{Body: inboundAnswer(r)}, nil
		})
}
