-- A deleted deal's activities and tasks stay, unlinked (see contacts/migrations/0014_tenant_references.sql).
-- sqlite only
CREATE TRIGGER crm_deals_unlink BEFORE DELETE ON crm_deals BEGIN UPDATE crm_activities SET deal_id = NULL WHERE tenant_id = old.tenant_id AND deal_id = old.id; UPDATE crm_tasks SET deal_id = NULL WHERE tenant_id = old.tenant_id AND deal_id = old.id; END;
