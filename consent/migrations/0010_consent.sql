-- Data protection: purposes with versioned wordings, the append-only
-- consent log (proof of every grant, withdrawal and objection), and the
-- pending double opt-in requests.

CREATE TABLE crm_purposes (
	tenant_id       TEXT NOT NULL,
	key             {{TEXT}} NOT NULL,
	label           TEXT NOT NULL,
	legal_basis     {{TEXT}} NOT NULL,
	channels        {{JSON}} NOT NULL,
	wording_version {{BIGINT}} NOT NULL,
	created_at      {{TIME}} NOT NULL,
	updated_at      {{TIME}} NOT NULL,
	version         {{BIGINT}} NOT NULL,
	PRIMARY KEY (tenant_id, key)
);

-- Every wording a purpose ever had: proofs point at the one they were
-- given under. hash is SHA-256 of the text.
CREATE TABLE crm_purpose_wordings (
	tenant_id   TEXT NOT NULL,
	purpose_key {{TEXT}} NOT NULL,
	version     {{BIGINT}} NOT NULL,
	wording     TEXT NOT NULL,
	hash        TEXT NOT NULL,
	created_at  {{TIME}} NOT NULL,
	PRIMARY KEY (tenant_id, purpose_key, version),
	FOREIGN KEY (tenant_id, purpose_key) REFERENCES crm_purposes (tenant_id, key)
);

-- Append-only: crmkit never updates or deletes a record (erasure aside).
-- No foreign key to crm_contacts: the records of a contact merged into
-- another stay as they were, under the merged contact's id.
CREATE TABLE crm_consents (
	tenant_id       TEXT NOT NULL,
	id              {{ID}} NOT NULL,
	contact_id      {{ID}} NOT NULL,
	purpose_key     {{TEXT}} NOT NULL,
	channel         {{TEXT}} NOT NULL,
	status          {{TEXT}} NOT NULL,
	source          {{TEXT}} NOT NULL,
	wording_version {{BIGINT}} NOT NULL,
	actor_id        TEXT NOT NULL DEFAULT '',
	ip              TEXT NOT NULL DEFAULT '',
	user_agent      TEXT NOT NULL DEFAULT '',
	request_id      {{ID}},
	recorded_at     {{TIME}} NOT NULL,
	PRIMARY KEY (tenant_id, id),
	FOREIGN KEY (tenant_id, purpose_key, wording_version) REFERENCES crm_purpose_wordings (tenant_id, purpose_key, version)
);
CREATE INDEX crm_consents_subject ON crm_consents (tenant_id, contact_id, purpose_key, channel, recorded_at, id);

-- Double opt-in requests: pending until confirmed (once) or expired.
CREATE TABLE crm_optin_requests (
	tenant_id       TEXT NOT NULL,
	id              {{ID}} NOT NULL,
	contact_id      {{ID}} NOT NULL,
	purpose_key     {{TEXT}} NOT NULL,
	channel         {{TEXT}} NOT NULL,
	wording_version {{BIGINT}} NOT NULL,
	source          {{TEXT}} NOT NULL,
	requested_at    {{TIME}} NOT NULL,
	expires_at      {{TIME}} NOT NULL,
	confirmed_at    {{TIME}},
	PRIMARY KEY (tenant_id, id),
	FOREIGN KEY (tenant_id, contact_id) REFERENCES crm_contacts (tenant_id, id)
);
CREATE INDEX crm_optin_requests_expiry ON crm_optin_requests (tenant_id, expires_at);

-- Who read (exported), changed, restricted or erased personal data: actor,
-- action and subject, never the data itself. Append-only.
CREATE TABLE crm_audit (
	tenant_id    TEXT NOT NULL,
	id           {{ID}} NOT NULL,
	at           {{TIME}} NOT NULL,
	actor_id     TEXT NOT NULL DEFAULT '',
	action       {{TEXT}} NOT NULL,
	subject_type {{TEXT}} NOT NULL,
	subject_id   {{ID}} NOT NULL,
	detail       TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (tenant_id, id)
);
CREATE INDEX crm_audit_subject ON crm_audit (tenant_id, subject_id, at);
CREATE INDEX crm_audit_time ON crm_audit (tenant_id, at);

-- Addresses that must never be marketed to again (erased, or objected to
-- for good), kept only as keyed hashes of the normalised email or phone.
-- The key is a random value per tenant (crm_suppression_keys), so the table
-- alone does not reveal the addresses.
CREATE TABLE crm_suppression_keys (
	tenant_id TEXT NOT NULL PRIMARY KEY,
	salt      TEXT NOT NULL
);
CREATE TABLE crm_suppressions (
	tenant_id  TEXT NOT NULL,
	kind       {{TEXT}} NOT NULL,
	hash       {{TEXT}} NOT NULL,
	reason     {{TEXT}} NOT NULL,
	created_at {{TIME}} NOT NULL,
	PRIMARY KEY (tenant_id, kind, hash)
);

-- Receipts of erasures: what was erased and why, with no personal data.
CREATE TABLE crm_erasures (
	tenant_id  TEXT NOT NULL,
	contact_id {{ID}} NOT NULL,
	erased_at  {{TIME}} NOT NULL,
	actor_id   TEXT NOT NULL DEFAULT '',
	reason     TEXT NOT NULL,
	sections   {{JSON}} NOT NULL,
	-- Sections kept under a legal hold, erased once hold_until has passed.
	held       {{JSON}} NOT NULL,
	hold_until {{TIME}},
	PRIMARY KEY (tenant_id, contact_id)
);

-- Each tenant's retention rules.
CREATE TABLE crm_retention_policies (
	tenant_id  TEXT NOT NULL PRIMARY KEY,
	policy     {{JSON}} NOT NULL,
	updated_at {{TIME}} NOT NULL
);
