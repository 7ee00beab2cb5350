package demo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/internal/dialect"
)

// digestQueries read what the demo made, by content: names, addresses,
// amounts, stages, times — never ids, which are new on every run. Each
// reads one tenant.
var digestQueries = []struct{ name, sql string }{
	{"users", `SELECT u.id, u.display_name, u.email, u.time_zone FROM crm_users u WHERE u.tenant_id = ?`},
	{"teams", `SELECT t.name, m.user_id, m.is_lead, m.capacity FROM crm_teams t
		JOIN crm_team_members m ON m.tenant_id = t.tenant_id AND m.team_id = t.id WHERE t.tenant_id = ?`},
	{"companies", `SELECT co.name, co.domain, co.attributes, co.created_at, co.version FROM crm_companies co WHERE co.tenant_id = ?`},
	{"contacts", `SELECT c.email, c.phone, c.first_name, c.last_name, c.lifecycle_stage, c.owner_id, c.tags, c.attributes,
		c.created_at, c.updated_at, c.version, c.purchase_count, c.purchase_total, c.last_activity_at, co.name
		FROM crm_contacts c LEFT JOIN crm_companies co ON co.tenant_id = c.tenant_id AND co.id = c.company_id WHERE c.tenant_id = ?`},
	{"activities", `SELECT c.email, a.kind, a.name, a.occurred_at, a.properties, a.order_id, a.amount, a.currency, a.items, a.created_at
		FROM crm_activities a JOIN crm_contacts c ON c.tenant_id = a.tenant_id AND c.id = a.contact_id WHERE a.tenant_id = ?`},
	{"consents", `SELECT c.email, k.purpose_key, k.channel, k.status, k.source, k.recorded_at
		FROM crm_consents k JOIN crm_contacts c ON c.tenant_id = k.tenant_id AND c.id = k.contact_id WHERE k.tenant_id = ?`},
	{"deals", `SELECT d.title, d.amount, d.currency, d.status, s.name, p.name, d.owner_id, d.expected_close, d.closed_on, d.lost_reason,
		d.source, d.attributes, d.stage_entered_at, d.created_at, d.version, c.email
		FROM crm_deals d JOIN crm_stages s ON s.tenant_id = d.tenant_id AND s.id = d.stage_id
		JOIN crm_pipelines p ON p.tenant_id = d.tenant_id AND p.id = d.pipeline_id
		LEFT JOIN crm_contacts c ON c.tenant_id = d.tenant_id AND c.id = d.contact_id WHERE d.tenant_id = ?`},
	{"tickets", `SELECT t.number, t.subject, t.status, t.priority, t.channel, t.assignee_id, t.team, t.first_response_at, t.solved_at, t.sla_due, t.created_at, t.updated_at, c.email
		FROM crm_tickets t JOIN crm_contacts c ON c.tenant_id = t.tenant_id AND c.id = t.contact_id WHERE t.tenant_id = ?`},
	{"messages", `SELECT t.number, m.author_kind, m.body, m.created_at
		FROM crm_ticket_messages m JOIN crm_tickets t ON t.tenant_id = m.tenant_id AND t.id = m.ticket_id WHERE m.tenant_id = ?`},
	{"recipients", `SELECT r.email, r.state, r.reason FROM crm_campaign_recipients r WHERE r.tenant_id = ?`},
	{"events", `SELECT e.type, e.occurred_at FROM crm_events e WHERE e.tenant_id = ?`},
}

// Digest is a SHA-256 of the content of the tenant of c (see
// digestQueries): the same for two CRMs the demo filled with the same
// seed, on SQLite and PostgreSQL alike.
func Digest(ctx context.Context, c *crm.CRM) (string, error) {
	h := sha256.New()
	for _, q := range digestQueries {
		lines, err := digestLines(ctx, c, q.sql)
		if err != nil {
			return "", fmt.Errorf("demo: digest of %s: %w", q.name, err)
		}
		fmt.Fprintf(h, "%s %d\n", q.name, len(lines))
		for _, l := range lines {
			h.Write([]byte(l))
			h.Write([]byte{'\n'})
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// digestLines runs query and returns its rows as canonical text, sorted.
func digestLines(ctx context.Context, c *crm.CRM, query string) ([]string, error) {
	db := c.DB()
	d, err := dialect.For(db)
	if err != nil {
		return nil, err
	}
	rows, err := db.DB.QueryContext(ctx, d.Rebind(query), d.Args([]any{c.TenantID()}, false)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []string
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = canonical(v)
		}
		out = append(out, strings.Join(parts, "\x1f"))
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.Sort(out)
	return out, nil
}

// canonical writes a value the same way whichever database returned it.
func canonical(v any) string {
	switch x := v.(type) {
	case nil:
		return "∅"
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case bool:
		if x {
			return "1"
		}
		return "0"
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case []byte:
		return canonicalText(string(x))
	case string:
		return canonicalText(x)
	}
	return fmt.Sprint(v)
}

// canonicalText turns the text of a time (SQLite's storage) into the
// form of a time value, and JSON into sorted, compact JSON.
func canonicalText(s string) string {
	if t, err := time.Parse(dialect.TimeLayout, s); err == nil {
		return t.UTC().Format(time.RFC3339Nano)
	}
	if t := strings.TrimSpace(s); strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
		dec := json.NewDecoder(strings.NewReader(t))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) == nil {
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			if enc.Encode(v) == nil {
				return strings.TrimSpace(b.String())
			}
		}
	}
	return s
}
