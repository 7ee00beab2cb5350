package tickets_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/tickets"
)

// Macros are versioned settings: created, read, listed by name, updated
// and deleted at the version read, each with its event; every problem of
// an invalid macro is listed, its body's included.
func TestMacroSettings(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		ms := b.c.Tickets.Macros()
		_, err := b.c.Fields.Define(ctx, fields.Definition{Entity: tickets.EntityTicket, Key: "order_ref", Label: "Order", Type: fields.Text})
		require.NoError(t, err)
		solve, err := ms.Create(ctx, tickets.NewMacro{Name: " Solve ", Public: true,
			Body:    "Hello {{.Contact.FirstName}}, order {{.Ticket.Attributes.order_ref | default \"?\"}} is done. {{index .Ticket.Tags 0}}",
			Changes: tickets.MacroChanges{Status: tickets.StatusSolved, Category: ptr(" billing "), AddTags: []string{"done", " done"}}})
		require.NoError(t, err)
		require.Equal(t, "Solve", solve.Name)
		require.Equal(t, "billing", *solve.Changes.Category)
		require.Equal(t, []string{"done"}, solve.Changes.AddTags)
		require.Equal(t, int64(1), solve.Version)
		triage, err := ms.Create(ctx, tickets.NewMacro{Name: "Escalate", Changes: tickets.MacroChanges{Priority: tickets.PriorityUrgent, Team: ptr("support")}})
		require.NoError(t, err)
		require.Empty(t, triage.Body)

		got, err := ms.Get(ctx, solve.ID)
		require.NoError(t, err)
		require.Equal(t, solve.Body, got.Body)
		require.Equal(t, solve.Changes, got.Changes)
		list, err := ms.List(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"Escalate", "Solve"}, []string{list[0].Name, list[1].Name})

		up, err := ms.Update(ctx, solve.ID, 1, tickets.NewMacro{Name: "Solve", Body: "Done.", Public: true,
			Changes: tickets.MacroChanges{Status: tickets.StatusSolved}})
		require.NoError(t, err)
		require.Equal(t, int64(2), up.Version)
		_, err = ms.Update(ctx, solve.ID, 1, tickets.NewMacro{Name: "Solve", Body: "Again"})
		require.ErrorIs(t, err, core.ErrConflict)
		require.ErrorIs(t, ms.Delete(ctx, solve.ID, 1), core.ErrConflict)
		require.NoError(t, ms.Delete(ctx, solve.ID, 2))
		_, err = ms.Get(ctx, solve.ID)
		require.ErrorIs(t, err, core.ErrNotFound)
		require.Equal(t, []string{tickets.EventMacroCreated, tickets.EventMacroUpdated, tickets.EventMacroDeleted}, b.eventTypes(t, solve.ID))

		// Every problem at once; nothing stored.
		_, err = ms.Create(ctx, tickets.NewMacro{Name: "Escalate", Body: "{{.Ticket.Number}}",
			Changes: tickets.MacroChanges{Priority: "asap"}})
		require.Equal(t, []string{"changes.priority"}, fieldsOf(t, err))
		_, err = ms.Create(ctx, tickets.NewMacro{Name: "Escalate", Body: "{{.Ticket.Number}}"})
		require.Equal(t, []string{"name"}, fieldsOf(t, err), "names are unique")
		_, err = ms.Create(ctx, tickets.NewMacro{Name: "", Body: "{{if .Ticket.Number}}",
			Changes: tickets.MacroChanges{Status: tickets.StatusNew, PendingMinutes: 5, Category: ptr("Not A Code"), Team: ptr("nobody"),
				AddTags: []string{"a\x01"}}})
		require.ElementsMatch(t, []string{"name", "body", "changes.status", "changes.pending_minutes", "changes.category", "changes.team", "tags"},
			fieldsOf(t, err))
		for _, body := range []string{"{{.Ticket.Nope}}", "{{.Ticket.Attributes.nope}}", "{{.Contact.Email}}", "{{.Agent.Name.Foo}}", "{{nope}}", "{{join .Ticket.Subject \",\"}}"} {
			_, err = ms.Create(ctx, tickets.NewMacro{Name: "Bad", Body: body})
			require.Equal(t, []string{"body"}, fieldsOf(t, err), body)
		}
		_, err = ms.Create(ctx, tickets.NewMacro{Name: "Pending", Changes: tickets.MacroChanges{Status: tickets.StatusPending}})
		require.Equal(t, []string{"changes.pending_minutes"}, fieldsOf(t, err))
		_, err = ms.Create(ctx, tickets.NewMacro{Name: "Nothing", Body: "  "})
		require.Equal(t, []string{"body"}, fieldsOf(t, err), "a macro does something")
		list, err = ms.List(ctx)
		require.NoError(t, err)
		require.Len(t, list, 1)
	})
}

// agent is the context of a stored user, an admin, who applies macros.
func (b *bundle) agent(t *testing.T, id, name string) context.Context {
	t.Helper()
	_, err := b.c.Access.Roles.InstallBuiltins(context.Background())
	require.NoError(t, err)
	_, err = b.c.Access.Users.Create(context.Background(), access.UserInput{ID: id, DisplayName: name, TimeZone: "UTC", Roles: []string{access.RoleAdmin}})
	require.NoError(t, err)
	return core.WithActor(context.Background(), core.Actor{ID: id})
}

// ApplyMacro renders the reply for the ticket as the macro leaves it,
// adds it as the agent's message and applies the field changes in one
// change with its events; a transition Transitions refuses, a body that
// fails to run, a stale version or no agent writes nothing.
func TestApplyMacro(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		agent := b.agent(t, "agent-1", "Grace Agent")
		ms := b.c.Tickets.Macros()
		solve, err := ms.Create(ctx, tickets.NewMacro{Name: "Solve", Public: true,
			Body: "Hello {{.Contact.FirstName | default \"there\"}},\nticket #{{.Ticket.Number}} ({{.Ticket.Subject}}) is {{.Ticket.Status}}, " +
				"priority {{.Ticket.Priority}}, {{.Ticket.Category}}, tags {{join .Ticket.Tags \", \"}}, team {{.Ticket.Team}}, agent {{.Ticket.AssigneeID}}.\n— {{.Agent.Name}}",
			Changes: tickets.MacroChanges{Status: tickets.StatusSolved, Priority: tickets.PriorityHigh, Category: ptr("billing"),
				AddTags: []string{"done"}, RemoveTags: []string{"vip"}, Team: ptr("support"), AssigneeID: ptr(tickets.MacroAgent)}})
		require.NoError(t, err)
		tk := b.ticket(t, tickets.NewTicket{Tags: []string{"vip", "invoice"},
			Message: &tickets.NewMessage{Public: true, AuthorKind: tickets.AuthorCustomer, Body: "Where is my invoice?"}})
		b.clock.Set(utc("2026-03-02T09:00:00Z"), 0)

		out, err := b.c.Tickets.ApplyMacro(agent, tk.ID, solve.ID, tk.Version)
		require.NoError(t, err)
		require.Equal(t, tk.Version+1, out.Version)
		require.Equal(t, tickets.StatusSolved, out.Status)
		require.Equal(t, tickets.PriorityHigh, out.Priority)
		require.Equal(t, "billing", out.Category)
		require.Equal(t, []string{"invoice", "done"}, out.Tags)
		require.Equal(t, "support", out.Team)
		require.Equal(t, "agent-1", out.AssigneeID)
		msgs := b.messages(t, tk.ID)
		require.Len(t, msgs, 2)
		reply := msgs[1]
		require.True(t, reply.Public)
		require.Equal(t, tickets.AuthorAgent, reply.AuthorKind)
		require.Equal(t, "agent-1", reply.AuthorID)
		require.Equal(t, "Hello Ada,\nticket #1 (Printer on fire) is solved, priority high, billing, tags invoice, done, team support, agent agent-1.\n— Grace Agent", reply.Body)
		types := b.eventTypes(t, tk.ID)
		require.Equal(t, []string{tickets.EventTicketMessageAdded, tickets.EventTicketUpdated, tickets.EventTicketStatusChanged, tickets.EventTicketAssigned},
			types[len(types)-4:])

		// Nothing is written when the macro cannot apply.
		snapshot := func() (int64, int) {
			cur, err := b.c.Tickets.Get(ctx, tk.ID)
			require.NoError(t, err)
			return cur.Version, len(b.messages(t, tk.ID))
		}
		v0, n0 := snapshot()
		_, err = b.c.Tickets.ApplyMacro(ctx, tk.ID, solve.ID, out.Version)
		require.Equal(t, []string{"actor"}, fieldsOf(t, err), "the reply is an agent's")
		_, err = b.c.Tickets.ApplyMacro(agent, tk.ID, solve.ID, out.Version-1)
		require.ErrorIs(t, err, core.ErrConflict)
		_, err = b.c.Tickets.ApplyMacro(agent, tk.ID, core.NewID(), out.Version)
		require.ErrorIs(t, err, core.ErrNotFound)
		pending, err := ms.Create(ctx, tickets.NewMacro{Name: "Wait", Body: "We wait for you.", Public: true,
			Changes: tickets.MacroChanges{Status: tickets.StatusPending, PendingMinutes: 60}})
		require.NoError(t, err)
		_, err = b.c.Tickets.ApplyMacro(agent, tk.ID, pending.ID, out.Version)
		require.Equal(t, []string{"status"}, fieldsOf(t, err), "a solved ticket does not become pending")
		third, err := ms.Create(ctx, tickets.NewMacro{Name: "Third tag", Body: "The third tag is {{index .Ticket.Tags 2}}."})
		require.NoError(t, err, "saved: it runs on tickets with three tags")
		_, err = b.c.Tickets.ApplyMacro(agent, tk.ID, third.ID, out.Version)
		require.Equal(t, []string{"body"}, fieldsOf(t, err), "this one has two")
		v1, n1 := snapshot()
		require.Equal(t, []any{v0, n0}, []any{v1, n1})

		// Closed: a reply needs a reopen.
		closed, err := b.c.Tickets.SetStatus(ctx, tk.ID, tickets.StatusChange{Version: out.Version, Status: tickets.StatusClosed})
		require.NoError(t, err)
		note, err := ms.Create(ctx, tickets.NewMacro{Name: "Note", Body: "Checked by {{.Agent.ID}}."})
		require.NoError(t, err)
		_, err = b.c.Tickets.ApplyMacro(agent, tk.ID, note.ID, closed.Version)
		require.Equal(t, []string{"ticket_id"}, fieldsOf(t, err))
		reopen, err := ms.Create(ctx, tickets.NewMacro{Name: "Reopen", Body: "Reopened for you, {{.Contact.Name}}.", Public: true,
			Changes: tickets.MacroChanges{Status: tickets.StatusOpen}})
		require.NoError(t, err)
		again, err := b.c.Tickets.ApplyMacro(agent, tk.ID, reopen.ID, closed.Version)
		require.NoError(t, err)
		require.Equal(t, tickets.StatusOpen, again.Status)
		require.Equal(t, "Reopened for you, Ada.", b.messages(t, tk.ID)[2].Body)

		// An internal note on a new ticket leaves it new; a pending macro
		// sets the reminder.
		fresh := b.ticket(t, tickets.NewTicket{Subject: "Fresh"})
		noted, err := b.c.Tickets.ApplyMacro(agent, fresh.ID, note.ID, fresh.Version)
		require.NoError(t, err)
		require.Equal(t, tickets.StatusNew, noted.Status)
		fm := b.messages(t, fresh.ID)
		require.False(t, fm[0].Public)
		require.Equal(t, "Checked by agent-1.", fm[0].Body)
		waiting, err := b.c.Tickets.ApplyMacro(agent, fresh.ID, pending.ID, noted.Version)
		require.NoError(t, err)
		require.Equal(t, tickets.StatusPending, waiting.Status)
		require.Equal(t, utc("2026-03-02T09:00:00Z").Add(time.Hour), *waiting.PendingUntil)
		// A public reply on a new ticket opens it, and the body sees that.
		opened := b.ticket(t, tickets.NewTicket{Subject: "Open me"})
		st, err := ms.Create(ctx, tickets.NewMacro{Name: "Status", Body: "Now {{.Ticket.Status}}.", Public: true})
		require.NoError(t, err)
		res, err := b.c.Tickets.ApplyMacro(agent, opened.ID, st.ID, opened.Version)
		require.NoError(t, err)
		require.Equal(t, tickets.StatusOpen, res.Status)
		require.Equal(t, "Now open.", b.messages(t, opened.ID)[0].Body)
	})
}

// Macros are settings (manage to change, read to read); applying one
// needs update of a ticket the actor sees, and may not give the ticket
// away from what they see.
func TestMacroRecordAccess(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		w := newAccessWorld(t, db)
		ctx := context.Background()
		ms := w.c.Tickets.Macros()
		take, err := ms.Create(as("root"), tickets.NewMacro{Name: "Take", Body: "Mine now.", Changes: tickets.MacroChanges{AssigneeID: ptr(tickets.MacroAgent)}})
		require.NoError(t, err)
		away, err := ms.Create(ctx, tickets.NewMacro{Name: "Away", Changes: tickets.MacroChanges{AssigneeID: ptr("outsider"), Team: ptr("")}})
		require.NoError(t, err)
		for _, user := range []string{"bob", "rita", "carol"} {
			_, err := ms.Create(as(user), tickets.NewMacro{Name: "By " + user, Body: "x"})
			require.ErrorIs(t, err, core.ErrForbidden, user)
			require.ErrorIs(t, ms.Delete(as(user), take.ID, take.Version), core.ErrForbidden)
			require.Contains(t, w.denied(t, take.ID, user), "tickets:manage")
		}
		list, err := ms.List(as("rita"))
		require.NoError(t, err)
		require.Len(t, list, 2)
		_, err = ms.Get(as("alice"), take.ID)
		require.ErrorIs(t, err, core.ErrForbidden)

		// bob sees west's tickets: he takes one of them.
		mine := w.byKey["/west"]
		cur, err := w.c.Tickets.Get(ctx, mine)
		require.NoError(t, err)
		out, err := w.c.Tickets.ApplyMacro(as("bob"), mine, take.ID, cur.Version)
		require.NoError(t, err)
		require.Equal(t, "bob", out.AssigneeID)
		_, err = w.c.Tickets.ApplyMacro(as("bob"), mine, away.ID, out.Version)
		require.ErrorIs(t, err, core.ErrForbidden, "not away from what he sees")
		// One of east's he does not see; rita may not change any.
		hidden := w.byKey["/east"]
		cur, err = w.c.Tickets.Get(ctx, hidden)
		require.NoError(t, err)
		_, err = w.c.Tickets.ApplyMacro(as("bob"), hidden, take.ID, cur.Version)
		require.ErrorIs(t, err, core.ErrNotFound)
		_, err = w.c.Tickets.ApplyMacro(as("rita"), hidden, take.ID, cur.Version)
		require.ErrorIs(t, err, core.ErrForbidden)
		after, err := w.c.Tickets.Get(ctx, hidden)
		require.NoError(t, err)
		require.Equal(t, cur.Version, after.Version)
	})
}
