package tickets

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/internal/store"
)

// Validating a ticket: its fields, tags and references in the tenant.

// check validates the fields of t and its references in the tenant, every
// problem added to v, and returns its attributes as JSON.
func (s *Tickets) check(ctx context.Context, tx *store.Tx, v *core.ValidationError, t *Ticket, now time.Time) ([]byte, error) {
	sc := s.sc.WithTx(tx)
	tenant, _ := sc.Tenant()
	t.Subject = strings.TrimSpace(t.Subject)
	t.Category = strings.TrimSpace(t.Category)
	t.AssigneeID = strings.TrimSpace(t.AssigneeID)
	t.Team = strings.TrimSpace(t.Team)
	t.Tags = normalizeTags(t.Tags)
	if t.Subject == "" {
		v.Add("subject", "is required")
	}
	v.CheckText("subject", t.Subject, MaxSubjectLen)
	if !slices.Contains(Channels, t.Channel) {
		v.Add("channel", "%q is not one of %s", t.Channel, strings.Join(enumValues(Channels), ", "))
	}
	if !slices.Contains(Priorities, t.Priority) {
		v.Add("priority", "%q is not one of %s", t.Priority, strings.Join(enumValues(Priorities), ", "))
	}
	if t.Category != "" && !core.ValidCode(t.Category) {
		v.Add("category", "%q is not a code (lower-case letters, digits and _)", t.Category)
	}
	checkTags(v, t.Tags)
	v.CheckText("assignee_id", t.AssigneeID, MaxUserIDLen)
	v.CheckText("team", t.Team, MaxNameLen)
	checkSkills(v, t)
	if t.Status == StatusPending {
		switch {
		case t.PendingUntil == nil:
			v.Add("pending_until", "is required for a pending ticket: when to remind")
		case !t.PendingUntil.After(now):
			v.Add("pending_until", "must be in the future")
		default:
			v.CheckTimePtr("pending_until", t.PendingUntil)
		}
	} else {
		t.PendingUntil = nil
	}
	// The references are checked for existence in the tenant, whatever
	// the actor sees of the contacts module: a support agent opens
	// tickets for contacts other people own.
	q := tx.Q()
	if t.ContactID == nil || *t.ContactID == core.NilID {
		v.Add("contact_id", "is required")
	} else if ok, err := exists(ctx, q, "crm_contacts", tenant, *t.ContactID); err != nil {
		return nil, err
	} else if !ok {
		v.Add("contact_id", "contact %s does not exist", *t.ContactID)
	}
	if t.CompanyID != nil {
		if ok, err := exists(ctx, q, "crm_companies", tenant, *t.CompanyID); err != nil {
			return nil, err
		} else if !ok {
			v.Add("company_id", "company %s does not exist", *t.CompanyID)
		}
	}
	if id, err := core.ParseID(t.Team); err == nil && t.Team != "" {
		// A team given by id is kept by its name.
		var name string
		err := q.QueryRow(ctx, `SELECT name FROM crm_teams WHERE tenant_id = ? AND id = ?`, tenant, id).Scan(&name)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			v.Add("team", "team %s does not exist", id)
		case err != nil:
			return nil, err
		default:
			t.Team = name
		}
	}
	if t.Team != "" && !v.Has("team") {
		ok, err := access.Module.TeamExists(ctx, tx.Q(), tenant, t.Team)
		if err != nil {
			return nil, err
		}
		if !ok {
			v.Add("team", "%q is not a team of this tenant", t.Team)
		}
	}
	return fields.Module.Service(sc).CheckAttributes(ctx, v, EntityTicket, t.Attributes)
}

// exists reports whether table (crm_contacts, crm_companies: read only)
// holds id in tenant.
func exists(ctx context.Context, q store.Q, table, tenant string, id core.ID) (bool, error) {
	var n int
	err := q.QueryRow(ctx, `SELECT count(*) FROM `+table+` WHERE tenant_id = ? AND id = ?`, tenant, id).Scan(&n)
	return n > 0, err
}

// normalizeTags trims, drops empties and duplicates, keeps order.
func normalizeTags(tags []string) []string {
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		t = strings.TrimSpace(t)
		if t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

func checkTags(v *core.ValidationError, tags []string) {
	if len(tags) > MaxTags {
		v.Add("tags", "has more than %d tags", MaxTags)
		return
	}
	for _, t := range tags {
		if !utf8.ValidString(t) || utf8.RuneCountInString(t) > MaxTagLen || strings.IndexFunc(t, unicode.IsControl) >= 0 {
			v.Add("tags", "a tag is not printable text of at most %d characters", MaxTagLen)
			return
		}
	}
}
