-- Campaigns: saved segments of contacts, mail templates with every saved
-- version kept (a campaign sends the version it was started with), the
-- campaigns, and each campaign's recipients with their delivery state. A
-- broadcast campaign sends to a segment once; an automated one (no
-- segment) to each contact a rule's send_email action names.

CREATE TABLE crm_segments (
	tenant_id   TEXT NOT NULL,
	id          {{ID}} NOT NULL,
	name        TEXT NOT NULL,
	description TEXT NOT NULL DEFAULT '',
	filter      {{JSON}} NOT NULL,
	tracked     {{BOOL}} NOT NULL DEFAULT FALSE,
	computed_at {{TIME}},
	created_at  {{TIME}} NOT NULL,
	updated_at  {{TIME}} NOT NULL,
	version     {{BIGINT}} NOT NULL,
	PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX crm_segments_name ON crm_segments (tenant_id, name);

-- The members a tracked segment had when it was last computed: the next
-- computation emits segment.entered and segment.left for the difference.
CREATE TABLE crm_segment_members (
	tenant_id  TEXT NOT NULL,
	segment_id {{ID}} NOT NULL,
	contact_id {{ID}} NOT NULL,
	since      {{TIME}} NOT NULL,
	PRIMARY KEY (tenant_id, segment_id, contact_id),
	FOREIGN KEY (tenant_id, segment_id) REFERENCES crm_segments (tenant_id, id) ON DELETE CASCADE,
	FOREIGN KEY (tenant_id, contact_id) REFERENCES crm_contacts (tenant_id, id)
);
CREATE INDEX crm_segment_members_contact ON crm_segment_members (tenant_id, contact_id);

CREATE TABLE crm_templates (
	tenant_id  TEXT NOT NULL,
	id         {{ID}} NOT NULL,
	name       TEXT NOT NULL,
	subject    TEXT NOT NULL,
	html       TEXT NOT NULL,
	text       TEXT NOT NULL DEFAULT '',
	created_at {{TIME}} NOT NULL,
	updated_at {{TIME}} NOT NULL,
	version    {{BIGINT}} NOT NULL,
	PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX crm_templates_name ON crm_templates (tenant_id, name);

CREATE TABLE crm_template_versions (
	tenant_id   TEXT NOT NULL,
	template_id {{ID}} NOT NULL,
	version     {{BIGINT}} NOT NULL,
	subject     TEXT NOT NULL,
	html        TEXT NOT NULL,
	text        TEXT NOT NULL DEFAULT '',
	created_at  {{TIME}} NOT NULL,
	PRIMARY KEY (tenant_id, template_id, version),
	FOREIGN KEY (tenant_id, template_id) REFERENCES crm_templates (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE crm_campaigns (
	tenant_id        TEXT NOT NULL,
	id               {{ID}} NOT NULL,
	name             TEXT NOT NULL,
	kind             {{TEXT}} NOT NULL DEFAULT 'broadcast',
	segment_id       {{ID}},
	template_id      {{ID}} NOT NULL,
	template_version {{BIGINT}} NOT NULL DEFAULT 0,
	purpose_key      {{TEXT}} NOT NULL,
	from_name        TEXT NOT NULL DEFAULT '',
	from_address     TEXT NOT NULL,
	reply_to         TEXT NOT NULL DEFAULT '',
	status           {{TEXT}} NOT NULL,
	started_at       {{TIME}},
	prepared_at      {{TIME}},
	snapshot_after   {{ID}},
	batches          {{BIGINT}} NOT NULL DEFAULT 0,
	ab_share         {{BIGINT}} NOT NULL DEFAULT 0,
	ab_metric        {{TEXT}} NOT NULL DEFAULT '',
	ab_wait_seconds  {{BIGINT}} NOT NULL DEFAULT 0,
	winner           {{BIGINT}},
	finished_at      {{TIME}},
	created_at       {{TIME}} NOT NULL,
	updated_at       {{TIME}} NOT NULL,
	version          {{BIGINT}} NOT NULL,
	PRIMARY KEY (tenant_id, id),
	FOREIGN KEY (tenant_id, segment_id) REFERENCES crm_segments (tenant_id, id),
	FOREIGN KEY (tenant_id, template_id) REFERENCES crm_templates (tenant_id, id)
);
CREATE INDEX crm_campaigns_created ON crm_campaigns (tenant_id, created_at, id);

-- A campaign's alternative contents for an A/B test: variant 0 is the
-- campaign's own template, these are 1, 2, …
CREATE TABLE crm_campaign_variants (
	tenant_id        TEXT NOT NULL,
	campaign_id      {{ID}} NOT NULL,
	position         {{BIGINT}} NOT NULL,
	name             TEXT NOT NULL,
	template_id      {{ID}} NOT NULL,
	template_version {{BIGINT}} NOT NULL DEFAULT 0,
	PRIMARY KEY (tenant_id, campaign_id, position),
	FOREIGN KEY (tenant_id, campaign_id) REFERENCES crm_campaigns (tenant_id, id) ON DELETE CASCADE,
	FOREIGN KEY (tenant_id, template_id) REFERENCES crm_templates (tenant_id, id)
);
CREATE INDEX crm_campaign_variants_template ON crm_campaign_variants (tenant_id, template_id);
CREATE INDEX crm_campaigns_template ON crm_campaigns (tenant_id, template_id);
CREATE INDEX crm_campaigns_segment ON crm_campaigns (tenant_id, segment_id);

-- The recipients a campaign's segment held when it started (the
-- snapshot), each with its state: queued, held (an A/B test's rest,
-- waiting for the winner), sending (handed to the mail server, not yet
-- recorded as accepted), sent, failed or skipped (with the reason), and
-- the variant it gets. batch groups them for the send jobs. A deleted or erased
-- contact's rows lose the contact and the address (contact_id NULL,
-- email ''; the module does it before the contact goes): the counts stay.
CREATE TABLE crm_campaign_recipients (
	tenant_id   TEXT NOT NULL,
	id          {{ID}} NOT NULL,
	campaign_id {{ID}} NOT NULL,
	contact_id  {{ID}},
	email       TEXT NOT NULL,
	batch       {{BIGINT}} NOT NULL,
	variant     {{BIGINT}} NOT NULL DEFAULT 0,
	state       {{TEXT}} NOT NULL,
	reason      TEXT NOT NULL DEFAULT '',
	message_id  TEXT NOT NULL DEFAULT '',
	attempts    {{BIGINT}} NOT NULL DEFAULT 0,
	sent_at     {{TIME}},
	updated_at  {{TIME}} NOT NULL,
	PRIMARY KEY (tenant_id, id),
	FOREIGN KEY (tenant_id, campaign_id) REFERENCES crm_campaigns (tenant_id, id) ON DELETE CASCADE,
	FOREIGN KEY (tenant_id, contact_id) REFERENCES crm_contacts (tenant_id, id)
);
CREATE UNIQUE INDEX crm_campaign_recipients_contact ON crm_campaign_recipients (tenant_id, campaign_id, contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX crm_campaign_recipients_batch ON crm_campaign_recipients (tenant_id, campaign_id, batch, state);
CREATE INDEX crm_campaign_recipients_sent ON crm_campaign_recipients (tenant_id, contact_id, sent_at) WHERE contact_id IS NOT NULL;
