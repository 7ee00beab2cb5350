-- Forecast snapshots: the forecast as it stood on a day, for the months it
-- covered, kept so that it can be compared afterwards with what was won
-- (analytics' forecast accuracy).

-- One row per tenant and snapshot day ('YYYY-MM-DD', UTC): the months it
-- covers ('YYYY-MM', both included) and when it was taken (the day's
-- latest run: a run replaces the day's snapshot). A run updates this row
-- first, so that two runs of one day, in two processes, take turns.
CREATE TABLE crm_forecast_snapshots (
	tenant_id    TEXT NOT NULL,
	snapshot_day {{TEXT}} NOT NULL,
	first_month  {{TEXT}} NOT NULL,
	last_month   {{TEXT}} NOT NULL,
	taken_at     {{TIME}} NOT NULL,
	PRIMARY KEY (tenant_id, snapshot_day)
);

-- The snapshot's forecast per month, pipeline, owner and currency, as
-- Deals.Forecast sums it: won deals by their close day, open deals by
-- their expected close date. Money in 1/10,000 units as everywhere;
-- weighted is the open amount times the stage's percentage (1/1,000,000
-- units), so that sums over owners, pipelines and months stay exact.
CREATE TABLE crm_forecast_snapshot_lines (
	tenant_id     TEXT NOT NULL,
	snapshot_day  {{TEXT}} NOT NULL,
	month         {{TEXT}} NOT NULL,
	pipeline_id   {{ID}} NOT NULL,
	owner_id      {{TEXT}} NOT NULL,
	currency      {{TEXT}} NOT NULL,
	won           {{BIGINT}} NOT NULL,
	won_count     {{BIGINT}} NOT NULL,
	weighted      {{BIGINT}} NOT NULL,
	best_case     {{BIGINT}} NOT NULL,
	open_count    {{BIGINT}} NOT NULL,
	commit_amount {{BIGINT}} NOT NULL,
	commit_count  {{BIGINT}} NOT NULL,
	PRIMARY KEY (tenant_id, snapshot_day, month, pipeline_id, owner_id, currency),
	FOREIGN KEY (tenant_id, snapshot_day) REFERENCES crm_forecast_snapshots (tenant_id, snapshot_day) ON DELETE CASCADE,
	FOREIGN KEY (tenant_id, pipeline_id) REFERENCES crm_pipelines (tenant_id, id)
);
-- Accuracy reads the snapshots of a range of months.
CREATE INDEX crm_forecast_snapshot_lines_month ON crm_forecast_snapshot_lines (tenant_id, month, snapshot_day);
CREATE INDEX crm_forecast_snapshot_lines_pipeline ON crm_forecast_snapshot_lines (tenant_id, pipeline_id);
