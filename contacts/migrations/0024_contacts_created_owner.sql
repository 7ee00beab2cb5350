-- Lists of contacts newest first, narrowed to the owners an actor sees
-- (record access, own or team visibility): with the owner in the index of
-- created_at, SQLite tests it on the index entry and reads only the
-- contacts it keeps, instead of every contact the walk down created_at
-- passes (a team owning 30% of the contacts read 3.3 rows per row
-- listed). The index serves every query the old one served. PostgreSQL
-- tests a filter only on the row, whatever the index holds: unchanged.
-- sqlite only
DROP INDEX crm_contacts_created;
-- sqlite only
CREATE INDEX crm_contacts_created ON crm_contacts (tenant_id, created_at, id, owner_id);
