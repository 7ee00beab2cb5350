-- The timeline reads the events about a contact newest first.
CREATE INDEX crm_events_subject_time ON crm_events (tenant_id, subject_id, occurred_at, id);
