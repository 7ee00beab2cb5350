-- Full-text search over contacts and companies: one document per record,
-- kept in sync by the writes that change it. The text is composed in SQL
-- (contacts/search.go); this migration indexes the records that exist.

-- postgres only
CREATE TABLE crm_search (
	tenant_id TEXT NOT NULL,
	entity    TEXT NOT NULL,
	entity_id UUID NOT NULL,
	title     TEXT NOT NULL,
	body      TEXT NOT NULL,
	tsv       tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, body)) STORED,
	PRIMARY KEY (tenant_id, entity, entity_id)
);
-- postgres only
CREATE INDEX crm_search_tsv ON crm_search USING GIN (tsv);

-- SQLite: an FTS5 index over crm_search (external content), kept in sync by
-- triggers; doc is the stable rowid FTS5 refers to.
-- sqlite only
CREATE TABLE crm_search (
	doc       INTEGER PRIMARY KEY,
	tenant_id TEXT NOT NULL,
	entity    TEXT NOT NULL,
	entity_id TEXT NOT NULL,
	title     TEXT NOT NULL,
	body      TEXT NOT NULL,
	UNIQUE (tenant_id, entity, entity_id)
);
-- sqlite only
CREATE VIRTUAL TABLE crm_search_fts USING fts5(tenant_id, body, content = 'crm_search', content_rowid = 'doc', tokenize = 'unicode61 remove_diacritics 0', prefix = '2 3');
-- sqlite only
CREATE TRIGGER crm_search_ai AFTER INSERT ON crm_search BEGIN INSERT INTO crm_search_fts (rowid, tenant_id, body) VALUES (new.doc, new.tenant_id, new.body); END;
-- sqlite only
CREATE TRIGGER crm_search_ad AFTER DELETE ON crm_search BEGIN INSERT INTO crm_search_fts (crm_search_fts, rowid, tenant_id, body) VALUES ('delete', old.doc, old.tenant_id, old.body); END;
-- sqlite only
CREATE TRIGGER crm_search_au AFTER UPDATE ON crm_search BEGIN INSERT INTO crm_search_fts (crm_search_fts, rowid, tenant_id, body) VALUES ('delete', old.doc, old.tenant_id, old.body); INSERT INTO crm_search_fts (rowid, tenant_id, body) VALUES (new.doc, new.tenant_id, new.body); END;

-- Index what exists.
-- postgres only
INSERT INTO crm_search (tenant_id, entity, entity_id, title, body)
SELECT c.tenant_id, 'contact', c.id,
	COALESCE(NULLIF(TRIM(c.first_name || ' ' || c.last_name), ''), NULLIF(c.email, ''), c.phone),
	c.first_name || ' ' || c.last_name || ' ' || c.email || ' ' || replace(replace(c.email, '@', ' '), '.', ' ') || ' ' ||
	replace(c.phone, '+', ' ') || ' ' || COALESCE(co.name, '') || ' ' ||
	COALESCE((SELECT string_agg(value, ' ') FROM jsonb_array_elements_text(c.tags)), '')
FROM crm_contacts c LEFT JOIN crm_companies co ON co.tenant_id = c.tenant_id AND co.id = c.company_id;
-- sqlite only
INSERT INTO crm_search (tenant_id, entity, entity_id, title, body)
SELECT c.tenant_id, 'contact', c.id,
	COALESCE(NULLIF(TRIM(c.first_name || ' ' || c.last_name), ''), NULLIF(c.email, ''), c.phone),
	c.first_name || ' ' || c.last_name || ' ' || c.email || ' ' || replace(replace(c.email, '@', ' '), '.', ' ') || ' ' ||
	replace(c.phone, '+', ' ') || ' ' || COALESCE(co.name, '') || ' ' ||
	COALESCE((SELECT group_concat(value, ' ') FROM json_each(c.tags)), '')
FROM crm_contacts c LEFT JOIN crm_companies co ON co.tenant_id = c.tenant_id AND co.id = c.company_id;
INSERT INTO crm_search (tenant_id, entity, entity_id, title, body)
SELECT co.tenant_id, 'company', co.id, co.name, co.name || ' ' || co.domain || ' ' || replace(co.domain, '.', ' ')
FROM crm_companies co;
-- Fresh statistics, or the planner takes the tenant for selective and
-- intersects every search with all of the tenant's documents.
-- postgres only
ANALYZE crm_search;
