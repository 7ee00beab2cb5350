-- The knowledge base: help articles per tenant, drafts and published,
-- and the full-text index of the published ones.

-- body is stored as given (Markdown or plain text); locale is a BCP 47
-- tag in canonical form and language its base language ("de" of
-- "de-CH"), which searches and lists select by.
CREATE TABLE crm_kb_articles (
	tenant_id    TEXT NOT NULL,
	id           {{ID}} NOT NULL,
	title        TEXT NOT NULL,
	body         TEXT NOT NULL,
	category     {{TEXT}} NOT NULL DEFAULT '',
	locale       {{TEXT}} NOT NULL,
	language     {{TEXT}} NOT NULL,
	status       {{TEXT}} NOT NULL,
	author_id    TEXT NOT NULL DEFAULT '',
	published_at {{TIME}},
	created_at   {{TIME}} NOT NULL,
	updated_at   {{TIME}} NOT NULL,
	version      {{BIGINT}} NOT NULL,
	PRIMARY KEY (tenant_id, id)
);
CREATE INDEX crm_kb_articles_updated ON crm_kb_articles (tenant_id, updated_at, id);
CREATE INDEX crm_kb_articles_status ON crm_kb_articles (tenant_id, status, category, language);

-- The search documents of the published articles, one each, written by
-- the service when an article is published, changed while published,
-- unpublished or deleted: title and body are the article's words as
-- tickets.Tokenize gives them (lower case, umlauts folded, stop words
-- dropped, stemmed), so that both databases match the same words. The
-- title weighs more than the body.
-- postgres only
CREATE TABLE crm_kb_search (
	tenant_id  TEXT NOT NULL,
	article_id UUID NOT NULL,
	language   TEXT NOT NULL,
	title      TEXT NOT NULL,
	body       TEXT NOT NULL,
	tsv        tsvector GENERATED ALWAYS AS (setweight(to_tsvector('simple'::regconfig, title), 'A') ||
		setweight(to_tsvector('simple'::regconfig, body), 'B')) STORED,
	PRIMARY KEY (tenant_id, article_id),
	FOREIGN KEY (tenant_id, article_id) REFERENCES crm_kb_articles (tenant_id, id) ON DELETE CASCADE
);
-- postgres only
CREATE INDEX crm_kb_search_tsv ON crm_kb_search USING GIN (tsv);

-- SQLite: an FTS5 index over crm_kb_search (external content), kept in
-- sync by triggers; doc is the stable rowid FTS5 refers to. Deleted
-- documents' words leave the index at once (secure-delete, as for
-- crm_search_fts).
-- sqlite only
CREATE TABLE crm_kb_search (
	doc        INTEGER PRIMARY KEY,
	tenant_id  TEXT NOT NULL,
	article_id TEXT NOT NULL,
	language   TEXT NOT NULL,
	title      TEXT NOT NULL,
	body       TEXT NOT NULL,
	UNIQUE (tenant_id, article_id),
	FOREIGN KEY (tenant_id, article_id) REFERENCES crm_kb_articles (tenant_id, id) ON DELETE CASCADE
);
-- sqlite only
CREATE VIRTUAL TABLE crm_kb_fts USING fts5(title, body, content = 'crm_kb_search', content_rowid = 'doc', tokenize = 'unicode61 remove_diacritics 0', prefix = '2 3');
-- sqlite only
CREATE TRIGGER crm_kb_search_ai AFTER INSERT ON crm_kb_search BEGIN INSERT INTO crm_kb_fts (rowid, title, body) VALUES (new.doc, new.title, new.body); END;
-- sqlite only
CREATE TRIGGER crm_kb_search_ad AFTER DELETE ON crm_kb_search BEGIN INSERT INTO crm_kb_fts (crm_kb_fts, rowid, title, body) VALUES ('delete', old.doc, old.title, old.body); END;
-- sqlite only
CREATE TRIGGER crm_kb_search_au AFTER UPDATE ON crm_kb_search BEGIN INSERT INTO crm_kb_fts (crm_kb_fts, rowid, title, body) VALUES ('delete', old.doc, old.title, old.body); INSERT INTO crm_kb_fts (rowid, title, body) VALUES (new.doc, new.title, new.body); END;
-- sqlite only
INSERT INTO crm_kb_fts (crm_kb_fts, rank) VALUES ('secure-delete', 1);
