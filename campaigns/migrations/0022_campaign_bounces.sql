-- Bounces and complaints about campaign messages, from delivery status
-- notifications (RFC 3464), feedback reports (RFC 5965) or a provider's
-- webhook. kind is hard, soft or complaint; status the enhanced status
-- code (5.1.1).
CREATE TABLE crm_campaign_bounces (
	tenant_id    TEXT NOT NULL,
	id           {{ID}} NOT NULL,
	campaign_id  {{ID}} NOT NULL,
	recipient_id {{ID}} NOT NULL,
	kind         {{TEXT}} NOT NULL,
	status       TEXT NOT NULL DEFAULT '',
	diagnostic   TEXT NOT NULL DEFAULT '',
	at           {{TIME}} NOT NULL,
	PRIMARY KEY (tenant_id, id),
	FOREIGN KEY (tenant_id, recipient_id) REFERENCES crm_campaign_recipients (tenant_id, id) ON DELETE CASCADE,
	FOREIGN KEY (tenant_id, campaign_id) REFERENCES crm_campaigns (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX crm_campaign_bounces_recipient ON crm_campaign_bounces (tenant_id, recipient_id);
CREATE INDEX crm_campaign_bounces_campaign ON crm_campaign_bounces (tenant_id, campaign_id, kind);

-- Inbound reports that could not be used (they do not parse, or name no
-- message of the tenant), kept for inspection for 30 days.
CREATE TABLE crm_inbound_reports (
	tenant_id   TEXT NOT NULL,
	id          {{ID}} NOT NULL,
	received_at {{TIME}} NOT NULL,
	problem     TEXT NOT NULL,
	raw         TEXT NOT NULL,
	PRIMARY KEY (tenant_id, id)
);
CREATE INDEX crm_inbound_reports_time ON crm_inbound_reports (tenant_id, received_at);
