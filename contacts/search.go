package contacts

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"unicode"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
)

// SearchHit is one record a search found.
type SearchHit struct {
	// Entity is EntityContact or EntityCompany.
	Entity string  `json:"entity"`
	ID     core.ID `json:"id"`
	// Title is what to show: a contact's name (else email or phone), a
	// company's name.
	Title string `json:"title"`
	// Score ranks hits, higher is better; it compares hits of one search.
	Score float64 `json:"score"`
}

// SearchOptions narrow a search.
type SearchOptions struct {
	// Entities selects EntityContact and/or EntityCompany; empty is both.
	Entities []string
	// Limit is the number of hits: default 20, at most 100.
	Limit int
}

// Search limits.
const (
	MaxSearchWords = 8
	MaxSearchLimit = 100
)

// Search finds contacts and companies by the words of query, each word a
// prefix ("ada lov" finds Ada Lovelace), in names, email, phone, company
// name, tags and domains; best matches first. Matching is case-insensitive
// and accent-sensitive on both databases.
func (s *Service) Search(ctx context.Context, query string, opts SearchOptions) (_ []SearchHit, err error) {
	ctx, span := s.sc.Span(ctx, "contacts.Search")
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	v := &core.ValidationError{}
	words := searchWords(query)
	if !core.StorableText(query) {
		v.Add("query", "is not valid text")
	} else if len(words) == 0 {
		v.Add("query", "has no letters or digits to search for")
	}
	if len(words) > MaxSearchWords {
		words = words[:MaxSearchWords]
	}
	for _, e := range opts.Entities {
		if e != EntityContact && e != EntityCompany {
			v.Add("entities", "%q is not one of contact, company", e)
		}
	}
	limit := opts.Limit
	if limit == 0 {
		limit = 20
	}
	if limit < 0 || limit > MaxSearchLimit {
		v.Add("limit", "must be between 1 and %d", MaxSearchLimit)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return nil, err
	}
	if err := g.require("contact", core.NilID, access.Read); err != nil {
		return nil, g.done(ctx, err)
	}
	if !g.pd() {
		// A contact's search document holds its email and phone: matching
		// it would tell them. Such actors search companies only.
		if slices.Contains(opts.Entities, EntityContact) {
			return nil, g.done(ctx, g.forbid("contact", core.NilID, access.Read, "search contacts by their personal data"))
		}
		opts.Entities = []string{EntityCompany}
	}
	vis, visArgs := "", []any(nil)
	if cond, cargs := g.byContact("s", "s.entity_id"); cond != "1 = 1" {
		vis, visArgs = " AND (s.entity <> 'contact' OR "+cond+")", cargs
	}

	d := s.sc.Runtime().Dialect
	var sqlText string
	args := []any{}
	entityFilter := ""
	if len(opts.Entities) > 0 {
		entityFilter = " AND s.entity IN (?" + strings.Repeat(", ?", len(opts.Entities)-1) + ")"
	}
	if d.Kind == dialect.Postgres {
		terms := make([]string, len(words))
		for i, w := range words {
			terms[i] = w + ":*"
		}
		sqlText = `SELECT s.entity, s.entity_id, s.title, ts_rank(s.tsv, q.q) AS score
			FROM crm_search s, (SELECT to_tsquery('simple', ?) AS q) q
			WHERE s.tenant_id = ? AND s.tsv @@ q.q` + vis + entityFilter + `
			ORDER BY score DESC, s.entity_id LIMIT ?`
		args = append(args, strings.Join(terms, " & "), tenant)
	} else {
		terms := make([]string, len(words))
		for i, w := range words {
			terms[i] = `"` + w + `"*`
		}
		// Only the words are matched in the index; the join on s.tenant_id
		// keeps the tenant's records. (Matching the tenant in FTS5 as well
		// made every search intersect with all of a tenant's documents:
		// 96 ms instead of milliseconds at 1M contacts.)
		match := "{body}: (" + strings.Join(terms, " AND ") + ")"
		sqlText = `SELECT s.entity, s.entity_id, s.title, -bm25(crm_search_fts, 0.0, 1.0) AS score
			FROM crm_search_fts JOIN crm_search s ON s.doc = crm_search_fts.rowid
			WHERE crm_search_fts MATCH ? AND s.tenant_id = ?` + vis + entityFilter + `
			ORDER BY score DESC, s.entity_id LIMIT ?`
		args = append(args, match, tenant)
	}
	args = append(args, visArgs...)
	for _, e := range opts.Entities {
		args = append(args, e)
	}
	args = append(args, limit)
	rows, err := s.sc.Q().PlanPerCall().Query(ctx, sqlText, args...)
	if err != nil {
		return nil, store.Wrap(err, "search")
	}
	hits := []SearchHit{}
	err = store.EachRow(rows, func(r scanner) error {
		var h SearchHit
		if err := r.Scan(&h.Entity, &h.ID, &h.Title, &h.Score); err != nil {
			return err
		}
		hits = append(hits, h)
		return nil
	})
	return hits, store.Wrap(err, "search")
}

// searchWords splits a query into lower-case words of letters and digits,
// the only characters the query syntax of either database gets to see.
func searchWords(q string) []string {
	var words []string
	for _, w := range strings.FieldsFunc(q, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		w = strings.ToLower(w)
		if len(w) > 64 {
			w = w[:64]
		}
		if !slices.Contains(words, w) {
			words = append(words, w)
		}
	}
	return words
}

// contactDocSQL is the INSERT … SELECT that (re)indexes the contacts a
// condition selects; its text matches migration 0005.
func contactDocSQL(d *dialect.Dialect, where string) string {
	return `INSERT INTO crm_search (tenant_id, entity, entity_id, title, body)
		SELECT c.tenant_id, 'contact', c.id,
			COALESCE(NULLIF(TRIM(c.first_name || ' ' || c.last_name), ''), NULLIF(c.email, ''), c.phone),
			c.first_name || ' ' || c.last_name || ' ' || c.email || ' ' || replace(replace(c.email, '@', ' '), '.', ' ') || ' ' ||
			replace(c.phone, '+', ' ') || ' ' || COALESCE(co.name, '') || ' ' || ` + d.JSONArrayJoin("c.tags") + `
		FROM crm_contacts c LEFT JOIN crm_companies co ON co.tenant_id = c.tenant_id AND co.id = c.company_id AND co.id <> ?
		WHERE c.tenant_id = ? AND ` + where + `
		ON CONFLICT (tenant_id, entity, entity_id) DO UPDATE SET title = excluded.title, body = excluded.body`
}

// indexContact brings the search document of contact id up to date.
func indexContact(ctx context.Context, q store.Q, tenant string, id core.ID) error {
	_, err := q.Exec(ctx, contactDocSQL(q.D, "c.id = ?"), core.NilID, tenant, id)
	return err
}

// indexCompanyContacts re-indexes the contacts of company id, leaving the
// company out of their text when it is being deleted.
func indexCompanyContacts(ctx context.Context, q store.Q, tenant string, id core.ID, deleting bool) error {
	exclude := core.NilID
	if deleting {
		exclude = id
	}
	_, err := q.Exec(ctx, contactDocSQL(q.D, "c.company_id = ?"), exclude, tenant, id)
	return err
}

// indexCompany brings the search document of company id up to date.
func indexCompany(ctx context.Context, q store.Q, tenant string, id core.ID) error {
	_, err := q.Exec(ctx, companyDocSQL("co.id = ?"), tenant, id)
	return err
}

// companyDocSQL is the INSERT … SELECT that (re)indexes the companies a
// condition selects; its text matches migration 0005.
func companyDocSQL(where string) string {
	return `INSERT INTO crm_search (tenant_id, entity, entity_id, title, body)
		SELECT co.tenant_id, 'company', co.id, co.name, co.name || ' ' || co.domain || ' ' || replace(co.domain, '.', ' ')
		FROM crm_companies co WHERE co.tenant_id = ? AND ` + where + `
		ON CONFLICT (tenant_id, entity, entity_id) DO UPDATE SET title = excluded.title, body = excluded.body`
}

// reindexBatch is the number of contacts RebuildSearchIndex indexes per
// transaction.
const reindexBatch = 10_000

// RebuildSearchIndex rewrites the search documents of all the tenant's
// companies and contacts and drops those whose record is gone; it returns
// the number of documents written. crmkit's own writes keep the index in
// sync, so this is for rows written around crmkit: a restore, a bulk load
// in SQL, a repair. It works in transactions of 10,000 contacts, so it
// never holds SQLite's write lock for long, and it is safe to run at any
// time and to run again.
func (s *Service) RebuildSearchIndex(ctx context.Context) (_ int64, err error) {
	ctx, span := s.sc.Span(ctx, "contacts.RebuildSearchIndex")
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return 0, err
	}
	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return 0, err
	}
	if err := g.require("contact", core.NilID, access.Manage); err != nil {
		return 0, g.done(ctx, err)
	}
	var n int64
	count := func(res sql.Result, err error) error {
		if err != nil {
			return err
		}
		k, err := res.RowsAffected()
		n += k
		return err
	}
	err = s.sc.InTx(ctx, func(ctx context.Context, sc store.Scope) error {
		q := sc.Q()
		for _, gone := range []string{
			`DELETE FROM crm_search WHERE tenant_id = ? AND entity = 'contact' AND NOT EXISTS (
				SELECT 1 FROM crm_contacts c WHERE c.tenant_id = crm_search.tenant_id AND c.id = crm_search.entity_id)`,
			`DELETE FROM crm_search WHERE tenant_id = ? AND entity = 'company' AND NOT EXISTS (
				SELECT 1 FROM crm_companies co WHERE co.tenant_id = crm_search.tenant_id AND co.id = crm_search.entity_id)`,
		} {
			if _, err := q.Exec(ctx, gone, tenant); err != nil {
				return err
			}
		}
		return count(q.Exec(ctx, companyDocSQL("TRUE"), tenant))
	})
	if err != nil {
		return n, store.Wrap(err, "rebuild search index")
	}
	err = s.sc.InIDRanges(ctx, "crm_contacts", reindexBatch, "rebuild search index", func(ctx context.Context, sc store.Scope, batch store.IDRange) error {
		q := sc.Q()
		return count(q.Exec(ctx, contactDocSQL(q.D, batch.SQL("c.id")), append([]any{core.NilID, tenant}, batch.Args()...)...))
	})
	return n, err
}

// unindex removes a record's search document.
func unindex(ctx context.Context, q store.Q, tenant, entity string, id core.ID) error {
	_, err := q.Exec(ctx, `DELETE FROM crm_search WHERE tenant_id = ? AND entity = ? AND entity_id = ?`, tenant, entity, id)
	return err
}
