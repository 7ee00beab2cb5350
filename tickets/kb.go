package tickets

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/text/language"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/store"
)

// ArticleStatus is where a knowledge base article stands.
type ArticleStatus string

// Article statuses: a draft is seen by those who may write the knowledge
// base; a published article by every reader, and by search.
const (
	ArticleDraft     ArticleStatus = "draft"
	ArticlePublished ArticleStatus = "published"
)

// ArticleStatuses lists the article statuses.
var ArticleStatuses = []ArticleStatus{ArticleDraft, ArticlePublished}

// Limits of knowledge base articles.
const (
	MaxArticleTitleLen = 300
	MaxArticleBodyLen  = 200_000
	maxLocaleLen       = 35
)

// Article is one article of the tenant's knowledge base.
type Article struct {
	ID    core.ID `json:"id"`
	Title string  `json:"title"`
	// Body is the article's text as given: Markdown or plain text.
	Body string `json:"body"`
	// Category is a code ("billing"), optional.
	Category string `json:"category,omitempty"`
	// Locale is the article's language, a BCP 47 tag in canonical form
	// ("de", "de-CH", "en-GB").
	Locale string        `json:"locale"`
	Status ArticleStatus `json:"status"`
	// AuthorID is the user who created it: the actor, or what the host
	// gave.
	AuthorID string `json:"author_id,omitempty"`
	// PublishedAt is when it was last published; nil while a draft.
	PublishedAt *time.Time `json:"published_at,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	Version     int64      `json:"version"`
}

// NewArticle is the input of KnowledgeBase.Create.
type NewArticle struct {
	Title    string
	Body     string
	Category string
	Locale   string
	// AuthorID is the author's user id, for the host's own code; with an
	// actor in the context the author is the actor.
	AuthorID string
}

// ArticlePatch changes an article: nil fields stay.
type ArticlePatch struct {
	// Version is the version read: stale is ErrConflict.
	Version  int64
	Title    *string
	Body     *string
	Category *string
	Locale   *string
}

// ArticleUpdated is the payload of "kb.article_updated": the article after
// the change and the fields that changed.
type ArticleUpdated struct {
	Article *Article `json:"article"`
	Changed []string `json:"changed"`
}

// ArticleSchema is the filter allowlist of articles (List's sorts).
var ArticleSchema = filter.NewSchema("kb_article", "",
	filter.Field{Name: "title", Column: "a.title", Type: filter.String, Sortable: true},
	filter.Field{Name: "status", Column: "a.status", Type: filter.Enum, Values: enumValues(ArticleStatuses)},
	filter.Field{Name: "category", Column: "a.category", Type: filter.String},
	filter.Field{Name: "locale", Column: "a.locale", Type: filter.String},
	filter.Field{Name: "language", Column: "a.language", Type: filter.String},
	filter.Field{Name: "published_at", Column: "a.published_at", Type: filter.Time},
	filter.Field{Name: "created_at", Column: "a.created_at", Type: filter.Time, Sortable: true},
	filter.Field{Name: "updated_at", Column: "a.updated_at", Type: filter.Time, Sortable: true},
)

// FilterValue implements filter.Record.
func (a *Article) FilterValue(field string) any {
	switch field {
	case "title":
		return a.Title
	case "status":
		return string(a.Status)
	case "category":
		return a.Category
	case "locale":
		return a.Locale
	case "language":
		return baseLanguage(a.Locale)
	case "published_at":
		if a.PublishedAt == nil {
			return nil
		}
		return *a.PublishedAt
	case "created_at":
		return a.CreatedAt
	case "updated_at":
		return a.UpdatedAt
	}
	return nil
}

// KnowledgeBase keeps the tenant's help articles and finds them for a
// question or a ticket (c.KnowledgeBase).
type KnowledgeBase struct {
	sc store.Scope
}

func newKnowledgeBase(sc store.Scope) *KnowledgeBase { return &KnowledgeBase{sc: sc} }

const articleColumns = `a.id, a.title, a.body, a.category, a.locale, a.status, a.author_id, a.published_at, a.created_at, a.updated_at, a.version`

func scanArticle(r store.Scanner) (*Article, error) {
	var a Article
	var status string
	var published sql.NullTime
	if err := r.Scan(&a.ID, &a.Title, &a.Body, &a.Category, &a.Locale, &status, &a.AuthorID, &published, &a.CreatedAt, &a.UpdatedAt, &a.Version); err != nil {
		return nil, err
	}
	a.Status, a.PublishedAt = ArticleStatus(status), timeOf(published)
	a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	return &a, nil
}

// getArticle reads article id of tenant (locked when lock is set).
func getArticle(ctx context.Context, q store.Q, tenant string, id core.ID, lock bool) (*Article, error) {
	query := `SELECT ` + articleColumns + ` FROM crm_kb_articles a WHERE a.tenant_id = ? AND a.id = ?`
	if lock {
		query += q.D.LockRows()
	}
	a, err := scanArticle(q.QueryRow(ctx, query, tenant, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.NotFound("kb_article", id)
	}
	return a, err
}

// parseLocale returns the canonical form of a BCP 47 tag and its base
// language, or ok false for a tag that is not well-formed, names an
// unknown language, or no language ("und", private use).
func parseLocale(s string) (canonical, base string, ok bool) {
	if s == "" || len(s) > maxLocaleLen {
		return "", "", false
	}
	tag, err := language.Parse(s)
	if err != nil {
		return "", "", false
	}
	b, conf := tag.Base()
	if conf != language.Exact || b.String() == "und" {
		return "", "", false
	}
	return tag.String(), b.String(), true
}

// baseLanguage returns the base language of a stored locale.
func baseLanguage(locale string) string {
	_, base, _ := parseLocale(locale)
	return base
}

// checkArticle trims and validates a, every problem added to v.
func checkArticle(v *core.ValidationError, a *Article) {
	a.Title, a.Category, a.Locale, a.AuthorID = strings.TrimSpace(a.Title), strings.TrimSpace(a.Category), strings.TrimSpace(a.Locale), strings.TrimSpace(a.AuthorID)
	if a.Title == "" {
		v.Add("title", "is required")
	}
	v.CheckText("title", a.Title, MaxArticleTitleLen)
	if !core.StorableText(a.Body) {
		v.Add("body", "is not storable text (valid UTF-8 without NUL)")
	} else if len(a.Body) > MaxArticleBodyLen {
		v.Add("body", "is longer than %d bytes", MaxArticleBodyLen)
	}
	if a.Category != "" && !core.ValidCode(a.Category) {
		v.Add("category", "%q is not a code (lower-case letters, digits and _)", a.Category)
	}
	if a.Locale == "" {
		v.Add("locale", "is required: a BCP 47 language tag such as en or de-CH")
	} else if canonical, _, ok := parseLocale(a.Locale); !ok {
		v.Add("locale", "%q is not a BCP 47 language tag of a known language, such as en or de-CH", a.Locale)
	} else {
		a.Locale = canonical
	}
	v.CheckText("author_id", a.AuthorID, MaxUserIDLen)
	if a.Status == ArticlePublished && strings.TrimSpace(a.Body) == "" {
		v.Add("body", "is required for a published article")
	}
}

// articleEvent is the event of a change of a.
func articleEvent(tenant, typ string, a *Article, now time.Time, data any) core.Event {
	return core.Event{TenantID: tenant, Type: typ, SubjectType: "kb_article", SubjectID: a.ID, OccurredAt: now, Data: store.JSON(data)}
}

// Create stores a draft article and emits "kb.article_created". A missing
// title or locale, a locale that is no BCP 47 tag of a known language, a
// category that is no code, and text too long or not storable are
// ErrInvalid, every problem listed. It needs "tickets" manage.
func (s *KnowledgeBase) Create(ctx context.Context, in NewArticle) (_ *Article, err error) {
	ctx, span := s.sc.Span(ctx, "tickets.KnowledgeBase.Create")
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "kb_article", core.NilID, access.Manage); err != nil {
		return nil, err
	}
	a := &Article{ID: core.NewID(), Title: in.Title, Body: in.Body, Category: in.Category, Locale: in.Locale, Status: ArticleDraft,
		AuthorID: in.AuthorID, Version: 1}
	if actor, ok := core.ActorFrom(ctx); ok && actor.ID != "" {
		a.AuthorID = actor.ID
	}
	v := &core.ValidationError{}
	checkArticle(v, a)
	if err := v.Err(); err != nil {
		return nil, err
	}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		now := tx.Runtime().Now()
		a.CreatedAt, a.UpdatedAt = now, now
		if _, err := tx.Q().Exec(ctx, `INSERT INTO crm_kb_articles (tenant_id, id, title, body, category, locale, language, status, author_id,
			published_at, created_at, updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			tenant, a.ID, a.Title, a.Body, a.Category, a.Locale, baseLanguage(a.Locale), string(a.Status), a.AuthorID, nil, now, now, a.Version); err != nil {
			return err
		}
		return tx.Emit(ctx, articleEvent(tenant, EventArticleCreated, a, now, a))
	})
	if err != nil {
		return nil, store.Wrap(err, "create knowledge base article")
	}
	return a, nil
}

// writer reports whether the actor of g may write the knowledge base
// (and so read its drafts).
func (g *guard) writer() bool { return g.eff.Can(permModule, access.Manage) }

// Get returns the article with id. It needs "tickets" read; a draft is
// ErrNotFound, as a missing article, for an actor who may not write the
// knowledge base ("tickets" manage).
func (s *KnowledgeBase) Get(ctx context.Context, id core.ID) (_ *Article, err error) {
	ctx, span := s.sc.SpanID(ctx, "tickets.KnowledgeBase.Get", id)
	defer span.End(&err)

	g, err := check(ctx, s.sc, "kb_article", id, access.Read)
	if err != nil {
		return nil, err
	}
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	a, err := getArticle(ctx, s.sc.Q(), tenant, id, false)
	if err == nil && a.Status != ArticlePublished && !g.writer() {
		// Hidden as a missing one, recorded as a refused attempt.
		return nil, g.done(ctx, &denial{err: core.NotFound("kb_article", id), kind: "kb_article", id: id, action: access.Read})
	}
	return a, store.Wrap(err, "get knowledge base article")
}

// change runs fn on the locked article id at version, writes it with the
// next version and emits the event fn returns; fn returning "" changes
// nothing (nothing is written). The search document follows the
// article: a published article's is brought up to date, a draft has
// none.
func (s *KnowledgeBase) change(ctx context.Context, id core.ID, version int64, doing string,
	fn func(a *Article, now time.Time) (typ string, data func(a *Article) any, err error)) (*Article, error) {
	if _, err := check(ctx, s.sc, "kb_article", id, access.Manage); err != nil {
		return nil, err
	}
	if err := core.CheckVersion(version); err != nil {
		return nil, err
	}
	var out *Article
	err := s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		q := tx.Q()
		now := tx.Runtime().Now()
		cur, err := getArticle(ctx, q, tenant, id, true)
		if err != nil {
			return err
		}
		if cur.Version != version {
			return fmt.Errorf("%w: knowledge base article %s is at version %d, not %d; read it again", core.ErrConflict, id, cur.Version, version)
		}
		next := *cur
		typ, data, err := fn(&next, now)
		if err != nil {
			return err
		}
		if typ == "" {
			out = cur
			return nil
		}
		next.UpdatedAt, next.Version = now, cur.Version+1
		res, err := q.Exec(ctx, `UPDATE crm_kb_articles SET title = ?, body = ?, category = ?, locale = ?, language = ?, status = ?,
			published_at = ?, updated_at = ?, version = ? WHERE tenant_id = ? AND id = ? AND version = ?`,
			next.Title, next.Body, next.Category, next.Locale, baseLanguage(next.Locale), string(next.Status), next.PublishedAt,
			next.UpdatedAt, next.Version, tenant, id, cur.Version)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return fmt.Errorf("%w: knowledge base article %s was changed by someone else; read it again", core.ErrConflict, id)
		}
		if next.Status == ArticlePublished {
			err = indexArticle(ctx, q, tenant, &next)
		} else {
			err = unindexArticle(ctx, q, tenant, id)
		}
		if err != nil {
			return err
		}
		out = &next
		return tx.Emit(ctx, articleEvent(tenant, typ, out, now, data(out)))
	})
	if err != nil {
		return nil, store.Wrap(err, doing)
	}
	return out, nil
}

// Update applies patch if patch.Version is still the article's version
// (stale is ErrConflict, 0 ErrInvalid) and emits "kb.article_updated" with
// the fields that changed; a patch that changes nothing writes nothing. A
// published article stays published: the change is what readers and
// search see at once (unpublish it first to prepare a change). It needs
// "tickets" manage.
func (s *KnowledgeBase) Update(ctx context.Context, id core.ID, patch ArticlePatch) (_ *Article, err error) {
	ctx, span := s.sc.SpanID(ctx, "tickets.KnowledgeBase.Update", id)
	defer span.End(&err)

	return s.change(ctx, id, patch.Version, "update knowledge base article", func(a *Article, now time.Time) (string, func(*Article) any, error) {
		before := *a
		if patch.Title != nil {
			a.Title = *patch.Title
		}
		if patch.Body != nil {
			a.Body = *patch.Body
		}
		if patch.Category != nil {
			a.Category = *patch.Category
		}
		if patch.Locale != nil {
			a.Locale = *patch.Locale
		}
		v := &core.ValidationError{}
		checkArticle(v, a)
		if err := v.Err(); err != nil {
			return "", nil, err
		}
		var changed []string
		for _, f := range []struct {
			name   string
			differ bool
		}{{"title", before.Title != a.Title}, {"body", before.Body != a.Body}, {"category", before.Category != a.Category},
			{"locale", before.Locale != a.Locale}} {
			if f.differ {
				changed = append(changed, f.name)
			}
		}
		if len(changed) == 0 {
			return "", nil, nil
		}
		return EventArticleUpdated, func(a *Article) any { return ArticleUpdated{Article: a, Changed: changed} }, nil
	})
}

// Publish makes a draft article visible to readers and search if version
// is still its version, and emits "kb.article_published"; publishing a
// published article changes nothing. An article without a body is
// ErrInvalid. It needs "tickets" manage.
func (s *KnowledgeBase) Publish(ctx context.Context, id core.ID, version int64) (_ *Article, err error) {
	ctx, span := s.sc.SpanID(ctx, "tickets.KnowledgeBase.Publish", id)
	defer span.End(&err)

	return s.change(ctx, id, version, "publish knowledge base article", func(a *Article, now time.Time) (string, func(*Article) any, error) {
		if a.Status == ArticlePublished {
			return "", nil, nil
		}
		a.Status, a.PublishedAt = ArticlePublished, &now
		v := &core.ValidationError{}
		checkArticle(v, a)
		if err := v.Err(); err != nil {
			return "", nil, err
		}
		return EventArticlePublished, func(a *Article) any { return a }, nil
	})
}

// Unpublish takes a published article back to draft (readers and search
// no longer find it) if version is still its version, and emits
// "kb.article_unpublished"; a draft changes nothing. It needs "tickets"
// manage.
func (s *KnowledgeBase) Unpublish(ctx context.Context, id core.ID, version int64) (_ *Article, err error) {
	ctx, span := s.sc.SpanID(ctx, "tickets.KnowledgeBase.Unpublish", id)
	defer span.End(&err)

	return s.change(ctx, id, version, "unpublish knowledge base article", func(a *Article, now time.Time) (string, func(*Article) any, error) {
		if a.Status == ArticleDraft {
			return "", nil, nil
		}
		a.Status, a.PublishedAt = ArticleDraft, nil
		return EventArticleUnpublished, func(a *Article) any { return a }, nil
	})
}

// Delete removes the article if version is still its version (stale is
// ErrConflict) and emits "kb.article_deleted". It needs "tickets" manage.
func (s *KnowledgeBase) Delete(ctx context.Context, id core.ID, version int64) (err error) {
	ctx, span := s.sc.SpanID(ctx, "tickets.KnowledgeBase.Delete", id)
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "kb_article", id, access.Manage); err != nil {
		return err
	}
	if err := core.CheckVersion(version); err != nil {
		return err
	}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		q := tx.Q()
		cur, err := getArticle(ctx, q, tenant, id, true)
		if err != nil {
			return err
		}
		if cur.Version != version {
			return fmt.Errorf("%w: knowledge base article %s is at version %d, not %d; read it again", core.ErrConflict, id, cur.Version, version)
		}
		if err := unindexArticle(ctx, q, tenant, id); err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `DELETE FROM crm_kb_articles WHERE tenant_id = ? AND id = ? AND version = ?`, tenant, id, version); err != nil {
			return err
		}
		return tx.Emit(ctx, articleEvent(tenant, EventArticleDeleted, cur, tx.Runtime().Now(), Deleted{ID: id}))
	})
	return store.Wrap(err, "delete knowledge base article")
}

// ArticleListOptions select, order and page a list of articles.
type ArticleListOptions struct {
	// Status selects drafts or published articles; "" both (readers who
	// may not write the knowledge base see published articles only).
	Status ArticleStatus
	// Category selects a category (a code).
	Category string
	// Locale selects a language: a bare language ("de") selects every
	// article in it ("de", "de-CH", …), a tag with more ("de-CH") the
	// articles of exactly that locale.
	Locale string
	// Sort is one of ArticleSchema's sortable fields, "-" for
	// descending; default "-updated_at".
	Sort   string
	Limit  int
	Cursor string
}

// localeFilter is the filter of a locale of ArticleListOptions or Search
// ("" any), over a.locale or a.language as ArticleListOptions.Locale
// says; a bad locale is a problem added to v.
func localeFilter(v *core.ValidationError, locale string) (field, value string) {
	locale = strings.TrimSpace(locale)
	if locale == "" {
		return "", ""
	}
	canonical, base, ok := parseLocale(locale)
	if !ok {
		v.Add("locale", "%q is not a BCP 47 language tag of a known language, such as en or de-CH", locale)
		return "", ""
	}
	if canonical == base {
		return "language", base
	}
	return "locale", canonical
}

// List returns one page of the tenant's articles. It needs "tickets"
// read; an actor who may not write the knowledge base sees published
// articles only, and a page's cursor is bound to what the actor sees.
func (s *KnowledgeBase) List(ctx context.Context, opts ArticleListOptions) (_ core.Page[*Article], err error) {
	ctx, span := s.sc.Span(ctx, "tickets.KnowledgeBase.List")
	defer span.End(&err)

	g, err := check(ctx, s.sc, "kb_article", core.NilID, access.Read)
	if err != nil {
		return core.Page[*Article]{}, err
	}
	v := &core.ValidationError{}
	var conds []filter.Expr
	if opts.Status != "" {
		if opts.Status != ArticleDraft && opts.Status != ArticlePublished {
			v.Add("status", "%q is not one of draft, published", opts.Status)
		}
		conds = append(conds, filter.Eq("status", string(opts.Status)))
	}
	if c := strings.TrimSpace(opts.Category); c != "" {
		conds = append(conds, filter.Eq("category", c))
	}
	if field, value := localeFilter(v, opts.Locale); field != "" {
		conds = append(conds, filter.Eq(field, value))
	}
	if err := v.Err(); err != nil {
		return core.Page[*Article]{}, err
	}
	var visible store.Visible
	if !g.writer() {
		visible = store.Visible{Key: "kb published only", Where: "a.status = 'published'"}
	}
	plan, err := s.sc.PlanList(store.ListRequest{Schema: ArticleSchema, Filter: filter.And(conds...), Sort: opts.Sort,
		DefaultSort: "-updated_at", Limit: opts.Limit, Cursor: opts.Cursor, Visible: visible})
	if err != nil {
		return core.Page[*Article]{}, err
	}
	tenant, _ := s.sc.Tenant()
	rows, err := store.ListPage(ctx, s.sc.Q(), tenant, `SELECT `+articleColumns+` FROM crm_kb_articles a `, "a", plan, scanArticle)
	if err != nil {
		return core.Page[*Article]{}, store.Wrap(err, "list knowledge base articles")
	}
	return store.PageOf(s.sc, plan, rows, func(a *Article) (any, core.ID) { return plan.Sort.Field.SortKey(a), a.ID })
}
