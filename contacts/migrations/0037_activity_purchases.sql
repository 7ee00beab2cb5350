-- A contact's purchases by currency and time (the id orders purchases
-- made at the same time), with their amounts: what the reports summing
-- each contact's purchases read (analytics' RFM, cohorts, customer value
-- and churn) and the segments' purchase predicates, from this index alone
-- and in its order instead of every activity row with its properties. At
-- 1M contacts and 5.5M activities SQLite counted the purchases in 0.4 s
-- instead of 12 s.
CREATE INDEX crm_activities_purchases ON crm_activities (tenant_id, contact_id, currency, occurred_at, id, amount) WHERE kind = 'purchase';
