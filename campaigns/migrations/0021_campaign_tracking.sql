-- Opens and clicks of campaign messages, through the signed links of each
-- message (open pixel, click redirect). machine marks those a program made
-- (a mail privacy proxy fetching images, a link scanner), with the reason:
-- they are kept, and left out of human counts and events.
CREATE TABLE crm_campaign_interactions (
	tenant_id    TEXT NOT NULL,
	id           {{ID}} NOT NULL,
	campaign_id  {{ID}} NOT NULL,
	recipient_id {{ID}} NOT NULL,
	kind         {{TEXT}} NOT NULL,
	url          TEXT NOT NULL DEFAULT '',
	machine      TEXT NOT NULL DEFAULT '',
	at           {{TIME}} NOT NULL,
	PRIMARY KEY (tenant_id, id),
	FOREIGN KEY (tenant_id, recipient_id) REFERENCES crm_campaign_recipients (tenant_id, id) ON DELETE CASCADE,
	FOREIGN KEY (tenant_id, campaign_id) REFERENCES crm_campaigns (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX crm_campaign_interactions_campaign ON crm_campaign_interactions (tenant_id, campaign_id, kind, recipient_id);
CREATE INDEX crm_campaign_interactions_recipient ON crm_campaign_interactions (tenant_id, recipient_id);
