-- Where merged contacts went: each loser's id maps to the contact it was
-- merged into, with a snapshot of the loser as it was.
CREATE TABLE crm_contact_merges (
	tenant_id TEXT NOT NULL,
	loser_id  {{ID}} NOT NULL,
	winner_id {{ID}} NOT NULL,
	merged_at {{TIME}} NOT NULL,
	actor_id  TEXT NOT NULL DEFAULT '',
	snapshot  {{JSON}} NOT NULL,
	PRIMARY KEY (tenant_id, loser_id)
);
CREATE INDEX crm_contact_merges_winner ON crm_contact_merges (tenant_id, winner_id);
