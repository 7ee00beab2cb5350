-- Idempotency keys of the HTTP API (crmhttp): a create sent again with the
-- same Idempotency-Key gets the first answer again instead of a second
-- record. Kept 24 hours.
CREATE TABLE crm_idempotency_keys (
	tenant_id    TEXT NOT NULL,
	key          TEXT NOT NULL,
	request_hash TEXT NOT NULL,
	status       {{BIGINT}} NOT NULL DEFAULT 0,
	etag         TEXT NOT NULL DEFAULT '',
	body         TEXT NOT NULL DEFAULT '',
	created_at   {{TIME}} NOT NULL,
	PRIMARY KEY (tenant_id, key)
);
CREATE INDEX crm_idempotency_keys_created ON crm_idempotency_keys (tenant_id, created_at);
