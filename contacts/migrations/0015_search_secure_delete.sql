-- SQLite: the full-text index forgets a deleted document's words at once
-- (FTS5's secure-delete option, SQLite 3.44 and later — modernc.org/sqlite
-- v1.62 bundles 3.54; the option is kept in
-- crm_search_fts_config). Without it a deleted or erased person's words stay
-- in the index's segment pages until those are merged, readable from the
-- database file. PostgreSQL's tsvector is a column of the deleted row.
-- sqlite only
INSERT INTO crm_search_fts (crm_search_fts, rank) VALUES ('secure-delete', 1);
-- What was deleted before goes now: merging the segments into one drops
-- the words of deleted documents.
-- sqlite only
INSERT INTO crm_search_fts (crm_search_fts) VALUES ('optimize');
