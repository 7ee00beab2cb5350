-- The transactional outbox: every successful change appends its events here
-- in the change's own transaction.
CREATE TABLE crm_events (
	tenant_id    TEXT NOT NULL,
	id           {{ID}} NOT NULL,
	type         {{TEXT}} NOT NULL,
	subject_type {{TEXT}} NOT NULL,
	subject_id   {{ID}} NOT NULL,
	actor_id     TEXT NOT NULL DEFAULT '',
	occurred_at  {{TIME}} NOT NULL,
	data         {{JSON}} NOT NULL,
	PRIMARY KEY (tenant_id, id)
);
CREATE INDEX crm_events_subject ON crm_events (tenant_id, subject_id, id);
CREATE INDEX crm_events_type ON crm_events (tenant_id, type, id);
