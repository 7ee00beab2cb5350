-- Tasks for the host's users: follow up, call back, send the offer.
-- due_key is due_at, or the far future for tasks without a due date: lists
-- sort by it (keyset pagination needs a NOT NULL key), undated tasks last.
CREATE TABLE crm_tasks (
	tenant_id    TEXT NOT NULL,
	id           {{ID}} NOT NULL,
	title        {{TEXT}} NOT NULL,
	description  TEXT NOT NULL DEFAULT '',
	due_at       {{TIME}},
	due_key      {{TIME}} NOT NULL,
	assignee_id  {{TEXT}} NOT NULL DEFAULT '',
	contact_id   {{ID}},
	company_id   {{ID}},
	deal_id      {{ID}},
	priority     {{TEXT}} NOT NULL,
	status       {{TEXT}} NOT NULL,
	completed_at {{TIME}},
	created_by   TEXT NOT NULL DEFAULT '',
	created_at   {{TIME}} NOT NULL,
	updated_at   {{TIME}} NOT NULL,
	version      {{BIGINT}} NOT NULL,
	PRIMARY KEY (tenant_id, id),
	FOREIGN KEY (tenant_id, contact_id) REFERENCES crm_contacts (tenant_id, id),
	FOREIGN KEY (tenant_id, company_id) REFERENCES crm_companies (tenant_id, id)
);
CREATE INDEX crm_tasks_assignee ON crm_tasks (tenant_id, assignee_id, status, due_key, id);
CREATE INDEX crm_tasks_status ON crm_tasks (tenant_id, status, due_key, id);
CREATE INDEX crm_tasks_created ON crm_tasks (tenant_id, created_at, id);
CREATE INDEX crm_tasks_contact ON crm_tasks (tenant_id, contact_id);
CREATE INDEX crm_tasks_company ON crm_tasks (tenant_id, company_id);
