-- A trained lead model per tenant (pipeline.LeadModel): the weights that
-- predict a contact's chance to win a deal.
CREATE TABLE crm_lead_models (
	tenant_id  TEXT NOT NULL PRIMARY KEY,
	model      {{JSON}} NOT NULL,
	trained_at {{TIME}} NOT NULL,
	version    {{BIGINT}} NOT NULL
);
