package pipeline

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"time"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/internal/store"
)

// featureSet describes how features are computed for a tenant: activity
// counts by kind, recency, purchases, and its number and boolean custom
// fields.
type featureSet struct {
	names  []string
	fields []*fields.Definition // number and boolean contact fields
	window int
}

func newFeatureSet(defs []*fields.Definition, window int) featureSet {
	fs := featureSet{window: window}
	for _, k := range contacts.ActivityKinds {
		fs.names = append(fs.names, "activities."+string(k))
	}
	fs.names = append(fs.names, "days_since_last_activity", "purchases")
	for _, d := range defs {
		if d.Type == fields.Number || d.Type == fields.Boolean {
			fs.fields = append(fs.fields, d)
			fs.names = append(fs.names, "attributes."+d.Key)
		}
	}
	return fs
}

// row is one contact's features and label.
type row struct {
	id    core.ID
	x     []float64
	label bool
}

// scan streams the features of the contacts cond selects (cond writes
// the condition for a contact-id column; args are its parameters), in id
// order, to fn.
func (fs featureSet) scan(ctx context.Context, q store.Q, tenant string, now time.Time, cond func(col string) string, args []any, fn func(row) error) error {
	var kinds, cols strings.Builder
	for i, k := range contacts.ActivityKinds {
		fmt.Fprintf(&kinds, ", SUM(CASE WHEN a.kind = '%s' THEN 1 ELSE 0 END) AS n%d", k, i)
		fmt.Fprintf(&cols, ", k.n%d", i)
	}
	since := now.AddDate(0, 0, -fs.window)
	query := `SELECT c.id, c.last_activity_at, c.purchase_count, c.attributes,
		EXISTS (SELECT 1 FROM crm_deals d WHERE d.tenant_id = c.tenant_id AND d.contact_id = c.id AND d.status = 'won')` + cols.String() + `
		FROM crm_contacts c LEFT JOIN (SELECT a.tenant_id, a.contact_id` + kinds.String() + `
			FROM crm_activities a WHERE a.tenant_id = ? AND a.occurred_at >= ? AND ` + cond("a.contact_id") + ` GROUP BY a.tenant_id, a.contact_id) k
			ON k.tenant_id = c.tenant_id AND k.contact_id = c.id
		WHERE c.tenant_id = ? AND NOT c.restricted AND ` + cond("c.id") + ` ORDER BY c.id`
	all := append(append([]any{tenant, since}, args...), tenant)
	rows, err := q.PlanPerCall().Query(ctx, query, append(all, args...)...)
	if err != nil {
		return err
	}
	return store.EachRow(rows, func(r store.Scanner) error {
		var (
			id        core.ID
			last      sql.NullTime
			purchases int64
			attrs     []byte
			won       bool
		)
		counts := make([]sql.NullInt64, len(contacts.ActivityKinds))
		dest := []any{&id, &last, &purchases, &attrs, &won}
		for i := range counts {
			dest = append(dest, &counts[i])
		}
		if err := r.Scan(dest...); err != nil {
			return err
		}
		x := make([]float64, 0, len(fs.names))
		for _, n := range counts {
			x = append(x, math.Log1p(float64(n.Int64)))
		}
		idle := 365.0
		if last.Valid {
			idle = min(365, math.Max(0, now.Sub(last.Time).Hours()/24))
		}
		x = append(x, idle, math.Log1p(float64(purchases)))
		var a map[string]any
		if err := json.Unmarshal(attrs, &a); err != nil {
			return fmt.Errorf("decode attributes of contact %s: %w", id, err)
		}
		for _, d := range fs.fields {
			var v float64
			switch val := a[d.Key].(type) {
			case float64:
				v = val
			case bool:
				if val {
					v = 1
				}
			}
			x = append(x, v)
		}
		return fn(row{id: id, x: x, label: won})
	})
}

// holdout puts a contact in the holdout part by a hash of its id.
func holdout(id core.ID, percent int) bool {
	h := fnv.New32a()
	h.Write(id[:])
	return int(h.Sum32()%100) < percent
}

// features returns the model's feature set for the tenant now; a custom
// field removed since training counts as 0.
func (s *Deals) features(ctx context.Context, m *LeadModel) (featureSet, error) {
	defs, err := fields.Module.Service(s.sc).List(ctx, contacts.EntityContact)
	if err != nil {
		return featureSet{}, err
	}
	byKey := map[string]*fields.Definition{}
	for _, d := range defs {
		byKey[d.Key] = d
	}
	fs := newFeatureSet(nil, m.WindowDays)
	for _, name := range m.Features[len(fs.names):] {
		key := strings.TrimPrefix(name, "attributes.")
		d := byKey[key]
		if d == nil {
			d = &fields.Definition{Key: key, Type: fields.Number}
		}
		fs.fields = append(fs.fields, d)
		fs.names = append(fs.names, name)
	}
	return fs, nil
}
