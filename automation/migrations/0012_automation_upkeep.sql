-- Upkeep of automation: how far the sweeper has looked at each tenant's
-- events (automation.Engine.Sweep), the id of the last event it checked.
CREATE TABLE crm_automation_sweeps (
	tenant_id     TEXT NOT NULL,
	last_event_id {{ID}} NOT NULL,
	swept_at      {{TIME}} NOT NULL,
	PRIMARY KEY (tenant_id)
);

-- The logs' retention (automation.Options.LogRetention) deletes finished
-- runs and deliveries by age, across tenants.
CREATE INDEX crm_rule_runs_finished ON crm_rule_runs (finished_at);
CREATE INDEX crm_webhook_deliveries_finished ON crm_webhook_deliveries (finished_at);
