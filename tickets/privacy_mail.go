package tickets

import (
	"context"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// mailPersonalData is what tickets keep about a person in tickets that
// are not theirs: the messages they wrote into another contact's ticket
// (a reply in the thread from their address, a forward with
// InboundOptions.TokenFromAnyone), whose AuthorID is their contact id.
func mailPersonalData() store.PersonalData {
	return store.PersonalData{Name: "ticket_messages_written", Tables: []string{"crm_ticket_messages"},
		Export: func(ctx context.Context, sc store.Scope, id core.ID) (any, error) {
			tenant, _ := sc.Tenant()
			rows, err := sc.Q().Query(ctx, `SELECT `+messageColumns+` FROM crm_ticket_messages m WHERE m.tenant_id = ?
				AND m.author_kind = 'customer' AND m.author_id = ? ORDER BY m.created_at, m.id`, tenant, id.String())
			if err != nil {
				return nil, err
			}
			out := []*Message{}
			err = store.EachRow(rows, func(r store.Scanner) error {
				m, err := scanMessage(r)
				out = append(out, m)
				return err
			})
			return out, err
		},
		// Their messages lose the person (bodies and attachment names
		// scrubbed), and the events of the tickets they wrote into, which
		// carry the messages, are emptied.
		Erase: func(ctx context.Context, sc store.Scope, s store.Subject) error {
			tenant, _ := sc.Tenant()
			q := sc.Q()
			var authors []string
			for _, id := range s.IDs() {
				authors = append(authors, id.String())
			}
			rows, err := q.Query(ctx, `SELECT `+messageColumns+` FROM crm_ticket_messages m WHERE m.tenant_id = ?
				AND m.author_kind = 'customer' AND `+q.D.InList("m.author_id", "text"), tenant, q.D.ListArg(authors))
			if err != nil {
				return err
			}
			var msgs []*Message
			if err := store.EachRow(rows, func(r store.Scanner) error {
				m, err := scanMessage(r)
				msgs = append(msgs, m)
				return err
			}); err != nil {
				return err
			}
			var touched []core.ID
			for _, m := range msgs {
				for i := range m.Attachments {
					m.Attachments[i].Name = s.Scrub(m.Attachments[i].Name)
				}
				if _, err := q.Exec(ctx, `UPDATE crm_ticket_messages SET body = ?, attachments = ? WHERE tenant_id = ? AND id = ?`,
					s.Scrub(m.Body), string(store.JSON(m.Attachments)), tenant, m.ID); err != nil {
					return err
				}
				touched = append(touched, m.TicketID)
			}
			return store.EmptyEventsAbout(ctx, sc, touched)
		}}
}
