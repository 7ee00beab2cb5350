package crmhttp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crmhttp"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/tickets"
)

// Actors of the ticket walks: the tenant's admin, a support agent (reads,
// creates and updates the tickets assigned to them; changes no settings)
// and a sales rep (no tickets at all).
var (
	asAdmin   = map[string]string{"X-User": "boss-1", "X-Roles": "admin"}
	asSupport = map[string]string{"X-User": "agent-7", "X-Roles": "support"}
	asSales   = map[string]string{"X-User": "rep-1", "X-Roles": "sales"}
)

// with is header h with more headers.
func with(h map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// ifMatch is the If-Match header of version v.
func ifMatch(v string) map[string]string { return map[string]string{"If-Match": v} }

// problemFields checks that an answer is an RFC 9457 problem of status and
// returns the locations of its field problems.
func problemFields(t *testing.T, res *http.Response, b []byte, status int) []string {
	t.Helper()
	require.Equal(t, status, res.StatusCode, string(b))
	require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"), string(b))
	var p struct {
		Status int `json:"status"`
		Errors []struct {
			Location string `json:"location"`
		} `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(b, &p), string(b))
	require.Equal(t, status, p.Status)
	out := make([]string, len(p.Errors))
	for i, e := range p.Errors {
		out[i] = e.Location
	}
	return out
}

// walkTicketServices walks the service desk's routes besides the tickets'
// own: SLA calendars and policies, routing, macros, inbound mail, the
// classifier, the knowledge base, merging, surveys and links. Each is
// checked through the Go API, refused to actors without the permission
// (403, or 404 for a ticket they do not see), with validation problems
// as RFC 9457 problems and stale If-Match as 412.
func walkTicketServices(t *testing.T, c *client) {
	t.Helper()
	ctx := context.Background()
	cr := c.tenantCRM()
	_, err := cr.Access.Roles.InstallBuiltins(ctx)
	require.NoError(t, err)
	_, err = cr.Access.Teams.Create(ctx, access.TeamInput{Name: "Support"})
	require.NoError(t, err)
	customer, err := cr.Contacts.Create(ctx, contacts.NewContact{Email: "walk.customer@example.com"})
	require.NoError(t, err)
	newTicket := func(subject, body, assignee, category string) *tickets.Ticket {
		tk, err := cr.Tickets.Create(ctx, tickets.NewTicket{Subject: subject, ContactID: customer.ID, AssigneeID: assignee, Category: category,
			Message: &tickets.NewMessage{AuthorKind: tickets.AuthorCustomer, Public: true, Body: body}})
		require.NoError(t, err)
		return tk
	}

	walkSLASettings(t, c)
	walkRouting(t, c)
	walkMacros(t, c, newTicket)
	walkInbound(t, c)
	walkClassifier(t, c, newTicket)
	walkKnowledgeBase(t, c, newTicket)
	walkTicketActions(t, c, newTicket)
}

type ticketMaker func(subject, body, assignee, category string) *tickets.Ticket

// walkSLASettings walks business-hours calendars and SLA policies.
func walkSLASettings(t *testing.T, c *client) {
	t.Helper()
	ctx := context.Background()
	cr := c.tenantCRM()
	week := []map[string]any{}
	for d := 1; d <= 5; d++ {
		week = append(week, map[string]any{"weekday": d, "start": "09:00", "end": "17:00"})
	}
	cal := map[string]any{"name": "Office", "time_zone": "Europe/Berlin", "country": "DE", "windows": week, "holidays": []string{"2026-12-24"}}
	res, b := c.do(http.MethodPost, "/sla-calendars", cal, nil)
	require.Equal(t, http.StatusCreated, res.StatusCode, string(b))
	require.Equal(t, `"1"`, res.Header.Get("ETag"))
	calID := idOf(t, b)
	got, err := cr.Calendars.Get(ctx, mustID(t, calID))
	require.NoError(t, err)
	require.Equal(t, "Office", got.Name)
	require.Len(t, got.Windows, 5)
	require.Equal(t, "2026-12-24", got.Holidays[0].String())

	res, b = c.do(http.MethodPost, "/sla-calendars", map[string]any{"name": "", "time_zone": "Mars/Olympus",
		"windows": []map[string]any{{"weekday": 1, "start": "25:00", "end": "17:00"}}}, nil)
	locs := problemFields(t, res, b, http.StatusUnprocessableEntity)
	require.Contains(t, locs, "body.name")
	require.Contains(t, locs, "body.time_zone")
	require.GreaterOrEqual(t, len(locs), 3, string(b))
	res, _ = c.do(http.MethodPost, "/sla-calendars", cal, nil)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, "the name is taken")
	for _, h := range []map[string]string{asSupport, asSales} {
		res, b = c.do(http.MethodPost, "/sla-calendars", map[string]any{"name": "Mine", "time_zone": "UTC"}, h)
		problemFields(t, res, b, http.StatusForbidden)
	}
	res, _ = c.do(http.MethodGet, "/sla-calendars", nil, asSales)
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	res, b = c.do(http.MethodGet, "/sla-calendars", nil, asSupport)
	require.Equal(t, http.StatusOK, res.StatusCode, "support reads the settings")
	require.Contains(t, string(b), calID)
	res, _ = c.do(http.MethodGet, "/sla-calendars/"+calID, nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, `"1"`, res.Header.Get("ETag"))
	res, _ = c.do(http.MethodGet, "/sla-calendars/"+core.NewID().String(), nil, nil)
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	// Another tenant sees nothing of it; no tenant is not authenticated.
	c.tenant = "globex"
	res, _ = c.do(http.MethodGet, "/sla-calendars/"+calID, nil, nil)
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	res, b = c.do(http.MethodGet, "/sla-calendars", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.NotContains(t, string(b), calID)
	res, _ = c.do(http.MethodDelete, "/sla-calendars/"+calID, nil, ifMatch(`"1"`))
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	c.tenant = ""
	res, b = c.do(http.MethodGet, "/sla-calendars/"+calID, nil, nil)
	problemFields(t, res, b, http.StatusUnauthorized)
	res, _ = c.send(http.MethodPost, "/tickets/inbound", "message/rfc822", mail("m0@walk.example", "Who", "x"), nil)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	c.tenant = "acme"

	cal["name"] = "Office hours"
	res, _ = c.do(http.MethodPut, "/sla-calendars/"+calID, cal, nil)
	require.Equal(t, http.StatusPreconditionRequired, res.StatusCode)
	res, b = c.do(http.MethodPut, "/sla-calendars/"+calID, cal, ifMatch(`"1"`))
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	require.Equal(t, `"2"`, res.Header.Get("ETag"))
	res, b = c.do(http.MethodPut, "/sla-calendars/"+calID, cal, ifMatch(`"1"`))
	problemFields(t, res, b, http.StatusPreconditionFailed)
	res, _ = c.do(http.MethodPut, "/sla-calendars/"+calID, cal, with(asSupport, "If-Match", `"2"`))
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	got, err = cr.Calendars.Get(ctx, mustID(t, calID))
	require.NoError(t, err)
	require.Equal(t, "Office hours", got.Name)
	require.Equal(t, int64(2), got.Version)

	urgent := filter.Eq("priority", "urgent")
	pol := map[string]any{"name": "Urgent", "position": 1, "condition": urgent, "calendar_id": calID,
		"first_response_minutes": 60, "resolution_minutes": 480, "warning_minutes": 15}
	res, b = c.do(http.MethodPost, "/sla-policies", pol, nil)
	require.Equal(t, http.StatusCreated, res.StatusCode, string(b))
	polID := idOf(t, b)
	p, err := cr.SLAPolicies.Get(ctx, mustID(t, polID))
	require.NoError(t, err)
	require.Equal(t, int64(60), p.FirstResponseMinutes)
	require.Equal(t, urgent.String(), p.Condition.String())
	res, b = c.do(http.MethodPost, "/sla-policies", map[string]any{"name": "", "calendar_id": core.NewID().String(),
		"condition": filter.Eq("shoe_size", 42), "first_response_minutes": -1}, nil)
	locs = problemFields(t, res, b, http.StatusUnprocessableEntity)
	for _, f := range []string{"body.name", "body.calendar_id", "body.condition", "body.first_response_minutes"} {
		require.Contains(t, locs, f, string(b))
	}
	res, _ = c.do(http.MethodPost, "/sla-policies", pol, asSupport)
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	res, b = c.do(http.MethodGet, "/sla-policies", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, string(b), polID)
	res, _ = c.do(http.MethodGet, "/sla-policies", nil, asSales)
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	res, _ = c.do(http.MethodGet, "/sla-policies/"+polID, nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	pol["resolution_minutes"] = 240
	res, b = c.do(http.MethodPut, "/sla-policies/"+polID, pol, ifMatch(`"1"`))
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	res, _ = c.do(http.MethodPut, "/sla-policies/"+polID, pol, ifMatch(`"1"`))
	require.Equal(t, http.StatusPreconditionFailed, res.StatusCode)
	p, err = cr.SLAPolicies.Get(ctx, mustID(t, polID))
	require.NoError(t, err)
	require.Equal(t, int64(240), p.ResolutionMinutes)

	// The calendar is in use: 409 at its version, 412 at another.
	res, b = c.do(http.MethodDelete, "/sla-calendars/"+calID, nil, ifMatch(`"2"`))
	problemFields(t, res, b, http.StatusConflict)
	res, _ = c.do(http.MethodDelete, "/sla-calendars/"+calID, nil, ifMatch(`"1"`))
	require.Equal(t, http.StatusPreconditionFailed, res.StatusCode)
	res, _ = c.do(http.MethodDelete, "/sla-policies/"+polID, nil, ifMatch(`"1"`))
	require.Equal(t, http.StatusPreconditionFailed, res.StatusCode)
	res, _ = c.do(http.MethodDelete, "/sla-policies/"+polID, nil, with(asSupport, "If-Match", `"2"`))
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	res, _ = c.do(http.MethodDelete, "/sla-policies/"+polID, nil, ifMatch(`"2"`))
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	_, err = cr.SLAPolicies.Get(ctx, mustID(t, polID))
	require.ErrorIs(t, err, core.ErrNotFound)
	res, _ = c.do(http.MethodDelete, "/sla-calendars/"+calID, nil, ifMatch(`"2"`))
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	_, err = cr.Calendars.Get(ctx, mustID(t, calID))
	require.ErrorIs(t, err, core.ErrNotFound)
	res, _ = c.do(http.MethodDelete, "/sla-calendars/"+calID, nil, ifMatch(`"2"`))
	require.Equal(t, http.StatusNotFound, res.StatusCode)
}

// walkRouting walks the ticket routing: version 0 before the first set,
// If-Match, every problem listed, manage needed to change it.
func walkRouting(t *testing.T, c *client) {
	t.Helper()
	ctx := context.Background()
	res, b := c.do(http.MethodGet, "/ticket-routing", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	require.Equal(t, `"0"`, res.Header.Get("ETag"))
	routing := map[string]any{"rules": []map[string]any{{"name": "Refunds", "condition": filter.Eq("category", "refund"), "team": "Support",
		"priority": "high"}}, "teams": map[string]string{"Support": "least_loaded"}}
	res, _ = c.do(http.MethodPut, "/ticket-routing", routing, nil)
	require.Equal(t, http.StatusPreconditionRequired, res.StatusCode)
	res, _ = c.do(http.MethodPut, "/ticket-routing", routing, with(asSupport, "If-Match", `"0"`))
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	res, b = c.do(http.MethodPut, "/ticket-routing", routing, ifMatch(`"0"`))
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	require.Equal(t, `"1"`, res.Header.Get("ETag"))
	got, err := c.tenantCRM().Routing.Get(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), got.Version)
	require.Equal(t, tickets.AssignLeastLoaded, got.Teams["Support"])
	require.Equal(t, "Refunds", got.Rules[0].Name)
	res, _ = c.do(http.MethodPut, "/ticket-routing", routing, ifMatch(`"0"`))
	require.Equal(t, http.StatusPreconditionFailed, res.StatusCode)
	res, b = c.do(http.MethodPut, "/ticket-routing", map[string]any{"rules": []map[string]any{{"name": "", "team": "Nobody"}},
		"teams": map[string]string{"Support": "whenever"}}, ifMatch(`"1"`))
	locs := problemFields(t, res, b, http.StatusUnprocessableEntity)
	require.GreaterOrEqual(t, len(locs), 2, string(b))
	got, err = c.tenantCRM().Routing.Get(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), got.Version, "nothing written")
	res, _ = c.do(http.MethodGet, "/ticket-routing", nil, asSales)
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	res, b = c.do(http.MethodPost, "/ticket-routing/drain", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	require.Contains(t, string(b), `"assigned":0`)
	res, _ = c.do(http.MethodPost, "/ticket-routing/drain", nil, asSales)
	require.Equal(t, http.StatusForbidden, res.StatusCode)
}

// walkMacros walks macros and their application to a ticket.
func walkMacros(t *testing.T, c *client, newTicket ticketMaker) {
	t.Helper()
	ctx := context.Background()
	cr := c.tenantCRM()
	macro := map[string]any{"name": "Ask for logs", "public": true,
		"body":    "Hello, please send the logs of ticket #{{.Ticket.Number}}. {{.Agent.ID}}",
		"changes": map[string]any{"status": "pending", "pending_minutes": 60, "add_tags": []string{"logs"}}}
	key := map[string]string{"Idempotency-Key": "macro-logs"}
	res, b := c.do(http.MethodPost, "/macros", macro, key)
	require.Equal(t, http.StatusCreated, res.StatusCode, string(b))
	again, b2 := c.do(http.MethodPost, "/macros", macro, key)
	require.Equal(t, http.StatusCreated, again.StatusCode)
	require.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
	require.Equal(t, string(b), string(b2))
	macroID := idOf(t, b)
	ms, err := cr.Tickets.Macros().List(ctx)
	require.NoError(t, err)
	require.Len(t, ms, 1, "one macro for the two requests")

	res, b = c.do(http.MethodPost, "/macros", map[string]any{"name": "", "body": "{{.Ticket.Nickname}}",
		"changes": map[string]any{"status": "pending"}}, nil)
	locs := problemFields(t, res, b, http.StatusUnprocessableEntity)
	require.Contains(t, locs, "body.name")
	require.Contains(t, locs, "body.body")
	res, _ = c.do(http.MethodPost, "/macros", map[string]any{"name": "Mine", "body": "Hi"}, asSupport)
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	res, b = c.do(http.MethodGet, "/macros", nil, asSupport)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, string(b), macroID)
	res, _ = c.do(http.MethodGet, "/macros/"+macroID, nil, asSales)
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	res, _ = c.do(http.MethodGet, "/macros/"+macroID, nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	macro["name"] = "Logs, please"
	res, b = c.do(http.MethodPut, "/macros/"+macroID, macro, ifMatch(`"1"`))
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	res, _ = c.do(http.MethodPut, "/macros/"+macroID, macro, ifMatch(`"1"`))
	require.Equal(t, http.StatusPreconditionFailed, res.StatusCode)

	// Applying: the agent's reply and the changes, in one new version.
	tk := newTicket("Crash on start", "It crashes.", "agent-7", "")
	hidden := newTicket("Someone else's", "Not yours.", "agent-8", "")
	path := "/tickets/" + tk.ID.String() + "/macros/" + macroID
	v := etagOf(tk.Version)
	res, b = c.do(http.MethodPost, path, nil, ifMatch(v))
	require.Contains(t, problemFields(t, res, b, http.StatusUnprocessableEntity), "body.actor", "the reply needs an agent")
	res, _ = c.do(http.MethodPost, path, nil, with(asSales, "If-Match", v))
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	res, _ = c.do(http.MethodPost, "/tickets/"+hidden.ID.String()+"/macros/"+macroID, nil, with(asSupport, "If-Match", etagOf(hidden.Version)))
	require.Equal(t, http.StatusNotFound, res.StatusCode, "a ticket the agent does not see")
	res, _ = c.do(http.MethodPost, "/tickets/"+tk.ID.String()+"/macros/"+core.NewID().String(), nil, with(asSupport, "If-Match", v))
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	res, _ = c.do(http.MethodPost, path, nil, asSupport)
	require.Equal(t, http.StatusPreconditionRequired, res.StatusCode)
	res, b = c.do(http.MethodPost, path, nil, with(asSupport, "If-Match", v))
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	require.Equal(t, etagOf(tk.Version+1), res.Header.Get("ETag"))
	res, _ = c.do(http.MethodPost, path, nil, with(asSupport, "If-Match", v))
	require.Equal(t, http.StatusPreconditionFailed, res.StatusCode)
	after, err := cr.Tickets.Get(ctx, tk.ID)
	require.NoError(t, err)
	require.Equal(t, tickets.StatusPending, after.Status)
	require.Contains(t, after.Tags, "logs")
	msgs, err := cr.Tickets.Messages(ctx, tk.ID)
	require.NoError(t, err)
	require.Len(t, msgs, 2)
	require.Equal(t, "agent-7", msgs[1].AuthorID)
	require.Equal(t, "Hello, please send the logs of ticket #"+strconv.FormatInt(tk.Number, 10)+". agent-7", msgs[1].Body)

	res, _ = c.do(http.MethodDelete, "/macros/"+macroID, nil, with(asSupport, "If-Match", `"2"`))
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	res, _ = c.do(http.MethodDelete, "/macros/"+macroID, nil, ifMatch(`"1"`))
	require.Equal(t, http.StatusPreconditionFailed, res.StatusCode)
	res, _ = c.do(http.MethodDelete, "/macros/"+macroID, nil, ifMatch(`"2"`))
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	_, err = cr.Tickets.Macros().Get(ctx, mustID(t, macroID))
	require.ErrorIs(t, err, core.ErrNotFound)
}

// mustID parses an id of an answer.
func mustID(t *testing.T, s string) core.ID {
	t.Helper()
	id, err := core.ParseID(s)
	require.NoError(t, err)
	return id
}

// etagOf is the ETag of version v.
func etagOf(v int64) string { return `"` + strconv.FormatInt(v, 10) + `"` }

// mail is a raw mail from the walks' customer.
func mail(messageID, subject, body string, headers ...string) []byte {
	h := "From: Walk Customer <walk.inbound@example.com>\r\nTo: support@acme.example\r\nSubject: " + subject +
		"\r\nDate: Mon, 05 Jan 2026 09:00:00 +0000\r\nMessage-ID: <" + messageID + ">\r\n"
	for _, x := range headers {
		h += x + "\r\n"
	}
	return []byte(h + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n")
}

// walkInbound walks the mail intake: a new ticket, a reply, a duplicate,
// an automatic mail, a follow-up of a closed ticket with its link, and
// refused bodies that write nothing.
func walkInbound(t *testing.T, c *client) {
	t.Helper()
	ctx := context.Background()
	cr := c.tenantCRM()
	const rfc822 = "message/rfc822"
	type result struct {
		Outcome        string `json:"outcome"`
		Ignored        string `json:"ignored"`
		TicketID       string `json:"ticket_id"`
		ThreadedBy     string `json:"threaded_by"`
		LinkedID       string `json:"linked_id"`
		LinkKind       string `json:"link_kind"`
		ContactCreated bool   `json:"contact_created"`
		Ticket         struct {
			Subject string `json:"subject"`
			Channel string `json:"channel"`
		} `json:"ticket"`
	}
	take := func(raw []byte, query string, h map[string]string, status int) result {
		t.Helper()
		res, b := c.send(http.MethodPost, "/tickets/inbound"+query, rfc822, raw, h)
		require.Equal(t, status, res.StatusCode, string(b))
		var r result
		if status == http.StatusOK {
			require.NoError(t, json.Unmarshal(b, &r), string(b))
		} else {
			problemFields(t, res, b, status)
		}
		return r
	}
	counts := func() (int64, int) {
		n, err := cr.Tickets.Count(ctx, filter.Expr{})
		require.NoError(t, err)
		p, err := cr.Contacts.List(ctx, contacts.ListOptions{Limit: 1000})
		require.NoError(t, err)
		return n, len(p.Items)
	}

	first := take(mail("m1@walk.example", "Printer on fire", "It burns."), "", nil, http.StatusOK)
	require.Equal(t, "created", first.Outcome)
	require.True(t, first.ContactCreated)
	require.Equal(t, "Printer on fire", first.Ticket.Subject)
	tk, err := cr.Tickets.Get(ctx, mustID(t, first.TicketID))
	require.NoError(t, err)
	require.Equal(t, tickets.ChannelEmail, tk.Channel)

	reply := take(mail("m2@walk.example", "Re: Printer on fire", "Still burning.", "In-Reply-To: <m1@walk.example>"), "", nil, http.StatusOK)
	require.Equal(t, "appended", reply.Outcome)
	require.Equal(t, first.TicketID, reply.TicketID)
	require.Equal(t, "in_reply_to", reply.ThreadedBy)
	msgs, err := cr.Tickets.Messages(ctx, tk.ID)
	require.NoError(t, err)
	require.Len(t, msgs, 2)
	require.Equal(t, "Still burning.", strings.TrimSpace(msgs[1].Body))
	dup := take(mail("m2@walk.example", "Re: Printer on fire", "Still burning.", "In-Reply-To: <m1@walk.example>"), "", nil, http.StatusOK)
	require.Equal(t, "duplicate", dup.Outcome)
	require.Equal(t, first.TicketID, dup.TicketID)
	auto := take(mail("m3@walk.example", "Out of office", "Away.", "Auto-Submitted: auto-replied"), "", nil, http.StatusOK)
	require.Equal(t, "ignored", auto.Outcome)
	require.Equal(t, "auto_submitted", auto.Ignored)
	own := take(mail("m4@walk.example", "Loop", "x"), "?own_address=support%40acme.example&own_address=walk.inbound%40example.com", nil, http.StatusOK)
	require.Equal(t, "ignored", own.Outcome)
	require.Equal(t, "own_address", own.Ignored)

	// A reply to a closed ticket opens a follow-up, linked to it.
	tk, err = cr.Tickets.SetStatus(ctx, tk.ID, tickets.StatusChange{Version: tk.Version + 1, Status: tickets.StatusClosed})
	require.NoError(t, err)
	follow := take(mail("m5@walk.example", "Re: Printer on fire", "It is back.", "In-Reply-To: <m2@walk.example>"), "", nil, http.StatusOK)
	require.Equal(t, "created", follow.Outcome)
	require.Equal(t, "follow_up", follow.LinkKind)
	require.Equal(t, first.TicketID, follow.LinkedID)
	res, b := c.do(http.MethodGet, "/tickets/"+follow.TicketID+"/links", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	var links []tickets.TicketLink
	require.NoError(t, json.Unmarshal(b, &links))
	require.Len(t, links, 1)
	require.Equal(t, tickets.LinkFollowUp, links[0].Kind)
	require.Equal(t, tk.ID, links[0].LinkedID)
	res, _ = c.do(http.MethodGet, "/tickets/"+follow.TicketID+"/links", nil, asSales)
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	res, _ = c.do(http.MethodGet, "/tickets/"+follow.TicketID+"/links", nil, asSupport)
	require.Equal(t, http.StatusNotFound, res.StatusCode, "not the agent's ticket")

	// Refused, with nothing written: a body that is no mail, one without
	// an author, another media type, too large a body, bad options, an
	// actor who may not create tickets.
	tickets0, contacts0 := counts()
	take([]byte("this is not a mail at all"), "", nil, http.StatusUnprocessableEntity)
	take([]byte("Subject: nobody\r\nMessage-ID: <m6@walk.example>\r\n\r\nWho wrote this?\r\n"), "", nil, http.StatusUnprocessableEntity)
	res, b = c.send(http.MethodPost, "/tickets/inbound", "application/json", []byte(`{"subject":"x"}`), nil)
	problemFields(t, res, b, http.StatusUnsupportedMediaType)
	big := mail("m7@walk.example", "Huge", strings.Repeat("0123456789abcdef", crmhttp.MaxInboundMailBytes/16))
	res, _ = c.send(http.MethodPost, "/tickets/inbound", rfc822, big, nil)
	require.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
	res, b = c.send(http.MethodPost, "/tickets/inbound?closed=sometimes&ticket_hook="+url.QueryEscape("[x]"), rfc822,
		mail("m8@walk.example", "Options", "x"), nil)
	require.ElementsMatch(t, []string{"query.ticket_hook", "query.closed"}, problemFields(t, res, b, http.StatusUnprocessableEntity))
	take(mail("m9@walk.example", "Sales", "x"), "", asSales, http.StatusForbidden)
	n, k := counts()
	require.Equal(t, tickets0, n, "no ticket written")
	require.Equal(t, contacts0, k, "no contact written")
}

// walkClassifier walks training, models, settings and suggestions.
func walkClassifier(t *testing.T, c *client, newTicket ticketMaker) {
	t.Helper()
	ctx := context.Background()
	cr := c.tenantCRM()
	for i := range 6 {
		for _, x := range []struct{ subject, body, category string }{
			{"Invoice refund", "Please refund the payment on my invoice.", "billing"},
			{"Password reset", "I cannot log in, the password reset mail never comes.", "account"},
		} {
			tk := newTicket(x.subject+" "+strconv.Itoa(i), x.body, "agent-9", x.category)
			_, err := cr.Tickets.SetStatus(ctx, tk.ID, tickets.StatusChange{Version: tk.Version, Status: tickets.StatusSolved})
			require.NoError(t, err)
		}
	}
	res, _ := c.do(http.MethodPost, "/classifier/train", nil, asSupport)
	require.Equal(t, http.StatusForbidden, res.StatusCode, "training needs manage")
	res, b := c.do(http.MethodPost, "/classifier/train", map[string]any{"targets": []string{"team"}}, nil)
	problemFields(t, res, b, http.StatusUnprocessableEntity)
	res, b = c.do(http.MethodPost, "/classifier/train", map[string]any{"holdout_percent": 80}, nil)
	problemFields(t, res, b, http.StatusUnprocessableEntity)
	models, err := cr.Classifier.Models(ctx)
	require.NoError(t, err)
	require.Empty(t, models, "nothing trained yet")
	res, b = c.do(http.MethodPost, "/classifier/train", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	var report tickets.TrainReport
	require.NoError(t, json.Unmarshal(b, &report))
	require.Len(t, report.Models, 1)
	require.Equal(t, tickets.TargetCategory, report.Models[0].Target)
	require.Contains(t, report.Skipped, tickets.TargetTeam)
	models, err = cr.Classifier.Models(ctx)
	require.NoError(t, err)
	require.Len(t, models, 1)
	require.Equal(t, report.Models[0].Version, models[0].Version)
	res, b = c.do(http.MethodGet, "/classifier/models", nil, asSupport)
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	require.Contains(t, string(b), `"target":"category"`)
	res, _ = c.do(http.MethodGet, "/classifier/models", nil, asSales)
	require.Equal(t, http.StatusForbidden, res.StatusCode)

	res, b = c.do(http.MethodGet, "/classifier/settings", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	require.Equal(t, `"0"`, res.Header.Get("ETag"))
	res, _ = c.do(http.MethodPut, "/classifier/settings", map[string]any{"threshold": 0.8}, with(asSupport, "If-Match", `"0"`))
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	res, b = c.do(http.MethodPut, "/classifier/settings", map[string]any{"threshold": 2}, ifMatch(`"0"`))
	require.Contains(t, problemFields(t, res, b, http.StatusUnprocessableEntity), "body.threshold")
	res, b = c.do(http.MethodPut, "/classifier/settings", map[string]any{"threshold": 0.8}, ifMatch(`"0"`))
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	require.Equal(t, `"1"`, res.Header.Get("ETag"))
	res, _ = c.do(http.MethodPut, "/classifier/settings", map[string]any{"threshold": 0.5}, ifMatch(`"0"`))
	require.Equal(t, http.StatusPreconditionFailed, res.StatusCode)
	set, err := cr.Classifier.Settings(ctx)
	require.NoError(t, err)
	require.InDelta(t, 0.8, set.Threshold, 1e-9)

	res, b = c.do(http.MethodPost, "/classifier/suggestions", map[string]any{"subject": "Refund", "body": "my invoice payment"}, asSupport)
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	var s tickets.Suggestion
	require.NoError(t, json.Unmarshal(b, &s))
	require.NotNil(t, s.Category)
	require.Equal(t, "billing", s.Category.Label)
	res, b = c.do(http.MethodPost, "/classifier/suggestions", map[string]any{"subject": "x\x00"}, nil)
	require.Contains(t, problemFields(t, res, b, http.StatusUnprocessableEntity), "body.subject")
	res, _ = c.do(http.MethodPost, "/classifier/suggestions", map[string]any{"subject": "Refund"}, asSales)
	require.Equal(t, http.StatusForbidden, res.StatusCode)

	mine := newTicket("Cannot log in", "The password reset does not work.", "agent-7", "")
	res, b = c.do(http.MethodGet, "/tickets/"+mine.ID.String()+"/suggestion", nil, asSupport)
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	require.NoError(t, json.Unmarshal(b, &s))
	require.Equal(t, "account", s.Category.Label)
	other := newTicket("Cannot log in", "The password reset does not work.", "agent-8", "")
	res, _ = c.do(http.MethodGet, "/tickets/"+other.ID.String()+"/suggestion", nil, asSupport)
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	res, _ = c.do(http.MethodGet, "/tickets/"+mine.ID.String()+"/suggestion", nil, asSales)
	require.Equal(t, http.StatusForbidden, res.StatusCode)
}

// walkKnowledgeBase walks articles: create (idempotent), drafts hidden
// from readers, update, publish, search, suggestions for a ticket,
// unpublish, delete.
func walkKnowledgeBase(t *testing.T, c *client, newTicket ticketMaker) {
	t.Helper()
	ctx := context.Background()
	cr := c.tenantCRM()
	art := map[string]any{"title": "Reset your password", "body": "Open the settings and choose reset password; the mail comes within a minute.",
		"locale": "en-gb", "category": "account"}
	key := map[string]string{"Idempotency-Key": "article-reset"}
	res, b := c.do(http.MethodPost, "/articles", art, key)
	require.Equal(t, http.StatusCreated, res.StatusCode, string(b))
	again, b2 := c.do(http.MethodPost, "/articles", art, key)
	require.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
	require.Equal(t, string(b), string(b2))
	id := idOf(t, b)
	a, err := cr.KnowledgeBase.Get(ctx, mustID(t, id))
	require.NoError(t, err)
	require.Equal(t, "en-GB", a.Locale)
	require.Equal(t, tickets.ArticleDraft, a.Status)
	p, err := cr.KnowledgeBase.List(ctx, tickets.ArticleListOptions{})
	require.NoError(t, err)
	require.Len(t, p.Items, 1, "one article for the two requests")

	res, b = c.do(http.MethodPost, "/articles", map[string]any{"title": "", "locale": "xx-!!", "category": "Bad Category"}, nil)
	locs := problemFields(t, res, b, http.StatusUnprocessableEntity)
	for _, f := range []string{"body.title", "body.locale", "body.category"} {
		require.Contains(t, locs, f, string(b))
	}
	res, _ = c.do(http.MethodPost, "/articles", art, asSupport)
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	res, b = c.do(http.MethodGet, "/articles", nil, asSupport)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.NotContains(t, string(b), id, "a draft is not the readers'")
	res, _ = c.do(http.MethodGet, "/articles/"+id, nil, asSupport)
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	res, b = c.do(http.MethodGet, "/articles?status=draft&locale=en&limit=1", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	require.Contains(t, string(b), id)
	res, b = c.do(http.MethodGet, "/articles?locale=%21%21", nil, nil)
	require.Equal(t, []string{"query.locale"}, problemFields(t, res, b, http.StatusUnprocessableEntity))
	res, _ = c.do(http.MethodGet, "/articles?cursor=forged", nil, nil)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	res, _ = c.do(http.MethodGet, "/articles", nil, asSales)
	require.Equal(t, http.StatusForbidden, res.StatusCode)

	res, b = c.do(http.MethodPatch, "/articles/"+id, map[string]any{"title": "Reset a password"}, ifMatch(`"1"`))
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	require.Equal(t, `"2"`, res.Header.Get("ETag"))
	res, _ = c.do(http.MethodPatch, "/articles/"+id, map[string]any{"title": "Reset"}, ifMatch(`"1"`))
	require.Equal(t, http.StatusPreconditionFailed, res.StatusCode)
	res, _ = c.do(http.MethodPost, "/articles/"+id+"/publish", nil, ifMatch(`"1"`))
	require.Equal(t, http.StatusPreconditionFailed, res.StatusCode)
	res, _ = c.do(http.MethodPost, "/articles/"+id+"/publish", nil, with(asSupport, "If-Match", `"2"`))
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	res, b = c.do(http.MethodPost, "/articles/"+id+"/publish", nil, ifMatch(`"2"`))
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	a, err = cr.KnowledgeBase.Get(ctx, mustID(t, id))
	require.NoError(t, err)
	require.Equal(t, tickets.ArticlePublished, a.Status)
	require.Equal(t, "Reset a password", a.Title)
	res, _ = c.do(http.MethodGet, "/articles/"+id, nil, asSupport)
	require.Equal(t, http.StatusOK, res.StatusCode, "published: the readers'")
	c.tenant = "globex"
	res, _ = c.do(http.MethodGet, "/articles/"+id, nil, nil)
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	res, b = c.do(http.MethodGet, "/articles/search?q=password", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "[]", strings.TrimSpace(string(b)), "another tenant's articles are not found")
	c.tenant = "acme"

	res, b = c.do(http.MethodGet, "/articles/search?q=passwords&locale=en", nil, asSupport)
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	var hits []tickets.ArticleHit
	require.NoError(t, json.Unmarshal(b, &hits))
	require.Len(t, hits, 1)
	require.Equal(t, id, hits[0].Article.ID.String())
	res, b = c.do(http.MethodGet, "/articles/search?q=password&locale=de", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "[]", strings.TrimSpace(string(b)))
	res, b = c.do(http.MethodGet, "/articles/search?q=the", nil, nil)
	require.Equal(t, []string{"query.q"}, problemFields(t, res, b, http.StatusUnprocessableEntity))
	res, _ = c.do(http.MethodGet, "/articles/search?q=password", nil, asSales)
	require.Equal(t, http.StatusForbidden, res.StatusCode)

	mine := newTicket("Password trouble", "How do I reset my password?", "agent-7", "")
	res, b = c.do(http.MethodGet, "/tickets/"+mine.ID.String()+"/articles?limit=3", nil, asSupport)
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	require.NoError(t, json.Unmarshal(b, &hits))
	require.Len(t, hits, 1)
	require.Equal(t, id, hits[0].Article.ID.String())
	res, _ = c.do(http.MethodGet, "/tickets/"+core.NewID().String()+"/articles", nil, nil)
	require.Equal(t, http.StatusNotFound, res.StatusCode)

	res, b = c.do(http.MethodPost, "/articles/"+id+"/unpublish", nil, ifMatch(`"3"`))
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	res, b = c.do(http.MethodGet, "/articles/search?q=password", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "[]", strings.TrimSpace(string(b)), "a draft is not found")
	res, _ = c.do(http.MethodDelete, "/articles/"+id, nil, ifMatch(`"3"`))
	require.Equal(t, http.StatusPreconditionFailed, res.StatusCode)
	res, _ = c.do(http.MethodDelete, "/articles/"+id, nil, with(asSupport, "If-Match", `"4"`))
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	res, _ = c.do(http.MethodDelete, "/articles/"+id, nil, ifMatch(`"4"`))
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	_, err = cr.KnowledgeBase.Get(ctx, mustID(t, id))
	require.ErrorIs(t, err, core.ErrNotFound)
}

// walkTicketActions walks merging a duplicate and survey links.
func walkTicketActions(t *testing.T, c *client, newTicket ticketMaker) {
	t.Helper()
	ctx := context.Background()
	cr := c.tenantCRM()
	dup := newTicket("Printer jam", "The printer jams.", "agent-7", "")
	target := newTicket("Printer", "The printer jams again.", "agent-7", "")
	hidden := newTicket("Printer", "Not the agent's.", "agent-8", "")
	merge := func(id core.ID, to core.ID, h map[string]string) (*http.Response, []byte) {
		return c.do(http.MethodPost, "/tickets/"+id.String()+"/merge", map[string]any{"target_id": to.String()}, h)
	}
	v := etagOf(dup.Version)
	res, b := merge(dup.ID, dup.ID, with(asSupport, "If-Match", v))
	require.Contains(t, problemFields(t, res, b, http.StatusUnprocessableEntity), "body.target_id")
	res, _ = merge(dup.ID, target.ID, with(asSales, "If-Match", v))
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	res, _ = merge(dup.ID, hidden.ID, with(asSupport, "If-Match", v))
	require.Equal(t, http.StatusNotFound, res.StatusCode, "a target the agent does not see")
	res, _ = merge(dup.ID, target.ID, asSupport)
	require.Equal(t, http.StatusPreconditionRequired, res.StatusCode)
	res, _ = merge(dup.ID, target.ID, with(asSupport, "If-Match", etagOf(dup.Version+1)))
	require.Equal(t, http.StatusPreconditionFailed, res.StatusCode)
	res, b = merge(dup.ID, target.ID, with(asSupport, "If-Match", v))
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	require.Equal(t, target.ID.String(), idOf(t, b))
	src, err := cr.Tickets.Get(ctx, dup.ID)
	require.NoError(t, err)
	require.Equal(t, tickets.StatusClosed, src.Status)
	require.Equal(t, target.ID, *src.MergedInto)
	msgs, err := cr.Tickets.Messages(ctx, target.ID)
	require.NoError(t, err)
	require.Len(t, msgs, 2)
	res, _ = merge(dup.ID, target.ID, with(asSupport, "If-Match", etagOf(src.Version)))
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, "merged already")

	survey := func(id core.ID, kind string, h map[string]string) (*http.Response, []byte) {
		return c.do(http.MethodPost, "/tickets/"+id.String()+"/surveys", map[string]any{"kind": kind}, h)
	}
	res, b = survey(target.ID, "csat", nil)
	require.Contains(t, problemFields(t, res, b, http.StatusUnprocessableEntity), "body.ticket_id", "the ticket is not solved")
	cur, err := cr.Tickets.Get(ctx, target.ID)
	require.NoError(t, err)
	_, err = cr.Tickets.SetStatus(ctx, target.ID, tickets.StatusChange{Version: cur.Version, Status: tickets.StatusSolved})
	require.NoError(t, err)
	res, b = survey(target.ID, "stars", nil)
	problemFields(t, res, b, http.StatusUnprocessableEntity)
	res, _ = survey(target.ID, "csat", asSales)
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	res, _ = survey(hidden.ID, "csat", asSupport)
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	res, _ = survey(core.NewID(), "csat", nil)
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	res, b = survey(target.ID, "csat", asSupport)
	require.Equal(t, http.StatusCreated, res.StatusCode, string(b))
	var link tickets.SurveyLink
	require.NoError(t, json.Unmarshal(b, &link))
	require.Equal(t, target.ID, link.TicketID)
	require.True(t, link.ExpiresAt.After(time.Now()))
	rated, err := cr.Tickets.AnswerSurvey(ctx, link.Token, 4)
	require.NoError(t, err)
	require.Equal(t, 4, *rated.CSAT, "the link's token is the ticket's survey")
	res, b = c.do(http.MethodGet, "/tickets/"+target.ID.String(), nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, string(b), `"csat":4`, "the result is the ticket's")
	require.Equal(t, etagOf(rated.Version), res.Header.Get("ETag"))
}
