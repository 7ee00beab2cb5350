package tickets

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
)

// Limits of knowledge base search.
const (
	// MaxArticleHits is the most articles Search returns and
	// SuggestArticles may be asked for.
	MaxArticleHits = 50
	// searchHits is the number of articles Search returns.
	searchHits = 20
	// maxQueryWords bounds the words of a search; maxTicketWords the
	// significant words of a ticket SuggestArticles looks for.
	maxQueryWords  = 16
	maxTicketWords = 24
)

// ArticleHit is an article a search found.
type ArticleHit struct {
	Article *Article `json:"article"`
	// Score ranks the hits of one search, higher is better (the
	// database's full-text rank: ts_rank on PostgreSQL, bm25 on SQLite).
	Score float64 `json:"score"`
}

// kbIndex is the knowledge base's full-text index: the search documents
// of the published articles (crm_kb_search, the words of Tokenize), a
// title weighed over the body.
var kbIndex = dialect.FullText{Table: "crm_kb_search", Alias: "s", Vector: "tsv", Config: "simple",
	Index: "crm_kb_fts", RowID: "doc", Weights: []float64{4, 1}}

// indexArticle writes the search document of a (published).
func indexArticle(ctx context.Context, q store.Q, tenant string, a *Article) error {
	_, err := q.Exec(ctx, `INSERT INTO crm_kb_search (tenant_id, article_id, language, title, body) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, article_id) DO UPDATE SET language = excluded.language, title = excluded.title, body = excluded.body`,
		tenant, a.ID, baseLanguage(a.Locale), strings.Join(Tokenize(a.Title), " "), strings.Join(Tokenize(a.Body), " "))
	return err
}

// unindexArticle removes the search document of article id.
func unindexArticle(ctx context.Context, q store.Q, tenant string, id core.ID) error {
	_, err := q.Exec(ctx, `DELETE FROM crm_kb_search WHERE tenant_id = ? AND article_id = ?`, tenant, id)
	return err
}

// search runs a full-text query over the published articles (in locale:
// "" any; see localeFilter) and returns the best limit.
func (s *KnowledgeBase) search(ctx context.Context, words []string, or, prefix bool, field, value string, limit int, doing string) ([]ArticleHit, error) {
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	q := s.sc.Q().PlanPerCall()
	d := q.D
	where := ""
	args := []any{d.FullTextQuery(words, or, prefix), tenant}
	switch field {
	case "language":
		where, args = " AND s.language = ?", append(args, value)
	case "locale":
		where, args = " AND a.locale = ?", append(args, value)
	}
	rows, err := q.Query(ctx, `SELECT `+articleColumns+`, `+d.FullTextRank(kbIndex)+` AS score
		FROM `+d.FullTextFrom(kbIndex)+`
		JOIN crm_kb_articles a ON a.tenant_id = s.tenant_id AND a.id = s.article_id
		WHERE s.tenant_id = ? AND a.status = 'published'`+where+`
		ORDER BY score DESC, a.id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, store.Wrap(err, doing)
	}
	hits := []ArticleHit{}
	err = store.EachRow(rows, func(r store.Scanner) error {
		var h ArticleHit
		a, err := scanArticle(scoreScanner{r, &h.Score})
		h.Article = a
		if err == nil {
			hits = append(hits, h)
		}
		return err
	})
	return hits, store.Wrap(err, doing)
}

// scoreScanner scans an article's columns and then its score.
type scoreScanner struct {
	r     store.Scanner
	score *float64
}

func (s scoreScanner) Scan(dest ...any) error { return s.r.Scan(append(dest, s.score)...) }

// Search finds the published articles that have every word of query
// (each word also as the beginning of a longer one), best first, at most
// 20. Words are Tokenize's: case, umlaut spellings ("Rückgabe",
// "Rueckgabe") and the endings the stemmer removes do not matter, on both
// databases. locale narrows the search to a language: a bare language
// ("de") finds articles in every locale of it, a tag with more ("de-CH")
// those of exactly that locale; "" searches all. A query without a word
// to search for (only stop words, numbers or punctuation) and a locale
// that is no BCP 47 tag of a known language are ErrInvalid. It needs
// "tickets" read.
func (s *KnowledgeBase) Search(ctx context.Context, query, locale string) (_ []ArticleHit, err error) {
	ctx, span := s.sc.Span(ctx, "tickets.KnowledgeBase.Search")
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "kb_article", core.NilID, access.Read); err != nil {
		return nil, err
	}
	v := &core.ValidationError{}
	var words []string
	if !core.StorableText(query) {
		v.Add("query", "is not storable text (valid UTF-8 without NUL)")
	} else if len(query) > MaxArticleTitleLen*4 {
		v.Add("query", "is longer than %d bytes", MaxArticleTitleLen*4)
	} else {
		for _, w := range Tokenize(query) {
			if !slices.Contains(words, w) && len(words) < maxQueryWords {
				words = append(words, w)
			}
		}
		if len(words) == 0 {
			v.Add("query", "has no word to search for (stop words, numbers and punctuation are not searched)")
		}
	}
	field, value := localeFilter(v, locale)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return s.search(ctx, words, false, true, field, value, searchHits, "search knowledge base")
}

// SuggestArticles returns the n published articles (1 to MaxArticleHits)
// that best match a ticket's subject and body, for self-service
// deflection: a full-text search for any of the ticket's significant
// words — Tokenize's, those of the subject first, then the body's most
// frequent, at most 24 — ranked by the database (an article with more of
// them, and rarer ones, and in its title, ranks higher). A ticket without
// a significant word finds nothing. It needs "tickets" read.
func (s *KnowledgeBase) SuggestArticles(ctx context.Context, subject, body string, n int) (_ []ArticleHit, err error) {
	ctx, span := s.sc.Span(ctx, "tickets.KnowledgeBase.SuggestArticles")
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "kb_article", core.NilID, access.Read); err != nil {
		return nil, err
	}
	v := &core.ValidationError{}
	if !core.StorableText(subject) {
		v.Add("subject", "is not storable text (valid UTF-8 without NUL)")
	} else if len(subject) > MaxBodyLen {
		v.Add("subject", "is longer than %d bytes", MaxBodyLen)
	}
	if !core.StorableText(body) {
		v.Add("body", "is not storable text (valid UTF-8 without NUL)")
	} else if len(body) > MaxBodyLen {
		v.Add("body", "is longer than %d bytes", MaxBodyLen)
	}
	if n < 1 || n > MaxArticleHits {
		v.Add("n", "must be 1 to %d", MaxArticleHits)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	words := significantWords(subject, body, maxTicketWords)
	if len(words) == 0 {
		return []ArticleHit{}, nil
	}
	return s.search(ctx, words, true, false, "", "", n, "suggest knowledge base articles")
}

// significantWords returns the distinct words of subject, in order, then
// those of body by how often they occur (ties in order of appearance), at
// most max.
func significantWords(subject, body string, max int) []string {
	var out []string
	for _, w := range Tokenize(subject) {
		if len(out) < max && !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	type freq struct {
		w string
		n int
	}
	byWord := map[string]*freq{}
	var order []*freq
	for _, w := range Tokenize(body) {
		if f := byWord[w]; f != nil {
			f.n++
			continue
		}
		f := &freq{w: w, n: 1}
		byWord[w] = f
		order = append(order, f)
	}
	slices.SortStableFunc(order, func(a, b *freq) int { return cmp.Compare(b.n, a.n) })
	for _, f := range order {
		if len(out) >= max {
			break
		}
		if !slices.Contains(out, f.w) {
			out = append(out, f.w)
		}
	}
	return out
}
