-- The history of contacts' lifecycle stages: a row each time a contact
-- enters a stage (left_at set when it moves on), for the funnel. Existing
-- contacts start with their current stage, entered when they were
-- created (the history before this migration is not known).
CREATE TABLE crm_contact_stages (
	tenant_id  TEXT NOT NULL,
	id         {{ID}} NOT NULL,
	contact_id {{ID}} NOT NULL,
	stage      {{TEXT}} NOT NULL,
	entered_at {{TIME}} NOT NULL,
	left_at    {{TIME}},
	PRIMARY KEY (tenant_id, id),
	FOREIGN KEY (tenant_id, contact_id) REFERENCES crm_contacts (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX crm_contact_stages_contact ON crm_contact_stages (tenant_id, contact_id, entered_at);
CREATE INDEX crm_contact_stages_stage ON crm_contact_stages (tenant_id, stage, entered_at);
INSERT INTO crm_contact_stages (tenant_id, id, contact_id, stage, entered_at)
SELECT tenant_id, id, id, lifecycle_stage, created_at FROM crm_contacts;
