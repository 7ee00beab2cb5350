CREATE TABLE crm_companies (
	tenant_id  TEXT NOT NULL,
	id         {{ID}} NOT NULL,
	name       {{TEXT}} NOT NULL,
	domain     {{TEXT}} NOT NULL DEFAULT '',
	attributes {{JSON}} NOT NULL,
	created_at {{TIME}} NOT NULL,
	updated_at {{TIME}} NOT NULL,
	version    {{BIGINT}} NOT NULL,
	PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX crm_companies_domain ON crm_companies (tenant_id, domain) WHERE domain <> '';
CREATE INDEX crm_companies_name ON crm_companies (tenant_id, name, id);

-- Text columns are NOT NULL with '' for "not given": one rule for both
-- databases, for filters and for keyset sorting.
CREATE TABLE crm_contacts (
	tenant_id       TEXT NOT NULL,
	id              {{ID}} NOT NULL,
	email           {{TEXT}} NOT NULL DEFAULT '',
	phone           {{TEXT}} NOT NULL DEFAULT '',
	first_name      {{TEXT}} NOT NULL DEFAULT '',
	last_name       {{TEXT}} NOT NULL DEFAULT '',
	company_id      {{ID}},
	lifecycle_stage {{TEXT}} NOT NULL,
	owner_id        {{TEXT}} NOT NULL DEFAULT '',
	tags            {{JSON}} NOT NULL,
	attributes      {{JSON}} NOT NULL,
	created_at      {{TIME}} NOT NULL,
	updated_at      {{TIME}} NOT NULL,
	version         {{BIGINT}} NOT NULL,
	PRIMARY KEY (tenant_id, id),
	FOREIGN KEY (tenant_id, company_id) REFERENCES crm_companies (tenant_id, id)
);
CREATE UNIQUE INDEX crm_contacts_email ON crm_contacts (tenant_id, email) WHERE email <> '';
CREATE INDEX crm_contacts_created ON crm_contacts (tenant_id, created_at, id);
CREATE INDEX crm_contacts_updated ON crm_contacts (tenant_id, updated_at, id);
CREATE INDEX crm_contacts_last_name ON crm_contacts (tenant_id, last_name, id);
CREATE INDEX crm_contacts_stage ON crm_contacts (tenant_id, lifecycle_stage, created_at, id);
CREATE INDEX crm_contacts_owner ON crm_contacts (tenant_id, owner_id, created_at, id);
CREATE INDEX crm_contacts_company ON crm_contacts (tenant_id, company_id);
-- postgres only
CREATE INDEX crm_contacts_tags ON crm_contacts USING GIN (tags jsonb_path_ops);

-- How a host links its own records to a contact: (source, external id) is
-- unique per tenant, e.g. ("shop", "customer-1042").
CREATE TABLE crm_contact_external_ids (
	tenant_id   TEXT NOT NULL,
	source      {{TEXT}} NOT NULL,
	external_id {{TEXT}} NOT NULL,
	contact_id  {{ID}} NOT NULL,
	created_at  {{TIME}} NOT NULL,
	PRIMARY KEY (tenant_id, source, external_id),
	FOREIGN KEY (tenant_id, contact_id) REFERENCES crm_contacts (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX crm_contact_external_ids_contact ON crm_contact_external_ids (tenant_id, contact_id);
