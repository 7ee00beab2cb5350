package contacts

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
)

// Reasons FindDuplicates gives, with the score each contributes.
const (
	ReasonEmail       = "same email"                // equal once +tags (and Gmail's dots) are dropped
	ReasonPhone       = "same phone"                // equal as digits, with the default country code applied
	ReasonNameCompany = "same name at same company" // first and last name, case-insensitively (Unicode)
	ReasonSimilarName = "similar name"              // same last name, first names alike
)

var reasonScores = map[string]float64{ReasonEmail: 0.95, ReasonPhone: 0.9, ReasonNameCompany: 0.85, ReasonSimilarName: 0.6}

// DuplicateGroup is a set of contacts that are probably one person.
type DuplicateGroup struct {
	// ContactIDs, oldest contact first: a natural winner for Merge.
	ContactIDs []core.ID `json:"contact_ids"`
	// Score is how sure crmkit is (0–1): the strongest reason's score.
	Score   float64  `json:"score"`
	Reasons []string `json:"reasons"`
}

// DuplicateOptions tune FindDuplicates.
type DuplicateOptions struct {
	// DefaultCountryCode (digits, e.g. "49") turns national phone numbers
	// ("030 1234567") into international ones before comparing; without it
	// only numbers written with a country code compare across forms.
	DefaultCountryCode string
	// Limit is the number of groups: default 100, at most 1000.
	Limit int
}

// maxNameBlock bounds how many contacts with one last name are compared
// pairwise for similar names; larger blocks (very common names) are
// skipped for that reason, not for the exact ones.
const maxNameBlock = 50

// FindDuplicates proposes groups of contacts that are probably the same
// person, strongest first, with the reasons. It reads the tenant's contacts
// in the database (exact reasons are grouped in SQL), so it runs in
// bounded memory at a million contacts.
func (s *Service) FindDuplicates(ctx context.Context, opts DuplicateOptions) (_ []DuplicateGroup, err error) {
	ctx, span := s.sc.Span(ctx, "contacts.FindDuplicates")
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	v := &core.ValidationError{}
	if strings.Trim(opts.DefaultCountryCode, "0123456789") != "" || len(opts.DefaultCountryCode) > 4 {
		v.Add("default_country_code", "must be 1-4 digits, such as 49")
	}
	limit := opts.Limit
	if limit == 0 {
		limit = 100
	}
	if limit < 0 || limit > 1000 {
		v.Add("limit", "must be between 1 and 1000")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	// Groups are formed across the tenant on equal emails and phones: an
	// actor needs to see every contact and their personal data.
	g, err := check(ctx, s.sc, "contact", core.NilID, access.Read)
	if err != nil {
		return nil, err
	}
	if !g.all() || !g.pd() {
		return nil, g.done(ctx, g.forbid("contact", core.NilID, access.Read, "find duplicates without seeing all contacts and their personal data"))
	}

	d := s.sc.Runtime().Dialect
	uf := newUnionFind()
	exact := []struct {
		reason, key, cond string
		args              []any
	}{
		{ReasonEmail, emailKey(d, "c.email"), "c.email <> ''", nil},
		{ReasonPhone, phoneKey(d, "c.phone"), "length(c.phone) >= 6", []any{opts.DefaultCountryCode, opts.DefaultCountryCode}},
	}
	for _, e := range exact {
		// Only rows whose key occurs more than once come back, grouped.
		rows, err := s.sc.Q().PlanPerCall().Query(ctx, `SELECT k, id FROM (
				SELECT `+e.key+` AS k, c.id AS id, count(*) OVER (PARTITION BY `+e.key+`) AS n
				FROM crm_contacts c WHERE c.tenant_id = ? AND `+e.cond+`) dup
			WHERE n > 1 AND k <> '' ORDER BY k`, append(append(append([]any{}, e.args...), e.args...), tenant)...)
		if err != nil {
			return nil, store.Wrap(err, "find duplicates")
		}
		var prevKey string
		var prevID core.ID
		err = store.EachRow(rows, func(r scanner) error {
			var key string
			var id core.ID
			if err := r.Scan(&key, &id); err != nil {
				return err
			}
			if key == prevKey {
				uf.join(prevID, id, e.reason)
			}
			prevKey, prevID = key, id
			return nil
		})
		if err != nil {
			return nil, store.Wrap(err, "find duplicates")
		}
	}

	// Same name at the same company: compared here, one company at a time,
	// so that case folds alike on both databases and beyond ASCII ("MÜLLER"
	// is "Müller"). SQL's lower() folds ASCII only: SQLite's always, and
	// PostgreSQL's on crmkit's "C"-collated name columns.
	rows, err := s.sc.Q().PlanPerCall().Query(ctx, `SELECT c.company_id, c.id, c.first_name, c.last_name FROM crm_contacts c
		WHERE c.tenant_id = ? AND c.first_name <> '' AND c.last_name <> '' AND c.company_id IS NOT NULL
		ORDER BY c.company_id`, tenant)
	if err != nil {
		return nil, store.Wrap(err, "find duplicates")
	}
	var company core.ID
	named := map[string]core.ID{} // the company's contacts by folded name
	err = store.EachRow(rows, func(r scanner) error {
		var co, id core.ID
		var first, last string
		if err := r.Scan(&co, &id, &first, &last); err != nil {
			return err
		}
		if co != company {
			clear(named)
			company = co
		}
		key := strings.ToLower(first) + "\x00" + strings.ToLower(last)
		if prev, ok := named[key]; ok {
			uf.join(prev, id, ReasonNameCompany)
		} else {
			named[key] = id
		}
		return nil
	})
	if err != nil {
		return nil, store.Wrap(err, "find duplicates")
	}

	// Similar names: contacts sharing a last name, compared pairwise.
	rows, err = s.sc.Q().PlanPerCall().Query(ctx, `SELECT k, id, first_name FROM (
			SELECT lower(c.last_name) AS k, c.id AS id, c.first_name AS first_name, count(*) OVER (PARTITION BY lower(c.last_name)) AS n
			FROM crm_contacts c WHERE c.tenant_id = ? AND c.last_name <> '' AND c.first_name <> '') b
		WHERE n > 1 AND n <= ? ORDER BY k`, tenant, maxNameBlock)
	if err != nil {
		return nil, store.Wrap(err, "find duplicates")
	}
	type person struct {
		id    core.ID
		first string
	}
	var block []person
	var blockKey string
	flush := func() {
		for i := range block {
			for j := i + 1; j < len(block); j++ {
				if similarFirstNames(block[i].first, block[j].first) {
					uf.join(block[i].id, block[j].id, ReasonSimilarName)
				}
			}
		}
		block = block[:0]
	}
	err = store.EachRow(rows, func(r scanner) error {
		var key string
		var p person
		if err := r.Scan(&key, &p.id, &p.first); err != nil {
			return err
		}
		if key != blockKey {
			flush()
			blockKey = key
		}
		block = append(block, p)
		return nil
	})
	if err != nil {
		return nil, store.Wrap(err, "find duplicates")
	}
	flush()

	groups := uf.groups()
	sort.SliceStable(groups, func(i, j int) bool {
		if groups[i].Score != groups[j].Score {
			return groups[i].Score > groups[j].Score
		}
		return len(groups[i].ContactIDs) > len(groups[j].ContactIDs)
	})
	if len(groups) > limit {
		groups = groups[:limit]
	}
	return groups, nil
}

// emailKey drops a "+tag" from the local part, and the dots of Gmail
// addresses, which deliver to the same mailbox.
func emailKey(d *dialect.Dialect, col string) string {
	at := d.Instr(col, "'@'")
	local := fmt.Sprintf("substr(%s, 1, %s - 1)", col, at)
	domain := fmt.Sprintf("substr(%s, %s + 1)", col, at)
	plain := fmt.Sprintf("(CASE WHEN %s > 0 THEN substr(%s, 1, %s - 1) ELSE %s END)", d.Instr(local, "'+'"), local, d.Instr(local, "'+'"), local)
	return fmt.Sprintf("(CASE WHEN %s IN ('gmail.com', 'googlemail.com') THEN replace(%s, '.', '') || '@gmail.com' ELSE %s || '@' || %s END)",
		domain, plain, plain, domain)
}

// phoneKey keeps a phone number's digits, reads a leading 00 as the
// international prefix, and puts the default country code (the two bound
// arguments) before a national number's leading 0.
func phoneKey(d *dialect.Dialect, col string) string {
	digits := col
	for _, ch := range []string{" ", "-", "(", ")", ".", "/", "+"} {
		digits = fmt.Sprintf("replace(%s, '%s', '')", digits, ch)
	}
	return fmt.Sprintf(`(CASE WHEN substr(%[1]s, 1, 2) = '00' THEN substr(%[1]s, 3)
		WHEN substr(%[1]s, 1, 1) = '0' AND ? <> '' THEN ? || substr(%[1]s, 2)
		ELSE %[1]s END)`, digits)
}

// similarFirstNames: the same first letter, and one name a prefix of the
// other ("Bob", "Bobby"; "A.", "Ada"), or at most one edit apart for names of
// four letters or more ("Jonathan", "Johnathan").
func similarFirstNames(a, b string) bool {
	a, b = strings.ToLower(strings.TrimSuffix(a, ".")), strings.ToLower(strings.TrimSuffix(b, "."))
	if a == "" || b == "" || a == b {
		return a == b && a != ""
	}
	ra, rb := []rune(a), []rune(b)
	if ra[0] != rb[0] {
		return false
	}
	if strings.HasPrefix(a, b) || strings.HasPrefix(b, a) {
		return true
	}
	return len(ra) >= 4 && len(rb) >= 4 && editDistanceAtMostOne(ra, rb)
}

func editDistanceAtMostOne(a, b []rune) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	if len(b)-len(a) > 1 {
		return false
	}
	i, j, edits := 0, 0, 0
	for i < len(a) && j < len(b) {
		if a[i] == b[j] {
			i++
			j++
			continue
		}
		edits++
		if edits > 1 {
			return false
		}
		if len(a) == len(b) {
			i++
		}
		j++
	}
	return edits+(len(b)-j)+(len(a)-i) <= 1
}

// unionFind joins contacts into groups and remembers why.
type unionFind struct {
	parent  map[core.ID]core.ID
	reasons map[core.ID]map[string]bool // by root
}

func newUnionFind() *unionFind {
	return &unionFind{parent: map[core.ID]core.ID{}, reasons: map[core.ID]map[string]bool{}}
}

func (u *unionFind) find(x core.ID) core.ID {
	if _, ok := u.parent[x]; !ok {
		u.parent[x] = x
	}
	for u.parent[x] != x {
		u.parent[x] = u.parent[u.parent[x]]
		x = u.parent[x]
	}
	return x
}

func (u *unionFind) join(a, b core.ID, reason string) {
	ra, rb := u.find(a), u.find(b)
	if ra != rb {
		u.parent[rb] = ra
		for r := range u.reasons[rb] {
			u.note(ra, r)
		}
		delete(u.reasons, rb)
	}
	u.note(ra, reason)
}

func (u *unionFind) note(root core.ID, reason string) {
	if u.reasons[root] == nil {
		u.reasons[root] = map[string]bool{}
	}
	u.reasons[root][reason] = true
}

func (u *unionFind) groups() []DuplicateGroup {
	members := map[core.ID][]core.ID{}
	for id := range u.parent {
		r := u.find(id)
		members[r] = append(members[r], id)
	}
	var out []DuplicateGroup
	for root, ids := range members {
		if len(ids) < 2 {
			continue
		}
		// UUIDv7 ids sort by creation time: the oldest first.
		slices.SortFunc(ids, compareIDs)
		g := DuplicateGroup{ContactIDs: ids}
		for r := range u.reasons[root] {
			g.Reasons = append(g.Reasons, r)
			g.Score = max(g.Score, reasonScores[r])
		}
		sort.Strings(g.Reasons)
		out = append(out, g)
	}
	return out
}
