-- Automation: rules (versioned), their runs and steps (the run log),
-- round-robin counters, webhook subscriptions, deliveries and attempts.
-- The jobs themselves live in River's tables (river_*), created by
-- River's own migrations, which Migrate runs after these.

CREATE TABLE crm_rules (
	tenant_id  TEXT NOT NULL,
	id         {{ID}} NOT NULL,
	name       TEXT NOT NULL,
	enabled    {{BOOL}} NOT NULL,
	triggers   {{JSON}} NOT NULL,
	definition {{JSON}} NOT NULL,
	created_at {{TIME}} NOT NULL,
	updated_at {{TIME}} NOT NULL,
	version    {{BIGINT}} NOT NULL,
	PRIMARY KEY (tenant_id, id)
);

-- Every version a rule had: a run that waits finishes with the version it
-- started with, however the rule changed meanwhile.
CREATE TABLE crm_rule_versions (
	tenant_id  TEXT NOT NULL,
	rule_id    {{ID}} NOT NULL,
	version    {{BIGINT}} NOT NULL,
	definition {{JSON}} NOT NULL,
	created_at {{TIME}} NOT NULL,
	PRIMARY KEY (tenant_id, rule_id, version)
);

-- One run per rule and event: the unique key makes a retried dispatch a
-- no-op. status: running, waiting, done, failed, stopped (loop limit).
CREATE TABLE crm_rule_runs (
	tenant_id    TEXT NOT NULL,
	id           {{ID}} NOT NULL,
	rule_id      {{ID}} NOT NULL,
	rule_version {{BIGINT}} NOT NULL,
	event_id     {{ID}} NOT NULL,
	event_type   {{TEXT}} NOT NULL,
	contact_id   {{ID}},
	depth        {{BIGINT}} NOT NULL,
	status       {{TEXT}} NOT NULL,
	error        TEXT NOT NULL DEFAULT '',
	started_at   {{TIME}} NOT NULL,
	updated_at   {{TIME}} NOT NULL,
	finished_at  {{TIME}},
	PRIMARY KEY (tenant_id, id),
	UNIQUE (tenant_id, rule_id, event_id)
);
CREATE INDEX crm_rule_runs_rule ON crm_rule_runs (tenant_id, rule_id, started_at, id);
CREATE INDEX crm_rule_runs_time ON crm_rule_runs (tenant_id, started_at);
CREATE INDEX crm_rule_runs_contact ON crm_rule_runs (tenant_id, contact_id);

-- The steps of a run, by path ("0", "2.then.1"). A step that is recorded
-- "ok" is never executed again, which makes a retried run idempotent.
CREATE TABLE crm_rule_steps (
	tenant_id   TEXT NOT NULL,
	run_id      {{ID}} NOT NULL,
	step        {{TEXT}} NOT NULL,
	action      {{TEXT}} NOT NULL,
	status      {{TEXT}} NOT NULL,
	result      {{JSON}} NOT NULL,
	error       TEXT NOT NULL DEFAULT '',
	started_at  {{TIME}} NOT NULL,
	finished_at {{TIME}},
	PRIMARY KEY (tenant_id, run_id, step),
	FOREIGN KEY (tenant_id, run_id) REFERENCES crm_rule_runs (tenant_id, id) ON DELETE CASCADE
);

-- Round-robin positions, per rule step.
CREATE TABLE crm_assignment_counters (
	tenant_id TEXT NOT NULL,
	key       {{TEXT}} NOT NULL,
	next      {{BIGINT}} NOT NULL,
	PRIMARY KEY (tenant_id, key)
);

CREATE TABLE crm_webhooks (
	tenant_id            TEXT NOT NULL,
	id                   {{ID}} NOT NULL,
	url                  TEXT NOT NULL,
	event_types          {{JSON}} NOT NULL,
	secret               TEXT NOT NULL,
	enabled              {{BOOL}} NOT NULL,
	consecutive_failures {{BIGINT}} NOT NULL DEFAULT 0,
	disabled_reason      TEXT NOT NULL DEFAULT '',
	created_at           {{TIME}} NOT NULL,
	updated_at           {{TIME}} NOT NULL,
	version              {{BIGINT}} NOT NULL,
	PRIMARY KEY (tenant_id, id)
);

-- One delivery per (subscription, event) or (rule step, event):
-- dedupe_key makes a retried dispatch a no-op. status: pending, delivered,
-- failed (attempts exhausted), cancelled (subscription disabled or gone).
CREATE TABLE crm_webhook_deliveries (
	tenant_id   TEXT NOT NULL,
	id          {{ID}} NOT NULL,
	webhook_id  {{ID}} NOT NULL,
	event_id    {{ID}} NOT NULL,
	dedupe_key  {{TEXT}} NOT NULL,
	status      {{TEXT}} NOT NULL,
	attempts    {{BIGINT}} NOT NULL DEFAULT 0,
	last_status {{BIGINT}} NOT NULL DEFAULT 0,
	last_error  TEXT NOT NULL DEFAULT '',
	created_at  {{TIME}} NOT NULL,
	finished_at {{TIME}},
	PRIMARY KEY (tenant_id, id),
	UNIQUE (tenant_id, dedupe_key)
);
CREATE INDEX crm_webhook_deliveries_hook ON crm_webhook_deliveries (tenant_id, webhook_id, created_at, id);

CREATE TABLE crm_webhook_attempts (
	tenant_id    TEXT NOT NULL,
	delivery_id  {{ID}} NOT NULL,
	attempt      {{BIGINT}} NOT NULL,
	status_code  {{BIGINT}} NOT NULL,
	latency_ms   {{BIGINT}} NOT NULL,
	error        TEXT NOT NULL DEFAULT '',
	attempted_at {{TIME}} NOT NULL,
	PRIMARY KEY (tenant_id, delivery_id, attempt),
	FOREIGN KEY (tenant_id, delivery_id) REFERENCES crm_webhook_deliveries (tenant_id, id) ON DELETE CASCADE
);
