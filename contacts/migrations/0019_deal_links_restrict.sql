-- A task's or an activity's deal must exist: deleting a deal that one
-- still points at is refused (NO ACTION) instead of cleared by the
-- database, because the pipeline module now clears them through this
-- module first (UnlinkDeal), with their events. SQLite's keys already say
-- NO ACTION (its trigger was dropped in 0018).
-- postgres only
ALTER TABLE crm_activities DROP CONSTRAINT crm_activities_tenant_id_deal_id_fkey;
-- postgres only
ALTER TABLE crm_activities ADD CONSTRAINT crm_activities_tenant_id_deal_id_fkey
	FOREIGN KEY (tenant_id, deal_id) REFERENCES crm_deals (tenant_id, id);
-- postgres only
ALTER TABLE crm_tasks DROP CONSTRAINT crm_tasks_tenant_id_deal_id_fkey;
-- postgres only
ALTER TABLE crm_tasks ADD CONSTRAINT crm_tasks_tenant_id_deal_id_fkey
	FOREIGN KEY (tenant_id, deal_id) REFERENCES crm_deals (tenant_id, id);
