-- The stage history's indexes carry what the funnel reads, so it runs on
-- them alone: the contacts with an entry of a stage in a period (by stage
-- and time, with the contact), then each one's history in order (by
-- contact and time, with the id that orders entries made at the same
-- time, and the stage). At 1M contacts (2.2M entries) SQLite read a
-- quarter's 365k entries in 0.9 s instead of 3–4 s.
DROP INDEX crm_contact_stages_contact;
CREATE INDEX crm_contact_stages_contact ON crm_contact_stages (tenant_id, contact_id, entered_at, id, stage);
DROP INDEX crm_contact_stages_stage;
CREATE INDEX crm_contact_stages_stage ON crm_contact_stages (tenant_id, stage, entered_at, contact_id);
