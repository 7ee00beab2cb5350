-- Tickets: the service desk's cases, their messages, the per-tenant
-- counter of human numbers, and the SLA calendars and policies that give
-- each ticket its due times.

-- Business-hours calendars: a time zone, working windows per weekday
-- (JSON), holidays (fixed dates and a country's rules) and one-off
-- closures (JSON).
CREATE TABLE crm_sla_calendars (
	tenant_id  TEXT NOT NULL,
	id         {{ID}} NOT NULL,
	name       TEXT NOT NULL,
	time_zone  TEXT NOT NULL,
	country    TEXT NOT NULL DEFAULT '',
	windows    {{JSON}} NOT NULL,
	holidays   {{JSON}} NOT NULL,
	closures   {{JSON}} NOT NULL,
	created_at {{TIME}} NOT NULL,
	updated_at {{TIME}} NOT NULL,
	version    {{BIGINT}} NOT NULL,
	PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX crm_sla_calendars_name ON crm_sla_calendars (tenant_id, name);

-- SLA policies: the first (by position) whose condition matches a ticket
-- applies; targets in business minutes of the calendar (0: none); a
-- warning that many minutes before a due time (0: none).
CREATE TABLE crm_sla_policies (
	tenant_id              TEXT NOT NULL,
	id                     {{ID}} NOT NULL,
	name                   TEXT NOT NULL,
	position               {{BIGINT}} NOT NULL,
	condition              {{JSON}} NOT NULL,
	calendar_id            {{ID}} NOT NULL,
	first_response_minutes {{BIGINT}} NOT NULL,
	next_response_minutes  {{BIGINT}} NOT NULL,
	resolution_minutes     {{BIGINT}} NOT NULL,
	warning_minutes        {{BIGINT}} NOT NULL DEFAULT 0,
	created_at             {{TIME}} NOT NULL,
	updated_at             {{TIME}} NOT NULL,
	version                {{BIGINT}} NOT NULL,
	PRIMARY KEY (tenant_id, id),
	FOREIGN KEY (tenant_id, calendar_id) REFERENCES crm_sla_calendars (tenant_id, id)
);
CREATE UNIQUE INDEX crm_sla_policies_name ON crm_sla_policies (tenant_id, name);
CREATE INDEX crm_sla_policies_position ON crm_sla_policies (tenant_id, position, id);
CREATE INDEX crm_sla_policies_calendar ON crm_sla_policies (tenant_id, calendar_id);

-- The last human number given out per tenant: creation takes the next
-- with UPDATE … RETURNING, which serialises creators of one tenant on
-- the row (a rolled-back creation leaves a gap, never a duplicate).
CREATE TABLE crm_ticket_counters (
	tenant_id TEXT NOT NULL,
	last      {{BIGINT}} NOT NULL,
	PRIMARY KEY (tenant_id)
);

-- Tickets. contact_id is required by the service and NULL only after the
-- contact was deleted (the ticket's statistics stay). The SLA columns are
-- written by the service at every change: the clock's paused business
-- seconds, the due times still open, and sla_due, the earliest of them,
-- which orders a team's queue (crm_tickets_queue); 9999-12-31 when no
-- SLA clock runs, so the key of the queue's keyset pages is never NULL.
CREATE TABLE crm_tickets (
	tenant_id             TEXT NOT NULL,
	id                    {{ID}} NOT NULL,
	number                {{BIGINT}} NOT NULL,
	subject               TEXT NOT NULL,
	contact_id            {{ID}},
	company_id            {{ID}},
	channel               {{TEXT}} NOT NULL,
	status                {{TEXT}} NOT NULL,
	pending_until         {{TIME}},
	priority              {{TEXT}} NOT NULL,
	category              {{TEXT}} NOT NULL DEFAULT '',
	tags                  {{JSON}} NOT NULL,
	assignee_id           TEXT NOT NULL DEFAULT '',
	team                  TEXT NOT NULL DEFAULT '',
	attributes            {{JSON}} NOT NULL,
	merged_into_id        {{ID}},
	sla_policy_id         {{ID}},
	paused_seconds        {{BIGINT}} NOT NULL DEFAULT 0,
	paused_since          {{TIME}},
	first_response_at     {{TIME}},
	first_response_due    {{TIME}},
	next_response_from    {{TIME}},
	next_response_paused  {{BIGINT}} NOT NULL DEFAULT 0,
	next_response_due     {{TIME}},
	resolution_due        {{TIME}},
	solved_at             {{TIME}},
	sla_due               {{TIME}} NOT NULL,
	sla_alerts            {{JSON}} NOT NULL DEFAULT '{}',
	created_at            {{TIME}} NOT NULL,
	updated_at            {{TIME}} NOT NULL,
	version               {{BIGINT}} NOT NULL,
	PRIMARY KEY (tenant_id, id),
	FOREIGN KEY (tenant_id, contact_id) REFERENCES crm_contacts (tenant_id, id),
	FOREIGN KEY (tenant_id, company_id) REFERENCES crm_companies (tenant_id, id),
	FOREIGN KEY (tenant_id, merged_into_id) REFERENCES crm_tickets (tenant_id, id),
	FOREIGN KEY (tenant_id, sla_policy_id) REFERENCES crm_sla_policies (tenant_id, id)
);
CREATE UNIQUE INDEX crm_tickets_number ON crm_tickets (tenant_id, number);
CREATE INDEX crm_tickets_created ON crm_tickets (tenant_id, created_at, id);
CREATE INDEX crm_tickets_contact ON crm_tickets (tenant_id, contact_id);
CREATE INDEX crm_tickets_company ON crm_tickets (tenant_id, company_id);
CREATE INDEX crm_tickets_merged ON crm_tickets (tenant_id, merged_into_id);
CREATE INDEX crm_tickets_policy ON crm_tickets (tenant_id, sla_policy_id);
CREATE INDEX crm_tickets_queue ON crm_tickets (tenant_id, team, status, sla_due, id);
CREATE INDEX crm_tickets_assignee ON crm_tickets (tenant_id, assignee_id, status, sla_due, id);
-- postgres only
CREATE INDEX crm_tickets_tags ON crm_tickets USING GIN (tags jsonb_path_ops);

-- Messages of a ticket: public (the customer sees them) or internal
-- notes, from the customer or an agent, with attachment metadata (the
-- bytes are the host's, under storage keys it gives).
CREATE TABLE crm_ticket_messages (
	tenant_id   TEXT NOT NULL,
	id          {{ID}} NOT NULL,
	ticket_id   {{ID}} NOT NULL,
	public      {{BOOL}} NOT NULL,
	author_kind {{TEXT}} NOT NULL,
	author_id   TEXT NOT NULL DEFAULT '',
	body        TEXT NOT NULL,
	attachments {{JSON}} NOT NULL,
	created_at  {{TIME}} NOT NULL,
	PRIMARY KEY (tenant_id, id),
	FOREIGN KEY (tenant_id, ticket_id) REFERENCES crm_tickets (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX crm_ticket_messages_ticket ON crm_ticket_messages (tenant_id, ticket_id, created_at, id);
