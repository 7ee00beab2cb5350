-- How far the automation sweeper has looked at each tenant's events (see
-- automation.Engine.Sweep): the id of the last event it checked.
CREATE TABLE crm_automation_sweeps (
	tenant_id     TEXT NOT NULL,
	last_event_id {{ID}} NOT NULL,
	swept_at      {{TIME}} NOT NULL,
	PRIMARY KEY (tenant_id)
);
