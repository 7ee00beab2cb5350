package tickets

import (
	"context"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// personalData is what tickets keep about a person: their tickets and
// the messages of them.
func personalData() []store.PersonalData {
	return []store.PersonalData{{Name: "tickets", Tables: []string{"crm_tickets", "crm_ticket_messages"},
		Export: func(ctx context.Context, sc store.Scope, id core.ID) (any, error) {
			tenant, _ := sc.Tenant()
			rows, err := sc.Q().Query(ctx, `SELECT `+ticketColumns(sc.Q().D)+` FROM crm_tickets t WHERE t.tenant_id = ? AND t.contact_id = ?
				ORDER BY t.created_at, t.id`, tenant, id)
			if err != nil {
				return nil, err
			}
			var list []*Ticket
			if err := store.EachRow(rows, func(r store.Scanner) error {
				t, err := scanTicket(r)
				list = append(list, t)
				return err
			}); err != nil {
				return nil, err
			}
			type exported struct {
				*Ticket
				Messages []*Message `json:"messages"`
			}
			out := []exported{}
			for _, t := range list {
				msgs, err := listMessages(ctx, sc.Q(), tenant, t.ID)
				if err != nil {
					return nil, err
				}
				out = append(out, exported{Ticket: t, Messages: msgs})
			}
			return out, nil
		},
		// The tickets stay for the service desk's statistics (numbers,
		// statuses, times, SLA); their subjects, custom fields, message
		// bodies and attachment names lose the person, and their events are
		// emptied — those of tickets once theirs too (found by the events).
		Erase: func(ctx context.Context, sc store.Scope, s store.Subject) error {
			tenant, _ := sc.Tenant()
			q := sc.Q()
			ids := s.IDs()
			rows, err := q.Query(ctx, `SELECT id FROM crm_tickets WHERE tenant_id = ? AND `+q.D.InList("contact_id", "uuid"), tenant, q.D.IDsArg(ids))
			if err != nil {
				return err
			}
			mine, err := store.ScanIDs(rows)
			if err != nil {
				return err
			}
			once, err := store.RecordsNaming(ctx, sc, s, "ticket")
			if err != nil {
				return err
			}
			all := append(mine, once...)
			if err := store.EmptyEventsAbout(ctx, sc, all); err != nil {
				return err
			}
			now := sc.Runtime().Now()
			for _, id := range all {
				t, err := getTicket(ctx, q, tenant, id, false)
				if err != nil {
					if store.Known(err) {
						continue // deleted since
					}
					return err
				}
				if _, err := q.Exec(ctx, `UPDATE crm_tickets SET subject = ?, attributes = '{}', updated_at = ?, version = version + 1
					WHERE tenant_id = ? AND id = ?`, s.Scrub(t.Subject), now, tenant, id); err != nil {
					return err
				}
				msgs, err := listMessages(ctx, q, tenant, id)
				if err != nil {
					return err
				}
				for _, m := range msgs {
					for i := range m.Attachments {
						m.Attachments[i].Name = s.Scrub(m.Attachments[i].Name)
					}
					if _, err := q.Exec(ctx, `UPDATE crm_ticket_messages SET body = ?, attachments = ? WHERE tenant_id = ? AND id = ?`,
						s.Scrub(m.Body), string(store.JSON(m.Attachments)), tenant, m.ID); err != nil {
						return err
					}
				}
			}
			return nil
		}}}
}
