-- Lead scoring: each contact's score (derived, like its other facts) and
-- each tenant's scoring model (rules as JSON).
ALTER TABLE crm_contacts ADD COLUMN score {{BIGINT}} NOT NULL DEFAULT 0;
ALTER TABLE crm_contacts ADD COLUMN scored_at {{TIME}};
CREATE INDEX crm_contacts_score ON crm_contacts (tenant_id, score, id);

CREATE TABLE crm_scoring_models (
	tenant_id  TEXT NOT NULL PRIMARY KEY,
	model      {{JSON}} NOT NULL,
	updated_at {{TIME}} NOT NULL,
	version    {{BIGINT}} NOT NULL
);
