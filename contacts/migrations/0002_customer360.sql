-- Facts derived from a contact's activities, kept current by Track and
-- filterable like any other field. Purchases of one contact share a currency.
ALTER TABLE crm_contacts ADD COLUMN last_activity_at {{TIME}};
ALTER TABLE crm_contacts ADD COLUMN purchase_count {{BIGINT}} NOT NULL DEFAULT 0;
ALTER TABLE crm_contacts ADD COLUMN purchase_total {{BIGINT}} NOT NULL DEFAULT 0;
ALTER TABLE crm_contacts ADD COLUMN purchase_currency {{TEXT}} NOT NULL DEFAULT '';
ALTER TABLE crm_contacts ADD COLUMN first_purchase_at {{TIME}};
ALTER TABLE crm_contacts ADD COLUMN last_purchase_at {{TIME}};

-- Interactions with a contact: notes, calls, emails, meetings, web events,
-- purchases, support contacts, anything the host names.
CREATE TABLE crm_activities (
	tenant_id       TEXT NOT NULL,
	id              {{ID}} NOT NULL,
	contact_id      {{ID}} NOT NULL,
	company_id      {{ID}},
	deal_id         {{ID}},
	kind            {{TEXT}} NOT NULL,
	name            {{TEXT}} NOT NULL DEFAULT '',
	occurred_at     {{TIME}} NOT NULL,
	actor_id        TEXT NOT NULL DEFAULT '',
	idempotency_key TEXT NOT NULL DEFAULT '',
	properties      {{JSON}} NOT NULL,
	order_id        TEXT NOT NULL DEFAULT '',
	amount          {{BIGINT}},
	currency        TEXT NOT NULL DEFAULT '',
	items           {{JSON}},
	created_at      {{TIME}} NOT NULL,
	PRIMARY KEY (tenant_id, id),
	FOREIGN KEY (tenant_id, contact_id) REFERENCES crm_contacts (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX crm_activities_idempotency ON crm_activities (tenant_id, idempotency_key) WHERE idempotency_key <> '';
CREATE INDEX crm_activities_contact ON crm_activities (tenant_id, contact_id, occurred_at, id);

-- Notes written by users about a contact, editable, pinnable.
CREATE TABLE crm_notes (
	tenant_id  TEXT NOT NULL,
	id         {{ID}} NOT NULL,
	contact_id {{ID}} NOT NULL,
	author_id  TEXT NOT NULL,
	body       TEXT NOT NULL,
	pinned     {{BOOL}} NOT NULL,
	created_at {{TIME}} NOT NULL,
	updated_at {{TIME}} NOT NULL,
	version    {{BIGINT}} NOT NULL,
	PRIMARY KEY (tenant_id, id),
	FOREIGN KEY (tenant_id, contact_id) REFERENCES crm_contacts (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX crm_notes_contact ON crm_notes (tenant_id, contact_id, created_at, id);
