package contacts_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
)

// The compiled SQL and the in-memory Match give the same answer for random
// filters over random contacts, on both databases. Values are drawn from
// small pools (with non-ASCII text, ties, missing and mistyped attributes)
// so that filters hit and miss.
func TestFilterSQLAgreesWithMatch(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		seed := uint64(time.Now().UnixNano())
		t.Logf("seed %d", seed)
		g := &gen{r: rand.New(rand.NewPCG(seed, 7))}

		for i := 0; i < 2; i++ {
			co, err := b.companies.Create(ctx, contacts.NewCompany{Name: fmt.Sprintf("Co %d", i)})
			require.NoError(t, err)
			g.companies = append(g.companies, co.ID)
		}
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for i := 0; i < 160; i++ {
			// Spread creation over ~80 days so relative dates split the set.
			b.clock.Set(start.Add(time.Duration(g.r.IntN(80*24))*time.Hour+time.Duration(g.r.IntN(3600))*time.Second), time.Microsecond)
			_, err := b.svc.Create(ctx, g.contact(i))
			require.NoError(t, err)
		}
		now := start.Add(81 * 24 * time.Hour)
		b.clock.Set(now, 0) // frozen: Compile and Match see the same now

		all := listAll(t, b, filter.Expr{})
		require.Len(t, all, 160)
		// Two in three contacts get customer scores, some without P(alive).
		var scores []contacts.CustomerScore
		for _, c := range all {
			if g.r.IntN(3) > 0 {
				scores = append(scores, g.customerScore(c.ID))
			}
		}
		_, err := contacts.Module.Scoring(b.sc).SetCustomerScores(ctx, start.Add(time.Duration(g.r.IntN(80))*24*time.Hour), scores)
		require.NoError(t, err)
		all = listAll(t, b, filter.Expr{})

		for i := 0; i < 400; i++ {
			f := g.expr(3)
			js, err := json.Marshal(f)
			require.NoError(t, err)
			parsed, err := filter.Parse(js)
			require.NoError(t, err, "%s", js)

			want := []core.ID{}
			for _, c := range all {
				ok, err := contacts.Schema.Match(f, c, now)
				require.NoError(t, err, "%s", js)
				if ok {
					want = append(want, c.ID)
				}
			}
			got := ids(listAll(t, b, parsed))
			slices.SortFunc(want, compareID)
			slices.SortFunc(got, compareID)
			require.Equal(t, want, got, "filter %s (seed %d)", js, seed)
			n, err := b.svc.Count(ctx, parsed)
			require.NoError(t, err)
			require.Equal(t, int64(len(want)), n, "count %s", js)
		}
	})
}

func listAll(t *testing.T, b *bundle, f filter.Expr) []*contacts.Contact {
	t.Helper()
	var out []*contacts.Contact
	cursor := ""
	for {
		page, err := b.svc.List(context.Background(), contacts.ListOptions{Filter: f, Limit: 1000, Cursor: cursor})
		require.NoError(t, err, "%s", f)
		out = append(out, page.Items...)
		if page.Next == "" {
			return out
		}
		cursor = page.Next
	}
}

func ids(cs []*contacts.Contact) []core.ID {
	out := []core.ID{}
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func compareID(a, b core.ID) int {
	switch {
	case a.String() < b.String():
		return -1
	case a.String() > b.String():
		return 1
	}
	return 0
}

type gen struct {
	r         *rand.Rand
	companies []core.ID
}

var (
	words    = []string{"", "a", "ab", "abc", "B", "Zed", "zed", "ä", "äb", "é", "日本", "a b", "ß"}
	tagPool  = []string{"vip", "newsletter", "a", "ä", "Z"}
	owners   = []string{"", "u1", "u2", "u10"}
	attrKeys = []string{"plan", "seats", "beta", "note"}
)

func (g *gen) pick(xs []string) string { return xs[g.r.IntN(len(xs))] }

func (g *gen) attrValue() any {
	switch g.r.IntN(6) {
	case 0:
		return g.pick(words)
	case 1:
		return float64(g.r.IntN(7) - 3)
	case 2:
		return float64(g.r.IntN(9)-4) / 2
	case 3:
		return g.r.IntN(2) == 0
	case 4:
		return nil // JSON null
	}
	return []any{"nested"} // present, but neither string, number nor bool
}

func (g *gen) contact(i int) contacts.NewContact {
	c := contacts.NewContact{
		Email:          fmt.Sprintf("%s%d@ex%d.example", g.pick([]string{"a", "b", "z"}), i, g.r.IntN(3)),
		FirstName:      g.pick(words),
		LastName:       g.pick(words),
		LifecycleStage: contacts.Stages[g.r.IntN(len(contacts.Stages))],
		OwnerID:        g.pick(owners),
		Attributes:     map[string]any{},
	}
	if g.r.IntN(3) == 0 {
		c.Phone = fmt.Sprintf("+49 %d", 100+g.r.IntN(5))
	}
	if g.r.IntN(2) == 0 {
		c.CompanyID = &g.companies[g.r.IntN(len(g.companies))]
	}
	for _, t := range tagPool {
		if g.r.IntN(3) == 0 {
			c.Tags = append(c.Tags, t)
		}
	}
	for _, k := range attrKeys {
		if g.r.IntN(3) > 0 {
			c.Attributes[k] = g.attrValue()
		}
	}
	return c
}

// customerScore is random customer scores of contact id, from small pools.
func (g *gen) customerScore(id core.ID) contacts.CustomerScore {
	s := contacts.CustomerScore{ContactID: id, R: 1 + g.r.IntN(5), F: 1 + g.r.IntN(5), M: 1 + g.r.IntN(5),
		Segment: contacts.RFMSegments[g.r.IntN(4)], Overdue: g.r.IntN(2) == 0}
	if g.r.IntN(4) > 0 {
		p := float64(g.r.IntN(5)) / 4
		s.PAlive = &p
	}
	return s
}

func (g *gen) expr(depth int) filter.Expr {
	if depth > 0 {
		switch g.r.IntN(5) {
		case 0:
			return filter.And(g.exprs(depth)...)
		case 1:
			return filter.Or(g.exprs(depth)...)
		case 2:
			return filter.Not(g.expr(depth - 1))
		}
	}
	return g.cond()
}

func (g *gen) exprs(depth int) []filter.Expr {
	out := make([]filter.Expr, g.r.IntN(4))
	for i := range out {
		out[i] = g.expr(depth - 1)
	}
	return out
}

func (g *gen) cond() filter.Expr {
	strOps := []filter.Op{filter.OpEq, filter.OpNe, filter.OpLt, filter.OpLte, filter.OpGt, filter.OpGte, filter.OpContains, filter.OpPrefix}
	numOps := strOps[:6]
	switch g.r.IntN(10) {
	case 0, 1: // text columns
		field := g.pick([]string{"first_name", "last_name", "owner_id", "phone", "email"})
		switch g.r.IntN(4) {
		case 0:
			return filter.Exists(field)
		case 1:
			return filter.In(field, g.pick(words), g.pick(owners))
		}
		return filter.Cond(field, strOps[g.r.IntN(len(strOps))], g.pick(append(words, owners...)))
	case 2:
		if g.r.IntN(2) == 0 {
			return filter.Eq("lifecycle_stage", string(contacts.Stages[g.r.IntN(len(contacts.Stages))]))
		}
		return filter.In("lifecycle_stage", string(contacts.Stages[g.r.IntN(8)]), string(contacts.Stages[g.r.IntN(8)]))
	case 3:
		switch g.r.IntN(3) {
		case 0:
			return filter.Contains("tags", g.pick(tagPool))
		case 1:
			return filter.In("tags", g.pick(tagPool), g.pick(tagPool))
		}
		return filter.Exists("tags")
	case 4:
		field := g.pick([]string{"created_at", "updated_at"})
		if g.r.IntN(2) == 0 {
			return filter.WithinLast(field, time.Duration(1+g.r.IntN(80))*24*time.Hour)
		}
		ops := []filter.Op{filter.OpLt, filter.OpLte, filter.OpGt, filter.OpGte, filter.OpNe}
		if g.r.IntN(3) == 0 {
			return filter.Cond(field, ops[g.r.IntN(len(ops))], fmt.Sprintf("now-%dh", g.r.IntN(80*24)))
		}
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(g.r.IntN(80*24)) * time.Hour)
		return filter.Cond(field, ops[g.r.IntN(len(ops))], at.Format(time.RFC3339))
	case 6: // the stored customer scores, missing for a third
		switch g.r.IntN(7) {
		case 0:
			return filter.Exists(g.pick([]string{"rfm_segment", "rfm_r", "p_alive", "churn_overdue", "customer_scored_at"}))
		case 1:
			return filter.Eq("rfm_segment", contacts.RFMSegments[g.r.IntN(5)])
		case 2:
			return filter.In("rfm_segment", contacts.RFMSegments[g.r.IntN(5)], contacts.RFMSegments[g.r.IntN(5)])
		case 3:
			return filter.Cond(g.pick([]string{"rfm_r", "rfm_f", "rfm_m"}), numOps[g.r.IntN(len(numOps))], float64(g.r.IntN(6)))
		case 4:
			return filter.Cond("p_alive", numOps[g.r.IntN(len(numOps))], float64(g.r.IntN(5))/4)
		case 5:
			return filter.Cond("churn_overdue", []filter.Op{filter.OpEq, filter.OpNe}[g.r.IntN(2)], g.r.IntN(2) == 0)
		}
		return filter.WithinLast("customer_scored_at", time.Duration(1+g.r.IntN(80))*24*time.Hour)
	case 5:
		switch g.r.IntN(3) {
		case 0:
			return filter.Exists("company_id")
		case 1:
			return filter.Eq("company_id", g.companies[g.r.IntN(len(g.companies))].String())
		}
		return filter.Ne("company_id", g.companies[0].String())
	}
	// custom attributes, typed by the value compared
	field := filter.AttributePrefix + g.pick(attrKeys)
	switch g.r.IntN(5) {
	case 0:
		return filter.Exists(field)
	case 1:
		return filter.Cond(field, strOps[g.r.IntN(len(strOps))], g.pick(words))
	case 2:
		return filter.Cond(field, numOps[g.r.IntN(len(numOps))], float64(g.r.IntN(9)-4)/2)
	case 3:
		return filter.Cond(field, []filter.Op{filter.OpEq, filter.OpNe}[g.r.IntN(2)], g.r.IntN(2) == 0)
	}
	return filter.In(field, float64(g.r.IntN(7)-3), float64(g.r.IntN(7)-3))
}
