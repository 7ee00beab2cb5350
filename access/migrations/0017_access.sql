-- Users, teams and roles of a tenant (package access). Users are the
-- host's staff, keyed by the host's id for them: crmkit does no login.

CREATE TABLE crm_users (
	tenant_id     TEXT NOT NULL,
	id            {{TEXT}} NOT NULL,
	display_name  TEXT NOT NULL,
	email         TEXT NOT NULL DEFAULT '',
	active        {{BOOL}} NOT NULL,
	time_zone     TEXT NOT NULL,
	working_hours {{JSON}} NOT NULL,
	away_from     {{TIME}},
	away_until    {{TIME}},
	created_at    {{TIME}} NOT NULL,
	updated_at    {{TIME}} NOT NULL,
	version       {{BIGINT}} NOT NULL,
	PRIMARY KEY (tenant_id, id)
);

-- Roles: permissions per module (JSON: {"contacts": {"actions": [...],
-- "visibility": "own", "personal_data": true}, ...}).
CREATE TABLE crm_roles (
	tenant_id   TEXT NOT NULL,
	id          {{ID}} NOT NULL,
	name        {{TEXT}} NOT NULL,
	description TEXT NOT NULL DEFAULT '',
	permissions {{JSON}} NOT NULL,
	created_at  {{TIME}} NOT NULL,
	updated_at  {{TIME}} NOT NULL,
	version     {{BIGINT}} NOT NULL,
	PRIMARY KEY (tenant_id, id),
	UNIQUE (tenant_id, name)
);

-- The roles of each user. A role still assigned cannot be deleted.
CREATE TABLE crm_user_roles (
	tenant_id TEXT NOT NULL,
	user_id   {{TEXT}} NOT NULL,
	role_id   {{ID}} NOT NULL,
	PRIMARY KEY (tenant_id, user_id, role_id),
	FOREIGN KEY (tenant_id, user_id) REFERENCES crm_users (tenant_id, id),
	FOREIGN KEY (tenant_id, role_id) REFERENCES crm_roles (tenant_id, id)
);
CREATE INDEX crm_user_roles_role ON crm_user_roles (tenant_id, role_id);

CREATE TABLE crm_teams (
	tenant_id   TEXT NOT NULL,
	id          {{ID}} NOT NULL,
	name        {{TEXT}} NOT NULL,
	description TEXT NOT NULL DEFAULT '',
	created_at  {{TIME}} NOT NULL,
	updated_at  {{TIME}} NOT NULL,
	version     {{BIGINT}} NOT NULL,
	PRIMARY KEY (tenant_id, id),
	UNIQUE (tenant_id, name)
);

-- Members of teams: users only (teams do not nest), each with a lead
-- flag, a capacity (open items at most; 0: no cap) and skills (JSON:
-- {"languages": ["de-CH"], "product_lines": ["pro"]}).
CREATE TABLE crm_team_members (
	tenant_id TEXT NOT NULL,
	team_id   {{ID}} NOT NULL,
	user_id   {{TEXT}} NOT NULL,
	is_lead   {{BOOL}} NOT NULL,
	capacity  {{BIGINT}} NOT NULL,
	skills    {{JSON}} NOT NULL,
	added_at  {{TIME}} NOT NULL,
	PRIMARY KEY (tenant_id, team_id, user_id),
	FOREIGN KEY (tenant_id, team_id) REFERENCES crm_teams (tenant_id, id),
	FOREIGN KEY (tenant_id, user_id) REFERENCES crm_users (tenant_id, id)
);
CREATE INDEX crm_team_members_user ON crm_team_members (tenant_id, user_id);
