-- Lead scoring by a trained model: each tenant's model (features, weights,
-- holdout metrics) and each contact's predicted chance to buy, in percent
-- (NULL until predicted).
ALTER TABLE crm_contacts ADD COLUMN predicted_score {{BIGINT}};
CREATE INDEX crm_contacts_predicted ON crm_contacts (tenant_id, predicted_score, id);
