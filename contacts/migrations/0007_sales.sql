-- Activities about a deal (next actions read the latest).
CREATE INDEX crm_activities_deal ON crm_activities (tenant_id, deal_id, occurred_at) WHERE deal_id IS NOT NULL;
