-- Macros: a tenant's canned replies. The body is a text/template
-- rendered for a ticket; public says whether the reply goes to the
-- customer or stays an internal note; changes are the ticket fields the
-- macro sets (JSON: status, priority, category, tags to add and remove,
-- team, assignee).
CREATE TABLE crm_ticket_macros (
	tenant_id  TEXT NOT NULL,
	id         {{ID}} NOT NULL,
	name       TEXT NOT NULL,
	body       TEXT NOT NULL,
	public     {{BOOL}} NOT NULL,
	changes    {{JSON}} NOT NULL,
	created_at {{TIME}} NOT NULL,
	updated_at {{TIME}} NOT NULL,
	version    {{BIGINT}} NOT NULL,
	PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX crm_ticket_macros_name ON crm_ticket_macros (tenant_id, name);
