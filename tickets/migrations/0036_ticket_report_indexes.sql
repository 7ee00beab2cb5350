-- Indexes for the reports over tickets (analytics.ServiceLevels): a
-- period's resolutions and first responses are ranges of these instead
-- of a pass over every ticket, and the durations and the backlog read
-- them alone (created_at and merged_into_id ride along). Tickets without
-- a resolution (NULL) sort together, so the open tickets are a range too.
CREATE INDEX crm_tickets_solved ON crm_tickets (tenant_id, solved_at, updated_at, created_at, merged_into_id, id);
CREATE INDEX crm_tickets_first_response ON crm_tickets (tenant_id, first_response_at, created_at);

-- The survey answers given in a period, with what the scores need.
CREATE INDEX crm_ticket_surveys_answered ON crm_ticket_surveys (tenant_id, answered_at, kind, score);
