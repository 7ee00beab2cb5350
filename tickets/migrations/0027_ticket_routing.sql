-- Routing: a ticket's language and product line (what the skills of team
-- members match), when it began to wait in its team's queue, and the
-- tenant's routing settings.

ALTER TABLE crm_tickets ADD COLUMN language TEXT NOT NULL DEFAULT '';
ALTER TABLE crm_tickets ADD COLUMN product_line TEXT NOT NULL DEFAULT '';
-- queued_at: set while the ticket waits in its team's queue for a member
-- with capacity (the queue is served oldest first); NULL otherwise.
ALTER TABLE crm_tickets ADD COLUMN queued_at {{TIME}};
CREATE INDEX crm_tickets_waiting ON crm_tickets (tenant_id, team, queued_at, id);

-- One row per tenant: the ordered routing rules and the assignment mode
-- of each team (JSON), the last member each team assigned to (the
-- round-robin turn, JSON), and the version of the settings. Routing locks
-- the row, so assignments in a tenant are serialised and no member is
-- given more than their capacity.
CREATE TABLE crm_ticket_routing (
	tenant_id  TEXT NOT NULL,
	rules      {{JSON}} NOT NULL,
	teams      {{JSON}} NOT NULL,
	turns      {{JSON}} NOT NULL,
	updated_at {{TIME}} NOT NULL,
	version    {{BIGINT}} NOT NULL,
	PRIMARY KEY (tenant_id)
);
