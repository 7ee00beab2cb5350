-- Custom field definitions, per tenant and entity ("contact", "company";
-- later modules add theirs). Values live in the entity's attributes column.
CREATE TABLE crm_field_definitions (
	tenant_id  TEXT NOT NULL,
	entity     {{TEXT}} NOT NULL,
	key        {{TEXT}} NOT NULL,
	label      TEXT NOT NULL,
	type       {{TEXT}} NOT NULL,
	required   {{BOOL}} NOT NULL,
	options    {{JSON}} NOT NULL,
	created_at {{TIME}} NOT NULL,
	updated_at {{TIME}} NOT NULL,
	version    {{BIGINT}} NOT NULL,
	PRIMARY KEY (tenant_id, entity, key)
);
