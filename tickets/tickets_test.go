package tickets_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/modules"
	"github.com/crmkit/crmkit/tickets"
)

// migrated is the template database of these tests (see dbtest.Template).
var migrated = &dbtest.Template{Name: "crm", Sources: modules.Migrations(), Migrate: func(ctx context.Context, db *bun.DB) error {
	c, err := crm.New(db, crm.Config{})
	if err != nil {
		return err
	}
	return c.Migrate(ctx)
}}

type bundle struct {
	c       *crm.CRM
	clock   *dbtest.Clock
	contact *contacts.Contact
}

// setup opens a CRM on db with a clock that stands still at Monday
// 2026-03-02 08:00 UTC, a contact and a team "support".
func setup(t *testing.T, db *bun.DB) *bundle {
	t.Helper()
	ctx := context.Background()
	clock := dbtest.NewClock(utc("2026-03-02T08:00:00Z"))
	clock.Set(utc("2026-03-02T08:00:00Z"), 0)
	c, err := crm.New(db, crm.Config{Clock: clock})
	require.NoError(t, err)
	require.NoError(t, c.Migrate(ctx))
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	p, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "ada@example.com", FirstName: "Ada"})
	require.NoError(t, err)
	_, err = c.Access.Teams.Create(ctx, access.TeamInput{Name: "support"})
	require.NoError(t, err)
	return &bundle{c: c, clock: clock, contact: p}
}

func each(t *testing.T, fn func(t *testing.T, b *bundle)) {
	migrated.Run(t, func(t *testing.T, db *bun.DB) { fn(t, setup(t, db)) })
}

func (b *bundle) ticket(t *testing.T, in tickets.NewTicket) *tickets.Ticket {
	t.Helper()
	if in.ContactID == core.NilID {
		in.ContactID = b.contact.ID
	}
	if in.Subject == "" {
		in.Subject = "Printer on fire"
	}
	tk, err := b.c.Tickets.Create(context.Background(), in)
	require.NoError(t, err)
	return tk
}

func (b *bundle) eventTypes(t *testing.T, subject core.ID) []string {
	evs, err := b.c.Events(context.Background(), crm.EventQuery{SubjectID: subject, Limit: 1000})
	require.NoError(t, err)
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Type)
	}
	return out
}

func (b *bundle) count(t *testing.T, table string) int {
	var n int
	require.NoError(t, b.c.DB().QueryRow(`SELECT count(*) FROM `+table).Scan(&n))
	return n
}

func ptr[T any](v T) *T { return &v }

// A ticket is created with its defaults and number, read by id and
// number, changed field by field (a patch that changes nothing writes
// nothing), and listed with the filter language and keyset pages.
func TestTicketCRUD(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		_, err := b.c.Fields.Define(ctx, fields.Definition{Entity: tickets.EntityTicket, Key: "order_ref", Label: "Order", Type: fields.Text})
		require.NoError(t, err)
		co, err := b.c.Companies.Create(ctx, contacts.NewCompany{Name: "Analytical Engines"})
		require.NoError(t, err)

		tk := b.ticket(t, tickets.NewTicket{Subject: "  Invoice missing ", CompanyID: &co.ID, Channel: tickets.ChannelEmail, Category: "billing",
			Tags: []string{"vip", " vip", "invoice"}, AssigneeID: "agent-1", Team: "support", Attributes: map[string]any{"order_ref": "o-1"},
			Message: &tickets.NewMessage{Public: true, AuthorKind: tickets.AuthorCustomer, Body: "Where is my invoice?",
				Attachments: []tickets.Attachment{{Name: "order.pdf", ContentType: "application/pdf", Size: 1024, StorageKey: "s3://b/1"}}}})
		require.Equal(t, int64(1), tk.Number)
		require.Equal(t, "Invoice missing", tk.Subject)
		require.Equal(t, tickets.StatusNew, tk.Status)
		require.Equal(t, tickets.PriorityNormal, tk.Priority)
		require.Equal(t, []string{"vip", "invoice"}, tk.Tags)
		require.Equal(t, int64(1), tk.Version)
		require.Nil(t, tk.SLA, "no policy")

		got, err := b.c.Tickets.Get(ctx, tk.ID)
		require.NoError(t, err)
		require.Equal(t, tk.Subject, got.Subject)
		require.Equal(t, *tk.CompanyID, *got.CompanyID)
		require.Equal(t, "o-1", got.Attributes["order_ref"])
		byNumber, err := b.c.Tickets.GetByNumber(ctx, 1)
		require.NoError(t, err)
		require.Equal(t, tk.ID, byNumber.ID)
		_, err = b.c.Tickets.GetByNumber(ctx, 99)
		require.ErrorIs(t, err, core.ErrNotFound)
		_, err = b.c.Tickets.Get(ctx, core.NewID())
		require.ErrorIs(t, err, core.ErrNotFound)
		msgs, err := b.c.Tickets.Messages(ctx, tk.ID)
		require.NoError(t, err)
		require.Len(t, msgs, 1)
		require.Equal(t, "s3://b/1", msgs[0].Attachments[0].StorageKey)

		up, err := b.c.Tickets.Update(ctx, tk.ID, tickets.TicketPatch{Version: 1, Priority: ptr(tickets.PriorityHigh), Tags: &[]string{"vip"},
			CompanyID: ptr(core.NilID), Attributes: map[string]any{"order_ref": nil}})
		require.NoError(t, err)
		require.Equal(t, int64(2), up.Version)
		require.Equal(t, tickets.PriorityHigh, up.Priority)
		require.Nil(t, up.CompanyID)
		require.Empty(t, up.Attributes)
		same, err := b.c.Tickets.Update(ctx, tk.ID, tickets.TicketPatch{Version: 2, Priority: ptr(tickets.PriorityHigh)})
		require.NoError(t, err)
		require.Equal(t, int64(2), same.Version)
		require.Equal(t, []string{tickets.EventTicketCreated, tickets.EventTicketMessageAdded, tickets.EventTicketUpdated}, b.eventTypes(t, tk.ID))

		for i := range 4 {
			b.ticket(t, tickets.NewTicket{Subject: fmt.Sprintf("Question %d", i), Status: tickets.StatusOpen, Team: "support"})
		}
		page, err := b.c.Tickets.List(ctx, tickets.ListOptions{Filter: filter.Eq("status", "open"), Sort: "number", Limit: 3})
		require.NoError(t, err)
		require.Equal(t, []int64{2, 3, 4}, numbers(page.Items))
		require.NotEmpty(t, page.Next)
		page, err = b.c.Tickets.List(ctx, tickets.ListOptions{Filter: filter.Eq("status", "open"), Sort: "number", Limit: 3, Cursor: page.Next})
		require.NoError(t, err)
		require.Equal(t, []int64{5}, numbers(page.Items))
		require.Empty(t, page.Next)
		page, err = b.c.Tickets.List(ctx, tickets.ListOptions{Filter: filter.Contains("tags", "vip")})
		require.NoError(t, err)
		require.Equal(t, []int64{1}, numbers(page.Items))
		_, err = b.c.Tickets.List(ctx, tickets.ListOptions{Filter: filter.Eq("colour", "red")})
		require.ErrorIs(t, err, core.ErrInvalid)
	})
}

func numbers(ts []*tickets.Ticket) []int64 {
	out := []int64{}
	for _, t := range ts {
		out = append(out, t.Number)
	}
	return out
}

// Every transition of the table is allowed; a closed ticket can only be
// reopened, nothing goes back to new, pending needs a future reminder.
func TestTicketTransitions(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		until := ptr(utc("2026-03-05T09:00:00Z"))
		// reach creates a ticket in status s.
		reach := func(s tickets.Status) *tickets.Ticket {
			switch s {
			case tickets.StatusNew, tickets.StatusOpen, tickets.StatusOnHold:
				return b.ticket(t, tickets.NewTicket{Status: s})
			case tickets.StatusPending:
				return b.ticket(t, tickets.NewTicket{Status: s, PendingUntil: until})
			}
			tk := b.ticket(t, tickets.NewTicket{Status: tickets.StatusOpen})
			tk, err := b.c.Tickets.SetStatus(ctx, tk.ID, tickets.StatusChange{Version: tk.Version, Status: s})
			require.NoError(t, err)
			return tk
		}
		for _, from := range tickets.Statuses {
			for _, to := range tickets.Statuses {
				if from == to && to != tickets.StatusPending {
					continue
				}
				tk := reach(from)
				ch := tickets.StatusChange{Version: tk.Version, Status: to}
				if to == tickets.StatusPending {
					ch.PendingUntil = ptr(utc("2026-03-06T09:00:00Z"))
				}
				got, err := b.c.Tickets.SetStatus(ctx, tk.ID, ch)
				if tickets.CanTransition(from, to) {
					require.NoError(t, err, "%s → %s", from, to)
					require.Equal(t, to, got.Status)
					require.Equal(t, tk.Version+1, got.Version)
					if to == tickets.StatusPending {
						require.Equal(t, *ch.PendingUntil, *got.PendingUntil)
					} else {
						require.Nil(t, got.PendingUntil)
					}
				} else {
					require.Equal(t, []string{"status"}, fieldsOf(t, err), "%s → %s", from, to)
					again, err := b.c.Tickets.Get(ctx, tk.ID)
					require.NoError(t, err)
					require.Equal(t, from, again.Status)
				}
			}
		}
		require.False(t, tickets.CanTransition(tickets.StatusClosed, tickets.StatusSolved))
		require.True(t, tickets.CanTransition(tickets.StatusClosed, tickets.StatusOpen))

		tk := reach(tickets.StatusOpen)
		_, err := b.c.Tickets.SetStatus(ctx, tk.ID, tickets.StatusChange{Version: tk.Version, Status: tickets.StatusPending})
		require.Equal(t, []string{"pending_until"}, fieldsOf(t, err))
		_, err = b.c.Tickets.SetStatus(ctx, tk.ID, tickets.StatusChange{Version: tk.Version, Status: tickets.StatusPending,
			PendingUntil: ptr(utc("2026-03-01T09:00:00Z"))})
		require.Equal(t, []string{"pending_until"}, fieldsOf(t, err))
		_, err = b.c.Tickets.SetStatus(ctx, tk.ID, tickets.StatusChange{Version: tk.Version, Status: "archived"})
		require.Equal(t, []string{"status"}, fieldsOf(t, err))
		ev, err := b.c.Events(ctx, crm.EventQuery{SubjectID: tk.ID, Types: []string{tickets.EventTicketStatusChanged}})
		require.NoError(t, err)
		require.Empty(t, ev, "a refused change emits nothing")
	})
}

// A stale version is ErrConflict and a missing one ErrInvalid, for every
// versioned change.
func TestTicketVersions(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		tk := b.ticket(t, tickets.NewTicket{})
		_, err := b.c.Tickets.Update(ctx, tk.ID, tickets.TicketPatch{Version: 1, Subject: ptr("Printer still on fire")})
		require.NoError(t, err)
		_, err = b.c.Tickets.Update(ctx, tk.ID, tickets.TicketPatch{Version: 1, Subject: ptr("Printer out")})
		require.ErrorIs(t, err, core.ErrConflict)
		_, err = b.c.Tickets.SetStatus(ctx, tk.ID, tickets.StatusChange{Version: 1, Status: tickets.StatusOpen})
		require.ErrorIs(t, err, core.ErrConflict)
		_, err = b.c.Tickets.Assign(ctx, tk.ID, tickets.Assignment{Version: 1, AssigneeID: "agent-1"})
		require.ErrorIs(t, err, core.ErrConflict)
		other := b.ticket(t, tickets.NewTicket{})
		_, err = b.c.Tickets.Merge(ctx, tk.ID, 1, other.ID)
		require.ErrorIs(t, err, core.ErrConflict)
		for _, err := range []error{
			func() error {
				_, err := b.c.Tickets.Update(ctx, tk.ID, tickets.TicketPatch{Subject: ptr("x")})
				return err
			}(),
			func() error {
				_, err := b.c.Tickets.SetStatus(ctx, tk.ID, tickets.StatusChange{Status: tickets.StatusOpen})
				return err
			}(),
			func() error {
				_, err := b.c.Tickets.Assign(ctx, tk.ID, tickets.Assignment{AssigneeID: "a"})
				return err
			}(),
			func() error { _, err := b.c.Tickets.Merge(ctx, tk.ID, 0, other.ID); return err }(),
		} {
			require.Equal(t, []string{"version"}, fieldsOf(t, err))
		}
		got, err := b.c.Tickets.Get(ctx, tk.ID)
		require.NoError(t, err)
		require.Equal(t, int64(2), got.Version)
		require.Equal(t, "Printer still on fire", got.Subject)
	})
}

// Twenty tickets created at once get twenty different numbers, 1 to 20;
// another tenant counts on its own.
func TestTicketNumbersUnderConcurrency(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		const n = 20
		var wg sync.WaitGroup
		got := make([]int64, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				tk, err := b.c.Tickets.Create(ctx, tickets.NewTicket{Subject: fmt.Sprintf("Concurrent %d", i), ContactID: b.contact.ID})
				errs[i] = err
				if err == nil {
					got[i] = tk.Number
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		slices.Sort(got)
		want := make([]int64, n)
		for i := range want {
			want[i] = int64(i + 1)
		}
		require.Equal(t, want, got)

		other := b.c.Tenant("other")
		p, err := other.Contacts.Create(ctx, contacts.NewContact{Email: "grace@example.com"})
		require.NoError(t, err)
		tk, err := other.Tickets.Create(ctx, tickets.NewTicket{Subject: "Hello", ContactID: p.ID})
		require.NoError(t, err)
		require.Equal(t, int64(1), tk.Number)
	})
}

// Merging moves the duplicate's messages to the target and closes the
// duplicate with a reference; a closed ticket is neither merged nor
// merged into, nor is a ticket merged into itself.
func TestTicketMerge(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		customer := func(body string) *tickets.NewMessage {
			return &tickets.NewMessage{Public: true, AuthorKind: tickets.AuthorCustomer, Body: body}
		}
		target := b.ticket(t, tickets.NewTicket{Subject: "Login fails", Message: customer("I cannot log in")})
		dup := b.ticket(t, tickets.NewTicket{Subject: "Login fails again", Message: customer("Still cannot log in")})
		_, err := b.c.Tickets.AddMessage(ctx, dup.ID, tickets.NewMessage{AuthorKind: tickets.AuthorAgent, AuthorID: "agent-1", Body: "Duplicate of the first"})
		require.NoError(t, err)
		dup, err = b.c.Tickets.Get(ctx, dup.ID)
		require.NoError(t, err)

		_, err = b.c.Tickets.Merge(ctx, dup.ID, dup.Version, dup.ID)
		require.Equal(t, []string{"target_id"}, fieldsOf(t, err))
		got, err := b.c.Tickets.Merge(ctx, dup.ID, dup.Version, target.ID)
		require.NoError(t, err)
		require.Equal(t, target.ID, got.ID)
		require.Equal(t, target.Version+1, got.Version)
		msgs, err := b.c.Tickets.Messages(ctx, target.ID)
		require.NoError(t, err)
		require.Len(t, msgs, 3)
		left, err := b.c.Tickets.Messages(ctx, dup.ID)
		require.NoError(t, err)
		require.Empty(t, left)
		src, err := b.c.Tickets.Get(ctx, dup.ID)
		require.NoError(t, err)
		require.Equal(t, tickets.StatusClosed, src.Status)
		require.Equal(t, target.ID, *src.MergedInto)
		require.Equal(t, []string{tickets.EventTicketCreated, tickets.EventTicketMessageAdded, tickets.EventTicketMessageAdded,
			tickets.EventTicketStatusChanged, tickets.EventTicketMerged}, b.eventTypes(t, dup.ID))
		require.Contains(t, b.eventTypes(t, target.ID), tickets.EventTicketMerged)

		_, err = b.c.Tickets.Merge(ctx, src.ID, src.Version, target.ID)
		require.Equal(t, []string{"source_id"}, fieldsOf(t, err))
		third := b.ticket(t, tickets.NewTicket{})
		_, err = b.c.Tickets.Merge(ctx, third.ID, third.Version, src.ID)
		require.Equal(t, []string{"target_id"}, fieldsOf(t, err))
		_, err = b.c.Tickets.AddMessage(ctx, src.ID, *customer("hello?"))
		require.Equal(t, []string{"ticket_id"}, fieldsOf(t, err), "a closed ticket takes no messages")
	})
}

// Every change emits its typed event about the ticket's contact, so the
// tickets are on the contact's timeline; assignment checks the team.
func TestTicketEvents(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		tk := b.ticket(t, tickets.NewTicket{})
		tk, err := b.c.Tickets.Assign(ctx, tk.ID, tickets.Assignment{Version: tk.Version, AssigneeID: "agent-7", Team: "support"})
		require.NoError(t, err)
		require.Equal(t, "support", tk.Team)
		_, err = b.c.Tickets.Assign(ctx, tk.ID, tickets.Assignment{Version: tk.Version, AssigneeID: "agent-7", Team: "sales"})
		require.Equal(t, []string{"team"}, fieldsOf(t, err))
		_, err = b.c.Tickets.Assign(ctx, tk.ID, tickets.Assignment{Version: tk.Version, Team: core.NewID().String()})
		require.Equal(t, []string{"team"}, fieldsOf(t, err))
		_, err = b.c.Tickets.AddMessage(ctx, tk.ID, tickets.NewMessage{Public: true, AuthorKind: tickets.AuthorAgent, AuthorID: "agent-7", Body: "On it"})
		require.NoError(t, err)
		tk, err = b.c.Tickets.Get(ctx, tk.ID)
		require.NoError(t, err)
		require.Equal(t, tickets.StatusOpen, tk.Status, "an agent's public reply opens a new ticket")
		_, err = b.c.Tickets.SetStatus(ctx, tk.ID, tickets.StatusChange{Version: tk.Version, Status: tickets.StatusSolved})
		require.NoError(t, err)

		evs, err := b.c.Events(ctx, crm.EventQuery{ContactID: b.contact.ID, Limit: 100})
		require.NoError(t, err)
		var types []string
		for _, ev := range evs {
			if ev.SubjectType != "ticket" {
				continue
			}
			require.Equal(t, tk.ID, ev.SubjectID)
			require.Equal(t, b.contact.ID, *ev.ContactID)
			types = append(types, ev.Type)
		}
		require.Equal(t, []string{tickets.EventTicketCreated, tickets.EventTicketAssigned, tickets.EventTicketMessageAdded,
			tickets.EventTicketStatusChanged, tickets.EventTicketStatusChanged}, types)
		known := map[string]bool{}
		for _, et := range b.c.EventTypes() {
			known[et.Type] = true
		}
		for _, typ := range types {
			require.True(t, known[typ], typ)
		}
		support, err := b.c.Access.Teams.ByName(ctx, "support")
		require.NoError(t, err)
		byID := b.ticket(t, tickets.NewTicket{Team: support.ID.String()})
		require.Equal(t, "support", byID.Team, "a team given by id is kept by name")
	})
}

// A tenant sees none of another's tickets and cannot open one for
// another's contact.
func TestTicketTenantIsolation(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		tk := b.ticket(t, tickets.NewTicket{})
		other := b.c.Tenant("other")
		_, err := other.Tickets.Get(ctx, tk.ID)
		require.ErrorIs(t, err, core.ErrNotFound)
		_, err = other.Tickets.Update(ctx, tk.ID, tickets.TicketPatch{Version: tk.Version, Subject: ptr("mine")})
		require.ErrorIs(t, err, core.ErrNotFound)
		_, err = other.Tickets.AddMessage(ctx, tk.ID, tickets.NewMessage{Public: true, AuthorKind: tickets.AuthorCustomer, Body: "hi"})
		require.ErrorIs(t, err, core.ErrNotFound)
		_, err = other.Tickets.Messages(ctx, tk.ID)
		require.ErrorIs(t, err, core.ErrNotFound)
		page, err := other.Tickets.List(ctx, tickets.ListOptions{})
		require.NoError(t, err)
		require.Empty(t, page.Items)
		_, err = other.Tickets.Create(ctx, tickets.NewTicket{Subject: "x", ContactID: b.contact.ID, Team: "support"})
		require.ElementsMatch(t, []string{"contact_id", "team"}, fieldsOf(t, err))
		otherTicket := func() *tickets.Ticket {
			p, err := other.Contacts.Create(ctx, contacts.NewContact{Email: "grace@example.com"})
			require.NoError(t, err)
			x, err := other.Tickets.Create(ctx, tickets.NewTicket{Subject: "x", ContactID: p.ID})
			require.NoError(t, err)
			return x
		}()
		_, err = b.c.Tickets.Merge(ctx, tk.ID, tk.Version, otherTicket.ID)
		require.ErrorIs(t, err, core.ErrNotFound)
	})
}

// Input with every field wrong is refused with every field listed, and
// nothing is written: no ticket, no message, no event, no number used.
func TestTicketBadInput(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		_, err := b.c.Fields.Define(ctx, fields.Definition{Entity: tickets.EntityTicket, Key: "order_ref", Label: "Order", Type: fields.Number})
		require.NoError(t, err)
		events := b.count(t, "crm_events")
		_, err = b.c.Tickets.Create(ctx, tickets.NewTicket{Subject: " ", ContactID: core.NewID(), CompanyID: ptr(core.NewID()), Channel: "fax",
			Status: tickets.StatusSolved, Priority: "asap", Category: "Billing Stuff", Tags: []string{"ok", "bad\x01tag"}, Team: "nobody",
			Attributes: map[string]any{"order_ref": "not a number"},
			Message:    &tickets.NewMessage{AuthorKind: "robot", Body: "", Attachments: []tickets.Attachment{{Name: "", Size: -1}}}})
		require.ElementsMatch(t, []string{"subject", "contact_id", "company_id", "channel", "status", "priority", "category", "tags", "team",
			"attributes.order_ref", "message.author_kind", "message.attachments.0.name", "message.attachments.0.size",
			"message.attachments.0.storage_key"}, fieldsOf(t, err))
		_, err = b.c.Tickets.Create(ctx, tickets.NewTicket{Subject: "x", ContactID: b.contact.ID,
			Message: &tickets.NewMessage{AuthorKind: tickets.AuthorAgent, Body: "x"}})
		require.Equal(t, []string{"message.author_id"}, fieldsOf(t, err))
		_, err = b.c.Tickets.Create(ctx, tickets.NewTicket{Subject: "x", ContactID: b.contact.ID,
			Message: &tickets.NewMessage{AuthorKind: tickets.AuthorCustomer, Body: "x"}})
		require.Equal(t, []string{"message.public"}, fieldsOf(t, err), "a customer's message is public")
		require.Zero(t, b.count(t, "crm_tickets"))
		require.Zero(t, b.count(t, "crm_ticket_messages"))
		require.Equal(t, events, b.count(t, "crm_events"))
		tk := b.ticket(t, tickets.NewTicket{})
		require.Equal(t, int64(1), tk.Number, "refused creations take no number")
	})
}

// A contact merge moves the loser's tickets to the winner; deleting the
// contact unlinks them, and deleting a company unlinks it from its
// tickets.
func TestTicketsFollowContacts(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		dup, err := b.c.Contacts.Create(ctx, contacts.NewContact{Email: "ada.l@example.com"})
		require.NoError(t, err)
		co, err := b.c.Companies.Create(ctx, contacts.NewCompany{Name: "Engines"})
		require.NoError(t, err)
		tk := b.ticket(t, tickets.NewTicket{ContactID: dup.ID, CompanyID: &co.ID})
		_, err = b.c.Contacts.Merge(ctx, b.contact.ID, dup.ID)
		require.NoError(t, err)
		got, err := b.c.Tickets.Get(ctx, tk.ID)
		require.NoError(t, err)
		require.Equal(t, b.contact.ID, *got.ContactID)
		require.NoError(t, b.c.Companies.Delete(ctx, co.ID))
		got, err = b.c.Tickets.Get(ctx, tk.ID)
		require.NoError(t, err)
		require.Nil(t, got.CompanyID)
		require.NoError(t, b.c.Contacts.Delete(ctx, b.contact.ID))
		got, err = b.c.Tickets.Get(ctx, tk.ID)
		require.NoError(t, err)
		require.Nil(t, got.ContactID)
		require.Equal(t, int64(1), got.Number, "the ticket stays")
	})
}
