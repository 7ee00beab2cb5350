-- References that lacked a composite foreign key (tenant_id, x_id) →
-- crm_x (tenant_id, id): an activity's company and deal, a task's deal, a
-- merge's winner. With them the database refuses a reference to another
-- tenant's row or to a row that does not exist. The other id columns
-- without one are listed, with the reason, in internal/migrate
-- (Unreferenced).
--
-- Deleting what they point at:
--   - a company: Companies.Delete clears the link of its activities (as it
--     does for contacts and tasks) before deleting it;
--   - a deal: the deal's activities and tasks stay, unlinked. pipeline does
--     not write contacts' tables, so the database clears the link: ON DELETE
--     SET NULL (deal_id) on PostgreSQL (which needs PostgreSQL 15 or newer:
--     a plain SET NULL would also null tenant_id), a BEFORE DELETE trigger
--     on SQLite (whose SET NULL sets every column of the key);
--   - a contact that won a merge: the record of the merge goes with it
--     (ON DELETE CASCADE), as the merged contacts' snapshots are its data.
--
-- Rows that already point nowhere (or at another tenant) are unlinked
-- first, so that the constraints can be added.
UPDATE crm_activities SET company_id = NULL WHERE company_id IS NOT NULL AND NOT EXISTS (
	SELECT 1 FROM crm_companies co WHERE co.tenant_id = crm_activities.tenant_id AND co.id = crm_activities.company_id);
UPDATE crm_activities SET deal_id = NULL WHERE deal_id IS NOT NULL AND NOT EXISTS (
	SELECT 1 FROM crm_deals d WHERE d.tenant_id = crm_activities.tenant_id AND d.id = crm_activities.deal_id);
UPDATE crm_tasks SET deal_id = NULL WHERE deal_id IS NOT NULL AND NOT EXISTS (
	SELECT 1 FROM crm_deals d WHERE d.tenant_id = crm_tasks.tenant_id AND d.id = crm_tasks.deal_id);
DELETE FROM crm_contact_merges WHERE NOT EXISTS (
	SELECT 1 FROM crm_contacts c WHERE c.tenant_id = crm_contact_merges.tenant_id AND c.id = crm_contact_merges.winner_id);

-- postgres only
ALTER TABLE crm_activities ADD CONSTRAINT crm_activities_tenant_id_company_id_fkey
	FOREIGN KEY (tenant_id, company_id) REFERENCES crm_companies (tenant_id, id);
-- postgres only
ALTER TABLE crm_activities ADD CONSTRAINT crm_activities_tenant_id_deal_id_fkey
	FOREIGN KEY (tenant_id, deal_id) REFERENCES crm_deals (tenant_id, id) ON DELETE SET NULL (deal_id);
-- postgres only
ALTER TABLE crm_tasks ADD CONSTRAINT crm_tasks_tenant_id_deal_id_fkey
	FOREIGN KEY (tenant_id, deal_id) REFERENCES crm_deals (tenant_id, id) ON DELETE SET NULL (deal_id);
-- postgres only
ALTER TABLE crm_contact_merges ADD CONSTRAINT crm_contact_merges_tenant_id_winner_id_fkey
	FOREIGN KEY (tenant_id, winner_id) REFERENCES crm_contacts (tenant_id, id) ON DELETE CASCADE;

-- SQLite cannot add a constraint to a table: the three tables are rebuilt
-- (nothing references them, so they can be dropped with foreign keys on).
-- sqlite only
CREATE TABLE crm_activities_new (
	tenant_id       TEXT NOT NULL,
	id              TEXT NOT NULL,
	contact_id      TEXT NOT NULL,
	company_id      TEXT,
	deal_id         TEXT,
	kind            TEXT NOT NULL,
	name            TEXT NOT NULL DEFAULT '',
	occurred_at     TIMESTAMP NOT NULL,
	actor_id        TEXT NOT NULL DEFAULT '',
	idempotency_key TEXT NOT NULL DEFAULT '',
	properties      TEXT NOT NULL,
	order_id        TEXT NOT NULL DEFAULT '',
	amount          INTEGER,
	currency        TEXT NOT NULL DEFAULT '',
	items           TEXT,
	created_at      TIMESTAMP NOT NULL,
	PRIMARY KEY (tenant_id, id),
	FOREIGN KEY (tenant_id, contact_id) REFERENCES crm_contacts (tenant_id, id) ON DELETE CASCADE,
	FOREIGN KEY (tenant_id, company_id) REFERENCES crm_companies (tenant_id, id),
	FOREIGN KEY (tenant_id, deal_id) REFERENCES crm_deals (tenant_id, id)
);
-- sqlite only
INSERT INTO crm_activities_new (tenant_id, id, contact_id, company_id, deal_id, kind, name, occurred_at, actor_id,
	idempotency_key, properties, order_id, amount, currency, items, created_at)
SELECT tenant_id, id, contact_id, company_id, deal_id, kind, name, occurred_at, actor_id,
	idempotency_key, properties, order_id, amount, currency, items, created_at FROM crm_activities;
-- sqlite only
DROP TABLE crm_activities;
-- sqlite only
ALTER TABLE crm_activities_new RENAME TO crm_activities;
-- sqlite only
CREATE UNIQUE INDEX crm_activities_idempotency ON crm_activities (tenant_id, idempotency_key) WHERE idempotency_key <> '';
-- sqlite only
CREATE INDEX crm_activities_contact ON crm_activities (tenant_id, contact_id, occurred_at, id);
-- sqlite only
CREATE INDEX crm_activities_deal ON crm_activities (tenant_id, deal_id, occurred_at) WHERE deal_id IS NOT NULL;
-- sqlite only
CREATE INDEX crm_activities_kind_time ON crm_activities (tenant_id, kind, occurred_at);

-- sqlite only
CREATE TABLE crm_tasks_new (
	tenant_id    TEXT NOT NULL,
	id           TEXT NOT NULL,
	title        TEXT NOT NULL,
	description  TEXT NOT NULL DEFAULT '',
	due_at       TIMESTAMP,
	due_key      TIMESTAMP NOT NULL,
	assignee_id  TEXT NOT NULL DEFAULT '',
	contact_id   TEXT,
	company_id   TEXT,
	deal_id      TEXT,
	priority     TEXT NOT NULL,
	status       TEXT NOT NULL,
	completed_at TIMESTAMP,
	created_by   TEXT NOT NULL DEFAULT '',
	created_at   TIMESTAMP NOT NULL,
	updated_at   TIMESTAMP NOT NULL,
	version      INTEGER NOT NULL,
	PRIMARY KEY (tenant_id, id),
	FOREIGN KEY (tenant_id, contact_id) REFERENCES crm_contacts (tenant_id, id),
	FOREIGN KEY (tenant_id, company_id) REFERENCES crm_companies (tenant_id, id),
	FOREIGN KEY (tenant_id, deal_id) REFERENCES crm_deals (tenant_id, id)
);
-- sqlite only
INSERT INTO crm_tasks_new (tenant_id, id, title, description, due_at, due_key, assignee_id, contact_id, company_id, deal_id,
	priority, status, completed_at, created_by, created_at, updated_at, version)
SELECT tenant_id, id, title, description, due_at, due_key, assignee_id, contact_id, company_id, deal_id,
	priority, status, completed_at, created_by, created_at, updated_at, version FROM crm_tasks;
-- sqlite only
DROP TABLE crm_tasks;
-- sqlite only
ALTER TABLE crm_tasks_new RENAME TO crm_tasks;
-- sqlite only
CREATE INDEX crm_tasks_assignee ON crm_tasks (tenant_id, assignee_id, status, due_key, id);
-- sqlite only
CREATE INDEX crm_tasks_status ON crm_tasks (tenant_id, status, due_key, id);
-- sqlite only
CREATE INDEX crm_tasks_created ON crm_tasks (tenant_id, created_at, id);
-- sqlite only
CREATE INDEX crm_tasks_contact ON crm_tasks (tenant_id, contact_id);
-- sqlite only
CREATE INDEX crm_tasks_company ON crm_tasks (tenant_id, company_id);

-- sqlite only
CREATE TABLE crm_contact_merges_new (
	tenant_id TEXT NOT NULL,
	loser_id  TEXT NOT NULL,
	winner_id TEXT NOT NULL,
	merged_at TIMESTAMP NOT NULL,
	actor_id  TEXT NOT NULL DEFAULT '',
	snapshot  TEXT NOT NULL,
	PRIMARY KEY (tenant_id, loser_id),
	FOREIGN KEY (tenant_id, winner_id) REFERENCES crm_contacts (tenant_id, id) ON DELETE CASCADE
);
-- sqlite only
INSERT INTO crm_contact_merges_new (tenant_id, loser_id, winner_id, merged_at, actor_id, snapshot)
SELECT tenant_id, loser_id, winner_id, merged_at, actor_id, snapshot FROM crm_contact_merges;
-- sqlite only
DROP TABLE crm_contact_merges;
-- sqlite only
ALTER TABLE crm_contact_merges_new RENAME TO crm_contact_merges;
-- sqlite only
CREATE INDEX crm_contact_merges_winner ON crm_contact_merges (tenant_id, winner_id);

-- The new keys' lookups (deleting a company or a deal finds its rows).
CREATE INDEX crm_activities_company ON crm_activities (tenant_id, company_id) WHERE company_id IS NOT NULL;
CREATE INDEX crm_tasks_deal ON crm_tasks (tenant_id, deal_id) WHERE deal_id IS NOT NULL;
