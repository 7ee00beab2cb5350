-- Restriction of processing (Art. 18): a restricted contact is kept but
-- left out of marketing, scoring and disclosure.
ALTER TABLE crm_contacts ADD COLUMN restricted {{BOOL}} NOT NULL DEFAULT FALSE;

-- Retention deletes old activities by kind.
CREATE INDEX crm_activities_kind_time ON crm_activities (tenant_id, kind, occurred_at);
